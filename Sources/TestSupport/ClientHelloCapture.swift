import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The first TLS record a real client (`openssl s_client`) sends: its ClientHello, caught by a socket of the test's
/// that never answers. For tests of what a TCP frontend reads before any handshake (`req.ssl_sni`).
public enum ClientHelloCapture {
    /// The ClientHello record of `openssl s_client -connect … -servername NAME` (no SNI when `serverName` is nil),
    /// with `extra` arguments (`-tls1_2`…).
    public static func openssl(serverName: String?, extra: [String] = []) throws -> [UInt8] {
        let listener = try Peers.tcpSocket()
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(listener, p, length) == 0, listen(listener, 1) == 0 else { return -1 }
                return getsockname(listener, p, &length)
            }
        }
        guard bound == 0 else { throw PeerFailed(description: "bind/listen: errno \(errno)") }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Peers.find("openssl"))
        process.arguments =
            ["s_client", "-connect", "127.0.0.1:\(port)"] + (serverName.map { ["-servername", $0] } ?? ["-noservername"])
            + extra
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 10_000) == 1 else { throw PeerFailed(description: "openssl did not connect") }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { throw PeerFailed(description: "accept: errno \(errno)") }
        defer { close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        // The whole record: its 5-byte header gives its length.
        while received.count < 5 || received.count < 5 + (Int(received[3]) << 8 | Int(received[4])) {
            var ready = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 10_000) == 1 else { throw PeerFailed(description: "no ClientHello came") }
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw PeerFailed(description: "openssl closed before its ClientHello's end") }
            received += buffer[..<n]
        }
        return Array(received.prefix(5 + (Int(received[3]) << 8 | Int(received[4]))))
    }
}
