import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// A query's rows once scanned, in storage that does not move and carries no reference counts: SQLite reads a value
/// per column per row through `value(row:column:)`, millions of times a query, and Swift arrays there cost a retain
/// and a release each. Made once from the workers' `ColumnStore`s (each copied once, straight into place), freed
/// with the object; it never changes after, so several cursors (a self-join, a subquery) share it, each with its
/// own order of the rows (`TrafficRows`).
final class FrozenColumns {
    struct Column {
        var isText = false
        var numbers: UnsafeMutableBufferPointer<Int64>?
        var text: UnsafeMutableBufferPointer<UInt8>?
        var starts: UnsafeMutableBufferPointer<Int>?
        var lengths: UnsafeMutableBufferPointer<Int32>?
    }

    let count: Int
    /// By `LogColumn.rawValue`; `present` false for the columns the query did not name.
    private let columns: UnsafeMutableBufferPointer<Column>
    private let present: UnsafeMutableBufferPointer<Bool>

    init(_ store: ColumnStore) {
        count = store.count
        columns = .allocate(capacity: LogColumn.allCases.count)
        columns.initialize(repeating: Column())
        present = .allocate(capacity: LogColumn.allCases.count)
        present.initialize(repeating: false)
        let segments = store.segments
        for (slot, column) in store.configuration.columns.enumerated() {
            var c = Column()
            c.isText = column.isText
            if column.isText {
                let bytes = segments.reduce(0) { $0 + $1.text[slot].count }
                let text = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes, 1))
                let starts = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                let lengths = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
                var textAt = 0
                var rowAt = 0
                for s in segments {
                    _ = UnsafeMutableBufferPointer(rebasing: text[textAt...]).initialize(from: s.text[slot])
                    _ = UnsafeMutableBufferPointer(rebasing: lengths[rowAt...]).initialize(from: s.lengths[slot])
                    for (k, start) in s.starts[slot].enumerated() { starts[rowAt + k] = start + textAt }  // Int: trivial
                    textAt += s.text[slot].count
                    rowAt += s.starts[slot].count
                }
                (c.text, c.starts, c.lengths) = (text, starts, lengths)
            } else {
                let numbers = UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(count, 1))
                var rowAt = 0
                for s in segments {
                    _ = UnsafeMutableBufferPointer(rebasing: numbers[rowAt...]).initialize(from: s.numbers[slot])
                    rowAt += s.numbers[slot].count
                }
                c.numbers = numbers
            }
            columns[column.rawValue] = c
            present[column.rawValue] = true
        }
    }

    /// These rows copied in `order`: a cursor that reads them sorted or grouped then reads memory in sequence.
    /// The copy's reads are random but independent of each other, so the processor overlaps their cache misses;
    /// SQLite reading the rows through the order one value at a time waits for each.
    init(_ source: FrozenColumns, order: [Int32]) {
        count = order.count
        columns = .allocate(capacity: LogColumn.allCases.count)
        columns.initialize(repeating: Column())
        present = .allocate(capacity: LogColumn.allCases.count)
        _ = present.initialize(from: source.present)
        for k in 0..<source.columns.count where source.present[k] {
            let from = source.columns[k]
            var c = Column()
            c.isText = from.isText
            if let numbers = from.numbers {
                let out = UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(count, 1))
                for (i, r) in order.enumerated() { out[i] = numbers[Int(r)] }  // Int64: trivial
                c.numbers = out
            } else if let text = from.text, let starts = from.starts, let lengths = from.lengths {
                let outText = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(text.count, 1))
                let outStarts = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                let outLengths = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
                var at = 0
                for (i, r) in order.enumerated() {
                    let length = lengths[Int(r)]
                    outStarts[i] = at
                    outLengths[i] = length
                    if length > 0 {
                        let start = starts[Int(r)]
                        _ = UnsafeMutableBufferPointer(rebasing: outText[at..<(at + Int(length))])
                            .initialize(from: UnsafeBufferPointer(rebasing: text[start..<(start + Int(length))]))
                        at += Int(length)
                    }
                }
                (c.text, c.starts, c.lengths) = (outText, outStarts, outLengths)
            }
            columns[k] = c
        }
    }

    deinit {
        for c in columns {
            c.numbers?.deallocate()
            c.text?.deallocate()
            c.starts?.deallocate()
            c.lengths?.deallocate()
        }
        columns.deallocate()
        present.deallocate()
    }

    func has(_ column: LogColumn) -> Bool { present[column.rawValue] }

    /// Column `column`'s text in row `r`; nil for NULL.
    @inline(__always)
    private func text(_ c: Column, _ r: Int) -> UnsafeBufferPointer<UInt8>? {
        guard let lengths = c.lengths, let starts = c.starts, let text = c.text else { return nil }
        let length = Int(lengths[r])
        guard length >= 0 else { return nil }
        let start = starts[r]
        return UnsafeBufferPointer(rebasing: text[start..<(start + length)])
    }

    @inline(__always)
    func value(row r: Int, column: Int, into result: borrowing SQLResult) {
        guard column >= 0, column < columns.count, present[column], r >= 0, r < count else { return result.null() }
        let c = columns[column]
        if c.isText {
            guard let t = text(c, r) else { return result.null() }
            result.text(t)
        } else {
            guard let numbers = c.numbers else { return result.null() }
            let n = numbers[r]
            if n == Int64.min { result.null() } else { result.integer(n) }
        }
    }

    /// Each row's group (rows equal in `cols`), numbered in the order first met, and each group's first row: a hash
    /// of each row's values into a table of groups.
    private func groups(_ cols: [Column]) -> (groupOf: [Int32], firstRows: [Int32]) {
        // Each place: the group's first row + 1 (0 empty).
        var places = [Int32](repeating: 0, count: max(16, count * 2).nextPowerOfTwo)
        let placeMask = places.count - 1
        var groupOf = [Int32](repeating: 0, count: count)
        var firstRows: [Int32] = []
        for row in 0..<count {
            var i = hash(row, cols) & placeMask
            while true {
                let place = places[i]
                if place == 0 {
                    places[i] = Int32(row + 1)
                    groupOf[row] = Int32(firstRows.count)
                    firstRows.append(Int32(row))
                    break
                }
                let other = Int(place - 1)
                if equal(row, other, cols) {
                    groupOf[row] = groupOf[other]
                    break
                }
                i = (i + 1) & placeMask
            }
        }
        return (groupOf, firstRows)
    }

    /// The groups' numbers in their values' order, as SQLite orders them (NULL first, numbers by value, text byte by
    /// byte, client addresses in `ipaddress` order).
    private func sortedGroups(_ firstRows: [Int32], _ cols: [Column], _ addresses: [Bool]) -> [Int] {
        firstRows.indices.sorted { a, b in
            for (k, c) in cols.enumerated() {
                let o = compare(Int(firstRows[a]), Int(firstRows[b]), c, address: addresses[k])
                if o != 0 { return o < 0 }
            }
            return false
        }
    }

    /// The rows' numbers with rows equal in `keys` next to each other, then a counting sort by group.
    func groupedOrder(by keys: [LogColumn]) -> [Int32] {
        guard count > 0, keys.allSatisfy(has) else { return Array(0..<Int32(count)) }
        let cols = keys.map { columns[$0.rawValue] }
        let (groupOf, firstRows) = groups(cols)
        // Groups in their values' order, as SQLite's own GROUP BY hands them, so that a query without ORDER BY
        // answers in the same order either way; past 100,000 groups (client addresses, URLs) in the order first
        // met, which SQL allows, rather than sort them all.
        let sorted =
            firstRows.count > 100_000 ? Array(firstRows.indices) : sortedGroups(firstRows, cols, keys.map { $0 == .clientIP })
        var sizes = [Int32](repeating: 0, count: firstRows.count)
        for g in groupOf { sizes[Int(g)] += 1 }
        var next = [Int32](repeating: 0, count: sizes.count)
        var total: Int32 = 0
        for g in sorted {
            next[g] = total
            total += sizes[g]
        }
        var order = [Int32](repeating: 0, count: count)
        for row in 0..<count {
            let g = Int(groupOf[row])
            order[Int(next[g])] = Int32(row)
            next[g] += 1
        }
        return order
    }

    /// The rows' numbers in the order of `keys` (each ascending or descending), as SQLite's ORDER BY sorts them.
    /// Text keys are first replaced by their rank among the column's distinct values (URLs, names and addresses
    /// repeat), so the sort itself compares integers only.
    func sortedOrder(by keys: [(column: LogColumn, descending: Bool)]) -> [Int32] {
        var order = Array(0..<Int32(count))
        guard count > 1, keys.allSatisfy({ has($0.column) }) else { return order }
        let values: [[Int64]] = keys.map { key in
            let c = columns[key.column.rawValue]
            guard c.isText else { return c.numbers.map(Array.init) ?? [] }
            let (groupOf, firstRows) = groups([c])
            var rank = [Int64](repeating: 0, count: firstRows.count)
            for (position, g) in sortedGroups(firstRows, [c], [key.column == .clientIP]).enumerated() {
                rank[g] = Int64(position)
            }
            return groupOf.map { rank[Int($0)] }
        }
        let descending = keys.map(\.descending)
        if let packed = Self.packedOrder(values, descending: descending, rows: count) { return packed }
        values.withUnsafeBufferPointer { v in
            order.sort { a, b in
                for k in 0..<v.count {
                    let (x, y) = (v[k][Int(a)], v[k][Int(b)])
                    if x != y { return descending[k] ? x > y : x < y }
                }
                return a < b
            }
        }
        return order
    }

    /// The order by `values` (each key's value per row, `Int64.min` for NULL, which sorts first), ties by row number,
    /// when every key's range and the row number fit in 64 bits together (timers, statuses and ranks of repeated
    /// text do): each row's keys and number packed into one integer, and plain integers sorted. Nil otherwise.
    static func packedOrder(_ values: [[Int64]], descending: [Bool], rows: Int) -> [Int32]? {
        var rowBits = 1
        while (1 << rowBits) < rows { rowBits += 1 }
        var layout: [(low: Int64, span: UInt64, bits: Int)] = []
        var total = rowBits
        for v in values {
            var low = Int64.max
            var high = Int64.min
            for x in v where x != Int64.min {
                low = min(low, x)
                high = max(high, x)
            }
            if low > high { (low, high) = (0, 0) }
            // 0 is NULL; a value x is x - low + 1.
            let (width, overflow) = high.subtractingReportingOverflow(low)
            guard !overflow, width < Int64.max - 2 else { return nil }
            let span = UInt64(width) + 2
            var bits = 1
            while bits < 63 && (UInt64(1) << bits) < span { bits += 1 }
            total += bits
            guard total <= 64 else { return nil }
            layout.append((low, span, bits))
        }
        var keys = [UInt64](repeating: 0, count: rows)
        for row in 0..<rows {
            var key: UInt64 = 0
            for (k, v) in values.enumerated() {
                let x = v[row]
                var part = x == Int64.min ? 0 : UInt64(x - layout[k].low) + 1
                if descending[k] { part = layout[k].span - 1 - part }
                key = key << UInt64(layout[k].bits) | part
            }
            keys[row] = key << UInt64(rowBits) | UInt64(row)
        }
        keys.sort()
        let mask = (UInt64(1) << UInt64(rowBits)) - 1
        return keys.map { Int32(truncatingIfNeeded: $0 & mask) }
    }

    private func hash(_ row: Int, _ cols: [Column]) -> Int {
        var hasher = Hasher()
        for c in cols {
            if c.isText {
                if let t = text(c, row) {
                    hasher.combine(t.count)
                    hasher.combine(bytes: UnsafeRawBufferPointer(t))
                } else {
                    hasher.combine(-1)
                }
            } else {
                hasher.combine(c.numbers?[row] ?? 0)
            }
        }
        return hasher.finalize()
    }

    private func equal(_ a: Int, _ b: Int, _ cols: [Column]) -> Bool {
        for c in cols {
            if c.isText {
                switch (text(c, a), text(c, b)) {
                case (nil, nil): continue
                case (let x?, let y?):
                    guard x.count == y.count else { return false }
                    guard let xb = x.baseAddress, let yb = y.baseAddress else { continue }
                    if memcmp(xb, yb, x.count) != 0 { return false }
                default: return false
                }
            } else if c.numbers?[a] != c.numbers?[b] {
                return false
            }
        }
        return true
    }

    /// SQLite's order of two rows' values in one column: NULL first, numbers by value, text byte by byte (client
    /// addresses in `ipaddress` order).
    private func compare(_ a: Int, _ b: Int, _ c: Column, address: Bool) -> Int {
        guard c.isText else {
            let (x, y) = (c.numbers?[a] ?? 0, c.numbers?[b] ?? 0)
            return x < y ? -1 : (x == y ? 0 : 1)  // NULL is Int64.min: first
        }
        switch (text(c, a), text(c, b)) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let x?, let y?):
            if address { return IPAddressOrder.compare(x, y) }
            guard let xb = x.baseAddress, let yb = y.baseAddress else { return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1) }
            let o = memcmp(xb, yb, min(x.count, y.count))
            if o != 0 { return o < 0 ? -1 : 1 }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        }
    }
}

/// A cursor's rows: the table's frozen columns, or a copy of them in the order this cursor asked for. Held by the
/// cursor (retained through its C struct) for as long as it reads them.
final class TrafficRows: SQLRows {
    let columns: FrozenColumns

    init(_ columns: FrozenColumns, order: [Int32]?) {
        self.columns = order.map { FrozenColumns(columns, order: $0) } ?? columns
        super.init(count: columns.count)
    }

    override func value(row: Int, column: Int, into result: borrowing SQLResult) {
        columns.value(row: row, column: column, into: result)
    }
}

extension Int {
    fileprivate var nextPowerOfTwo: Int {
        var p = 1
        while p < self { p <<= 1 }
        return p
    }
}
