import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP server on 127.0.0.1 that never accepts: connections complete in its backlog, then nothing comes back
/// (a stalled backend, for `timeout server` and queue tests).
public final class StalledServer: Sendable {
    private let fd: Int32
    public let port: Int

    public init(backlog: Int32 = 1024) throws {
        (fd, port) = try Self.listening(backlog: backlog)
    }

    /// A blocking TCP socket listening on 127.0.0.1 on a port of the system's choice, and that port.
    static func listening(backlog: Int32) throws -> (fd: Int32, port: Int) {
        #if canImport(Darwin)
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && listen(fd, backlog) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard fd >= 0, listening else {
            if fd >= 0 { close(fd) }
            throw PeerFailed(description: "cannot listen on 127.0.0.1: errno \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    public func stop() { close(fd) }
}
