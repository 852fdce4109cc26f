/// Counts of integer values (timers in ms), exact: percentiles come out as a sorted list would give them.
///
/// Values below 4096 ms (nearly all) are counted in an array; larger ones in a dictionary. Negative values
/// (HAProxy's -1, "never reached") are not recorded: callers skip them.
public struct ExactHistogram: Sendable, Equatable {
    private var dense: [UInt32] = []
    private var sparse: [Int: Int] = [:]
    public private(set) var count = 0
    public private(set) var sum = 0

    static let denseLimit = 4096

    public init() {}

    @inline(__always)
    public mutating func add(_ value: Int) {
        guard value >= 0 else { return }
        if value < ExactHistogram.denseLimit {
            if dense.isEmpty { dense = [UInt32](repeating: 0, count: ExactHistogram.denseLimit) }
            dense[value] &+= 1
        } else {
            sparse[value, default: 0] += 1
        }
        count += 1
        sum &+= value
    }

    public mutating func merge(_ other: ExactHistogram) {
        if !other.dense.isEmpty {
            if dense.isEmpty {
                dense = other.dense
            } else {
                for i in 0..<ExactHistogram.denseLimit { dense[i] &+= other.dense[i] }
            }
        }
        for (v, n) in other.sparse { sparse[v, default: 0] += n }
        count += other.count
        sum &+= other.sum
    }

    /// The nearest-rank percentile: the smallest value with at least `p`% of the values at or below it.
    /// nil when empty.
    public func percentile(_ p: Double) -> Int? {
        guard count > 0 else { return nil }
        let rank = max(1, Int((p / 100 * Double(count)).rounded(.up)))
        var seen = 0
        for (v, n) in dense.enumerated() where n > 0 {
            seen += Int(n)
            if seen >= rank { return v }
        }
        for v in sparse.keys.sorted() {
            seen += sparse[v] ?? 0
            if seen >= rank { return v }
        }
        return nil
    }

    /// The arithmetic mean, nil when empty.
    public var mean: Double? { count > 0 ? Double(sum) / Double(count) : nil }
}
