import LogCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SyslogProtocol
import SystemdSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The running sink: its inputs and rules on one event loop (so the rules and files need no locks), batches
/// flushed to the files at the end of each read burst.
public final class SinkServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let state: NIOLoopBound<Ruleset>
    private let configuration: SinkConfiguration
    private let channels: NIOLockedValueBox<[any Channel]>
    /// The inputs read by threads of their own (local sockets, the kernel's log, the journal).
    private let sockets: NIOLockedValueBox<[any ThreadedInput]>
    private let ticker = NIOLockedValueBox<RepeatedTask?>(nil)
    private let notifications = NIOLockedValueBox<[RepeatedTask]>([])

    /// Notes about parts of the configuration this build does not carry out (to be logged at start).
    public let notes: [String]

    public init(configuration: SinkConfiguration, root: String? = nil) throws {
        SenderNames.policy.withLockedValue {
            $0 = .init(resolve: configuration.resolveSenderNames, dropMalicious: configuration.dropMaliciousPTR)
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        self.loop = loop
        // The rules (and their files) are made on the loop that will run them.
        let made = try loop.submit {
            let ruleset = Ruleset(configuration, root: root)
            return (NIOLoopBound(ruleset, eventLoop: loop), ruleset.notes)
        }.wait()
        state = made.0
        notes = made.1
        self.configuration = configuration
        channels = NIOLockedValueBox([])
        sockets = NIOLockedValueBox([])
        self.root = root
    }

    private let root: String?

    /// Binds every input; returns what each is bound to, in configuration order.
    public func start() async throws -> [BoundInput] {
        var bound: [BoundInput] = []
        // Besides the end of each batch, once a second: a file whose writes failed is retried even when no new
        // line arrives.
        let ticking = state
        let tick = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            ticking.value.flush()
        }
        ticker.withLockedValue { $0 = tick }
        var activated = SocketActivation.unixDatagramSockets()
        for input in configuration.inputs {
            do {
                try await start(input, &bound, &activated)
            } catch {
                throw InputStartError(input: input, origin: configuration.inputOrigins[input], cause: error)
            }
        }
        return bound
    }

    /// Starts one input, appending what it is bound to.
    private func start(
        _ input: SinkInput, _ bound: inout [BoundInput], _ activated: inout [(fd: Int32, path: String)]
    ) async throws {
        let options = configuration.parseOptions
            switch input {
            case .udp(let address, let port, let rulesetName, let receiveBuffer):
                let ruleset = state
                let name = "imudp(\(address ?? "*"):\(port))"
                let inputID = InputNames.id(configuration.inputNames[input] ?? "imudp")
                register(name)
                let allowedUDP = configuration.allowedSenders["udp"]
                let bootstrap = DatagramBootstrap(group: loop)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer ?? 4 << 20))
                    .channelOption(.datagramVectorReadMessageCount, value: SinkServer.datagramsPerRead)
                    .channelOption(
                        .recvAllocator,
                        value: FixedSizeRecvByteBufferAllocator(
                            capacity: SinkServer.datagramReadCapacity(maxMessageSize: options.maxMessageSize))
                    )
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                DatagramInputHandler(
                                    ruleset: ruleset, options: options, name: name, input: inputID,
                                    allowed: allowedUDP, boundTo: rulesetName))
                        }
                    }
                try await bindEverywhere(address, port, "udp", &bound) { host, port, v6only in
                    let channel = try await (v6only ? bootstrap.channelOption(SinkServer.v6only, value: 1) : bootstrap)
                        .bind(host: host, port: port).get()
                    if receiveBuffer == nil {
                        // Root may go past net.core.rmem_max (as rsyslogd's rcvbufSize does with SO_RCVBUFFORCE):
                        // 32 MiB hold about a third of a second of 100k datagrams/s of mixed sizes while the loop
                        // writes. Elsewhere the 4 MiB (or the system's cap) above stands.
                        try? await channel.setOption(SinkServer.receiveBufferForce, value: 32 << 20).get()
                    }
                    return channel
                }
            case .tcp(let address, let port, let maxSessions, let rulesetName, let tls):
                let ruleset = state
                let name = "imtcp(\(address ?? "*"):\(port))"
                let secure = try tls.map { try TLSListener($0) }
                let inputID = InputNames.id(configuration.inputNames[input] ?? "imtcp")
                register(name)
                let allowedTCP = configuration.allowedSenders["tcp"]
                let bootstrap = ServerBootstrap(group: loop)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    // Large reads: fewer wake-ups and fewer frames cut across reads (each one copied) when many
                    // senders stream at once.
                    .childChannelOption(
                        .recvAllocator,
                        value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65_536, maximum: 1 << 20)
                    )
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                StreamSessionHandler(
                                    ruleset: ruleset, name: name, allowed: allowedTCP, maxSessions: maxSessions))
                            if let secure { try secure.add(to: channel, name: name, ruleset: ruleset) }
                            try channel.pipeline.syncOperations.addHandler(
                                ByteToMessageHandler(
                                    StreamInputDecoder(
                                        ruleset: ruleset, options: options, name: name, input: inputID,
                                        allowed: allowedTCP, boundTo: rulesetName),
                                    maximumBufferSize: 16 << 20))
                        }
                    }
                try await bindEverywhere(address, port, "tcp", &bound) { host, port, v6only in
                    try await (v6only ? bootstrap.serverChannelOption(SinkServer.v6only, value: 1) : bootstrap)
                        .bind(host: host, port: port).get()
                }
            case .relp(let address, let port, let rulesetName, let tls):
                let ruleset = state
                let name = "imrelp(\(address ?? "*"):\(port))"
                let inputID = InputNames.id(configuration.inputNames[input] ?? "imrelp")
                register(name)
                let allowedTCP = configuration.allowedSenders["tcp"]
                let secure = try tls.map { try TLSListener($0) }
                let bootstrap = ServerBootstrap(group: loop)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                StreamSessionHandler(ruleset: ruleset, name: name, allowed: allowedTCP, maxSessions: .max))
                            if let secure { try secure.add(to: channel, name: name, ruleset: ruleset) }
                            try channel.pipeline.syncOperations.addHandler(
                                RELPSessionHandler(
                                    ruleset: ruleset, options: options, name: name, input: inputID,
                                    boundTo: rulesetName))
                        }
                    }
                try await bindEverywhere(address, port, "tcp", &bound) { host, port, v6only in
                    try await (v6only ? bootstrap.serverChannelOption(SinkServer.v6only, value: 1) : bootstrap)
                        .bind(host: host, port: port).get()
                }
            case .unixSocket(let path, let rulesetName):
                let mapped = underRoot(path, root)
                let input: UnixSocketInput
                if root == nil, let i = activated.firstIndex(where: { $0.path == path || path == "/dev/log" }) {
                    // Socket activation, as rsyslogd: a passed socket bound at this path, or, for /dev/log (which
                    // journald owns under systemd), the one syslog.socket passes (/run/systemd/journal/syslog).
                    let passed = activated.remove(at: i)
                    input = UnixSocketInput(inheritedSocket: passed.fd, path: passed.path)
                } else {
                    input = try UnixSocketInput(path: mapped)
                }
                let deliver = localDelivery(rulesetName)
                input.start(loop: loop, maxMessageSize: options.maxMessageSize) { batch, now in deliver(batch, now) }
                sockets.withLockedValue { $0.append(input) }
                bound.append(
                    BoundInput(transport: "unix", address: try SocketAddress(unixDomainSocketPath: input.path)))
            case .kernelLog(var settings):
                settings.path = underRoot(settings.path, root)
                let input = try KernelLogInput(
                    settings: settings, host: configuration.localHostNameBytes,
                    maxMessageSize: options.maxMessageSize, deliver: messageDelivery(settings.ruleset, input: "imklog"))
                sockets.withLockedValue { $0.append(input) }
                bound.append(BoundInput(transport: "imklog", source: settings.path))
            case .journal(let settings):
                let stateFile = settings.stateFile.map { name in
                    underRoot(name.hasPrefix("/") ? name : (configuration.workDirectory ?? "") + "/" + name, root)
                }
                let input = try JournalInput(
                    settings: settings, stateFile: stateFile, options: options,
                    host: configuration.localHostNameBytes,
                    deliver: messageDelivery(nil, input: "imjournal"))
                sockets.withLockedValue { $0.append(input) }
                bound.append(BoundInput(transport: "imjournal", source: "the journal"))
            case .file(let settings):
                let input = FileInput(
                    settings: settings, pattern: underRoot(settings.file, root),
                    stateDirectory: underRoot(settings.stateDirectory ?? configuration.workDirectory ?? "/", root),
                    root: root.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }, host: configuration.localHostNameBytes, options: options,
                    deliver: messageDelivery(settings.ruleset, input: "imfile(\(settings.file))"))
                sockets.withLockedValue { $0.append(input) }
                bound.append(BoundInput(transport: "imfile", source: settings.file))
            case .statistics(let settings):
                startStatistics(settings)
                bound.append(BoundInput(transport: "impstats", source: "every \(settings.interval) s"))
            case .mark(let settings):
                startMarks(settings)
                bound.append(BoundInput(transport: "immark", source: "every \(settings.interval) s"))
            }
    }

    /// An input that could not start, in the user's terms: which input, where it was configured, what the system
    /// said (`imudp *:514 (rsyslog.conf:12): Address already in use`).
    public struct InputStartError: Error, CustomStringConvertible {
        public let input: SinkInput
        public let origin: SourceLocation?
        public let cause: any Error

        public var description: String {
            let what: String
            switch input {
            case .udp(let address, let port, _, _): what = "imudp \(address ?? "*"):\(port)"
            case .tcp(let address, let port, _, _, let tls):
                what = "imtcp \(address ?? "*"):\(port)\(tls == nil ? "" : " (TLS)")"
            case .unixSocket(let path, _): what = "imuxsock \(path)"
            case .relp(let address, let port, _, let tls):
                what = "imrelp \(address ?? "*"):\(port)\(tls == nil ? "" : " (TLS)")"
            case .kernelLog(let k): what = "imklog \(k.path)"
            case .journal: what = "imjournal"
            case .mark: what = "immark"
            case .statistics: what = "impstats"
            case .file(let f): what = "imfile \(f.file)"
            }
            return "\(what)\(origin.map { " (\($0))" } ?? ""): \(SinkServer.reason(cause))"
        }
    }

    /// What the system said, without NIO's wording (`bind(descriptor:ptr:bytes:)`).
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }

    /// SO_RCVBUFFORCE (Linux, root): a receive buffer larger than net.core.rmem_max.
    private static let receiveBufferForce = ChannelOptions.Types.SocketOption(
        level: .socket, name: NIOBSDSocket.Option(rawValue: 33))

    private static let v6only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)

    /// Datagrams taken by one vector read (recvmmsg).
    static let datagramsPerRead = 32

    /// The receive buffer of one vector read. NIO splits it into `datagramsPerRead` equal slots
    /// (`DatagramVectorReadManager`: capacity / count each), so it holds a full slot per datagram: the maximum
    /// message and one byte more, by which an over-long datagram is known and cut as rsyslogd cuts it (and
    /// counted). A buffer of one slot cut every datagram at 8097 / 32 = 253 bytes, silently.
    static func datagramReadCapacity(maxMessageSize: Int) -> Int {
        datagramsPerRead * (maxMessageSize + 1)
    }

    /// Binds one listener at `address`, or, with none given, as rsyslogd does: on every IPv4 address and on every
    /// IPv6 one (a second socket, IPv6 only, on the same port; skipped with a message where IPv6 is off).
    private func bindEverywhere(
        _ address: String?, _ port: Int, _ transport: String, _ bound: inout [BoundInput],
        _ bind: (String, Int, Bool) async throws -> any Channel
    ) async throws {
        let ipv6Only = address == nil && configuration.ipProtocol == "ipv6-only"
        let first = try await bind(address ?? (ipv6Only ? "::" : "0.0.0.0"), port, ipv6Only)
        channels.withLockedValue { $0.append(first) }
        if let a = first.localAddress { bound.append(BoundInput(transport: transport, address: a)) }
        guard address == nil, configuration.ipProtocol == "unspecified" else { return }
        do {
            // Port 0 (tests): the IPv6 socket takes the port the IPv4 one was given.
            let second = try await bind("::", first.localAddress?.port ?? port, true)
            channels.withLockedValue { $0.append(second) }
            if let a = second.localAddress { bound.append(BoundInput(transport: transport, address: a)) }
        } catch {
            sinkLog(
                "\(transport) port \(port): no IPv6 listener (\(SinkServer.reason(error))); IPv4 only", severity: .notice)
        }
    }

    /// Makes an input's counters now, so that they are shown (as zeros) before its first message.
    private func register(_ input: String) {
        let state = self.state
        loop.execute { _ = state.value.counters(for: input) }
    }

    /// What the local socket delivers (on the loop): datagrams read without a hostname (the local host's), stamped
    /// with their reception time, through the ruleset `rulesetName`, then flushed.
    private func localDelivery(_ rulesetName: String?) -> @Sendable ([[UInt8]], SyslogTimestamp) -> Void {
        var options = configuration.parseOptions
        options.parseHostname = false
        let local = options
        let host = configuration.localHostNameBytes
        let ruleset = state
        let input = InputNames.id("imuxsock")
        return { batch, now in
            let reception = SyslogReception(receivedAt: now, fromHost: host)
            let target = ruleset.value.index(of: rulesetName)
            for datagram in batch {
                var (message, _) = SyslogParser.parseDatagram(datagram, reception: reception, options: local)
                message.timestamp = now
                message.inputName = input
                ruleset.value.process(message, ruleset: target)
            }
            ruleset.value.flush()
        }
    }

    /// Hands messages made by an input (the kernel's log, the journal, marks) to the rules of `rulesetName`, on
    /// the loop, in order.
    private func messageDelivery(_ rulesetName: String?, input: String) -> @Sendable ([SyslogMessage]) -> Void {
        let ruleset = state
        let loop = self.loop
        // inputname: the module's name (`imfile(/var/log/x)` counts under its file, is named imfile).
        let id = InputNames.id(String(input.prefix { $0 != "(" }))
        return { messages in
            loop.execute {
                let rules = ruleset.value
                let target = rules.index(of: rulesetName)
                rules.counters(for: input).received += messages.count
                for var message in messages {
                    message.inputName = id
                    rules.process(message, ruleset: target)
                }
                rules.flush()
            }
        }
    }

    /// immark: `-- MARK --` (or `markMessageText`) every interval, the first one interval after start. As
    /// rsyslogd with `use.syslogCall` on (its default), the mark is the daemon's own message (syslog.info, through
    /// its own log); off, it is made here: syslog.info under the sink's tag.
    private func startMarks(_ settings: MarkSettings) {
        let interval = TimeAmount.seconds(Int64(settings.interval))
        let deliver = messageDelivery(settings.ruleset, input: "immark")
        let host = configuration.localHostNameBytes
        let task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            if settings.useSyslogCall {
                InternalLog.log(settings.text)
                return
            }
            let now = SyslogTimestamp.now()
            let raw = Array(settings.text.utf8)
            let tag = Array("syslog-sink:".utf8)
            var mark = SyslogMessage(
                raw: raw, priority: Priority(facility: .syslog, severity: .informational), timestamp: now,
                hostname: host[...], fromHost: host, tag: tag[...], msg: raw[...])
            mark.fromHostIP = Array("127.0.0.1".utf8)
            deliver([mark])
        }
        notifications.withLockedValue { $0.append(task) }
    }

    /// impstats: every interval, the counters (one line per input or action, as SIGUSR1 prints them) as messages
    /// tagged `rsyslogd-pstats:` through the rules (`log.syslog`) and/or appended to `log.file` after a ctime stamp,
    /// in rsyslog's legacy `name: key=value …` form or as JSON (`json`, `json-elasticsearch`, `cee`).
    private func startStatistics(_ settings: StatisticsSettings) {
        let interval = TimeAmount.seconds(Int64(settings.interval))
        let deliver = messageDelivery(settings.ruleset, input: "impstats")
        let host = configuration.localHostNameBytes
        let ruleset = state
        let file = settings.file.map { underRoot($0, root) }
        let previous = NIOLockedValueBox<[String: Int]>([:])
        let task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let counters = ruleset.value.counters()
            var lines = StatisticsLines.render(counters, settings.format) { key, value, gauge in
                guard settings.resetCounters, !gauge else { return value }
                return previous.withLockedValue { last in
                    defer { last[key] = value }
                    return value - (last[key] ?? 0)
                }
            }
            if settings.bracketing { lines = ["BEGIN"] + lines + ["END"] }
            if let file {
                let fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                if fd >= 0 {
                    var now = time(nil)
                    var stamp = [CChar](repeating: 0, count: 32)
                    ctime_r(&now, &stamp)
                    let prefix = String(decoding: stamp.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        .trimmingCharacters(in: .newlines)
                    let text = lines.map { prefix + ": " + $0 + "\n" }.joined()
                    _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
                    close(fd)
                } else {
                    sinkLog("impstats: cannot open \(file): \(String(cString: strerror(errno)))")
                }
            }
            guard settings.toRules else { return }
            let now = SyslogTimestamp.now()
            let tag = Array("rsyslogd-pstats:".utf8)
            deliver(
                lines.map { line in
                    let raw = Array(line.utf8)
                    var m = SyslogMessage(
                        raw: raw,
                        priority: Priority(value: settings.facility * 8 + settings.severity)
                            ?? Priority(facility: .syslog, severity: .informational),
                        timestamp: now, hostname: host[...], fromHost: host, tag: tag[...], msg: raw[...])
                    m.fromHostIP = Array("127.0.0.1".utf8)
                    return m
                })
        }
        notifications.withLockedValue { $0.append(task) }
    }

    /// Hands the sink's own messages to its rules as if they came through its first local socket (which is where
    /// `InternalLog` would send them): no round trip through a socket that is about to close at shutdown. Nil when
    /// the sink reads no local socket and the configuration does not ask for `processInternalMessages`.
    public func ownMessageDelivery() -> (@Sendable ([UInt8]) -> Void)? {
        let local = configuration.inputs.lazy.compactMap { input -> String?? in
            if case .unixSocket(_, let rulesetName) = input { return .some(rulesetName) }
            return nil
        }.first
        // `global(processInternalMessages="on")`: straight to the default ruleset even without a local socket.
        guard let rulesetName = local ?? (configuration.processInternalMessages ? .some(nil) : nil) else {
            return nil
        }
        let deliver = localDelivery(rulesetName)
        let loop = self.loop
        return { datagram in loop.execute { deliver([datagram], .now()) } }
    }

    /// Under a service manager (`Type=notify`): `STATUS=` with the counters every `statusEvery`, and, when the
    /// unit sets `WatchdogSec=`, `WATCHDOG=1` at half that interval, both from the sink's own loop (a loop that
    /// stops turning stops the pings, and the manager restarts the sink).
    public func notifyServiceManager(statusEvery: TimeAmount = .seconds(10)) {
        guard ServiceNotifier.isSupervised else { return }
        let state = self.state
        var tasks = [
            loop.scheduleRepeatedTask(initialDelay: statusEvery, delay: statusEvery) { _ in
                let rules = state.value
                ServiceNotifier.status(
                    "\(rules.processed) messages, \(rules.written) bytes written, \(rules.failed) write failures")
            }
        ]
        if let usec = ServiceNotifier.watchdogInterval {
            let half = TimeAmount.microseconds(Int64(max(usec / 2, 1)))
            tasks.append(
                loop.scheduleRepeatedTask(initialDelay: .zero, delay: half) { _ in ServiceNotifier.watchdog() })
        }
        notifications.withLockedValue { $0 = tasks }
    }

    /// SIGHUP: close every file, so that the next line reopens it by path. Returns once done: lines that
    /// arrive after it go to the new files.
    public func reopen() async throws {
        let state = self.state
        try await loop.submit { state.value.reopen() }.get()
    }

    /// Asks for a reopen without waiting (from a signal handler).
    public func requestReopen() {
        let state = self.state
        loop.execute { state.value.reopen() }
    }

    private let metrics = SinkMetrics()

    /// Serves the counters in Prometheus' text format at `http://host:port/path` (scrapes are rare: the
    /// sink's own loop answers them). Returns the bound address.
    public func serveMetrics(host: String, port: Int, path: String = "/metrics") async throws -> BoundInput {
        let state = self.state
        let loop = self.loop
        let metrics = self.metrics
        let body: @Sendable () -> EventLoopFuture<[UInt8]> = {
            loop.submit { state.value.counters() }.map { metrics.render($0) }
        }
        let channel = try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(path: path, body: body))
                }
            }
            .bind(host: host, port: port).get()
        channels.withLockedValue { $0.append(channel) }
        guard let address = channel.localAddress else { throw IOError(errnoCode: EINVAL, reason: "metrics bind") }
        return BoundInput(transport: "http", address: address)
    }

    /// The counters, as Prometheus' text format (what `/metrics` answers).
    public func metricsText() async throws -> String {
        let state = self.state
        let snapshot = try await loop.submit { state.value.counters() }.get()
        return String(decoding: metrics.render(snapshot), as: UTF8.self)
    }

    /// Every counter, as `name: key=value …` lines.
    public func statistics() async throws -> [String] {
        let state = self.state
        return try await loop.submit { state.value.statistics() }.get()
    }

    /// Counters: messages processed, bytes written to files, write failures.
    public func counters() async throws -> (processed: Int, written: Int, failed: Int) {
        let state = self.state
        return try await loop.submit {
            state.value.flush()
            return (state.value.processed, state.value.written, state.value.failed)
        }.get()
    }

    /// Before the stop: every file's last attempt; what still cannot be written is counted and returned.
    public func lastFlush() async throws -> [String] {
        let state = self.state
        return try await loop.submit { state.value.lastFlush() }.get()
    }

    /// Stops the inputs, writes what is buffered, and ends the event loop. Returns what could not be written (one
    /// line per file whose lines are lost: a disk still full, a file still unwritable).
    @discardableResult
    public func stop() async throws -> [String] {
        ticker.withLockedValue { $0?.cancel() }
        for task in notifications.withLockedValue({ $0 }) { task.cancel() }
        for channel in channels.withLockedValue({ $0 }) { try? await channel.close() }
        for socket in sockets.withLockedValue({ $0 }) { socket.stop() }
        let state = self.state
        let lost = try await loop.submit { state.value.finish() }.get()
        try await group.shutdownGracefully()
        return lost
    }
}

/// Where an input listens.
public struct BoundInput: Sendable, CustomStringConvertible {
    public var transport: String
    /// The socket's address; nil for an input that reads no socket (the kernel's log, the journal, marks).
    public var address: SocketAddress?
    /// What a socketless input reads.
    public var source: String?
    public var port: Int { address?.port ?? 0 }

    init(transport: String, address: SocketAddress) {
        self.transport = transport
        self.address = address
    }

    init(transport: String, source: String) {
        self.transport = transport
        self.source = source
    }

    public var description: String {
        guard let address else { return "\(transport) \(source ?? "")" }
        if case .unixDomainSocket = address { return "\(transport) \(address.pathname ?? "?")" }
        if case .v6 = address { return "\(transport) [\(address.ipAddress ?? "?")]:\(port)" }
        return "\(transport) \(address.ipAddress ?? "?"):\(port)"
    }
}

/// The name rsyslog gives a sender (`fromhost`): its reverse DNS name, lower-cased, or the address when it has
/// none (127.0.0.1 is `localhost`). Looked up once per address.
final class SenderNames {
    /// A sender as rsyslog names it: `fromhost` (reverse DNS, else the address) and `fromhost-ip`; `drop` when its
    /// reverse name is an address and `dropMsgsWithMaliciousDnsPtrRecords` is on.
    struct Sender {
        var name: [UInt8]
        var ip: [UInt8]
        var drop = false
    }
    /// `global(net.enableDNS=…)` and `global(dropMsgsWithMaliciousDnsPtrRecords=…)`, set once as the sink starts.
    struct Policy: Sendable {
        var resolve = true
        var dropMalicious = false
    }
    static let policy = NIOLockedValueBox(Policy())
    private let current = SenderNames.policy.withLockedValue { $0 }
    private static let local = Sender(name: Array("localhost".utf8), ip: Array("127.0.0.1".utf8))
    private var cache: [String: ([UInt8], malicious: Bool)] = [:]
    // The last sender, by its socket address: formatting an address as text costs more than a datagram's parse.
    private var last: (SocketAddress, Sender)?

    func name(_ address: SocketAddress?) -> [UInt8] { sender(address).name }

    func sender(_ address: SocketAddress?) -> Sender {
        guard let address else { return SenderNames.local }
        if let last, last.0 == address { return last.1 }
        guard let ip = address.ipAddress else { return SenderNames.local }
        let (name, malicious) = lookup(address, ip)
        let resolved = Sender(name: name, ip: Array(ip.utf8), drop: malicious && current.dropMalicious)
        last = (address, resolved)
        return resolved
    }

    private func lookup(_ address: SocketAddress, _ ip: String) -> ([UInt8], malicious: Bool) {
        if let known = cache[ip] { return known }
        guard current.resolve else { return (Array(ip.utf8), false) }
        var host = [CChar](repeating: 0, count: 256)
        let rc = address.withSockAddr { sa, length in
            getnameinfo(sa, socklen_t(length), &host, socklen_t(host.count), nil, 0, NI_NAMEREQD)
        }
        var result = (Array(ip.utf8), malicious: false)
        if rc == 0 {
            let name = host.prefix { $0 != 0 }.map { ASCII.lowercased(UInt8(bitPattern: $0)) }
            // A PTR record that names an address is a forgery (rsyslog's check): the address stands instead.
            let text = String(decoding: name, as: UTF8.self)
            if !text.contains("/"), AddressMatcher(text) != nil {
                result.malicious = true
            } else {
                result.0 = name
            }
        }
        if cache.count > 10_000 { cache.removeAll() }
        cache[ip] = result
        return result
    }
}

/// UDP datagrams (read 32 at a time) → parse → rules; one reception time per read burst.
final class DatagramInputHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let ruleset: NIOLoopBound<Ruleset>
    private let options: SyslogParseOptions
    private let names = SenderNames()
    private let name: String
    private let allowed: [SenderPattern]?
    private var batchTime: SyslogTimestamp?
    private var warnedDisallowed = false
    /// The ruleset this input's messages go to.
    private let target: Int
    /// The input's `inputname` (InputNames).
    private let input: UInt16

    /// Made on the loop that runs the rules.
    init(
        ruleset: NIOLoopBound<Ruleset>, options: SyslogParseOptions, name: String, input: UInt16 = 0,
        allowed: [SenderPattern]?, boundTo rulesetName: String? = nil
    ) {
        self.ruleset = ruleset
        self.options = options
        self.name = name
        self.input = input
        self.allowed = allowed
        target = ruleset.value.index(of: rulesetName)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let sender = names.sender(envelope.remoteAddress)
        if sender.drop {
            ruleset.value.counters(for: name).disallowed += 1
            return
        }
        let fromHost = sender.name
        if let allowed {
            let ip = envelope.remoteAddress.ipAddress ?? ""
            let host = String(decoding: fromHost, as: UTF8.self)
            guard allowed.contains(where: { $0.allows(ip: ip, name: host) }) else {
                ruleset.value.counters(for: name).disallowed += 1
                if !warnedDisallowed {
                    warnedDisallowed = true
                    sinkLog("imudp: UDP message from disallowed sender \(ip) discarded (counted from now on)")
                }
                return
            }
        }
        let now = batchTime ?? SyslogTimestamp.now()
        batchTime = now
        let reception = SyslogReception(
            receivedAt: now, fromHost: fromHost, fromHostIP: sender.ip, fromHostPort: envelope.remoteAddress.port)
        var (message, cut) = SyslogParser.parseDatagram(
            envelope.data.readableBytesView, reception: reception, options: options)
        message.inputName = input
        let counters = ruleset.value.counters(for: name)
        counters.received += 1
        if cut { counters.truncated += 1 }
        if message.withoutPRI { counters.parseFallbacks += 1 }
        ruleset.value.process(message, ruleset: target)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        batchTime = nil
        ruleset.flushSoon()
        context.fireChannelReadComplete()
    }
}

/// TCP frames (RFC 6587, decided per frame) → parse → rules, in the decoder itself: no pipeline hop per
/// message. The sender's name is looked up once per connection.
struct StreamInputDecoder: ByteToMessageDecoder {
    typealias InboundOut = Never
    private let ruleset: NIOLoopBound<Ruleset>
    private let options: SyslogParseOptions
    private let name: String
    private let allowed: [SenderPattern]?
    private var frames: SyslogFrameDecoder
    private var fromHost: [UInt8] = []
    private var fromHostIP: [UInt8] = []
    private var fromHostPort: Int?
    private var counters: Ruleset.InputCounters?
    /// The ruleset this input's messages go to.
    private let target: Int
    /// The input's `inputname` (InputNames).
    private let input: UInt16

    /// Made on the loop that runs the rules.
    init(
        ruleset: NIOLoopBound<Ruleset>, options: SyslogParseOptions, name: String, input: UInt16 = 0,
        allowed: [SenderPattern]?, boundTo rulesetName: String? = nil
    ) {
        self.ruleset = ruleset
        self.options = options
        self.name = name
        self.input = input
        self.allowed = allowed
        target = ruleset.value.index(of: rulesetName)
        var configuration = SyslogFrameDecoder.Configuration()
        configuration.maxMessageSize = options.maxMessageSize
        frames = SyslogFrameDecoder(configuration: configuration)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try process(context: context, buffer: &buffer, atEnd: false)
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        try process(context: context, buffer: &buffer, atEnd: true)
    }

    private mutating func process(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, atEnd: Bool
    ) throws -> DecodingState {
        let counters = self.counters ?? ruleset.value.counters(for: name)
        self.counters = counters
        if fromHost.isEmpty {
            let sender = SenderNames().sender(context.channel.remoteAddress)
            if sender.drop {
                counters.disallowed += 1
                buffer.moveReaderIndex(to: buffer.writerIndex)
                context.close(promise: nil)
                return .needMoreData
            }
            fromHost = sender.name
            fromHostIP = sender.ip
            fromHostPort = context.channel.remoteAddress?.port
        }
        let now = SyslogTimestamp.now()
        let reception = SyslogReception(
            receivedAt: now, fromHost: fromHost, fromHostIP: fromHostIP, fromHostPort: fromHostPort)
        let rules = ruleset.value
        var any = false
        while let frame = frames.nextFrame(&buffer, atEnd: atEnd) {
            counters.received += 1
            if frame.truncated || frame.split { counters.truncated += 1 }
            if frame.framingError { counters.framingErrors += 1 }
            var message = SyslogParser.parse(frame.payload.readableBytesView, reception: reception, options: options)
            message.inputName = input
            if message.withoutPRI { counters.parseFallbacks += 1 }
            rules.process(message, ruleset: target)
            any = true
        }
        if any { ruleset.flushSoon() }
        return .needMoreData
    }
}

/// Refuses TCP connections from senders outside `$AllowedSender` (counted), before any byte is read.
/// Admits a TCP session: the sender must be in `$AllowedSender` (when set), and fewer than `maxSessions`
/// sessions may be open on this input (rsyslog closes the newcomer and says so; here it is counted as refused).
final class StreamSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let ruleset: NIOLoopBound<Ruleset>
    private let name: String
    private let allowed: [SenderPattern]?
    private let maxSessions: Int

    init(ruleset: NIOLoopBound<Ruleset>, name: String, allowed: [SenderPattern]?, maxSessions: Int) {
        self.ruleset = ruleset
        self.name = name
        self.allowed = allowed
        self.maxSessions = maxSessions
    }

    func channelActive(context: ChannelHandlerContext) {
        let counters = ruleset.value.counters(for: name)
        if let allowed {
            let address = context.channel.remoteAddress
            let ip = address?.ipAddress ?? ""
            let host = String(decoding: SenderNames().name(address), as: UTF8.self)
            if !allowed.contains(where: { $0.allows(ip: ip, name: host) }) {
                counters.disallowed += 1
                context.close(promise: nil)
                return
            }
        }
        if counters.sessions >= maxSessions {
            counters.refused += 1
            if counters.refused == 1 {
                sinkLog(
                    "\(name): too many tcp sessions (\(maxSessions)) - dropping incoming request (counted from now on)")
            }
            context.close(promise: nil)
            return
        }
        counters.sessions += 1
        // The place is given back when the connection closes; this handler then leaves the pipeline so that
        // reads go straight to the decoder.
        let ruleset = self.ruleset
        let name = self.name
        context.channel.closeFuture.whenComplete { _ in ruleset.value.counters(for: name).sessions -= 1 }
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension StreamSessionHandler: Sendable {}

@available(*, unavailable)
extension DatagramInputHandler: Sendable {}

extension NIOLoopBound where Value == Ruleset {
    /// The end of a read: the files are written once the loop has handled every socket that was ready (one
    /// `write` for what eight TCP sessions and the UDP socket brought in the same wake-up, not one each).
    func flushSoon() {
        let rules = value
        guard !rules.flushScheduled else { return }
        rules.flushScheduled = true
        let bound = self
        eventLoop.execute {
            bound.value.flushScheduled = false
            bound.value.flush()
        }
    }
}

extension SyslogMessage {
    /// Read without a valid PRI (none, or not one rsyslog accepts): rsyslog's defaults applied (user.notice, or
    /// the whole text as MSG at invld.debug). Counted as a parse fallback.
    var withoutPRI: Bool { raw.first != 0x3C || priority.facility == .invalid }
}
