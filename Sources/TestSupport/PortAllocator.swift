import Foundation
import Synchronization

/// Hands out port numbers for the tests' peers: each at most once per test run, from below the kernel's ephemeral
/// range (`net.ipv4.ip_local_port_range`), starting at a random place so two runs at once seldom meet.
final class PortAllocator: Sendable {
    static let shared = PortAllocator()

    private let range: ClosedRange<Int>
    private let state: Mutex<(next: Int, given: Set<Int>)>

    init(range: ClosedRange<Int>? = nil) {
        let chosen = range ?? Self.belowEphemeral()
        self.range = chosen
        state = Mutex((next: Int.random(in: chosen), given: []))
    }

    /// The ports from 20000 (the corpus's configurations name fixed ports below it, 10514) to the ephemeral range,
    /// or 10000–19999 where that range starts too low to leave room.
    static func belowEphemeral() -> ClosedRange<Int> {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
        if let low, low > 22_000 { return 20_000...(low - 1) }
        return 10_000...19_999
    }

    /// The next port not given before for which `isFree` holds.
    func next(isFree: (Int) -> Bool) throws -> Int {
        try state.withLock { state in
            for _ in 0..<range.count {
                let port = state.next
                state.next = port == range.upperBound ? range.lowerBound : port + 1
                if state.given.contains(port) || !isFree(port) { continue }
                state.given.insert(port)
                return port
            }
            throw PeerFailed(description: "no free port left in \(range.lowerBound)-\(range.upperBound)")
        }
    }
}
