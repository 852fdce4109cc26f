import Foundation

/// Runs blocking work (starting a database, running a command, waiting on a socket) on a thread of its own and
/// awaits it: the cooperative pool (one thread per core, two here) is not held, so other tests running in
/// parallel are not starved.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
