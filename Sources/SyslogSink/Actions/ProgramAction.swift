import CDatagrams
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What rsyslog's omprog needs besides the template.
public struct ProgramSettings: Hashable, Sendable {
    /// `binary`: the program and its arguments, split at blanks as rsyslog splits them.
    public var command: [String]
    /// `output`: where the program's standard output (unless it confirms) and error go; else nowhere.
    public var output: String?
    public var outputMode: UInt16 = 0o600
    /// `confirmMessages`: the program answers `OK` once started and after each message.
    public var confirmMessages = false
    /// `confirmTimeout` (ms): how long an answer may take.
    public var confirmTimeout = 10_000
    /// `reportFailures`: an answer other than OK goes to the sink's own log.
    public var reportFailures = false
    /// `signalOnClose`, `closeTimeout` (ms), `killUnresponsive`: how the program is stopped.
    public var signalOnClose = false
    public var closeTimeout = 5_000
    public var killUnresponsive = true
    /// `hup.signal`: passed on when the sink gets SIGHUP.
    public var hupSignal: Int32?

    public init(command: [String]) { self.command = command }
}

/// omprog, as rsyslog runs it: one instance of the program, started with the first message and again whenever
/// it has ended, each message written to its standard input on a line of its own (the template gives the line
/// feed). A thread of its own talks to it, so a slow program never holds up the rules: messages wait in a queue
/// (up to `maximumQueued`, then dropped and counted). With `confirmMessages` the program says `OK` once started
/// and after each message; another answer is counted as a failure (and logged with `reportFailures`), no answer
/// within `confirmTimeout` restarts the program (`killUnresponsive`) and the message goes again.
final class ProgramAction: Sendable {
    static let maximumQueued = 100_000

    private struct State {
        var queue: [[UInt8]] = []
        var stopping = false
        var sent = 0
        var dropped = 0
        var failed = 0
        var restarts = 0
        var hups = 0
    }
    let name: String
    private let settings: ProgramSettings
    private let state = NIOLockedValueBox(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(settings: ProgramSettings) {
        self.settings = settings
        name = settings.command.joined(separator: " ")
        // A program that has gone away must not end the sink with SIGPIPE: the write fails and it is restarted.
        signal(SIGPIPE, SIG_IGN)
        let thread = Thread { [self] in run() }
        thread.name = "syslog-sink omprog"
        thread.start()
    }

    var counts: (sent: Int, dropped: Int, failed: Int, restarts: Int) {
        state.withLockedValue { ($0.sent, $0.dropped, $0.failed, $0.restarts) }
    }

    func send(_ line: [UInt8]) {
        let queued = state.withLockedValue { s -> Bool in
            guard s.queue.count < ProgramAction.maximumQueued else {
                s.dropped += 1
                return false
            }
            s.queue.append(line)
            return true
        }
        if queued { wake.signal() }
    }

    /// SIGHUP: `hup.signal` goes to the program.
    func hup() {
        state.withLockedValue { $0.hups += 1 }
        wake.signal()
    }

    /// Writes what is queued, then ends the program as configured.
    func stop() {
        state.withLockedValue { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    // MARK: The program's thread

    private struct Child {
        var pid: pid_t
        var input: Int32
        /// The program's answers (confirmMessages), else -1.
        var answers: Int32
        var pending: [UInt8] = []
    }

    private func run() {
        var child: Child?
        var hupsSeen = 0
        while true {
            let (line, stopping, hups) = state.withLockedValue { s -> ([UInt8]?, Bool, Int) in
                (s.queue.isEmpty ? nil : s.queue.removeFirst(), s.stopping, s.hups)
            }
            if hups != hupsSeen {
                hupsSeen = hups
                if let signal = settings.hupSignal, let c = child { kill(c.pid, signal) }
            }
            guard let line else {
                if stopping { break }
                _ = wake.wait(timeout: .now() + 1)
                if let c = child, ProgramAction.hasEnded(c.pid) { child = nil }
                continue
            }
            var attempts = 0
            while attempts < 2 {
                attempts += 1
                if child == nil || child.map({ ProgramAction.hasEnded($0.pid) }) == true {
                    if let c = child { close(c.input); if c.answers >= 0 { close(c.answers) } }
                    child = start()
                    guard child != nil else { break }
                }
                guard var c = child else { break }
                if write(all: line, to: c.input) {
                    if !settings.confirmMessages {
                        state.withLockedValue { $0.sent += 1 }
                        break
                    }
                    switch answer(&c) {
                    case .some("OK"):
                        state.withLockedValue { $0.sent += 1 }
                        child = c
                        attempts = 2
                    case .some(let other):
                        state.withLockedValue { $0.failed += 1 }
                        if settings.reportFailures { sinkLog("omprog \(name): the program answered '\(other)'") }
                        child = c
                        attempts = 2
                    case nil:
                        // No answer in time: the program is restarted and the message goes again.
                        sinkLog("omprog \(name): no answer within \(settings.confirmTimeout) ms; restarting it")
                        end(c, force: true)
                        child = nil
                    }
                } else {
                    end(c, force: false)
                    child = nil
                }
            }
            if attempts >= 2 && child == nil { state.withLockedValue { $0.failed += 1 } }
        }
        if let c = child { end(c, force: false) }
        finished.signal()
    }

    /// Starts the program: its input a pipe, its output (and, when it does not answer, its standard output) to
    /// `output` or nowhere.
    private func start() -> Child? {
        guard let program = settings.command.first else { return nil }
        var input: [Int32] = [-1, -1]
        var answers: [Int32] = [-1, -1]
        guard pipe(&input) == 0 else { return nil }
        if settings.confirmMessages && pipe(&answers) != 0 { return nil }
        let sink = settings.output.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode_t(settings.outputMode)) }
            ?? open("/dev/null", O_WRONLY | O_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, settings.confirmMessages ? answers[1] : sink, 1)
        posix_spawn_file_actions_adddup2(&actions, sink, 2)
        // Nothing else of the sink's (its sockets, the other programs' pipes) goes to the program.
        _ = tollgate_spawn_close_from(&actions, 3)
        let argv = settings.command.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, nil, argv, environ)
        close(input[0])
        if answers[1] >= 0 { close(answers[1]) }
        if sink >= 0 { close(sink) }
        guard rc == 0 else {
            sinkLog("omprog: cannot start \(program): \(String(cString: strerror(rc)))")
            close(input[1])
            if answers[0] >= 0 { close(answers[0]) }
            state.withLockedValue { $0.restarts += 1 }
            Thread.sleep(forTimeInterval: 1)
            return nil
        }
        state.withLockedValue { $0.restarts += 1 }
        var child = Child(pid: pid, input: input[1], answers: answers[0])
        if settings.confirmMessages {
            // The program says OK once it is ready.
            guard answer(&child) == "OK" else {
                sinkLog("omprog \(name): the program did not say OK when started")
                end(child, force: true)
                return nil
            }
        }
        return child
    }

    /// The program's next answer line, nil when none comes within `confirmTimeout`.
    private func answer(_ c: inout Child) -> String? {
        let deadline = Date().addingTimeInterval(Double(settings.confirmTimeout) / 1000)
        while true {
            if let lf = c.pending.firstIndex(of: 0x0A) {
                let text = String(decoding: c.pending[..<lf], as: UTF8.self)
                c.pending.removeFirst(lf + 1)
                return text
            }
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var poller = pollfd(fd: c.answers, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&poller, 1, left) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(c.answers, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            c.pending += buffer[..<n]
        }
    }

    private func write(all bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Ends the program: its input closed (and SIGTERM with `signalOnClose`), `closeTimeout` to end, then SIGKILL
    /// with `killUnresponsive` (at once when `force`).
    private func end(_ c: Child, force: Bool) {
        close(c.input)
        if c.answers >= 0 { close(c.answers) }
        if force {
            kill(c.pid, SIGKILL)
        } else if settings.signalOnClose {
            kill(c.pid, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(Double(settings.closeTimeout) / 1000)
        while !ProgramAction.hasEnded(c.pid) {
            if Date() > deadline {
                if settings.killUnresponsive { kill(c.pid, SIGKILL) }
                var status: Int32 = 0
                if settings.killUnresponsive { waitpid(c.pid, &status, 0) }
                return
            }
            usleep(10_000)
        }
    }

    /// Runs `argv` (nothing of the sink's inherited) and waits for it: an outchannel's command. Its exit status.
    static func runAndWait(_ argv: [String]) -> Int32 {
        guard let program = argv.first else { return -1 }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        _ = tollgate_spawn_close_from(&actions, 3)
        let args = argv.map { strdup($0) } + [nil]
        defer { for a in args { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, program, &actions, nil, args, environ) == 0 else { return -1 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return status
    }

    /// Reaps the program when it has ended.
    static func hasEnded(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }
}
