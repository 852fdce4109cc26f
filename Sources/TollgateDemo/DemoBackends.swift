import ArgumentParser
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport

/// `tollgate-demo --backends 18066,18067`: the demo's database nodes (`EchoBackend`: each sends back what it reads,
/// standing in for the seed's MySQL middleware) on 127.0.0.1 until the process is stopped. Their check agent is
/// `proxy check-agent`.
enum DemoBackends {
    static func run(backends: [Int]) throws -> Never {
        let started = DispatchSemaphore(value: 0)
        let failure = NIOLockedValueBox<String?>(nil)
        Task {
            do {
                for port in backends { _ = try await EchoBackend(port: port) }
            } catch {
                failure.withLockedValue { $0 = "\(error)" }
            }
            started.signal()
        }
        started.wait()
        if let failure = failure.withLockedValue({ $0 }) {
            throw ValidationError("cannot start the backends: \(failure)")
        }
        print("demo backends on \(backends.map(String.init).joined(separator: ", "))")
        while true { pause() }
    }
}
