import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finding and running the real programs Tollgate must agree with (haproxy, halog, rsyslogd…).
public enum Peers {
    /// The absolute path of a program, looked up in PATH, the sbin folders (where Debian puts daemons) and
    /// PostgreSQL's versioned folder (Debian keeps initdb and postgres out of PATH). Fails with a message that says
    /// how to get it: `make test` installs every peer the tests use.
    public static func find(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let postgres = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] + postgres
        for dir in dirs where access("\(dir)/\(name)", X_OK) == 0 {
            return "\(dir)/\(name)"
        }
        throw PeerMissing(name: name)
    }

    /// Runs a program to completion and returns its exit status, standard output and standard error.
    public static func run(
        _ executable: String, _ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 60
    ) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Read both pipes while the program runs, so a large output cannot fill a pipe and stall it. On threads of
        // their own: the tests keep Dispatch's shared threads busy, and a reader waiting for one stalled the run.
        let group = DispatchGroup()
        let outBox = DataBox()
        let errBox = DataBox()
        for (pipe, box) in [(out, outBox), (err, errBox)] {
            group.enter()
            Thread {
                box.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }.start()
        }
        // A program may stop reading early (halog -m): its closed pipe must not kill the tests with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        if let stdin { try? input.fileHandleForWriting.write(contentsOf: stdin) }
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        var exited: Int32?
        while process.isRunning && Date() < deadline {
            // Foundation learns of the exit from SIGCHLD; on a loaded machine that news came late (a `logger` of
            // a millisecond was "running" for 60 s in CI). The kernel's word, read without reaping the child,
            // is the one that counts.
            if let status = exitStatus(peeking: process.processIdentifier) {
                exited = status
                break
            }
            usleep(10_000)
        }
        if let exited {
            group.wait()
            let settled = Date().addingTimeInterval(2)
            while process.isRunning && Date() < settled { usleep(10_000) }
            return (process.isRunning ? exited : process.terminationStatus, outBox.data, errBox.data)
        }
        if process.isRunning {
            let state = describeState(process.processIdentifier)
            process.terminate()
            process.waitUntilExit()
            throw PeerFailed(
                description: "\(executable) \(arguments.prefix(8).joined(separator: " ")) did not finish within "
                    + "\(timeout) s (\(state))")
        }
        process.waitUntilExit()
        group.wait()
        return (process.terminationStatus, outBox.data, errBox.data)
    }

    /// The exit status of child `pid` if it has ended, without reaping it (`WNOWAIT`), so that Foundation's own
    /// reaping still finds it; a death by signal reads as the signal's number, as `terminationStatus` has it.
    static func exitStatus(peeking pid: Int32) -> Int32? {
        #if canImport(Glibc)
            var info = siginfo_t()
            guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0,
                info._sifields._kill.si_pid == pid
            else { return nil }
            return info._sifields._sigchld.si_status
        #else
            return nil
        #endif
    }

    /// What a program that did not finish was doing: its state and the kernel function it waits in.
    static func describeState(_ pid: Int32) -> String {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "?"
        let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"
        return "state \(state), waiting in \(wchan.isEmpty ? "-" : wchan)"
    }

    /// A port on 127.0.0.1 that was free a moment ago (for peers whose configuration needs a number). Taken below
    /// the kernel's ephemeral range, so no port the kernel hands out (to a `port 0` listener or an outgoing
    /// connection of another test) can be it, and never twice in one test run: two tests whose proxies bound the
    /// same port (with SO_REUSEPORT, as HAProxy's do) shared each other's connections.
    public static func freePort(udp: Bool = false) throws -> Int {
        try PortAllocator.shared.next { port in portIsFree(port, udp: udp) }
    }

    /// Whether `port` on 127.0.0.1 can be bound now (without SO_REUSEADDR/SO_REUSEPORT, so one in use is not).
    static func portIsFree(_ port: Int, udp: Bool) -> Bool {
        #if canImport(Darwin)
            let fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0)
        #else
            let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// `count` free ports, all different and none of `avoiding` (a test's port that must stay closed goes there).
    public static func freePorts(_ count: Int, avoiding: [Int] = []) throws -> [Int] {
        var ports: [Int] = []
        while ports.count < count {
            let port = try freePort()
            if !ports.contains(port) && !avoiding.contains(port) { ports.append(port) }
        }
        return ports
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    public static func isListening(port: Int) -> Bool {
        #if canImport(Darwin)
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Sends `request` to 127.0.0.1:port and returns everything the peer sends back until it closes (or 5 s pass).
    public static func exchange(port: Int, _ request: [UInt8], halfClose: Bool = false) throws -> [UInt8] {
        let fd = try connectLoopback(port: port, timeoutSeconds: 5)
        defer { close(fd) }
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        return readUntilClosed(fd)
    }

    /// Sends `request` to 127.0.0.1:port from another thread (then half-closes) while reading everything the peer
    /// sends back until it closes (or 10 s pass without a byte): for payloads larger than the socket buffers.
    public static func exchangeStreaming(port: Int, _ request: [UInt8]) throws -> [UInt8] {
        let fd = try connectLoopback(port: port, timeoutSeconds: 10)
        defer { close(fd) }
        let sender = Thread {
            var offset = 0
            while offset < request.count {
                let n = request.withUnsafeBytes { bytes -> Int in
                    guard let base = bytes.baseAddress else { return -1 }
                    return send(fd, base + offset, bytes.count - offset, 0)
                }
                if n <= 0 { break }
                offset += n
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        sender.start()
        return readUntilClosed(fd)
    }

    /// Connects to 127.0.0.1:port, sends `request`, waits `pause` microseconds (for the echo), then resets the
    /// connection (SO_LINGER 0) and waits `pause` again: a client that aborts.
    public static func resetAfterSending(port: Int, _ request: [UInt8], pause: UInt32 = 200_000) throws {
        let fd = try connectLoopback(port: port, timeoutSeconds: 5)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if pause > 0 { usleep(pause) }
        var abort = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, socklen_t(MemoryLayout<linger>.size))
        close(fd)
        if pause > 0 { usleep(pause) }
    }

    /// Everything `fd` receives until the peer closes (or the receive timeout passes).
    public static func readUntilClosed(_ fd: Int32) -> [UInt8] {
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: buffer[..<n])
        }
        return response
    }

    /// A new IPv4 TCP socket.
    static func tcpSocket() throws -> Int32 {
        #if canImport(Darwin)
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { throw PeerFailed(description: "socket: errno \(errno)") }
        return fd
    }

    /// A TCP socket connected to 127.0.0.1:port whose reads give up after `timeoutSeconds` of silence.
    public static func connectLoopback(port: Int, timeoutSeconds: Int) throws -> Int32 {
        let fd = try tcpSocket()
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let e = errno
            close(fd)
            throw PeerFailed(description: "connect to \(port): errno \(e)")
        }
        return fd
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    public static func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }
}

/// A long-running peer (a daemon in the foreground), stopped with SIGTERM when the test is done with it.
public final class RunningPeer: @unchecked Sendable {
    private let process = Process()
    public let logPath: String

    /// Starts `executable` with `arguments` (and `environment` added to this process's); its output goes to
    /// `logPath`.
    public init(
        _ executable: String, _ arguments: [String], logPath: String, environment: [String: String] = [:]
    ) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = log
        process.standardError = log
        self.logPath = logPath
        try process.run()
    }

    /// Whether the peer still runs, in the kernel's word (Foundation's may come late on a loaded machine).
    public var isRunning: Bool { process.isRunning && Peers.exitStatus(peeking: process.processIdentifier) == nil }

    /// The peer's process id.
    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGHUP, SIGUSR1…) to the peer.
    public func send(signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// What the peer printed so far.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func stop() {
        if isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while isRunning && Date() < deadline { usleep(10_000) }
            if isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct PeerMissing: Error, CustomStringConvertible {
    public var name: String
    public var description: String {
        "\(name) is not installed: run `make test`, which installs the Debian packages the tests use"
    }
}

public struct PeerFailed: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
