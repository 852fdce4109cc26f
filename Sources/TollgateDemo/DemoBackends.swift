import ArgumentParser
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport

/// `tollgate-demo --backends 18066,18067`: the demo's database nodes (`EchoBackend`: each sends back what it reads,
/// standing in for the seed's MySQL middleware) on 127.0.0.1 until the process is stopped. Their check agent is
/// `proxy check-agent`. `--http-backends 18081,18082`: HTTP origins (`HTTPOrigin`, named web_01, web_02…) for the
/// demo's `mode http` listener.
enum DemoBackends {
    static func run(backends: [Int], http: [Int] = []) throws -> Never {
        let started = DispatchSemaphore(value: 0)
        let failure = NIOLockedValueBox<String?>(nil)
        Task {
            do {
                for port in backends { _ = try await EchoBackend(port: port) }
                for (i, port) in http.enumerated() { _ = try await HTTPOrigin(name: "web_0\(i + 1)", port: port) }
            } catch {
                failure.withLockedValue { $0 = "\(error)" }
            }
            started.signal()
        }
        started.wait()
        if let failure = failure.withLockedValue({ $0 }) {
            throw ValidationError("cannot start the backends: \(failure)")
        }
        print("demo backends on \((backends + http).map(String.init).joined(separator: ", "))")
        while true { pause() }
    }
}
