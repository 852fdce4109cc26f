/// Thrown when a test step did not finish in time.
public struct TimedOut: Error, CustomStringConvertible {
    public var seconds: Double
    public var what: String
    public var description: String { "\(what) did not finish within \(seconds) s" }
}

/// Runs `body`, failing with ``TimedOut`` after `seconds`: a loopback test that awaits something nobody
/// fulfils must fail, not hang the whole suite.
public func withTimeout<T: Sendable>(
    seconds: Double, _ what: String = "operation", _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            throw TimedOut(seconds: seconds, what: what)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimedOut(seconds: seconds, what: what) }
        return first
    }
}
