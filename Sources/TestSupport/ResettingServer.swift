import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP server on 127.0.0.1 that accepts and resets each connection at once (a backend that vanished
/// mid-session), on a thread of its own.
public final class ResettingServer: @unchecked Sendable {
    let fd: Int32
    public let port: Int
    public init() throws {
        #if canImport(Darwin)
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard fd >= 0, listening else {
            if fd >= 0 { close(fd) }
            throw PeerFailed(description: "cannot listen on 127.0.0.1: errno \(errno)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [fd] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var abort = linger(l_onoff: 1, l_linger: 0)
                setsockopt(client, SOL_SOCKET, SO_LINGER, &abort, socklen_t(MemoryLayout<linger>.size))
                close(client)
            }
        }.start()
    }

    public func stop() { shutdown(fd, Int32(SHUT_RDWR)) }
}
