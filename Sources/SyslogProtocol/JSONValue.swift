import LogCore
import Synchronization

/// A JSON value as rsyslog keeps its message variables (`$!`, `$.`): json-c objects, which keep their keys in
/// the order they were added (a key set again keeps its place), written as json-c writes them
/// (`{ "a": "b", "n": 1, "o": { "k": "v" } }`, `[ 1, "two" ]`, `/` escaped).
public indirect enum JSONValue: Hashable, Sendable {
    case string([UInt8])
    case integer(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object(JSONObject)

    public static func string(_ text: String) -> JSONValue { .string(Array(text.utf8)) }

    /// The text a template or a comparison sees: a string as it is, a number in decimal, a container as JSON.
    public var text: [UInt8] {
        switch self {
        case .string(let s): return s
        case .integer(let n): return Array(String(n).utf8)
        default:
            var out: [UInt8] = []
            write(to: &out)
            return out
        }
    }

    /// json-c's spaced form (JSON_C_TO_STRING_SPACED).
    public func write(to out: inout [UInt8]) {
        switch self {
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .integer(let n): out.append(contentsOf: String(n).utf8)
        case .double(let d): out.append(contentsOf: String(d).utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        case .array(let items):
            if items.isEmpty {
                out.append(contentsOf: "[ ]".utf8)
                return
            }
            out.append(contentsOf: "[ ".utf8)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                item.write(to: &out)
            }
            out.append(contentsOf: " ]".utf8)
        case .object(let object): object.write(to: &out)
        }
    }

    /// A JSON string with json-c's escapes: `"`, `\`, `/`, the control characters (`\n`, `\t`, `\u00XX`…).
    public static func writeString(_ s: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        escape(s, to: &out, slash: true)
        out.append(0x22)
    }

    /// The escaped body of a JSON string; `slash`: `/` as `\/` (json-c's strings and rsyslog's `format="json"`,
    /// not its `option.json`).
    public static func escape(_ s: some Collection<UInt8>, to out: inout [UInt8], slash: Bool, backslash: Bool = true)
    {
        for b in s {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: if backslash { out.append(contentsOf: [0x5C, 0x5C]) } else { out.append(b) }
            case 0x2F: if slash { out.append(contentsOf: [0x5C, 0x2F]) } else { out.append(b) }
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0x08: out.append(contentsOf: [0x5C, 0x62])
            case 0x0C: out.append(contentsOf: [0x5C, 0x66])
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                let hex = Array("0123456789abcdef".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
    }

    // MARK: Paths (`$!a!b`)

    /// The value at `path` (keys from the root), nil when absent.
    public func value(at path: ArraySlice<String>) -> JSONValue? {
        guard let key = path.first else { return self }
        guard case .object(let object) = self, let child = object[key] else { return nil }
        return child.value(at: path.dropFirst())
    }

    /// Sets `value` at `path`, making objects on the way (a non-object on the way is replaced). As rsyslog's
    /// `set`: an object set onto an object merges into it.
    public mutating func set(_ value: JSONValue, at path: ArraySlice<String>, merge: Bool = true) {
        guard let key = path.first else {
            if merge, case .object(var mine) = self, case .object(let theirs) = value {
                for (k, v) in theirs.pairs { mine[k] = v }
                self = .object(mine)
            } else {
                self = value
            }
            return
        }
        var object: JSONObject
        if case .object(let existing) = self { object = existing } else { object = JSONObject() }
        var child = object[key] ?? .object(JSONObject())
        if path.count == 1 {
            if merge, case .object(var mine) = child, case .object(let theirs) = value {
                for (k, v) in theirs.pairs { mine[k] = v }
                child = .object(mine)
            } else {
                child = value
            }
        } else {
            child.set(value, at: path.dropFirst(), merge: merge)
        }
        object[key] = child
        self = .object(object)
    }

    /// Removes what is at `path` (the whole tree for an empty path: an empty object).
    public mutating func remove(at path: ArraySlice<String>) {
        guard let key = path.first else {
            self = .object(JSONObject())
            return
        }
        guard case .object(var object) = self else { return }
        if path.count == 1 {
            object[key] = nil
        } else if var child = object[key] {
            child.remove(at: path.dropFirst())
            object[key] = child
        }
        self = .object(object)
    }
}

/// A JSON object with its keys in insertion order (json-c's).
public struct JSONObject: Hashable, Sendable {
    public private(set) var pairs: [(key: String, value: JSONValue)] = []

    public init() {}

    public subscript(key: String) -> JSONValue? {
        get { pairs.first { $0.key == key }?.value }
        set {
            if let i = pairs.firstIndex(where: { $0.key == key }) {
                if let newValue { pairs[i].value = newValue } else { pairs.remove(at: i) }
            } else if let newValue {
                pairs.append((key, newValue))
            }
        }
    }

    public var isEmpty: Bool { pairs.isEmpty }

    public func write(to out: inout [UInt8]) {
        if pairs.isEmpty {
            out.append(contentsOf: "{ }".utf8)
            return
        }
        out.append(contentsOf: "{ ".utf8)
        for (i, pair) in pairs.enumerated() {
            if i > 0 { out.append(contentsOf: ", ".utf8) }
            JSONValue.writeString(Array(pair.key.utf8), to: &out)
            out.append(contentsOf: ": ".utf8)
            pair.value.write(to: &out)
        }
        out.append(contentsOf: " }".utf8)
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for pair in pairs {
            hasher.combine(pair.key)
            hasher.combine(pair.value)
        }
    }
}

/// A JSON text read into a `JSONValue` (mmjsonparse's `@cee:` payloads). Strict RFC 8259; numbers that are
/// integers stay integers.
public struct JSONReader {
    private let bytes: [UInt8]
    private var i = 0

    /// The value `text` holds, nil when it is not JSON (or has anything but blanks after it).
    public static func parse(_ text: some Collection<UInt8>) -> JSONValue? {
        var reader = JSONReader(bytes: Array(text))
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipBlanks()
        return reader.i == reader.bytes.count ? value : nil
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipBlanks() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value(depth: Int) -> JSONValue? {
        guard depth < 64 else { return nil }
        skipBlanks()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case 0x7B:  // {
            i += 1
            var object = JSONObject()
            skipBlanks()
            if i < bytes.count, bytes[i] == 0x7D {
                i += 1
                return .object(object)
            }
            while true {
                skipBlanks()
                guard let key = string() else { return nil }
                skipBlanks()
                guard i < bytes.count, bytes[i] == 0x3A else { return nil }
                i += 1
                guard let v = value(depth: depth + 1) else { return nil }
                object[String(decoding: key, as: UTF8.self)] = v
                skipBlanks()
                guard i < bytes.count else { return nil }
                if bytes[i] == 0x2C {
                    i += 1
                    continue
                }
                guard bytes[i] == 0x7D else { return nil }
                i += 1
                return .object(object)
            }
        case 0x5B:  // [
            i += 1
            var items: [JSONValue] = []
            skipBlanks()
            if i < bytes.count, bytes[i] == 0x5D {
                i += 1
                return .array(items)
            }
            while true {
                guard let v = value(depth: depth + 1) else { return nil }
                items.append(v)
                skipBlanks()
                guard i < bytes.count else { return nil }
                if bytes[i] == 0x2C {
                    i += 1
                    continue
                }
                guard bytes[i] == 0x5D else { return nil }
                i += 1
                return .array(items)
            }
        case 0x22: return string().map { .string($0) }
        case 0x74: return literal("true", .bool(true))
        case 0x66: return literal("false", .bool(false))
        case 0x6E: return literal("null", .null)
        default: return number()
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) -> JSONValue? {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { return nil }
        i += w.count
        return value
    }

    private mutating func number() -> JSONValue? {
        let start = i
        if i < bytes.count, bytes[i] == 0x2D { i += 1 }
        var integral = true
        while i < bytes.count {
            let b = bytes[i]
            if b >= 0x30 && b <= 0x39 {
                i += 1
            } else if b == 0x2E || b == 0x65 || b == 0x45 || b == 0x2B || (b == 0x2D && i > start) {
                integral = false
                i += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if integral, let n = Int(text) { return .integer(n) }
        return Double(text).map { .double($0) }
    }

    private mutating func string() -> [UInt8]? {
        guard i < bytes.count, bytes[i] == 0x22 else { return nil }
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == 0x22 { return out }
            if b != 0x5C {
                out.append(b)
                continue
            }
            guard i < bytes.count else { return nil }
            let e = bytes[i]
            i += 1
            switch e {
            case 0x6E: out.append(0x0A)
            case 0x74: out.append(0x09)
            case 0x72: out.append(0x0D)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x75:
                guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16)
                else { return nil }
                i += 4
                var scalar = code
                // A surrogate pair.
                if (0xD800..<0xDC00).contains(code), i + 6 <= bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75,
                    let low = UInt32(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16),
                    (0xDC00..<0xE000).contains(low)
                {
                    scalar = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
            default: out.append(e)
            }
        }
        return nil
    }
}

/// The names of the inputs messages come through (rsyslog's `inputname`: `imudp`, `imtcp`, `imuxsock`, or an
/// input's `name=`), numbered so that a message carries two bytes instead of a string.
public enum InputNames {
    private static let table = NamesTable()

    /// The number of `name` (registered on first use).
    public static func id(_ name: String) -> UInt16 { table.id(name) }

    /// The name of `id` (empty for 0, a message that came through no input).
    public static func name(_ id: UInt16) -> String { table.name(id) }
}

private final class NamesTable: Sendable {
    // Inputs register their names as they start; templates read them on every render.
    private let names = Mutex<[String]>([""])

    func id(_ name: String) -> UInt16 {
        names.withLock { names in
            if let i = names.firstIndex(of: name) { return UInt16(i) }
            guard names.count < Int(UInt16.max) else { return 0 }
            names.append(name)
            return UInt16(names.count - 1)
        }
    }

    func name(_ id: UInt16) -> String {
        names.withLock { Int(id) < $0.count ? $0[Int(id)] : "" }
    }
}
