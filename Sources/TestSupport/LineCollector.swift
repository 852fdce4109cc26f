import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP syslog collector on 127.0.0.1 for tests: takes connections, splits what arrives at LF and keeps the
/// lines. `stop()` closes everything at once (what was not read yet is lost, as when a collector dies); a new
/// collector on the same port stands for its restart.
public final class LineCollector: Sendable {
    public let port: Int
    private let listener: Int32
    private let state = Mutex(State())

    private struct State {
        var lines: [String] = []
        var raw: [UInt8] = []
        var connections: [Int32] = []
        var accepted = 0
        var stopped = false
    }

    public init(port requested: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CollectorError.socket(errno) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(requested).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard ok else {
            let e = errno
            close(fd)
            throw CollectorError.socket(e)
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// The lines received so far.
    public var lines: [String] { state.withLock { $0.lines } }
    /// Every byte received, in order (connections one after the other as their reads came).
    public var bytes: [UInt8] { state.withLock { $0.raw } }
    /// The last `count` bytes received (cheap to poll while a large stream arrives).
    public func tail(_ count: Int) -> [UInt8] { state.withLock { Array($0.raw.suffix(count)) } }
    public var connectionsAccepted: Int { state.withLock { $0.accepted } }

    /// Waits until `count` lines have come (or `seconds` passed); true when they have.
    public func waitFor(lines count: Int, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if state.withLock({ $0.lines.count }) >= count { return true }
            usleep(20_000)
        }
        return state.withLock { $0.lines.count } >= count
    }

    /// Closes the listening socket and every connection.
    public func stop() {
        let fds = state.withLock { s -> [Int32] in
            guard !s.stopped else { return [] }
            s.stopped = true
            return s.connections + [listener]
        }
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        usleep(150_000)
        for fd in fds { close(fd) }
    }

    deinit { stop() }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        while !stopped {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0, !stopped else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            let keep = state.withLock { s -> Bool in
                guard !s.stopped else { return false }
                s.connections.append(fd)
                s.accepted += 1
                return true
            }
            guard keep else {
                close(fd)
                continue
            }
            let thread = Thread { [self] in readLoop(fd) }
            thread.start()
        }
    }

    private func readLoop(_ fd: Int32) {
        var partial: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !stopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0, !stopped else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            state.withLock { $0.raw.append(contentsOf: buffer[0..<n]) }
            partial.append(contentsOf: buffer[0..<n])
            guard let last = partial.lastIndex(of: 0x0A) else { continue }
            let complete = partial[..<last].split(separator: 0x0A, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            partial.removeSubrange(...last)
            state.withLock { s in
                if !s.stopped { s.lines.append(contentsOf: complete) }
            }
        }
    }
}

public enum CollectorError: Error {
    case socket(Int32)
}
