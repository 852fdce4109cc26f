/// A query's rows once scanned, in storage that does not move and carries no reference counts: SQLite reads a value
/// per column per row through `value(row:column:)`, millions of times a query, and Swift arrays there cost a retain
/// and a release each. Made once from a `ColumnStore` (and the grouped order, when SQLite asked for one), freed with
/// the object.
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
    /// Row numbers in the order SQLite reads them (nil: as scanned).
    private var order: UnsafeMutableBufferPointer<Int32>?

    init(_ store: ColumnStore) {
        count = store.count
        columns = .allocate(capacity: LogColumn.allCases.count)
        columns.initialize(repeating: Column())
        present = .allocate(capacity: LogColumn.allCases.count)
        present.initialize(repeating: false)
        for (slot, column) in store.configuration.columns.enumerated() {
            var c = Column()
            c.isText = column.isText
            if column.isText {
                c.text = Self.copy(store.text[slot])
                c.starts = Self.copy(store.starts[slot])
                c.lengths = Self.copy(store.lengths[slot])
            } else {
                c.numbers = Self.copy(store.numbers[slot])
            }
            columns[column.rawValue] = c
            present[column.rawValue] = true
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
        order?.deallocate()
    }

    private static func copy<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
        let out = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
        _ = out.initialize(from: array)
        return out
    }

    /// Rows are read in `order` from now on (nil: as scanned).
    func setOrder(_ order: [Int32]?) {
        self.order?.deallocate()
        self.order = order.map(Self.copy)
    }

    func value(row: Int, column: Int, into result: borrowing SQLResult) {
        guard column >= 0, column < columns.count, present[column], row >= 0, row < count else { return result.null() }
        let r = order.map { Int($0[row]) } ?? row
        let c = columns[column]
        if c.isText {
            guard let lengths = c.lengths, let starts = c.starts, let text = c.text else { return result.null() }
            let length = Int(lengths[r])
            guard length >= 0 else { return result.null() }
            let start = starts[r]
            result.text(UnsafeBufferPointer(rebasing: text[start..<(start + length)]))
        } else {
            guard let numbers = c.numbers else { return result.null() }
            let n = numbers[r]
            if n == Int64.min { result.null() } else { result.integer(n) }
        }
    }
}
