import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy's server-state file (format version 1, what `show servers state` prints): the state each server had
/// in the process before a reload, so that maintenance, drain, weights and DOWN servers survive it
/// (`server-state-file`, `load-server-state-from-file global|local`). Read as HAProxy 2.6 reads it: a first line
/// with the version, `#` comments, 20 to 25 fields a line; a line of another shape makes the file corrupted.
public struct ServerStateLine: Hashable, Sendable {
    public var backendID: Int
    public var backendName: String
    public var serverName: String
    /// SRV_ST_*: 0 stopped, 1 starting, 2 running, 3 stopping.
    public var operationalState: Int
    /// SRV_ADMF_*: FMAINT 0x01, CMAINT 0x04, FDRAIN 0x08…
    public var adminState: Int
    public var userWeight: Int
    public var initialWeight: Int
    public var secondsSinceChange: Int
    public var checkStatus: Int
    public var checkResult: Int
    public var checkHealth: Int
    /// CHK_ST_*: CONFIGURED 0x02, ENABLED 0x04, PAUSED 0x08.
    public var checkState: Int
    /// `srv_addr`: the address the server had (nil for `-`), which `init-addr last` takes.
    public var address: String? = nil
}

public enum ServerStateFile {
    /// Why a file cannot be used.
    public enum Problem: Error, Equatable {
        case noVersion
        case corrupted(line: Int)
    }

    /// The lines of a state file's text.
    public static func parse(_ text: String) -> Result<[ServerStateLine], Problem> {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // As fgets: a last line without its line feed is a truncated one; an empty last piece is the file's end.
        if lines.last == "" { lines.removeLast() } else if !text.isEmpty { return .failure(.corrupted(line: lines.count)) }
        guard let first = lines.first, Int(first.trimmingCharacters(in: [" ", "\t"])) == 1 else {
            return .failure(.noVersion)
        }
        var out: [ServerStateLine] = []
        for (index, raw) in lines.enumerated().dropFirst() {
            let content = raw.drop { $0 == " " || $0 == "\t" }
            if content.isEmpty || content.hasPrefix("#") { continue }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard (20...25).contains(fields.count), let line = line(fields) else {
                return .failure(.corrupted(line: index + 1))
            }
            out.append(line)
        }
        return .success(out)
    }

    private static func line(_ f: [String]) -> ServerStateLine? {
        guard let backendID = Int(f[0]), let op = Int(f[5]), (0...3).contains(op), let admin = Int(f[6]),
            let userWeight = Int(f[7]), let initialWeight = Int(f[8]), let since = Int(f[9]), let status = Int(f[10]),
            let result = Int(f[11]), let health = Int(f[12]), let checkState = Int(f[13])
        else { return nil }
        return ServerStateLine(
            backendID: backendID, backendName: f[1], serverName: f[3], operationalState: op, adminState: admin,
            userWeight: userWeight, initialWeight: initialWeight, secondsSinceChange: since, checkStatus: status,
            checkResult: result, checkHealth: health, checkState: checkState, address: f[4] == "-" ? nil : f[4])
    }

    /// A state file's path: as written when absolute, else under `server-state-base` when there is one.
    public static func path(_ name: String, base: String?) -> String {
        guard !name.hasPrefix("/"), let base, !base.isEmpty else { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }
}

/// Where a backend takes its servers' previous state from (`load-server-state-from-file`).
public enum ServerStateSource: String, Hashable, Sendable {
    case global, local, none
}

extension HAProxyConfigParser {
    /// Reads the state files the configuration names and keeps, for each backend that loads one, its servers'
    /// lines; what HAProxy only warns about (a file missing or corrupted, a backend's id or name not the file's)
    /// is a warning here too, and the proxy starts without those states.
    mutating func loadServerStates() {
        let g = configuration.global
        var global: [String: [String: ServerStateLine]]?
        if let name = g.serverStateFile {
            let file = ServerStateFile.path(name, base: g.serverStateBase)
            let at = g.serverStateFileLocation ?? SourceLocation(file: "global", line: 0)
            if let text = TextFile.read(file) {
                switch ServerStateFile.parse(text) {
                case .success(let lines):
                    var byBackend: [String: [String: ServerStateLine]] = [:]
                    for line in lines where byBackend[line.backendName]?[line.serverName] == nil {
                        byBackend[line.backendName, default: [:]][line.serverName] = line
                    }
                    global = byBackend
                case .failure(.noVersion):
                    warn(at, "Can't get version of the global server state file '\(file)'.")
                case .failure(.corrupted(let n)):
                    warn(at, "corrupted global server state file '\(file)' at line \(n).")
                }
            } else {
                warn(at, "Can't open global server state file '\(file)': \(String(cString: strerror(errno)))")
            }
        }
        let firstID = g.statsSockets.isEmpty ? 1 : 2
        for (index, p) in configuration.proxies.enumerated() where p.isBackend && !p.servers.isEmpty {
            let at = p.settings.serverStateLocation ?? p.location
            switch p.settings.serverState ?? ServerStateSource.none {
            case .none:
                continue
            case .global:
                if let lines = global?[p.name] { configuration.serverStates[p.name] = lines }
            case .local:
                let name = p.settings.serverStateFileName ?? p.name
                let file = ServerStateFile.path(name, base: g.serverStateBase)
                guard let text = TextFile.read(file) else {
                    warn(
                        at,
                        "Proxy '\(p.name)': Can't open server state file '\(file)': \(String(cString: strerror(errno))).")
                    continue
                }
                switch ServerStateFile.parse(text) {
                case .success(let lines):
                    var mine: [String: ServerStateLine] = [:]
                    for line in lines {
                        let sameID = line.backendID == firstID + index
                        let sameName = line.backendName == p.name
                        if !sameID && !sameName { continue }
                        if !sameID {
                            warn(
                                at,
                                "Proxy '\(p.name)': backend ID mismatch: from server state file: '\(line.backendID)', "
                                    + "from running config '\(firstID + index)'")
                        } else if !sameName {
                            warn(
                                at,
                                "Proxy '\(p.name)': backend name mismatch: from server state file: "
                                    + "'\(line.backendName)', from running config '\(p.name)'")
                            continue
                        }
                        if mine[line.serverName] == nil { mine[line.serverName] = line }
                    }
                    for name in mine.keys where !p.servers.contains(where: { $0.name == name }) {
                        warn(at, "Proxy '\(p.name)': can't find server '\(name)' in backend '\(p.name)'")
                        mine[name] = nil
                    }
                    configuration.serverStates[p.name] = mine
                case .failure(.noVersion):
                    warn(at, "Proxy '\(p.name)': Can't get version of the server state file '\(file)'.")
                case .failure(.corrupted(let n)):
                    warn(at, "Proxy '\(p.name)': corrupted server state file '\(file)' at line \(n).")
                }
            }
        }
    }
}

extension HAProxyConfigParser {
    /// Each server's name made an address as HAProxy 2.6 does at start (`init-addr`, default `last,libc`): the
    /// server-state file's address, the system's resolver, a given address, or none (the server then starts in
    /// maintenance, `MAINT (resolution)`, until its `resolvers` find it one). A name nothing resolves is an alert
    /// naming it, as HAProxy's "could not resolve address", unless its resolvers may find it later.
    mutating func resolveServerAddresses() {
        for p in configuration.proxies.indices {
            let backend = configuration.proxies[p].name
            for i in configuration.proxies[p].servers.indices {
                var server = configuration.proxies[p].servers[i]
                // An address, or a local socket: nothing to resolve.
                guard AddressSet.address(server.host) == nil, server.localSocket == nil else { continue }
                // An SRV record's servers wait for its targets (nothing else can resolve it).
                if server.srvRecord != nil {
                    server.noAddress = true
                    configuration.proxies[p].servers[i] = server
                    continue
                }
                var resolved: String?
                var none = false
                // With `resolvers`, HAProxy's default ends in `none`: the resolvers will find it an address later.
                let defaultMethods: [InitAddr] = server.resolve.resolvers == nil ? [.last, .libc] : [.last, .libc, .none]
                for method in server.initAddr.isEmpty ? defaultMethods : server.initAddr {
                    switch method {
                    case .last:
                        resolved = configuration.serverStates[backend]?[server.name]?.address
                            .flatMap { AddressSet.address($0) == nil ? nil : $0 }
                    case .libc: resolved = Self.resolve(server.host)
                    case .address(let ip): resolved = ip
                    case .none: none = true
                    }
                    if resolved != nil || none { break }
                }
                if let resolved {
                    server.resolvedIP = resolved
                } else if none {
                    server.noAddress = true
                    if server.initAddr.isEmpty {
                        warn(
                            server.location,
                            "'server \(backend)/\(server.name)' : could not resolve address '\(server.host)', disabling "
                                + "server.")
                    }
                } else {
                    alert(server.location, "'server \(backend)/\(server.name)' : could not resolve address '\(server.host)'.")
                }
                configuration.proxies[p].servers[i] = server
            }
        }
    }

    /// The first address getaddrinfo gives for `host` (IPv4 first, as HAProxy's resolution prefers it), as text.
    static func resolve(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var chosen: UnsafeMutablePointer<addrinfo>? = first
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if n.pointee.ai_family == AF_INET {
                chosen = n
                break
            }
            node = n.pointee.ai_next
        }
        guard let entry = chosen, let address = entry.pointee.ai_addr else { return nil }
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0
        else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
