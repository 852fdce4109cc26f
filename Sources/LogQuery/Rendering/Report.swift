import LogCore

/// Output formats of every report.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv, ndjson
}

/// One value of a report: text, a whole number, a decimal (printed with fixed places) or nothing.
public enum Cell: Hashable, Sendable {
    case text(String)
    case int(Int)
    case decimal(Double, places: Int)
    case none

    var plain: String {
        switch self {
        case .text(let s): s
        case .int(let n): String(n)
        case .decimal(let d, let places): Cell.fixed(d, places)
        case .none: "-"
        }
    }

    var json: String {
        switch self {
        case .text(let s): Cell.jsonString(s)
        case .int(let n): String(n)
        case .decimal(let d, let places): d.isFinite ? Cell.fixed(d, places) : "null"
        case .none: "null"
        }
    }

    var csv: String {
        switch self {
        case .text(let s):
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingAll("\"", with: "\"\"") + "\"" : s
        case .none: ""
        default: plain
        }
    }

    var isNumeric: Bool {
        switch self {
        case .int, .decimal, .none: true
        case .text: false
        }
    }

    /// `d` with `places` decimals, rounded half away from zero (no Foundation formatting on the hot path).
    static func fixed(_ d: Double, _ places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(d) * scale).rounded()
        let whole = Int(scaled / scale)
        let frac = Int(scaled) - whole * Int(scale)
        let sign = d < 0 && scaled != 0 ? "-" : ""
        guard places > 0 else { return sign + String(whole) }
        let digits = String(frac)
        return sign + String(whole) + "." + String(repeating: "0", count: places - digits.count) + digits
    }

    static func jsonString(_ s: String) -> String { JSONText.quoted(s) }
}

/// A report: named columns and rows, rendered as an aligned table, JSON (an array of objects with the columns
/// in order), CSV with a header, or NDJSON (one object a line).
public struct Report: Equatable, Sendable {
    public var columns: [String]
    public var rows: [[Cell]]

    public init(columns: [String], rows: [[Cell]] = []) {
        self.columns = columns
        self.rows = rows
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table: table()
        case .csv:
            ([columns.joined(separator: ",")] + rows.map { $0.map(\.csv).joined(separator: ",") })
                .joined(separator: "\n") + "\n"
        case .json:
            rows.isEmpty ? "[]\n" : "[\n" + rows.map { "  " + object($0) }.joined(separator: ",\n") + "\n]\n"
        case .ndjson: rows.map { object($0) + "\n" }.joined()
        }
    }

    private func object(_ row: [Cell]) -> String {
        "{" + zip(columns, row).map { Cell.jsonString($0) + ":" + $1.json }.joined(separator: ",") + "}"
    }

    /// The longest cell a table shows (a longer one is cut, with `…`): 120 characters, 1,000 in the last column
    /// (which is not padded). JSON and CSV are never cut.
    static let cellLimit = 120
    static let lastCellLimit = 1_000

    /// Columns padded to their widest cell: text left-aligned, numbers right-aligned.
    private func table() -> String {
        func cut(_ text: String, _ column: Int) -> String {
            let limit = column == columns.count - 1 ? Self.lastCellLimit : Self.cellLimit
            guard text.utf8.count > limit, text.count > limit else { return text }
            return String(text.prefix(limit - 1)) + "…"
        }
        let texts = rows.map { row in row.enumerated().map { cut($1.plain, $0) } }
        var widths = columns.map(\.count)
        for row in texts {
            for (i, text) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], text.count) }
        }
        let numeric = columns.indices.map { i in !rows.isEmpty && rows.allSatisfy { i < $0.count && $0[i].isNumeric } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, text in
                let pad = String(repeating: " ", count: widths[i] - text.count)
                return numeric[i] ? pad + text : text + pad
            }.joined(separator: "  ").replacingTrailingSpaces()
        }
        var out = line(columns) + "\n"
        for row in texts { out += line(row) + "\n" }
        return out
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }

    fileprivate func replacingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
