import LogCore
import SyslogProtocol

/// A lookup table as rsyslog 8.2302 reads one (`lookup_table(name=… file=…)`, `lookup("name", key)`): a JSON
/// file `{ "version": 1, "nomatch": "…", "type": "string|array|sparseArray", "table": [ {"index": …, "value": …} ] }`.
/// `string` finds the key as written, `array` the number, `sparseArray` the greatest index not above the number;
/// nothing found gives `nomatch` (empty unless set).
public struct LookupTable: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case string
        case array
        case sparseArray = "sparsearray"
    }
    public var file: String
    public var reloadOnHUP: Bool
    public var kind: Kind
    public var noMatch: [UInt8]
    var strings: [[UInt8]: [UInt8]] = [:]
    /// Numeric indexes, sorted (array, sparseArray).
    var numbers: [(index: Int, value: [UInt8])] = []

    public static func == (a: LookupTable, b: LookupTable) -> Bool {
        a.file == b.file && a.kind == b.kind && a.noMatch == b.noMatch && a.strings == b.strings
            && a.numbers.map(\.index) == b.numbers.map(\.index) && a.numbers.map(\.value) == b.numbers.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(file)
        hasher.combine(strings.count)
    }

    /// Reads `file`; the error says what is wrong with it in the user's terms.
    public init(file: String, reloadOnHUP: Bool) throws(LookupTableError) {
        self.file = file
        self.reloadOnHUP = reloadOnHUP
        guard let text = TextFile.read(file) else {
            throw LookupTableError(description: "cannot read lookup table \(file)")
        }
        guard let json = JSONReader.parse(Array(text.utf8)), case .object(let top) = json else {
            throw LookupTableError(description: "lookup table \(file) is not a JSON object")
        }
        let kindName = top["type"].flatMap { if case .string(let s) = $0 { String(decoding: s, as: UTF8.self) } else { nil } }
        guard let kind = Kind(rawValue: (kindName ?? "string").lowercased()) else {
            throw LookupTableError(description: "lookup table \(file): type '\(kindName ?? "")' is not string, array or sparseArray")
        }
        self.kind = kind
        noMatch = top["nomatch"]?.text ?? []
        guard case .array(let entries)? = top["table"] else {
            throw LookupTableError(description: "lookup table \(file) has no \"table\" array")
        }
        for entry in entries {
            guard case .object(let pair) = entry, let index = pair["index"], let value = pair["value"] else {
                throw LookupTableError(description: "lookup table \(file): each entry needs \"index\" and \"value\"")
            }
            switch kind {
            case .string:
                strings[index.text] = value.text
            case .array, .sparseArray:
                guard let n = Int(String(decoding: index.text, as: UTF8.self)) else {
                    throw LookupTableError(description: "lookup table \(file): index '\(String(decoding: index.text, as: UTF8.self))' is not a number")
                }
                numbers.append((n, value.text))
            }
        }
        numbers.sort { $0.index < $1.index }
    }

    /// The value for `key`.
    public func lookup(_ key: ArraySlice<UInt8>) -> [UInt8] {
        switch kind {
        case .string:
            return strings[Array(key)] ?? noMatch
        case .array, .sparseArray:
            guard let n = Int(String(decoding: key, as: UTF8.self)) else { return noMatch }
            if kind == .array { return numbers.first { $0.index == n }?.value ?? noMatch }
            return numbers.last { $0.index <= n }?.value ?? noMatch
        }
    }
}

public struct LookupTableError: Error, CustomStringConvertible {
    public var description: String
}
