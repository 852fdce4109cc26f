import Logging
import ServiceLifecycle
import SyslogSink
import SystemdSupport
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// The sink as a service: it starts its inputs (`start`: binding, the privilege drop, the pidfile, the notices),
/// runs until a stop is asked, then stops as rsyslogd does (`stop`: the last flush, the statistics, what was lost).
struct SinkService: Service {
    /// Opened by a stop signal (SIGTERM, SIGINT).
    let stopRequest: Latch
    let start: @Sendable () async throws -> Void
    let stop: @Sendable () async -> Void

    func run() async throws {
        try await start()
        await stopRequest.untilOpen()
        await stop()
    }
}

/// rsyslogd's signals as a service: SIGHUP reopens the files (logrotate's postrotate), SIGUSR1 prints the
/// statistics, SIGTERM and SIGINT stop. Trapped before the inputs are bound, so that none sent as soon as the sink
/// listens is lost.
struct SinkSignals: Service {
    let signals: UnixSignalsSequence
    let server: SinkServer
    let stopRequest: Latch

    func run() async throws {
        for await signal in signals.cancelOnGracefulShutdown() {
            switch signal {
            case .sighup:
                InternalLog.log("\(InternalLog.origin) syslog-sink was HUPed")
                ServiceNotifier.reloading()
                try? await server.reopen()
                ServiceNotifier.ready(status: "files reopened")
            case .sigusr1:
                for line in (try? await server.statistics()) ?? [] { report("syslog-sink: stats: \(line)") }
            default:
                InternalLog.log(
                    "\(InternalLog.origin) exiting on signal \(signal == .sigterm ? SIGTERM : SIGINT).")
                ServiceNotifier.stopping()
                await stopRequest.open()
            }
        }
    }
}

/// A failure to start, reported as `syslog-sink: …` (exit status 1).
struct StartFailure: Error, CustomStringConvertible {
    let description: String
}

extension Logger {
    /// The service group's own logger: it says nothing (the sink reports what matters itself).
    static let quiet = Logger(label: "tollgate.sink.services") { _ in SwiftLogNoOpLogHandler() }
}
