import LogCore
import NIOConcurrencyHelpers
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The sink's own messages (rsyslog's `rsyslogd:` lines): sent as `syslog.<severity>` with the tag
/// `syslog-sink[pid]:` to the local syslog socket, as rsyslogd hands its own to syslog(3). When the sink itself
/// reads that socket (imuxsock, as in Debian) they come back through its rules and land in `/var/log/syslog` like
/// any local message; under systemd journald keeps them. With no socket to take them, they go to standard error
/// (which the service manager keeps), so none is silently lost.
public enum InternalLog {
    private enum Target {
        case standardError
        case socket(SyslogSender)
        case deliver(@Sendable ([UInt8]) -> Void)
    }
    private static let target = NIOLockedValueBox<Target>(.standardError)

    /// Sends the following messages to the unix datagram socket at `path`.
    public static func use(socket path: String) {
        guard let sender = try? SyslogSender(target: .unixDatagram(path: path)) else { return }
        target.withLockedValue { $0 = .socket(sender) }
    }

    /// Hands the following messages to `deliver` (the sink's own local input: `SinkServer.ownMessageDelivery`).
    public static func use(_ deliver: @escaping @Sendable ([UInt8]) -> Void) {
        target.withLockedValue { $0 = .deliver(deliver) }
    }

    /// The identification rsyslogd puts in its start, HUP and stop messages.
    public static var origin: String {
        "[origin software=\"syslog-sink\" swVersion=\"\(SyslogSink.version)\" x-pid=\"\(getpid())\" "
            + "x-info=\"Tollgate\"]"
    }

    /// Logs `text` at `severity` (facility syslog).
    public static func log(_ text: String, severity: Severity = .informational) {
        var datagram: [UInt8] = []
        let priority = Int(Facility.syslog.rawValue) * 8 + Int(severity.rawValue)
        datagram.append(0x3C)
        datagram.append(contentsOf: String(priority).utf8)
        datagram.append(0x3E)
        SyslogTimestamp.now().appendRFC3164(to: &datagram)
        datagram.append(contentsOf: " syslog-sink[\(getpid())]: ".utf8)
        datagram.append(contentsOf: text.utf8)
        let sent = target.withLockedValue { target -> Bool in
            switch target {
            case .standardError: return false
            case .socket(let sender): return sender.trySend(datagram)
            case .deliver(let deliver):
                deliver(datagram)
                return true
            }
        }
        if !sent {
            var line = "syslog-sink: " + text + "\n"
            line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
    }
}

/// The sink's own messages from its parts (see `InternalLog`).
func sinkLog(_ text: String, severity: Severity = .warning) {
    InternalLog.log(text, severity: severity)
}
