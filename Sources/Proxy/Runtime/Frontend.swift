import HAProxyLog
import LogCore
import NIOCore
import Synchronization
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ProxyRuntime {
    /// A class: every request refers to it, and a struct of this size would be copied (and its references
    /// retained) each time.
    final class Frontend: Sendable {
        let section: ProxySection
        let backend: Backend?
        let log: LogEmitter
        let clientTimeout: TimeAmount?
        let tcpKeepAlive: Bool
        /// The frontend's `maxconn`, then the process's: a session starts once both admit it.
        let limits: [ConnectionLimit]
        /// `feconn` (kept in `ProxyState`).
        let sessions: Tally
        /// HTTP mode: the stats page if enabled here, `option forwardfor`, and the request head's size limits
        /// (HAProxy's `tune.bufsize`, 16 kB).
        let stats: StatsPage?
        let forwardFor: ForwardFor?
        let headLimit: Int
        /// `use_backend` rules in order (the first that holds chooses), before `backend` (TCP mode: on layer-4
        /// criteria).
        let routes: [(condition: RuleCondition?, backend: Backend)]
        /// HTTP mode: the same rules in order, the ones whose name is made per request (`use_backend %[…]`) among
        /// them, and the backends such a name may find.
        enum RouteTarget {
            case backend(Backend)
            case named(LogFormatValue)
        }
        let routeTargets: [(condition: RuleCondition?, target: RouteTarget)]
        let backendsByName: [String: Backend]
        /// TCP mode: `tcp-request inspect-delay`, and whether a content or `use_backend` rule reads what the client
        /// sent first (the session then waits for it before choosing).
        let inspectDelay: TimeAmount?
        let inspectsPayload: Bool
        /// How many servers serve a backend now, by name (`nbsrv`; 0 for a name that is no backend).
        let usableServers: @Sendable (String) -> Int
        /// The userlists, for `http_auth` (nil without any).
        let users: UserlistAuth?
        /// The stick tables (nil without any): each session then keeps what it tracks.
        let stickTables: StickTables?
        /// Where its sessions are listed for the runtime API (nil: nothing asks).
        let directory: SessionDirectory?
        /// The HTTP connections a soft stop reaches (see `HTTPConnections`).
        let connections: HTTPConnections?
        /// Where a limit's blocks are audited (see `AuditTrail.limitBlocked`).
        let audit: AuditTrail?
        /// `rate-limit sessions N`.
        let sessionRate: SessionRate?
        /// The process's variables (`proc.*`), shared by every session.
        let processVariables: ProcessVariables

        /// What decides whether and how a traffic line is logged, read from the options once (not per line).
        struct LogRules: Sendable {
            let dontlogNormal: Bool
            let dontlogNull: Bool
            let separateErrors: Bool
            let clf: Bool
            /// `log-format`, compiled.
            let custom: CompiledLogFormat?
            /// Whether the custom format names the server's side's addresses (kept per session only then), and the
            /// frontend's (made into text per line only then).
            let logsServerAddresses: Bool
            let logsFrontendAddress: Bool
            /// `unique-id-format` and `unique-id-header`.
            let uniqueID: CompiledLogFormat?
            let uniqueIDHeader: String?
            /// Neither `option httplog`/`tcplog` nor `log-format`: HAProxy's oldest format, a `Connect from …`
            /// line as each stream begins and no traffic line.
            let connectLines: Bool
            init(_ settings: ProxySettings) {
                dontlogNormal = settings.option(.dontlogNormal)
                dontlogNull = settings.option(.dontlognull)
                separateErrors = settings.option(.logSeparateErrors)
                clf = settings.httplogCLF
                custom = settings.customLogFormat
                logsServerAddresses =
                    custom?.format.uses([.serverIP, .serverPort, .backendSourceIP, .backendSourcePort]) ?? false
                let formats = [settings.customLogFormat, settings.uniqueID].compactMap { $0 }
                logsFrontendAddress = formats.contains { f in
                    f.format.uses([.frontendIP, .frontendPort])
                        || f.samples.contains { $0.fetch == .destination || $0.fetch == .destinationPort }
                }
                connectLines = custom == nil && !settings.option(.httplog) && !settings.option(.tcplog)
                uniqueID = settings.uniqueID
                uniqueIDHeader = uniqueID == nil ? nil : settings.uniqueIDHeader
            }
        }
        let logRules: LogRules
        /// `use-service prometheus-exporter`: the exporter's text for a request's query string.
        let prometheus: (@Sendable (Substring) -> String)?
        /// `tune.comp.maxlevel`: zlib's level for `compression`.
        let compressionLevel: Int32
        /// `%lc`: the traffic lines this frontend logged.
        private let linesLogged = Atomic<Int>(0)
        /// `%rt`: the process's streams (each TCP session, each HTTP request), numbered as they begin.
        private static let streams = Atomic<Int>(0)
        static func nextStream() -> Int { streams.wrappingAdd(1, ordering: .relaxed).oldValue }
        static let pid = Int(getpid())
        static let hostname = HostName.current()
        /// `option logasap` (the frontend's, as HAProxy reads it).
        var logASAP: Bool { section.settings.option(.logasap) }
        /// HTTP mode: `option httpclose` (each response closes both sides) and `option http-server-close` (the
        /// server's side only).
        let closesBothSides: Bool
        let closesServerSide: Bool
        /// HTTP mode: the section's `http-response` header rules and `errorfile` responses.
        let responseEdits: ResponseHeaderEdits
        let errorFiles: [Int: HTTPErrorFile]
        /// Its `deny` and `return` rules' `errorfile(s)` files, read once.
        let replyFiles: [[UInt8]: HTTPErrorFile]
        /// The backends' edits then this frontend's, combined once per backend it can route to (not per response).
        private let combinedEdits: [ObjectIdentifier: ResponseHeaderEdits]
        /// The same rules where one of them is made per response, by backend; and the frontend's own.
        private let rulesPerResponse: [ObjectIdentifier: [HTTPResponseRule]]
        private let ownRules: [HTTPResponseRule]?

        init(
            section: ProxySection, backend: Backend?, sessions: Tally, log: LogEmitter, clientTimeout: TimeAmount?, tcpKeepAlive: Bool,
            limits: [ConnectionLimit], stats: StatsPage?, forwardFor: ForwardFor?, headLimit: Int,
            routes: [(condition: RuleCondition?, target: RouteTarget)], logRules: LogRules,
            usableServers: @escaping @Sendable (String) -> Int = { _ in 0 }, users: UserlistAuth? = nil,
            stickTables: StickTables? = nil, audit: AuditTrail? = nil, sessionRate: SessionRate? = nil,
            compressionLevel: Int = 1, backendsByName: [String: Backend] = [:],
            prometheus: (@Sendable (Substring) -> String)? = nil, directory: SessionDirectory? = nil,
            processVariables: ProcessVariables = ProcessVariables([:], declared: []), connections: HTTPConnections? = nil
        ) {
            self.connections = connections
            self.processVariables = processVariables
            self.directory = directory
            self.prometheus = prometheus
            self.backendsByName = backendsByName
            routeTargets = routes
            let routes = routes.compactMap { route -> (condition: RuleCondition?, backend: Backend)? in
                if case .backend(let b) = route.target { return (route.condition, b) }
                return nil
            }
            self.compressionLevel = Int32(compressionLevel)
            self.sessionRate = sessionRate
            self.stickTables = stickTables
            self.audit = audit
            self.usableServers = usableServers
            self.users = users
            self.section = section
            self.backend = backend
            self.sessions = sessions
            // On the frontend or its default backend, as HAProxy reads them.
            func option(_ option: ProxyOption) -> Bool {
                section.settings.option(option) || (backend?.section.settings.option(option) ?? false)
            }
            closesBothSides = option(.httpclose)
            closesServerSide = option(.httpServerClose) || closesBothSides
            self.log = log
            self.clientTimeout = clientTimeout
            self.tcpKeepAlive = tcpKeepAlive
            self.limits = limits
            self.stats = stats
            self.forwardFor = forwardFor
            self.headLimit = headLimit
            self.routes = routes
            self.logRules = logRules
            inspectDelay = ProxyRuntime.amount(section.settings.inspectDelay)
            inspectsPayload = (section.rules.tcpContentRules.compactMap(\.condition) + routes.compactMap(\.condition))
                .flatMap(\.tests).contains { $0.sample.readsPayload }
            let own = ResponseHeaderEdits(section.rules.responseRules)
            responseEdits = own
            errorFiles = HTTPErrorFile.load(section.settings.errorFiles)
            replyFiles = HTTPErrorFile.replyFiles(section.rules)
            var combined: [ObjectIdentifier: ResponseHeaderEdits] = [:]
            var perResponse: [ObjectIdentifier: [HTTPResponseRule]] = [:]
            let dynamic = routeTargets.contains { if case .named = $0.target { true } else { false } }
            let reachable = dynamic ? Array(backendsByName.values) : routes.map(\.backend)
            for target in reachable + [backend].compactMap({ $0 }) {
                // A `listen` section's rules once.
                let same = target.section.name == section.name
                combined[ObjectIdentifier(target)] = same ? own : target.responseEdits.then(own)
                let rules = (same ? [] : target.section.rules.responseRules) + section.rules.responseRules
                if !rules.allSatisfy(\.isStatic) { perResponse[ObjectIdentifier(target)] = rules }
            }
            combinedEdits = combined
            ownRules = section.rules.responseRules.allSatisfy(\.isStatic) ? nil : section.rules.responseRules
            rulesPerResponse = perResponse
        }

        /// A limit (a rule on stick-table counters) blocked `client` with `action`: audited once a minute at most.
        func limitBlocked(_ client: String?, action: String, limits: [String]) {
            guard !limits.isEmpty else { return }
            audit?.limitBlocked(client: client ?? "-", proxy: section.name, action: action, limits: limits)
        }

        /// The `http-response` rules for a response from `backend` (the backend's, then the frontend's) when one of
        /// them is made per response (a condition, a sample, a variable); nil when `responseEdits` says it all.
        func responseRules(from backend: Backend?) -> [HTTPResponseRule]? {
            // Most configurations have none: no lookup per response then.
            guard ownRules != nil || !rulesPerResponse.isEmpty else { return nil }
            guard let backend else { return ownRules }
            return rulesPerResponse[ObjectIdentifier(backend)] ?? (combinedEdits[ObjectIdentifier(backend)] == nil ? ownRules : nil)
        }

        /// The `http-after-response` rules for a response from (or about) `backend`: the backend's, then the
        /// frontend's (a `listen` section's once).
        func afterResponseRules(from backend: Backend?) -> [HTTPResponseRule] {
            let own = section.rules.afterResponseRules
            guard let backend, backend.section.name != section.name else { return own }
            let theirs = backend.section.rules.afterResponseRules
            return theirs.isEmpty ? own : theirs + own
        }

        /// What the `http-response` rules do to a response from `backend`: the backend's, then the frontend's (a
        /// `listen` section's once); nil when nothing.
        func responseEdits(from backend: Backend?) -> ResponseHeaderEdits? {
            let edits = backend.flatMap { combinedEdits[ObjectIdentifier($0)] } ?? responseEdits
            return edits.isEmpty ? nil : edits
        }

        /// Logs one traffic line as HAProxy's `strm_log` decides: an error is a redispatch, a retry, a termination
        /// cause other than `-`/`L` or a 5xx; `dontlog-normal` keeps only errors, `log-separate-errors` sends them
        /// at err. `dontlognull` drops a session that carried nothing unless it is an error (TCP, `empty`), and an
        /// HTTP connection that never sent a byte even as the error it ends in (`probe`: HAProxy's HTTP layer
        /// drops it before its log).
        /// A connection to a TLS listener that failed its handshake, as HAProxy logs it (at info, whatever
        /// `log-separate-errors` says): `CLIENT:PORT [DATE] FRONTEND/LISTENER: SSL handshake failure`. A client that
        /// closed during the handshake without a word ("Connection closed during SSL handshake") is dropped by
        /// `dontlognull`, as in HAProxy.
        /// A client certificate that failed its check is `SSL client certificate not trusted`.
        func logHandshakeFailure(
            client: SocketAddress?, at date: CivilTime, listener: String, closed: Bool,
            untrustedCertificate: Bool = false
        ) {
            let reason =
                closed
                ? "Connection closed during SSL handshake"
                : untrustedCertificate ? "SSL client certificate not trusted" : "SSL handshake failure"
            logConnectionError(client: client, at: date, listener: listener, reason: reason, empty: closed)
        }

        /// A connection that ended before its session began (a TLS handshake, a PROXY protocol header), as HAProxy
        /// logs it: `CLIENT:PORT [DATE] FRONTEND/LISTENER: REASON`; one that closed without a word (`empty`) is
        /// dropped by `dontlognull`.
        func logConnectionError(client: SocketAddress?, at date: CivilTime, listener: String, reason: String, empty: Bool) {
            if empty && logRules.dontlogNull { return }
            log.send(severity: .informational) { out in
                out.append(contentsOf: "\(client?.ipAddress ?? "-"):\(client?.port ?? 0) [".utf8)
                HAProxyLogFormat.appendDate(date, milliseconds: true, into: &out)
                out.append(contentsOf: "] \(section.name)/\(listener): \(reason)\n".utf8)
            }
        }

        /// The stream's `unique-id-format`, from what it has now (HAProxy makes it when the request goes to its
        /// backend with `unique-id-header`, else when it is logged; at most 127 bytes).
        func uniqueID(_ record: HAProxyLogRecord, _ context: HAProxyLogContext, tls: ClientTLS?) -> String? {
            guard let format = logRules.uniqueID else { return nil }
            var c = context
            c.pid = Self.pid
            c.hostname = Self.hostname
            c.logCounter = linesLogged.load(ordering: .relaxed)
            c.samples = format.samples.map { $0.value(record, c, tls: tls) }
            let bytes = format.format.format(record, c)
            return String(decoding: bytes.prefix(127), as: UTF8.self)
        }

        /// A stream begins (a TCP session past its `tcp-request session` rules, an HTTP request whose head was read)
        /// in a frontend without a traffic format: HAProxy 2.6's `Connect from CLIENT:PORT to ADDRESS:PORT
        /// (FRONTEND/HTTP|TCP)`, at info.
        func logConnect(client: SocketAddress?, to local: @autoclosure () -> SocketAddress?) {
            guard logRules.connectLines, !log.targets.isEmpty else { return }
            let mode = section.settings.mode == .http ? "HTTP" : "TCP"
            guard let client, let ip = client.ipAddress, let port = client.port else {
                return log.send("Connect from unknown source to listener 1 (\(section.name)/\(mode))\n", severity: .informational)
            }
            let destination = local().flatMap { l in l.ipAddress.map { ($0, l.port ?? 0) } } ?? ("undetermined address", 0)
            log.send(
                "Connect from \(ip):\(port) to \(destination.0):\(destination.1) (\(section.name)/\(mode))\n",
                severity: .informational)
        }

        /// `context` tells what a `log-format` names beyond the record (asked for only with one): its samples and
        /// counters are filled here.
        func logTraffic(
            _ record: HAProxyLogRecord, empty: Bool = false, probe: Bool = false, tls: ClientTLS? = nil,
            level: LogLevelOverride? = nil, context: () -> HAProxyLogContext
        ) {
            let isError = record.isError
            if logRules.dontlogNormal && !isError { return }
            if logRules.dontlogNull && (probe || (empty && !isError)) { return }
            var severity: Severity = logRules.separateErrors && isError ? .error : .informational
            // `set-log-level` (after `dontlog-normal`, as in HAProxy's `strm_log`).
            switch level {
            case .silent?: return
            case .severity(let chosen)?: severity = chosen
            case nil: break
            }
            guard !log.targets.isEmpty, !logRules.connectLines else { return }
            if let custom = logRules.custom {
                var c = context()
                c.logCounter = linesLogged.wrappingAdd(1, ordering: .relaxed).oldValue
                c.pid = Self.pid
                c.hostname = Self.hostname
                if c.uniqueID == nil, logRules.uniqueID != nil { c.uniqueID = uniqueID(record, c, tls: tls) }
                c.samples = custom.samples.map { $0.value(record, c, tls: tls) }
                log.send(severity: severity) { custom.format.format(record, c, into: &$0) }
                return
            }
            let format: HAProxyLogFormat =
                record.mode == .http && logRules.clf ? .clf : HAProxyLogFormat.default(for: record)
            log.send(severity: severity) { format.format(record, into: &$0) }
        }
    }
}

extension ProxyRuntime.Frontend {
    /// `tcp-request connection` rules on a new connection: before anything (a TLS handshake, a PROXY header), on the
    /// connection's own addresses. A rejected one is counted (`dcon`, or a denied request for `silent-drop`, as
    /// HAProxy counts it), `silence`d for `silent-drop`, and nil is returned: the caller closes it unlogged. Else
    /// what the connection tracks (`track-sc`, kept by its session) and whether a PROXY header comes first
    /// (`accept-proxy`, `expect-proxy layer4`).
    func connectionAdmitted(
        remote: SocketAddress?, local: @autoclosure () -> SocketAddress?, acceptProxy: Bool, silence: () -> Void
    ) -> (counters: TrackedCounters?, expectsProxy: Bool)? {
        let counters = stickTables.map(TrackedCounters.init)
        let connectionRules = section.rules.tcpConnectionRules
        var expectsProxy = acceptProxy
        guard !connectionRules.isEmpty else { return (counters, expectsProxy) }
        let samples = StickSampleSource(client: remote, frontend: local())
        let (decision, limits) = TCPRequestRule.decide(
            connectionRules, client: AddressSet.key(remote), frontendPort: samples.frontend?.port, counters: counters
        ) { action in
            if action == .expectProxy { expectsProxy = true }
            counters?.perform(action, level: .connection, samples: samples)
        }
        guard decision != .accept else { return (counters, expectsProxy) }
        counters?.endSession()
        limitBlocked(remote?.ipAddress, action: decision == .silentDrop ? "silent-drop" : "reject", limits: limits)
        if decision == .silentDrop {
            silence()
            sessions.update { $0.deniedRequests += 1 }
        } else {
            sessions.update { $0.deniedConnections += 1 }
        }
        return nil
    }
}

extension ProxyRuntime.Frontend {
    /// Whether `bind`'s sessions run on the TCP data plane: plain TCP in and out. A TLS listener, a PROXY protocol
    /// header to read (`accept-proxy`, `expect-proxy`) or TLS to a server keep the frontend's sessions on NIO's
    /// channels, where swift-nio-ssl and the PROXY protocol decoder live.
    func runsOnDataPlane(_ bind: BindAddress) -> Bool {
        guard section.settings.mode == .tcp, bind.tls == nil, !bind.acceptProxy, bind.localSocket == nil else { return false }
        if section.rules.tcpConnectionRules.contains(where: { $0.action == .expectProxy }) { return false }
        let backends = [backend].compactMap { $0 } + routes.map(\.backend)
        return !backends.contains { backend in backend.serverTLS.contains { $0?.traffic == true } }
    }
}
