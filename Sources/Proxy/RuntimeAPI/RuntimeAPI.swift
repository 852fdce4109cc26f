import HAProxyLog
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One runtime API connection: its level (lowered by `operator`/`user`), prompt mode, idle timeout, and who it is
/// for the audit trail.
struct CLISession: Sendable {
    var level: RuntimeLevel
    var interactive = false
    var timeout: TimeAmount
    /// `uid=0 pid=4242` for a UNIX socket's peer, `client=127.0.0.1:50432` over TCP.
    let peer: String
    /// The socket's address as configured.
    let socket: String
}

/// What a command answers: its text, each line ending in a line feed (the connection adds the empty line that
/// ends every answer), and whether the connection ends.
struct CLIReply: Equatable, Sendable {
    var text: String
    var quit = false

    static let ok = CLIReply(text: "")
    static let denied = CLIReply(text: "Permission denied\n")
}

/// HAProxy 2.6's runtime API (management guide, section 9.3) over the proxy's state: the commands `help` lists
/// (`CLIKeywords`), their levels and their answers, word for word where HAProxy has one. Each command that changes
/// something is an `audit:` line saying what, who and with what result; a server's change of state is also logged as
/// HAProxy logs it (`Server be/srv is going DOWN for maintenance…`).
final class RuntimeAPI: Sendable {
    let state: ProxyState
    let frontends: [ProxyRuntime.Frontend]
    /// Where each backend's server state changes are logged (its own and, with `log global`, the global targets).
    private let backendLogs: [String: LogEmitter]

    /// The `peers` sections at work (`show peers`).
    private let peers: [PeersService]
    /// The `resolvers` sections at work (`show resolvers`).
    private let resolvers: [ResolverClient]

    init(
        state: ProxyState, frontends: [ProxyRuntime.Frontend], backendLogs: [String: LogEmitter],
        peers: [PeersService] = [], resolvers: [ResolverClient] = []
    ) {
        self.state = state
        self.frontends = frontends
        self.backendLogs = backendLogs
        self.peers = peers
        self.resolvers = resolvers
    }

    /// Runs one command (its words, see `CLICommandLine`).
    func execute(_ words: [String], _ session: inout CLISession) -> CLIReply {
        guard let keyword = CLIKeywords.find(words) else { return CLIReply(text: CLIKeywords.usage(words)) }
        let reply: CLIReply
        let changes: Bool
        (reply, changes) = run(keyword.words, words, &session)
        if changes {
            let result: String
            if reply == .denied {
                result = "denied"
            } else if reply.text.isEmpty {
                result = "ok"
            } else {
                result = AuditText.quoted(reply.text.trimmingTrailingNewlines)
            }
            state.audit.record(
                "cli command=\(AuditText.quoted(words.joined(separator: " "))) result=\(result) \(session.peer) "
                    + "socket=\(AuditText.quoted(session.socket))")
        }
        return reply
    }

    /// The command's answer, and whether it is one that changes something (audited).
    private func run(_ keyword: [String], _ args: [String], _ session: inout CLISession) -> (CLIReply, Bool) {
        func arg(_ i: Int) -> String { i < args.count ? args[i] : "" }
        switch keyword {
        case ["help"]: return (CLIReply(text: CLIKeywords.usage(args)), false)
        case ["prompt"]:
            session.interactive.toggle()
            return (.ok, false)
        case ["quit"]: return (CLIReply(text: "", quit: true), false)
        case ["operator"], ["user"]:
            let wanted: RuntimeLevel = keyword == ["user"] ? .user : .operator
            guard session.level >= wanted else { return (.denied, false) }
            session.level = wanted
            return (.ok, false)
        case ["show", "cli", "level"]: return (CLIReply(text: "\(session.level)\n"), false)
        case ["show", "cli", "sockets"]: return (showSockets(), false)
        case ["show", "version"]: return (CLIReply(text: Proxy.version + "\n"), false)
        case ["show", "info"]: return (CLIReply(text: ShowInfo.render(state, options: Set(args.dropFirst(2)))), false)
        case ["show", "stat"]: return (showStat(Array(args.dropFirst(2)), session), false)
        case ["show", "backend"]:
            return (CLIReply(text: "# name\n" + state.backends.map { $0.name + "\n" }.joined()), false)
        case ["show", "servers", "state"]:
            let name = arg(3)
            guard name.isEmpty || state.backendsByName[name] != nil else {
                return (CLIReply(text: "Can't find backend.\n"), false)
            }
            return (CLIReply(text: ServersState.render(state, backend: name.isEmpty ? nil : name)), false)
        case ["show", "table"]: return (showTable(Array(args.dropFirst(2)), session), false)
        case ["show", "sess"]:
            guard session.level >= .operator else { return (.denied, false) }
            return (CLIReply(text: ShowSess.render(state.sessionDirectory, target: arg(2))), false)
        case ["show", "resolvers"]:
            let name = arg(2)
            guard !resolvers.isEmpty else { return (CLIReply(text: "No resolvers found\n"), false) }
            let shown = resolvers.filter { name.isEmpty || $0.section.name == name }
            guard !shown.isEmpty else { return (CLIReply(text: "Can't find that resolvers section\n"), false) }
            return (CLIReply(text: shown.map { $0.report() }.joined()), false)
        case ["show", "peers"]:
            var name = arg(2)
            let dictionary = name == "dict"
            if name == "dict" || name == "-" { name = arg(3) }
            if !name.isEmpty && !peers.contains(where: { $0.section.name == name }) {
                return (CLIReply(text: "No such peers\n"), false)
            }
            let text = ShowPeers.render(peers.map(\.snapshot), only: name.isEmpty ? nil : name, dictionary: dictionary)
            return (CLIReply(text: text), false)
        case ["clear", "table"]:
            guard session.level >= .operator else { return (.denied, true) }
            return (clearTable(Array(args.dropFirst(2))), true)
        case ["get", "weight"]:
            return (serverCommand(arg(2), requireSlash: false) { backend, i in
                let server = backend.shared.withLock { $0.balancer.servers[i] }
                return CLIReply(text: "\(server.weight) (initial \(server.initialWeight))\n")
            }, false)
        case ["clear", "counters"]:
            let all = arg(2) == "all"
            guard session.level >= .operator else { return (.denied, true) }
            guard !all || session.level >= .admin else { return (.denied, true) }
            clearCounters(all: all)
            return (.ok, true)
        case ["set", "timeout"]:
            guard arg(2) == "cli" else { return (CLIReply(text: "'set timeout' only supports 'cli'.\n"), false) }
            guard !arg(3).isEmpty else { return (CLIReply(text: "Expects an integer value.\n"), false) }
            guard let seconds = CLITime.seconds(arg(3)), seconds >= 1 else {
                return (CLIReply(text: "Invalid timeout value.\n"), false)
            }
            session.timeout = .seconds(Int64(seconds))
            return (.ok, false)
        default:
            // Everything else changes the gate, and needs admin.
            guard session.level >= .admin else { return (.denied, true) }
            return (change(keyword, args), true)
        }
    }

    private func change(_ keyword: [String], _ args: [String]) -> CLIReply {
        func arg(_ i: Int) -> String { i < args.count ? args[i] : "" }
        switch keyword {
        case ["disable", "server"]: return setState(arg(2), .maint)
        case ["enable", "server"]: return setState(arg(2), .ready)
        case ["set", "server"]:
            switch arg(3) {
            case "state":
                guard let request = ServerAdmin.Request(rawValue: arg(4)) else {
                    return serverCommand(arg(2)) { _, _ in
                        CLIReply(text: "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n")
                    }
                }
                return setState(arg(2), request)
            case "weight": return serverCommand(arg(2)) { backend, i in self.setWeight(backend, i, arg(4)) }
            case "health":
                return serverCommand(arg(2)) { backend, i in
                    guard ["up", "stopping", "down"].contains(arg(4)) else {
                        return CLIReply(text: "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n")
                    }
                    let change = backend.forceHealth(
                        i, up: arg(4) != "down", stopping: arg(4) == "stopping", now: Int(time(nil)))
                    if let change { self.logForcedHealth(backend, i, change) }
                    return .ok
                }
            case "agent":
                // No server here has an agent check (`agent-check` is refused).
                return serverCommand(arg(2)) { _, _ in CLIReply(text: "agent checks are not enabled on this server.\n") }
            case "addr":
                return serverCommand(arg(2)) { backend, i in
                    self.setAddress(backend, i, arg(4), port: arg(5) == "port" ? arg(6) : nil)
                }
            case "fqdn":
                return serverCommand(arg(2)) { backend, i in self.setFQDN(backend, i, arg(4)) }
            default:
                return serverCommand(arg(2)) { _, _ in
                    CLIReply(text: "usage: set server <backend>/<server> addr | agent | fqdn | health | state | weight\n")
                }
            }
        case ["set", "weight"]: return serverCommand(arg(2)) { backend, i in self.setWeight(backend, i, arg(3)) }
        case ["set", "maxconn", "server"]:
            return serverCommand(arg(3)) { backend, i in
                let text = arg(4)
                guard !text.isEmpty else { return CLIReply(text: "Require <maxconn>.\n") }
                switch CLINumber.parse(text) {
                case .none: return CLIReply(text: "maxconn string empty or preceded by garbage")
                case .trailing: return CLIReply(text: "Trailing garbage in maxconn string")
                case .value(let n):
                    backend.adjust(i, maxconn: max(0, n))
                    return .ok
                }
            }
        case ["set", "maxconn", "frontend"]:
            return frontendCommand(arg(3)) { frontend, control in
                guard !arg(4).isEmpty else { return CLIReply(text: "Integer value expected.\n") }
                let n = CLINumber.atoi(arg(4))
                guard n >= 0 else { return CLIReply(text: "Value out of range.\n") }
                control.limit?.setLimit(n)
                return .ok
            }
        case ["set", "maxconn", "global"]:
            guard !arg(3).isEmpty else { return CLIReply(text: "Expects an integer value.\n") }
            let n = CLINumber.atoi(arg(3))
            guard n >= 0, n <= ShowInfo.hardMaxconn(state) else { return CLIReply(text: "Value out of range.\n") }
            state.processLimit?.setLimit(n)
            return .ok
        case ["disable", "health"], ["enable", "health"]:
            let on = keyword[0] == "enable"
            return serverCommand(arg(2)) { backend, i in
                guard backend.servers[i].check else {
                    return on
                        ? CLIReply(text: "Health check was not configured on this server, cannot enable.\n") : .ok
                }
                backend.shared.withLock { $0.checksEnabled[i] = on }
                return .ok
            }
        case ["disable", "agent"], ["enable", "agent"]:
            let on = keyword[0] == "enable"
            // `agent-check` is refused when the configuration is read: no server has an agent.
            return serverCommand(arg(2)) { _, _ in
                on ? CLIReply(text: "Agent was not configured on this server, cannot enable.\n") : .ok
            }
        case ["disable", "frontend"]:
            return frontendCommand(arg(2)) { frontend, control in
                if control.shutDown.load(ordering: .relaxed) {
                    return CLIReply(text: "Frontend was previously shut down, cannot disable.\n")
                }
                let gates = control.listeners.withLock { $0 }
                guard gates.contains(where: { !$0.isPaused }) else {
                    return CLIReply(text: "All sockets are already disabled.\n")
                }
                for gate in gates { gate.pause(true) }
                frontend.log.send("Paused \(self.kind(frontend)) \(frontend.section.name).", severity: .warning)
                return .ok
            }
        case ["enable", "frontend"]:
            return frontendCommand(arg(2)) { frontend, control in
                if control.shutDown.load(ordering: .relaxed) {
                    return CLIReply(text: "Frontend was previously shut down, cannot enable.\n")
                }
                let gates = control.listeners.withLock { $0 }
                guard gates.contains(where: \.isPaused) else {
                    return CLIReply(text: "All sockets are already enabled.\n")
                }
                for gate in gates { gate.pause(false) }
                frontend.log.send("Resumed \(self.kind(frontend)) \(frontend.section.name).", severity: .warning)
                return .ok
            }
        case ["shutdown", "sessions", "server"]:
            return serverCommand(arg(3)) { backend, i in
                backend.directory?.kill(backend: backend.name, server: i, .killed)
                return .ok
            }
        case ["shutdown", "session"]:
            let id = ShowSess.number(arg(2))
            guard id != 0 else { return CLIReply(text: "Session pointer expected (use 'show sess').\n") }
            guard let listing = state.sessionDirectory?.listing(id) else {
                return CLIReply(text: "No such session (use 'show sess').\n")
            }
            listing.kill(.killed)
            return .ok
        case ["shutdown", "frontend"]:
            return frontendCommand(arg(2)) { frontend, control in
                guard !control.shutDown.exchange(true, ordering: .relaxed) else {
                    return CLIReply(text: "Frontend was already shut down.\n")
                }
                for gate in control.listeners.withLock({ $0 }) { gate.close() }
                frontend.log.send(
                    HAProxyEvent.proxyStopped(
                        name: frontend.section.name, frontendConnections: frontend.sessions.total,
                        backendConnections: frontend.backend?.sessions.total ?? 0
                    ).message, severity: .warning)
                return .ok
            }
        default:
            return CLIReply(text: CLIKeywords.usage(args))
        }
    }

    private func kind(_ frontend: ProxyRuntime.Frontend) -> String {
        frontend.section.kind == .listen ? "proxy" : "frontend"
    }

    // MARK: finding what a command names

    /// Runs `body` on the server named `BACKEND/SERVER`, or answers as HAProxy does when it does not exist.
    /// `set server B/S fqdn NAME`, as HAProxy 2.6's `srv_update_fqdn` answers it.
    private func setFQDN(_ backend: ProxyRuntime.Backend, _ i: Int, _ name: String) -> CLIReply {
        let line = backend.servers[i]
        guard !name.isEmpty else { return CLIReply(text: "set server <b>/<s> fqdn requires a FQDN.\n") }
        guard let section = line.resolve.resolvers, let client = resolvers.first(where: { $0.section.name == section })
        else { return CLIReply(text: "set server <b>/<s> fqdn failed because no resolution is configured.\n") }
        guard line.srvRecord == nil else {
            return CLIReply(text: "set server <b>/<s> fqdn failed because SRV resolution is configured.\n")
        }
        let by = " by 'stats socket command'\n"
        let current = backend.fqdn(i)
        if name == current { return CLIReply(text: "no need to change the FDQN" + by) }
        // HAProxy's `invalid_domainchar`: letters, digits, '.', '-' and '_' only; 255 bytes at most.
        guard name.utf8.count <= 255,
            name.utf8.allSatisfy({ c in (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122) || c == 46 || c == 45 || c == 95 })
        else { return CLIReply(text: "invalid fqdn '\(name)'" + by) }
        backend.setFQDN(i, name)
        client.rename(backend, i, to: name)
        return CLIReply(text: "\(backend.section.name)/\(line.name) changed its FQDN from \(current) to \(name)" + by)
    }

    private func serverCommand(
        _ name: String, requireSlash: Bool = true, _ body: (ProxyRuntime.Backend, Int) -> CLIReply
    ) -> CLIReply {
        guard let slash = name.firstIndex(of: "/") else { return CLIReply(text: "Require 'backend/server'.\n") }
        let backendName = String(name[..<slash])
        let serverName = String(name[name.index(after: slash)...])
        guard !serverName.isEmpty, !backendName.isEmpty || !requireSlash else {
            return CLIReply(text: "Require 'backend/server'.\n")
        }
        guard let backend = state.backendsByName[backendName] else { return CLIReply(text: "No such backend.\n") }
        guard let i = backend.servers.firstIndex(where: { $0.name == serverName }) else {
            return CLIReply(text: "No such server.\n")
        }
        return body(backend, i)
    }

    private func frontendCommand(
        _ name: String, _ body: (ProxyRuntime.Frontend, FrontendControl) -> CLIReply
    ) -> CLIReply {
        guard !name.isEmpty else { return CLIReply(text: "A frontend name is expected.\n") }
        guard let frontend = frontends.first(where: { $0.section.name == name }),
            let control = state.frontendControls[name]
        else { return CLIReply(text: "No such frontend.\n") }
        return body(frontend, control)
    }

    // MARK: servers

    private func setState(_ name: String, _ request: ServerAdmin.Request) -> CLIReply {
        serverCommand(name) { backend, i in
            let change = backend.setAdmin(i, request, now: Int(time(nil)))
            logAdmin(backend, i, change)
            return .ok
        }
    }

    /// HAProxy's lines for an operator's change of a server's state, at its levels.
    private func logAdmin(_ backend: ProxyRuntime.Backend, _ i: Int, _ change: ProxyRuntime.Backend.AdminChange<ServerAdmin.AdminEvent>) {
        guard let log = backendLogs[backend.name] else { return }
        let server = backend.servers[i]
        let counts = change.counts
        let stateChange = ServerStateChange(
            backend: backend.name, server: server.name, backup: server.backup, activeServers: counts.active,
            backupServers: counts.backup, runningOnBackup: counts.active == 0 && counts.backup > 0,
            sessionsActive: counts.sessions, requeued: counts.requeued, queued: counts.queued)
        for event in change.events {
            switch event {
            case .goingDownForMaintenance(let wasServing):
                log.send(
                    HAProxyEvent.serverGoingDownForMaintenance(stateChange).message,
                    severity: wasServing ? .alert : .notice)
            case .downEntersMaintenance:
                log.send(
                    HAProxyEvent.serverEntersMaintenance(backend: backend.name, server: server.name, backup: server.backup)
                        .message, severity: .notice)
            case .leavesMaintenance(let intoDrain):
                log.send(
                    HAProxyEvent.serverLeavesMaintenance(
                        backend: backend.name, server: server.name, backup: server.backup,
                        state: intoDrain ? "UP/DRAIN" : "UP/READY"
                    ).message, severity: .notice)
            case .entersDrain:
                log.send(HAProxyEvent.serverEntersDrain(stateChange).message, severity: .notice)
            case .remainsInDrain:
                log.send(
                    HAProxyEvent.serverRemainsInDrain(backend: backend.name, server: server.name, backup: server.backup)
                        .message, severity: .notice)
            case .leavesDrain:
                log.send(
                    HAProxyEvent.serverLeavesDrain(
                        backend: backend.name, server: server.name, backup: server.backup, state: "UP"
                    ).message, severity: .notice)
            }
        }
        if change.noneLeft {
            let kind: HAProxyEvent.ProxyKind = backend.section.kind == .listen ? .proxy : .backend
            log.send(HAProxyEvent.noServerAvailable(kind: kind, name: backend.name).message, severity: .emergency)
        }
    }

    /// `set server BE/SRV addr IP [port N]`: the server's address (and port) from now on, in HAProxy 2.6's words
    /// (`IP changed from 'A' to 'B', port changed from '80' to '81' by 'stats socket command'`); idle connections
    /// to the old address close; a server in maintenance for want of an address leaves it.
    private func setAddress(_ backend: ProxyRuntime.Backend, _ i: Int, _ text: String, port: String?) -> CLIReply {
        let by = " by 'stats socket command'\n"
        guard !text.isEmpty else {
            return CLIReply(text: "set server <b>/<s> addr requires an address and optionally a port.\n")
        }
        guard AddressSet.address(text) != nil, let parsed = try? SocketAddress(ipAddress: text, port: 0) else {
            return CLIReply(text: "Invalid addr '\(text)'" + by)
        }
        let line = backend.servers[i]
        guard let current = backend.address(i) ?? Self.portMapped(line), !current.isLocal else {
            // No address now (HAProxy's is of no family then), or a local socket's.
            return CLIReply(
                text: "Update for the current server address family is only supported through configuration file" + by)
        }
        let currentIP = current.ipAddress ?? ""
        let mapped = line.port == nil && backend.address(i) == nil
        let currentPort = current.port ?? 0
        var message: String
        var newIP = currentIP
        if parsed.ipAddress == currentIP {
            message = "no need to change the addr"
        } else {
            message = "IP changed from '\(currentIP)' to '\(text)'"
            newIP = parsed.ipAddress ?? text
        }
        var newPort = currentPort
        if let port {
            message += ", "
            // strtol: an optional sign, then digits (what follows them is ignored).
            let digits = port.drop { $0 == "+" || $0 == "-" }.prefix { $0.isNumber }
            if let n = Int(digits), let first = port.first, first.isNumber {
                if mapped || n != currentPort {
                    message += "port changed from '\(mapped ? "+" : "")\(currentPort)' to '\(n)'"
                    newPort = n
                } else {
                    message += "no need to change the port"
                }
            } else if !digits.isEmpty {
                message += "a port map ('\(port)') is HAProxy's, not in this build"
            } else {
                message += "problem converting port '\(port)' to an int"
            }
        }
        if newIP != currentIP || newPort != currentPort, let address = try? SocketAddress(ipAddress: newIP, port: newPort) {
            backend.setAddress(i, address)
        }
        return CLIReply(text: message + by)
    }

    /// HAProxy's line for a health an operator forced (`Server be/srv is DOWN, changed from CLI. …`), at its level.
    private func logForcedHealth(
        _ backend: ProxyRuntime.Backend, _ i: Int, _ counts: ProxyRuntime.Backend.StateChange
    ) {
        guard let log = backendLogs[backend.name] else { return }
        let server = backend.servers[i]
        let change = ServerStateChange(
            backend: backend.name, server: server.name, backup: server.backup, activeServers: counts.active,
            backupServers: counts.backup, runningOnBackup: counts.active == 0 && counts.backup > 0,
            sessionsActive: counts.up ? 0 : counts.sessions, requeued: counts.requeued, queued: counts.queued)
        let event: HAProxyEvent =
            counts.stopping ? .serverStopping(change) : counts.up ? .serverUp(change) : .serverDown(change)
        let state = counts.stopping ? "stopping" : counts.up ? "UP" : "DOWN"
        let head = (server.backup ? "Backup Server " : "Server ") + "\(backend.name)/\(server.name) is \(state)"
        let message = head + ", changed from CLI" + event.message.dropFirst(head.count)
        log.send(message, severity: counts.up || counts.wasStopping ? .notice : .alert)
        if !counts.up && counts.active == 0 && counts.backup == 0 {
            let kind: HAProxyEvent.ProxyKind = backend.section.kind == .listen ? .proxy : .backend
            log.send(HAProxyEvent.noServerAvailable(kind: kind, name: backend.name).message, severity: .emergency)
        }
    }

    /// A server written without a port (it takes the client's): its configured address, port 0.
    private static func portMapped(_ line: ServerLine) -> SocketAddress? {
        guard line.port == nil, !line.noAddress, line.localSocket == nil else { return nil }
        return try? SocketAddress(ipAddress: line.resolvedIP ?? line.host, port: 0)
    }

    /// `set weight` / `set server … weight`: an absolute weight 0–256, or a percentage of the configured one.
    private func setWeight(_ backend: ProxyRuntime.Backend, _ i: Int, _ text: String) -> CLIReply {
        guard !text.isEmpty else { return CLIReply(text: "Require <weight> or <weight%>.\n") }
        let initial = backend.shared.withLock { $0.balancer.servers[i].initialWeight }
        var weight: Int
        if text.hasSuffix("%"), case .value(let percent) = CLINumber.parse(String(text.dropLast())) {
            guard percent >= 0 else { return CLIReply(text: "Relative weight must be positive.\n") }
            weight = min(256, initial * min(percent, 25_600) / 100)
        } else {
            switch CLINumber.parse(text) {
            case .none: return CLIReply(text: "Empty weight string empty or preceded by garbage")
            case .trailing(let n):
                guard (0...256).contains(n) else {
                    return CLIReply(text: "Absolute weight can only be between 0 and 256 inclusive.\n")
                }
                return CLIReply(text: "Trailing garbage in weight string")
            case .value(let n):
                guard (0...256).contains(n) else {
                    return CLIReply(text: "Absolute weight can only be between 0 and 256 inclusive.\n")
                }
                weight = n
            }
        }
        let algorithm = backend.section.settings.balance
        if weight != 0 && weight != initial && (algorithm == .staticRoundRobin || algorithm == .source) {
            return CLIReply(text: "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n")
        }
        backend.adjust(i, weight: weight)
        return .ok
    }

    private func clearCounters(all: Bool) {
        state.sessions.clear(all: all)
        for tally in state.frontendSessions.values { tally.clear(all: all) }
        for backend in state.backends {
            backend.sessions.clear(all: all)
            for tally in backend.serverSessions { tally.clear(all: all) }
        }
    }

    // MARK: show

    /// `show table`: every table's head line (by name); `show table NAME [key K]`: its head and its entries
    /// (operators and admins only), as HAProxy 2.6 dumps them.
    private func showTable(_ args: [String], _ session: CLISession) -> CLIReply {
        guard let tables = state.stickTables else { return CLIReply(text: args.isEmpty ? "\n" : "No such table\n") }
        func head(_ table: SharedStickTable) -> String {
            let used = table.with { t, now in
                t.purge(now: now)
                return t.count
            }
            return "# table: \(table.schema.name), type: \(table.schema.typeName), size:\(table.schema.size), used:\(used)\n"
        }
        guard let name = args.first else {
            return CLIReply(text: tables.order.sorted().compactMap { tables[$0].map(head) }.joined() + "\n")
        }
        guard let table = tables[name] else { return CLIReply(text: "No such table\n") }
        var out = head(table)
        guard session.level >= .operator else {
            return CLIReply(text: out + "# contents not dumped due to insufficient privileges\n\n")
        }
        var only: StickKey?
        if args.count > 1 {
            guard args[1] == "key", args.count == 3 else {
                return CLIReply(text: "this build's 'show table' takes one filter, 'key <key>' (no 'data.' filter).\n")
            }
            guard let key = table.schema.key(.text(Array(args[2].utf8))) else {
                return CLIReply(text: "Unable to parse key for table type '\(table.schema.typeName)'.\n")
            }
            only = key
        }
        let base = 0x5500_0000_0000 + (tables.order.firstIndex(of: name) ?? 0) << 32
        // The keys are copied out at once and sorted outside the table's lock; the lines are made a thousand at a
        // time, each time under the lock (sessions wait for one chunk at most, never for the whole dump).
        let entries = StickTable.inKeyOrder(
            table.with { t, now in
                guard let only else { return t.entries(now: now) }
                return t.lookup(only, now: now).map { [($0, only)] } ?? []
            })
        var start = 0
        while start < entries.count {
            let chunk = entries[start..<min(start + 1_000, entries.count)]
            out += table.with { t, now in
                var lines = ""
                for (slot, key) in chunk where t.key(of: slot) == key {
                    lines += "0x" + String(base + Int(slot) * 64, radix: 16) + ": " + t.dumpLine(slot, now: now) + "\n"
                }
                return lines
            }
            start += 1_000
        }
        return CLIReply(text: out + "\n")
    }

    /// `clear table NAME [key K]`: its entries nobody tracks (or the one of `K`) removed.
    private func clearTable(_ args: [String]) -> CLIReply {
        guard let name = args.first else {
            return CLIReply(
                text: "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n")
        }
        guard let table = state.stickTables?[name] else { return CLIReply(text: "No such table\n") }
        if args.count > 1 {
            guard args[1] == "key", args.count == 3 else {
                return CLIReply(text: "this build's 'clear table' takes one filter, 'key <key>' (no 'data.' filter).\n")
            }
            guard let key = table.schema.key(.text(Array(args[2].utf8))) else {
                return CLIReply(text: "Unable to parse key for table type '\(table.schema.typeName)'.\n")
            }
            _ = table.with { t, _ in t.remove(key) }
        } else {
            _ = table.with { t, _ in t.clear() }
        }
        return CLIReply(text: "\n")
    }

    private func showSockets() -> CLIReply {
        var out = "# socket lvl processes\n"
        for socket in state.configuration.global.statsSockets {
            let name: String
            switch socket.address {
            case .unix(let path): name = "unix@" + path
            case .tcp(let host, let port): name = (host.contains(":") ? "ipv6@[\(host)]" : "ipv4@\(host)") + ":\(port)"
            }
            out += "\(name) \(socket.level) all\n"
        }
        return CLIReply(text: out)
    }

    /// `show stat [{<iid>|<proxy>} <type> <sid>] [typed|json|up|no-maint]`.
    private func showStat(_ args: [String], _ session: CLISession) -> CLIReply {
        var words = args
        var filter: (iid: Int, types: Int, sid: Int)?
        if let first = words.first, !["typed", "json", "up", "no-maint", "desc"].contains(first) {
            guard words.count >= 3 else {
                return CLIReply(text: "Require object type and object id.\n")
            }
            let iid: Int
            if let n = Int(first) {
                iid = n
            } else if let index = state.configuration.proxies.firstIndex(where: { $0.name == first }) {
                iid = (state.configuration.global.statsSockets.isEmpty ? 1 : 2) + index
            } else {
                return CLIReply(text: "No such proxy.\n")
            }
            filter = (iid, Int(words[1]) ?? -1, Int(words[2]) ?? -1)
            words.removeFirst(3)
        }
        let options = Set(words)
        var proxies = state.statsSnapshot()
        if options.contains("up") || options.contains("no-maint") {
            let upOnly = options.contains("up")
            for p in proxies.indices {
                proxies[p].servers.removeAll { s in
                    s.health.maintenance || (upOnly && (!s.health.up || s.health.status.hasPrefix("DOWN")))
                }
            }
        }
        var records = StatsCSV.records(proxies)
        if let filter {
            records = records.filter { r in
                let bit: Int =
                    switch r.kind {
                    case .frontend: 1
                    case .backend: 2
                    case .server: 4
                    }
                return (filter.iid == -1 || r.iid == filter.iid) && (filter.types == -1 || filter.types & bit != 0)
                    && (filter.sid == -1 || r.kind != .server || r.sid == filter.sid)
            }
        }
        if options.contains("json") { return CLIReply(text: StatsTyped.json(records)) }
        if options.contains("typed") { return CLIReply(text: StatsTyped.typed(records)) }
        return CLIReply(text: StatsCSV.render(records))
    }
}

/// Integers as HAProxy's CLI reads them with strtol/atoi: leading digits (and a sign), then what follows.
enum CLINumber {
    enum Parsed: Equatable {
        case none
        case value(Int)
        /// Digits, then something else.
        case trailing(Int)
    }

    static func parse(_ text: String) -> Parsed {
        var s = Substring(text).drop { $0 == " " || $0 == "\t" }
        var negative = false
        if let sign = s.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            s = s.dropFirst()
        }
        let digits = s.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let n = Int(digits.prefix(18)) else { return .none }
        let value = negative ? -n : n
        return digits.count == s.count ? .value(value) : .trailing(value)
    }

    static func atoi(_ text: String) -> Int {
        switch parse(text) {
        case .none: 0
        case .value(let n), .trailing(let n): n
        }
    }
}

/// `set timeout cli` values: a number of seconds, or with a unit (us, ms, s, m, h, d).
enum CLITime {
    static func seconds(_ text: String) -> Int? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard let n = Int(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "", "s": return n
        case "ms": return n / 1000
        case "us": return n / 1_000_000
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        default: return nil
        }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.last == "\n" { s.removeLast() }
        return s
    }
}
