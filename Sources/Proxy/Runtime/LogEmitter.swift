import HAProxyLog
import LogCore
import NIOCore
import NIOPosix
import SyslogProtocol
import TCPPlane

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sends the proxy's log lines to its `log` targets as HAProxy 2.6 does: one datagram per line and target, the
/// header of the target's format, the target's facility, lines above its level dropped, lines below its minimum
/// level raised to it. Never blocks: a line that cannot leave is dropped and counted by the sender.
public final class LogEmitter: Sendable {
    struct Target: Sendable {
        let sender: SyslogSender?
        /// `stdout`/`stderr`: the descriptor each line is written to, with a newline (no sender then).
        let stream: Int32?
        let header: HAProxySyslogHeader
        let maxLevel: Severity
        let minLevel: Severity
    }
    let targets: [Target]

    /// The targets of a proxy: the global ones with `log global`, then its own.
    init(targets: [LogTarget], global: GlobalSettings) throws {
        var made: [Target] = []
        let pid = Int(getpid())
        for t in targets {
            var sender: SyslogSender?
            var stream: Int32?
            switch t.address {
            case .udp(let host, let port): sender = try SyslogSender(target: .udp(host: host, port: port))
            case .tcp(let host, let port): sender = try SyslogSender(target: .tcp(host: host, port: port))
            case .unix(let path): sender = try SyslogSender(target: .unixDatagram(path: path))
            case .stream(let descriptor):
                // As HAProxy: never blocks; a line the reader is too slow for is dropped.
                stream = descriptor
                let flags = fcntl(descriptor, F_GETFL)
                if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
            }
            let header = HAProxySyslogHeader(
                format: t.format, facility: t.facility, tag: global.logTag, pid: pid, hostname: global.logSendHostname,
                maxLength: t.maxLength)
            made.append(
                Target(sender: sender, stream: stream, header: header, maxLevel: t.maxLevel, minLevel: t.minLevel))
        }
        self.targets = made
    }

    /// Sends `line` at `severity` to every target that takes it.
    public func send(_ line: some Collection<UInt8>, severity: Severity) {
        send(severity: severity) { $0.append(contentsOf: line) }
    }

    /// Sends the line `write` appends, written straight into each target's datagram. On an event loop the datagram
    /// leaves with the others of the loop's batch (`LogBatch`); elsewhere at once.
    public func send(severity: Severity, _ write: (inout [UInt8]) -> Void) {
        guard !targets.isEmpty else { return }
        let now = CivilTime.now()
        let batch = LogBatch.current
        for t in targets where severity <= t.maxLevel {
            let level = severity < t.minLevel ? t.minLevel : severity
            if let descriptor = t.stream {
                var line = t.header.datagram(severity: level, time: now, message: write)
                // A traffic line already ends in LF (HAProxy's datagrams do); an event line gets one.
                if line.last != 0x0A { line.append(0x0A) }
                // One write a line (a line up to PIPE_BUF reaches a pipe whole); a full pipe drops it.
                _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            } else if let sender = t.sender {
                if let batch {
                    batch.add(t, sender: sender, severity: level, time: now, write)
                } else {
                    sender.send(t.header.datagram(severity: level, time: now, message: write))
                }
            }
        }
    }

    public func send(_ line: String, severity: Severity) {
        send(severity: severity) { $0.append(contentsOf: line.utf8) }
    }

    func close() { for t in targets { t.sender?.close() } }
}

/// The log datagrams written on one event loop during its batch of events, sent when the batch ends (see
/// `FlushBatch`): each target's in one `sendmmsg` per 64, instead of one system call and one wake-up of the
/// receiver per line. Every line is still its own datagram, byte for byte as HAProxy sends it; only the moment
/// it leaves moves, by the rest of the batch (microseconds). It leaves after the batch's connections are flushed,
/// so no answer waits behind a `sendmmsg`. A full batch is sent at once.
///
/// One per event loop thread, touched only there (`current`), so it needs no lock.
final class LogBatch: BatchFlushing, @unchecked Sendable {
    var flushQueued = false
    /// The datagrams, one after the other, and each one's sender and place.
    private var bytes: [UInt8] = []
    private var senders: [SyslogSender] = []
    private var ranges: [Range<Int>] = []
    /// The senders that have datagrams here, and the places of one sender's (when there are several).
    private var distinct: [SyslogSender] = []
    private var scratch: [Range<Int>] = []
    private let flushes: FlushBatch

    /// A batch is sent at once when it holds this many datagrams (one `sendmmsg`) or bytes: a burst stays small
    /// beside a receiver's socket buffer (212 kB by default on Linux).
    static let datagramLimit = 64
    static let byteLimit = 64 * 1024

    private init(flushes: FlushBatch) { self.flushes = flushes }

    private static let perThread = ThreadSpecificVariable<LogBatch>()

    /// The calling thread's batch if it is an event loop's, else nil.
    static var current: LogBatch? {
        if let batch = perThread.currentValue { return batch }
        let flushes: FlushBatch
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
            flushes = FlushBatch.current(on: loop)
        } else if let plane = PlaneLoop.current {
            flushes = FlushBatch.current(on: plane)
        } else {
            return nil
        }
        let batch = LogBatch(flushes: flushes)
        perThread.currentValue = batch
        return batch
    }

    /// The syslog header last made (for formats stamped to the second it serves every line of that second at that
    /// severity to that target: one target and one severity are the usual case), and what it was made for.
    private var header: [UInt8] = []
    private var headerOf: HAProxySyslogHeader?
    private var headerSeverity = Severity.informational
    private var headerTime = CivilTime(epochMicroseconds: 0, utcOffsetSeconds: 0)

    func add(
        _ target: LogEmitter.Target, sender: SyslogSender, severity: Severity, time: CivilTime,
        _ write: (inout [UInt8]) -> Void
    ) {
        let start = bytes.count
        if target.header.headerIsPerSecond {
            target.header.append(header: header(target, severity, time), to: &bytes, message: write)
        } else {
            target.header.append(severity: severity, time: time, to: &bytes, message: write)
        }
        ranges.append(start..<bytes.count)
        senders.append(sender)
        if !distinct.contains(where: { $0 === sender }) { distinct.append(sender) }
        if ranges.count >= LogBatch.datagramLimit || bytes.count >= LogBatch.byteLimit {
            flushNow()
        } else {
            flushes.flush(self, last: true)
        }
    }

    private func header(_ target: LogEmitter.Target, _ severity: Severity, _ time: CivilTime) -> [UInt8] {
        if severity != headerSeverity || !time.isSameSecond(as: headerTime) || headerOf != target.header {
            header = target.header.header(severity: severity, time: time)
            headerOf = target.header
            headerSeverity = severity
            headerTime = time
        }
        return header
    }

    func flushNow() {
        guard !ranges.isEmpty else { return }
        if distinct.count == 1 {
            distinct[0].send(bytes, messages: ranges)
        } else {
            for sender in distinct {
                scratch.removeAll(keepingCapacity: true)
                for i in ranges.indices where senders[i] === sender { scratch.append(ranges[i]) }
                sender.send(bytes, messages: scratch)
            }
        }
        bytes.removeAll(keepingCapacity: true)
        ranges.removeAll(keepingCapacity: true)
        senders.removeAll(keepingCapacity: true)
        distinct.removeAll(keepingCapacity: true)
    }
}
