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
        let (fd, port) = try StalledServer.listening(backlog: 128)
        self.fd = fd
        self.port = port
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
