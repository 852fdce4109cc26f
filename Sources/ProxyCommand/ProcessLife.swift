import Logging
import NIOCore
import Proxy
import ServiceLifecycle
import SystemdSupport
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the proxy stops, as HAProxy does: a soft stop (SIGUSR1, or a new process's `-sf`) stops accepting and lets
/// the open sessions finish; a hard stop (SIGTERM, SIGINT, also during a soft stop) closes everything at once.
actor StopControl {
    private let runtime: ProxyRuntime
    private var soft: Task<Void, Never>?
    private var hard = false
    private let stopped = Latch()

    init(_ runtime: ProxyRuntime) { self.runtime = runtime }

    func softStop() {
        guard soft == nil, !hard else { return }
        let runtime = self.runtime
        soft = Task {
            await runtime.softStop()
            try? await runtime.stop()
            await self.finished()
        }
    }

    func hardStop() {
        guard !hard else { return }
        hard = true
        let runtime = self.runtime
        Task {
            try? await runtime.stop()
            await self.finished()
        }
    }

    private func finished() async { await stopped.open() }

    /// Returns once the proxy has stopped.
    func untilStopped() async { await stopped.untilOpen() }
}

/// The proxy as a service: it listens, does what a started proxy does (`started`: the audit line, the pidfile, the
/// old processes told to stop, the chroot and the change of user), then runs until it has stopped.
struct ProxyService: Service {
    let runtime: ProxyRuntime
    let control: StopControl
    let started: @Sendable ([SocketAddress]) async throws -> Void

    func run() async throws {
        let bound: [SocketAddress]
        do {
            bound = try await runtime.start()
        } catch {
            throw StartFailure(description: "cannot start the proxy: \(error)")
        }
        do {
            try await started(bound)
        } catch {
            try? await runtime.stop()
            throw error
        }
        await control.untilStopped()
    }
}

/// The stop signals as a service: each one is audited (`audit: stop pid=… signal=SIGTERM`) and told to the
/// service manager before the proxy acts on it. They are trapped before the proxy listens, so that one sent as soon
/// as it does (a test, the `-sf` of the next process) is not lost.
struct StopSignals: Service {
    let signals: UnixSignalsSequence
    let control: StopControl
    let runtime: ProxyRuntime

    func run() async throws {
        for await signal in signals.cancelOnGracefulShutdown() {
            ServiceNotifier.stopping()
            let name =
                switch signal {
                case .sigusr1: "SIGUSR1"
                case .sigterm: "SIGTERM"
                default: "SIGINT"
                }
            runtime.audit("\(signal == .sigusr1 ? "soft-stop" : "stop") pid=\(getpid()) signal=\(name)")
            if signal == .sigusr1 { await control.softStop() } else { await control.hardStop() }
        }
    }
}

/// A failure to start, reported as an alert (exit status 1).
struct StartFailure: Error, CustomStringConvertible {
    let description: String
}

extension Logger {
    /// The service group's own logger: it says nothing (the proxy reports what matters on standard error and in
    /// its log lines).
    static let quiet = Logger(label: "tollgate.proxy.services") { _ in SwiftLogNoOpLogHandler() }
}
