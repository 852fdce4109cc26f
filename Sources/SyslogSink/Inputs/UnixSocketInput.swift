import Foundation
import LogCore
import NIOConcurrencyHelpers
import NIOCore
import SyslogProtocol

/// The local socket (/dev/log, `$AddUnixListenSocket`), read with plain POSIX calls on a thread of its own:
/// NIO's datagram channel drops datagrams from unbound senders such as `logger` and `syslog(3)`.
///
/// As rsyslog's imuxsock: the hostname is not parsed (local messages carry none) but is this machine's name,
/// and the timestamp in the message is ignored in favour of the reception time (`SysSock.IgnoreTimestamp`).
final class UnixSocketInput: Sendable {
    let path: String
    private let fd: Int32
    /// A socket the service manager passed (`syslog.socket`): not ours to unlink.
    private let inherited: Bool
    private let thread = NIOLockedValueBox<InputThread?>(nil)

    /// Reads a socket the service manager opened and passed (socket activation), as rsyslog's imuxsock takes
    /// `syslog.socket` (/run/systemd/journal/syslog, where journald forwards) instead of binding /dev/log, which
    /// journald owns on a systemd machine.
    init(inheritedSocket fd: Int32, path: String) {
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.path = path
        inherited = true
    }

    init(path: String, mode: mode_t = 0o666) throws {
        // The folder may not exist under a --root (demo-run/root/dev).
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try? FileManager.default.createDirectory(
                atPath: String(path[..<slash]), withIntermediateDirectories: true)
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let address = try SocketAddress(unixDomainSocketPath: path)
        let rc = address.withSockAddr { sa, length in bind(fd, sa, socklen_t(length)) }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw IOError(errnoCode: e, reason: "bind \(path)")
        }
        chmod(path, mode)
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.path = path
        inherited = false
    }

    /// Starts the receive thread; each burst of datagrams is handed to `deliver` on `loop`.
    func start(
        loop: any EventLoop, maxMessageSize: Int,
        deliver: @escaping @Sendable ([[UInt8]], SyslogTimestamp) -> Void
    ) {
        let fd = self.fd
        let thread = InputThread(name: "syslog-sink unix \(path)") { running in
            var buffer = [UInt8](repeating: 0, count: maxMessageSize + 1)
            while running() {
                var batch: [[UInt8]] = []
                var flags: Int32 = 0
                while batch.count < 256 {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, flags) }
                    if n < 0 { break }
                    batch.append(Array(buffer[..<min(n, buffer.count)]))
                    flags = Int32(MSG_DONTWAIT)
                }
                if !batch.isEmpty {
                    let now = SyslogTimestamp.now()
                    let received = batch
                    loop.execute { deliver(received, now) }
                }
            }
        }
        self.thread.withLockedValue { $0 = thread }
    }

    func stop() {
        thread.withLockedValue { $0 }?.stop()
        close(fd)
        if !inherited { unlink(path) }
    }
}

/// This machine's name as rsyslog records it for local messages: short unless `$PreserveFQDN on`.
func localHostName(preserveFQDN: Bool) -> [UInt8] {
    Array(HostName.current(short: !preserveFQDN).utf8)
}
