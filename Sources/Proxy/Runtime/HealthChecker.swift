import HAProxyLog
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The health checks of one backend's servers (`check`): a TCP connect to the server (or its `addr`/`port`),
/// and with `option httpchk` the HTTP request HAProxy 2.6 sends, passing on a 2xx/3xx status or what
/// `http-check expect` asks for. Each result moves the server's health counter (`HealthState`); a change of
/// state takes the server in or out of the balancer and is logged with HAProxy's exact lines (alert for DOWN,
/// notice for UP, emerg when no server is left).
final class HealthChecker: Sendable {
    private let backend: ProxyRuntime.Backend
    private let section: ProxySection
    private let log: LogEmitter
    private let group: any EventLoopGroup
    /// The next check of each server.
    private let tasks = Mutex<[Int: Scheduled<Void>]>([:])
    private let stopped = Mutex(false)

    /// `option external-check`: the program each check runs, and whether it may be started at all
    /// (`insecure-fork-wanted`).
    private let external: ExternalCheck?
    private let forkAllowed: Bool
    private let forkRefusalSaid = Mutex(false)

    init(
        backend: ProxyRuntime.Backend, section: ProxySection, log: LogEmitter, group: any EventLoopGroup,
        external: ExternalCheck? = nil, forkAllowed: Bool = false
    ) {
        self.backend = backend
        self.section = section
        self.log = log
        self.group = group
        self.external = external
        self.forkAllowed = forkAllowed
    }

    /// Starts every checked server's checks, spread over the first interval as HAProxy spreads them.
    func start() {
        for (i, server) in section.servers.enumerated() where server.check {
            let spread = Int64(server.inter.microseconds) * Int64(i) / Int64(max(section.servers.count, 1))
            schedule(i, after: .microseconds(spread))
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        for task in tasks.withLock({ $0.values }) { task.cancel() }
    }

    private func schedule(_ i: Int, after delay: TimeAmount) {
        guard !stopped.withLock({ $0 }) else { return }
        let task = group.next().scheduleTask(in: delay) { [self] in check(i) }
        tasks.withLock { $0[i] = task }
    }

    private func check(_ i: Int) {
        let server = section.servers[i]
        // Paused in maintenance and while an operator disabled them (`disable health`), as in HAProxy.
        let paused = backend.shared.withLock { s -> Bool in
            let paused = !s.checksEnabled[i] || s.balancer.servers[i].admin.maintenance
            // HAProxy's stats mark a check under way (`* L7OK`).
            if !paused { s.health[i].checkInProgress = true }
            return paused
        }
        if paused { return schedule(i, after: .microseconds(server.inter.microseconds)) }
        if let external { return runExternalCheck(i, external) }
        let host = server.checkAddress ?? server.host
        // A server on a local socket is checked there unless its check has an address of its own (a port alone
        // changes nothing on a local socket, as in HAProxy).
        let local = server.checkAddress == nil ? server.localSocket : nil
        let port = server.checkPort ?? server.port
        guard let address = Self.target(local: local, host: host, port: port) else {
            record(i, .init(passed: false, description: "Layer4 connection problem", info: "no address to check"))
            return
        }
        let timeout = ProxyRuntime.amount(section.settings.timeouts.check ?? server.inter) ?? .seconds(2)
        let started = NIODeadline.now()
        if let tcpCheck = section.settings.tcpCheck {
            return runTCPCheck(i, tcpCheck, local: local, host: host, port: port, timeout: timeout, started: started)
        }
        let send = section.settings.httpCheckSend
        let request = section.settings.httpCheck.map { HealthChecker.request($0, send) }
        let expect = section.settings.httpCheckExpect
        let disableOn404 = section.settings.httpCheckDisableOn404
        let loop = group.next()
        let result = loop.makePromise(of: CheckResult.self)
        // `check-ssl` (or `ssl` inherited): the check runs over TLS; its handshake is layer 6.
        let tls = backend.serverTLS[i].flatMap { $0.checks ? $0 : nil }
        let handshake = tls.map { _ in loop.makePromise(of: Void.self) }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let request {
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPCheckHandler(
                                request: request, expect: expect,
                                disableOn404: disableOn404, result: result))
                    }
                    if let tls, let handshake {
                        try tls.addHandlers(to: channel, sni: tls.checkName, prefix: nil, handshake: handshake)
                    }
                }
            }
            .connect(to: address)
            .whenComplete { outcome in
                switch outcome {
                case .failure(let error):
                    handshake?.fail(error)
                    let info = HealthChecker.describe(error)
                    let timedOut = info.contains("timed out")
                    result.succeed(
                        CheckResult(
                            passed: false,
                            description: timedOut ? "Layer4 timeout" : "Layer4 connection problem",
                            info: timedOut ? nil : info))
                case .success(let channel):
                    if let handshake {
                        // HAProxy's layer 6: the handshake fails ("SSL handshake failure"), or does not end in time.
                        let deadline = loop.scheduleTask(in: timeout) {
                            result.succeed(CheckResult(passed: false, description: "Layer6 timeout"))
                            channel.close(promise: nil)
                        }
                        handshake.futureResult.whenComplete { done in
                            deadline.cancel()
                            switch done {
                            case .failure:
                                result.succeed(
                                    CheckResult(
                                        passed: false, description: "Layer6 invalid response",
                                        info: "SSL handshake failure"))
                                channel.close(promise: nil)
                            case .success where request == nil:
                                result.succeed(CheckResult(passed: true, description: "Layer6 check passed"))
                                channel.close(promise: nil)
                            case .success:
                                break
                            }
                        }
                        result.futureResult.whenComplete { _ in channel.close(promise: nil) }
                        if request == nil { return }
                    }
                    if request == nil {
                        result.succeed(CheckResult(passed: true, description: "Layer4 check passed"))
                        channel.close(promise: nil)
                    } else {
                        // The HTTP answer must come within the timeout.
                        let deadline = loop.scheduleTask(in: timeout) {
                            result.succeed(CheckResult(passed: false, description: "Layer7 timeout"))
                            channel.close(promise: nil)
                        }
                        result.futureResult.whenComplete { _ in
                            deadline.cancel()
                            channel.close(promise: nil)
                        }
                    }
                }
            }
        result.futureResult.whenSuccess { [self] outcome in
            var timed = outcome
            timed.milliseconds = Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
            record(i, timed)
        }
    }

    /// `option external-check`: the program on the server's address and port, given `inter` to end (see
    /// `ExternalCheck`). Without `insecure-fork-wanted` HAProxy 2.6 sets its process limit to 0, so it cannot
    /// start it unless it runs as root (whom the limit does not bind): the check then fails as HAProxy's does,
    /// with its alert (once).
    private func runExternalCheck(_ i: Int, _ external: ExternalCheck) {
        let server = section.servers[i]
        guard forkAllowed || geteuid() == 0 else {
            let first = forkRefusalSaid.withLock { said in
                defer { said = true }
                return !said
            }
            if first { ExternalCheck.sayForkRefused() }
            return record(i, .init(passed: false, description: "Socket error", info: "Resource temporarily unavailable"))
        }
        let started = NIODeadline.now()
        let target = ExternalCheck.Target(
            name: server.name, id: i + 1, address: backend.address(i)?.ipAddress ?? server.resolvedIP ?? server.host,
            port: server.port ?? 0, maxconn: server.maxconn ?? 0,
            connections: backend.shared.withLock { $0.balancer.servers[i].connections },
            ssl: backend.serverTLS[i]?.traffic == true)
        let loop = group.next()
        external.run(target, timeout: Double(server.inter.microseconds) / 1_000_000) { [self] outcome in
            var measured = outcome
            measured.milliseconds = Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
            let timed = measured
            loop.execute { self.record(i, timed) }
        }
    }

    /// Where a check connects: the server's local socket, or `host` (resolved) at `port`.
    static func target(local: LocalSocket?, host: String, port: Int?) -> SocketAddress? {
        if let local { return try? SocketAddress(unixDomainSocketPath: local.sunPath) }
        guard let port else { return nil }
        return try? SocketAddress.makeAddressResolvingHost(host, port: port)
    }

    /// A tcp-check (`option tcp-check` rules, `option mysql-check`, `option redis-check`): its first connect goes
    /// to the check port (or the rule's port), then `TCPCheckHandler` runs the rules.
    private func runTCPCheck(
        _ i: Int, _ check: TCPCheck, local: LocalSocket?, host: String, port: Int?, timeout: TimeAmount,
        started: NIODeadline
    ) {
        var run = TCPCheckRun(check)
        var connectPort = port
        var local = local
        if case .connect(let rulePort)? = run.start().first, let rulePort {
            connectPort = rulePort
            local = nil
        }
        let loop = group.next()
        let verdict = loop.makePromise(of: TCPCheckRun.Verdict.self)
        guard let address = Self.target(local: local, host: host, port: connectPort) else {
            record(i, .init(passed: false, description: "Layer4 connection problem", info: "no address to check"))
            return
        }
        let firstRun = run
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = TCPCheckHandler(firstRun, result: verdict)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    let context = try channel.pipeline.syncOperations.context(handler: handler)
                    let deadline = channel.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                        handler.timedOut(context)
                    }
                    verdict.futureResult.whenComplete { _ in deadline.cancel() }
                }
            }
            .connect(to: address)
            .whenFailure { error in
                let reason = HealthChecker.describe(error)
                verdict.succeed(
                    reason.contains("timed out") ? firstRun.timedOut() : firstRun.connectFailed(reason))
            }
        verdict.futureResult.whenSuccess { [self] v in
            var result = CheckResult(
                passed: v.status.passed, description: v.status.description,
                code: v.code ?? (v.status.hasCode ? 0 : nil), info: v.info)
            result.milliseconds = Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
            record(i, result)
        }
    }

    struct CheckResult: Sendable {
        var passed: Bool
        /// A 404 under `http-check disable-on-404`.
        var conditional = false
        var description: String
        var code: Int?
        var info: String?
        var milliseconds = 0
    }

    private func record(_ i: Int, _ checked: CheckResult) {
        var result = checked
        if result.conditional {
            if backend.shared.withLock({ $0.checks[i].isUp }) {
                // A conditional success says no more than its code.
                result.info = nil
            } else {
                // A server that is not UP stays stopped on a 404 (HAProxy's rule): a failure.
                (result.passed, result.conditional, result.description) = (false, false, "Layer7 wrong status")
            }
        }
        let recorded = backend.recordCheck(
            i, passed: result.passed, conditional: result.conditional,
            status: ServerHealth.checkStatus(for: result.description), code: result.code,
            milliseconds: result.milliseconds, now: time(nil))
        let (change, next) = (recorded.change, recorded.next)
        let server = section.servers[i]
        let reason = CheckReason(
            description: result.description, code: result.code, info: result.info,
            durationMilliseconds: result.milliseconds)
        // `option log-health-checks`: as HAProxy, a line when the check's status changes, for a failure while the
        // server is not fully down and for a success while it is not fully up, with its health after the check;
        // the DOWN/UP line then gives no reason (this line did).
        let logsChecks = section.settings.option(.logHealthChecks)
        if logsChecks {
            let h = recorded.after
            let top = h.rise + h.fall - 1
            let moved = (!result.passed && recorded.before != 0) || (result.passed && recorded.before != top)
            let status = ServerHealth.checkStatus(for: result.description)
            if moved || status != recorded.previousStatus {
                let up = h.health >= h.rise
                let report = HealthCheckReport(
                    backend: section.name, server: server.name, backup: server.backup, succeeded: result.passed,
                    conditionally: result.conditional, reason: reason, health: up ? h.health - h.rise + 1 : h.health, threshold: up ? h.fall : h.rise,
                    state: up ? (recorded.weight > 0 ? "UP" : "DRAIN") : "DOWN")
                log.send(HAProxyEvent.healthCheck(report).message, severity: .notice)
            }
        }
        if let counts = change {
            let up = counts.up
            let change = ServerStateChange(
                backend: section.name, server: server.name, backup: server.backup,
                reason: logsChecks ? nil : reason,
                activeServers: counts.active, backupServers: counts.backup,
                runningOnBackup: counts.active == 0 && counts.backup > 0, sessionsActive: up ? 0 : counts.sessions,
                requeued: counts.requeued, queued: counts.queued)
            let event: HAProxyEvent = counts.stopping ? .serverStopping(change) : up ? .serverUp(change) : .serverDown(change)
            // A server going DOWN from NOLB was not taking traffic: a notice, as HAProxy's.
            log.send(event.message, severity: up || counts.wasStopping ? .notice : .alert)
            // `on-marked-down shutdown-sessions`: the sessions still on it end (`D` in their log lines).
            if !up && server.shutdownSessionsOnDown {
                backend.directory?.kill(backend: section.name, server: i, .serverDown)
            }
            if !up && counts.active == 0 && counts.backup == 0 {
                let kind: HAProxyEvent.ProxyKind = section.kind == .listen ? .proxy : .backend
                log.send(HAProxyEvent.noServerAvailable(kind: kind, name: section.name).message, severity: .emergency)
            }
        }
        schedule(i, after: .microseconds(next.microseconds))
    }

    /// The request HAProxy 2.6 sends for `option httpchk`, as its HTTP/1 layer writes it: the request line (a
    /// version of 1.1 or above is written HTTP/1.1, others HTTP/1.0), the headers with lower-case names (the ones
    /// hidden after `option httpchk`'s version, or those of `http-check send`, whose method, URI and version also
    /// replace the option's), `content-length` when there is a body or the method is not one without
    /// (GET, HEAD, OPTIONS, DELETE), then `connection: close` in HTTP/1.1 unless a `connection` header was given
    /// (`close` is implied in 1.0 and `keep-alive` in 1.1, so those are left out). Empty when nothing is sent.
    static func request(_ check: HTTPCheck, _ send: HTTPCheckSend? = nil) -> [UInt8] {
        guard check.sends || send != nil else { return [] }
        // "\r\n" is one Character in Swift: split the bytes.
        let parts = Array(check.version.utf8).split(separator: 0x0A).map { line -> String in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        var headers: [(name: String, value: String)] = []
        if let send {
            headers = send.headers
        } else {
            for header in parts.dropFirst() where !header.isEmpty {
                guard let colon = header.firstIndex(of: ":") else { continue }
                let name: String = header[..<colon].lowercased()
                headers.append((name, String(header[header.index(after: colon)...].drop { $0 == " " })))
            }
        }
        let method = send?.method ?? check.method
        let body = send?.body ?? ""
        let http11 = isHTTP11(send?.version ?? parts.first ?? "HTTP/1.0")
        // The connection header: `close` and `keep-alive` are the HTTP layer's to write, at the end.
        var connection: String?
        var given = false
        var written: [(name: String, value: String)] = []
        for header in headers {
            guard header.name == "connection" else {
                written.append(header)
                continue
            }
            given = true
            let tokens = header.value.split(separator: ",").map { token in
                String(token.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
            }
            for token in tokens where ["close", "keep-alive"].contains(token.lowercased()) {
                connection = token.lowercased()
            }
            let others = tokens.filter { !["close", "keep-alive"].contains($0.lowercased()) }
            if !others.isEmpty { written.append(("connection", others.joined(separator: ", "))) }
        }
        if !given { connection = "close" }
        var text = "\(method) \(send?.uri ?? check.uri) \(http11 ? "HTTP/1.1" : "HTTP/1.0")\r\n"
        for header in written { text += header.name + ": " + header.value + "\r\n" }
        if !body.isEmpty || !["GET", "HEAD", "OPTIONS", "DELETE"].contains(method) {
            text += "content-length: \(body.utf8.count)\r\n"
        }
        if http11 && connection == "close" || !http11 && connection == "keep-alive" {
            text += "connection: \(connection ?? "")\r\n"
        }
        text += "\r\n" + body
        return Array(text.utf8)
    }

    /// HAProxy's reading of a check's version: `HTTP/2`, or `HTTP/x.y` at 1.1 or above.
    static func isHTTP11(_ version: String) -> Bool {
        let v = Array(version.utf8)
        if v.count == 6 { return v[5] == UInt8(ascii: "2") }
        guard v.count == 8 else { return false }
        return v[5] > UInt8(ascii: "1") || v[5] == UInt8(ascii: "1") && v[7] >= UInt8(ascii: "1")
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "Connection refused"
            case ETIMEDOUT: return "Connection timed out"
            case EHOSTUNREACH: return "No route to host"
            case ENETUNREACH: return "Network is unreachable"
            default: break
            }
        }
        if error is ChannelError { return "Connection timed out" }
        if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first {
            return describe(first.error)
        }
        return "\(error)"
    }
}

/// Sends the check request and reads the status line of the answer.
final class HTTPCheckHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let request: [UInt8]
    private let expect: HTTPCheckExpect?
    /// `http-check disable-on-404`: a 404 is a conditional success, whatever the expectation.
    private let disableOn404: Bool
    private let result: EventLoopPromise<HealthChecker.CheckResult>
    private var received: [UInt8] = []
    private var done = false

    init(
        request: [UInt8], expect: HTTPCheckExpect?, disableOn404: Bool = false,
        result: EventLoopPromise<HealthChecker.CheckResult>
    ) {
        self.request = request
        self.expect = expect
        self.disableOn404 = disableOn404
        self.result = result
    }

    func channelActive(context: ChannelHandlerContext) {
        // Empty: rules without a send of their own, HAProxy sends nothing and waits for the answer.
        if !request.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: request.count)
            buffer.writeBytes(request)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { received.append(contentsOf: bytes) }
        if received.count > 16_384 || received.contains(0x0A) && expect?.kind != "string" { conclude() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        conclude()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        conclude()
        context.close(promise: nil)
    }

    private func conclude() {
        guard !done else { return }
        done = true
        let text = String(decoding: received, as: UTF8.self)
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let words = statusLine.split(separator: " ", maxSplits: 2)
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), let code = Int(words[1]) else {
            result.succeed(
                .init(
                    passed: false, description: "Layer7 invalid response", info: statusLine.isEmpty ? nil : statusLine))
            return
        }
        let reasonText = words.count > 2 ? String(words[2]) : nil
        if disableOn404 && code == 404 {
            // Conditional: the checker makes it a failure for a server that is not UP (its reason kept for that).
            return result.succeed(
                .init(
                    passed: true, conditional: true, description: "Layer7 check conditionally passed", code: code,
                    info: reasonText))
        }
        var passed = (200..<400).contains(code)
        if let expect {
            switch expect.kind {
            case "status": passed = expect.pattern.split(separator: ",").contains { Int($0) == code }
            case "string": passed = text.contains(expect.pattern)
            default: break
            }
            if expect.negated { passed.toggle() }
        }
        result.succeed(
            .init(
                passed: passed, description: passed ? "Layer7 check passed" : "Layer7 wrong status", code: code,
                info: passed ? nil : reasonText))
    }
}
