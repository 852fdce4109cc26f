#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A hash table keyed by bytes (backend names, server names, URLs), looked up from a slice of the line without
/// making a key unless the entry is new.
public struct GroupTable<Value> {
    public private(set) var keys: [[UInt8]] = []
    public private(set) var values: [Value] = []
    private var slots: [Int32]
    private var mask: Int
    // The last hit: logs come in runs of the same backend or server.
    private var lastIndex = -1

    public init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    public var count: Int { keys.count }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// The index of `key`, inserting `make()` when it is new.
    @inline(__always)
    public mutating func index(of key: UnsafeBufferPointer<UInt8>, make: () -> Value) -> Int {
        if lastIndex >= 0 && GroupTable.equal(keys[lastIndex], key) { return lastIndex }
        var slot = GroupTable.hash(key) & mask
        while true {
            let i = Int(slots[slot])
            if i < 0 { break }
            if GroupTable.equal(keys[i], key) {
                lastIndex = i
                return i
            }
            slot = (slot + 1) & mask
        }
        let i = keys.count
        keys.append(Array(key))
        values.append(make())
        slots[slot] = Int32(i)
        lastIndex = i
        if keys.count * 2 > slots.count { grow() }
        return i
    }

    @inline(__always)
    static func equal(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { x in
            guard let p = x.baseAddress, let q = b.baseAddress else { return x.count == 0 }
            return memcmp(p, q, x.count) == 0
        }
    }

    public subscript(index: Int) -> Value {
        get { values[index] }
        _modify { yield &values[index] }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (i, key) in keys.enumerated() {
            var slot = key.withUnsafeBufferPointer { GroupTable.hash($0) } & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i)
        }
    }

    /// Folds another table in, combining values of equal keys.
    public mutating func merge(_ other: GroupTable<Value>, make: () -> Value, combine: (inout Value, Value) -> Void) {
        for (k, v) in zip(other.keys, other.values) {
            let i = k.withUnsafeBufferPointer { index(of: $0, make: make) }
            combine(&values[i], v)
        }
    }

    /// The entries as text keys, sorted by key bytes.
    public func sorted() -> [(key: String, value: Value)] {
        zip(keys, values).sorted { $0.0.lexicographicallyPrecedes($1.0) }
            .map { (String(decoding: $0.0, as: UTF8.self), $0.1) }
    }
}
