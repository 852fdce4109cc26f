import HAProxyLog
import LogCore
import SyslogProtocol

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
        let sender: SyslogSender
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
            let sender: SyslogSender
            switch t.address {
            case .udp(let host, let port): sender = try SyslogSender(target: .udp(host: host, port: port))
            case .tcp(let host, let port): sender = try SyslogSender(target: .tcp(host: host, port: port))
            case .unix(let path): sender = try SyslogSender(target: .unixDatagram(path: path))
            }
            let header = HAProxySyslogHeader(
                format: t.format, facility: t.facility, tag: global.logTag, pid: pid, hostname: global.logSendHostname,
                maxLength: t.maxLength)
            made.append(Target(sender: sender, header: header, maxLevel: t.maxLevel, minLevel: t.minLevel))
        }
        self.targets = made
    }

    /// Sends `line` at `severity` to every target that takes it.
    public func send(_ line: some Collection<UInt8>, severity: Severity) {
        send(severity: severity) { $0.append(contentsOf: line) }
    }

    /// Sends the line `write` appends, written straight into each target's datagram.
    public func send(severity: Severity, _ write: (inout [UInt8]) -> Void) {
        guard !targets.isEmpty else { return }
        let now = CivilTime.now()
        for t in targets where severity <= t.maxLevel {
            let level = severity < t.minLevel ? t.minLevel : severity
            t.sender.send(t.header.datagram(severity: level, time: now, message: write))
        }
    }

    public func send(_ line: String, severity: Severity) {
        send(severity: severity) { $0.append(contentsOf: line.utf8) }
    }

    func close() { for t in targets { t.sender.close() } }
}
