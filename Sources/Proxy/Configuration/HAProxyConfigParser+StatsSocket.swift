import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// The `stats` keywords of `global` (the runtime API): `stats socket ADDRESS [options]`, `stats timeout`,
/// `stats maxconn`, read and checked as HAProxy 2.6 reads them, with its messages.
extension HAProxyConfigParser {
    mutating func globalStats(_ args: [String], _ at: SourceLocation, _ g: inout GlobalSettings) {
        switch args.first {
        case "socket":
            if let socket = statsSocket(Array(args.dropFirst()), at) { g.statsSockets.append(socket) }
        case "timeout":
            let text = args.count > 1 ? args[1] : ""
            guard let time = ConfigTime(text), time.microseconds > 0 else {
                let bad = text.first { !($0.isASCII && $0.isNumber) }.map(String.init) ?? ""
                return alert(at, "'stats timeout' : unexpected character '\(bad)'")
            }
            g.statsTimeout = time
        case "maxconn":
            guard args.count > 1, let n = Int(args[1]), n > 0 else {
                return alert(at, "'stats maxconn' expects a positive value")
            }
            g.statsMaxconn = n
        case "bind-process":
            warn(at, "'stats bind-process' : there is only one process; the keyword is ignored.")
        default:
            alert(
                at,
                "'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '\(args.first ?? "")')")
        }
    }

    /// `unix-bind [prefix P] [mode M] [user U|uid N] [group G|gid N]`: checked as HAProxy checks it. HAProxy 2.6
    /// applies it to the UNIX-socket `bind` lines of proxies only (not to `stats socket`, compared side by side):
    /// the prefix before their paths, the mode and owner where a line gives none.
    mutating func unixBind(_ args: [String], _ at: SourceLocation, _ g: inout GlobalSettings) {
        var i = 0
        while i < args.count {
            let word = args[i]
            let v = i + 1 < args.count ? args[i + 1] : ""
            switch word {
            case "prefix": g.unixBind.prefix = v
            case _ where Self.ownershipWords.contains(word):
                if let problem = Self.readOwnership(word, v, &g.unixBind.mode, &g.unixBind.uid, &g.unixBind.gid) {
                    return alert(at, "'unix-bind' : \(problem)")
                }
            default:
                return alert(
                    at, "'unix-bind' only supports 'prefix', 'mode', 'uid', 'gid', 'user' and 'group' (got '\(word)').")
            }
            i += 2
        }
    }

    /// The words that set a UNIX socket file's mode and owner (`unix-bind`, `stats socket`, a proxy's `bind`).
    static let ownershipWords: Set<String> = ["mode", "uid", "gid", "user", "group"]

    /// One of `ownershipWords` and its value `v` read into `mode`, `uid` or `gid`; the problem in HAProxy's words
    /// when the value is not one.
    static func readOwnership(
        _ word: String, _ v: String, _ mode: inout UInt32?, _ uid: inout UInt32?, _ gid: inout UInt32?
    ) -> String? {
        switch word {
        case "mode":
            guard let value = UInt32(v, radix: 8) else { return "'mode' : missing or invalid mode '\(v)' (octal integer expected)" }
            mode = value
        case "uid", "gid":
            guard let id = UInt32(v) else { return "'\(word)' : missing or invalid \(word) '\(v)'" }
            if word == "uid" { uid = id } else { gid = id }
        default:
            let id = word == "user" ? getpwnam(v).map { $0.pointee.pw_uid } : getgrnam(v).map { $0.pointee.gr_gid }
            guard let id else { return "'\(word)' : unknown \(word) name '\(v)'" }
            if word == "user" { uid = id } else { gid = id }
        }
        return nil
    }

    private mutating func statsSocket(_ args: [String], _ at: SourceLocation) -> StatsSocket? {
        guard let first = args.first, !first.isEmpty else {
            alert(at, "'stats socket' in global section expects an address or a path to a UNIX socket")
            return nil
        }
        guard let address = statsSocketAddress(first, at) else { return nil }
        var socket = StatsSocket(address: address)
        var i = 1
        func value(_ keyword: String) -> String? {
            guard i + 1 < args.count else { return nil }
            i += 1
            return args[i]
        }
        while i < args.count {
            let word = args[i]
            switch word {
            case "level":
                let v = value(word) ?? ""
                guard let level = RuntimeLevel(v) else {
                    alert(at, "'stats socket' : ''level' only supports 'user', 'operator', and 'admin' (got '\(v)')'")
                    return nil
                }
                socket.level = level
            case _ where Self.ownershipWords.contains(word):
                if let problem = Self.readOwnership(word, value(word) ?? "", &socket.mode, &socket.uid, &socket.gid) {
                    alert(at, "'stats socket' : '\(problem)'")
                    return nil
                }
            case "expose-fd":
                let v = value(word) ?? ""
                guard v == "listeners" else {
                    alert(at, "'stats socket' : ''expose-fd' only supports 'listeners' (got '\(v)')'")
                    return nil
                }
                socket.exposeListeners = true
            case "name":
                _ = value(word)
            case "severity-output":
                let v = value(word) ?? ""
                guard v == "none" else {
                    alert(
                        at,
                        "'stats socket' : 'severity-output \(v)' is not carried out by this build: its answers "
                            + "carry no severity (only 'none').")
                    return nil
                }
            case "process", "thread":
                _ = value(word)
                warn(at, "'stats socket' : '\(word)' : there is one process and the socket serves every thread.")
            default:
                if HAProxyKeywords.bindTakesValue[word] != nil {
                    alert(
                        at,
                        "'stats socket' : '\(word)' is not carried out on the runtime API socket by this build: "
                            + "the socket would not be what the line asks.")
                } else {
                    alert(at, "'stats socket' : unknown keyword '\(word)'.")
                }
                return nil
            }
            i += 1
        }
        return socket
    }

    /// A UNIX path (`/…`, `unix@…`, or any word without a port) or `[ipv4@|ipv6@]HOST:PORT`.
    private mutating func statsSocketAddress(_ written: String, _ at: SourceLocation) -> StatsSocket.Address? {
        // Environment variables, as in every address HAProxy reads.
        let text = Self.environmentExpanded(written)
        if text.hasPrefix("unix@") { return .unix(String(text.dropFirst(5))) }
        if text.hasPrefix("abns@") || text.hasPrefix("fd@") || text.hasPrefix("sockpair@") || text.hasPrefix("udp") {
            alert(
                at,
                "'stats socket' : '\(text)' : only UNIX paths and IPv4/IPv6 addresses are carried out by this build "
                    + "for the runtime API.")
            return nil
        }
        var rest = Substring(text)
        var family: String?
        for prefix in ["ipv4@", "ipv6@"] where rest.hasPrefix(prefix) {
            family = prefix
            rest = rest.dropFirst(prefix.count)
        }
        if family == nil && (rest.hasPrefix("/") || !rest.contains(":")) { return .unix(text) }
        guard let colon = rest.lastIndex(of: ":") else {
            alert(at, "'stats socket' : missing port number: '\(text)'")
            return nil
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = rest[rest.index(after: colon)...]
        guard let port = Int(portText), (1...65535).contains(port) else {
            alert(at, "parsing [\(at.file):\(at.line)] : 'stats socket' : invalid port '\(portText)'")
            return nil
        }
        if host.isEmpty || host == "*" { host = family == "ipv6@" ? "::" : "0.0.0.0" }
        return .tcp(host: host, port: port)
    }
}
