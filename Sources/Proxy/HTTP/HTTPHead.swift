import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1 response head as a server sent it: its bytes (status line to blank line) and where each part lies in
/// them. Nothing is turned into a `String` on the way through: most headers pass on untouched, and a string is
/// made only for what is looked at (a capture).
struct HTTPHead {
    /// A header line: the offsets of its name and of its value (without surrounding blanks) in `bytes`.
    struct Field {
        let name: Range<Int>
        let value: Range<Int>
    }

    /// How the body that follows the head is delimited (RFC 9112 §6.3).
    enum Framing: Equatable {
        /// No body (a response to HEAD, 1xx, 204, 304).
        case none
        /// `Content-Length` bytes.
        case sized(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// Everything until the server closes.
        case untilClose
    }

    /// The head's bytes, from the status line to the blank line included (offsets count from its reader index).
    let bytes: ByteBuffer
    let fields: [Field]
    let versionMinor: Int
    let status: Int
    /// The reason phrase's offsets in `bytes`.
    let reason: Range<Int>
    let framing: Framing

    var isHTTP11: Bool { versionMinor >= 1 }

    /// The same head with another status (a `set-status` rule's, for the rules after it).
    func replacingStatus(_ status: Int) -> HTTPHead {
        HTTPHead(bytes: bytes, fields: fields, versionMinor: versionMinor, status: status, reason: reason, framing: framing)
    }

    /// The size HAProxy 2.6 counts for this head once stored (its HTX blocks): 20 bytes and the status line's
    /// version, code and reason, each field's name and value, one for the head's end. Part of `%B` when the head
    /// is not sent as it came (an error file, a response a rule dropped).
    var storedSize: Int64 {
        var size = 21 + 8 + 3 + reason.count
        for field in fields { size += field.name.count + field.value.count }
        return Int64(size)
    }

    /// The bytes at `range` of the head.
    func view(_ range: Range<Int>) -> ByteBufferView {
        bytes.viewBytes(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ByteBufferView()
    }

    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) holds `token` (lower case).
    func hasToken(_ token: StaticString, in name: StaticString) -> Bool {
        // One look at the bytes for all the fields (it runs for each response).
        bytes.withUnsafeReadableBytes { raw in
            fields.contains { field in
                HTTPHead.equalsLower(raw, field.name, name)
                    && HTTPHead.list(UnsafeRawBufferPointer(rebasing: raw[field.value]), holds: token)
            }
        }
    }

    /// The first value of header `name` (compared without regard to case), cut to `limit` bytes, as a string.
    func firstValue(of name: String, limit: Int) -> String? {
        let lower = Array(name.utf8).map { $0 | 0x20 }
        for f in fields where f.name.count == lower.count {
            if zip(view(f.name), lower).allSatisfy({ $0 | 0x20 == $1 }) {
                return HTTPHead.string(view(f.value).prefix(limit))
            }
        }
        return nil
    }

    /// Every value of header `name` (compared without regard to case), in order.
    func values(of name: String) -> [String] {
        let lower = Array(name.utf8).map { $0 | 0x20 }
        return fields.filter { f in
            f.name.count == lower.count && zip(view(f.name), lower).allSatisfy { $0 | 0x20 == $1 }
        }.map { HTTPHead.string(view($0.value)) }
    }

    /// The bytes as a string, cut back to a whole UTF-8 character when a cut split one.
    static func string(_ bytes: some Collection<UInt8>) -> String {
        var array = Array(bytes)
        for _ in 0..<3 {
            if let s = String(validating: array, as: UTF8.self) { return s }
            if array.isEmpty { break }
            array.removeLast()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether a comma-separated list holds `token` as one of its items, compared without regard to case.
    static func list(_ value: some Collection<UInt8>, holds token: StaticString) -> Bool {
        token.withUTF8Buffer { token in
            // Item by item, without making the list (it runs for each response).
            var rest = value[...]
            while !rest.isEmpty {
                let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
                let trimmed = rest[..<comma].trimmingBlanks
                if trimmed.count == token.count && zip(trimmed, token).allSatisfy({ $0 | 0x20 == $1 }) {
                    return true
                }
                rest = comma == rest.endIndex ? rest[comma...] : rest[rest.index(after: comma)...]
            }
            return false
        }
    }

    /// The last item of a comma-separated list is `token` (how `Transfer-Encoding` says the body is chunked).
    static func list(_ value: ByteBufferView, endsWith token: StaticString) -> Bool {
        // Empty items at the end (`chunked, `) do not count.
        var end = value.endIndex
        while end > value.startIndex {
            let byte = value[value.index(before: end)]
            guard byte == 0x20 || byte == 0x09 || byte == UInt8(ascii: ",") else { break }
            end = value.index(before: end)
        }
        let items = value[..<end]
        let start = items.lastIndex(of: UInt8(ascii: ",")).map { items.index(after: $0) } ?? items.startIndex
        let trimmed = items[start...].trimmingBlanks
        return token.withUTF8Buffer { token in
            trimmed.count == token.count && zip(trimmed, token).allSatisfy { $0 | 0x20 == $1 }
        }
    }
}

/// A head or a body's framing broke HTTP/1 (HAProxy's `PR` from a client, `PH` from a server), with the byte
/// offset where.
struct MalformedHTTP: Error, Equatable {
    let offset: Int
}

extension HTTPHead {
    /// Where the head in `buffer`'s readable bytes ends: the offset just past its blank line, nil while it has not
    /// arrived. `from` is where to resume a search that found nothing (offset of the first byte not yet looked at).
    static func headLength(in buffer: ByteBuffer, from: Int = 0) -> Int? {
        buffer.withUnsafeReadableBytes { raw -> Int? in
            guard let base = raw.baseAddress else { return nil }
            var i = max(0, from - 3)
            while i < raw.count {
                // memchr: the line ends are far apart, and this runs over every head.
                guard let found = memchr(base + i, 0x0A, raw.count - i) else { return nil }
                let lf = base.distance(to: UnsafeRawPointer(found))
                if lf + 1 < raw.count && raw[lf + 1] == 0x0A { return lf + 2 }
                if lf + 2 < raw.count && raw[lf + 1] == 0x0D && raw[lf + 2] == 0x0A { return lf + 3 }
                i = lf + 1
            }
            return nil
        }
    }

    /// Parses a response head (exactly the bytes `headLength` delimited). `headRequest`: the request was `HEAD`
    /// (its response has no body whatever its headers say).
    static func response(_ bytes: ByteBuffer, headRequest: Bool) throws -> HTTPHead {
        try bytes.withUnsafeReadableBytes { raw in
            var p = 0
            func fail() -> MalformedHTTP { MalformedHTTP(offset: p) }
            // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
            // Every scan below stops at a line end, and the head ends with one.
            guard raw.last == 0x0A, raw.count > 12, HTTPHead.isVersionPrefix(raw, at: 0) else { throw fail() }
            p = 7
            guard let minor = raw[p].decimalDigit else { throw fail() }
            p += 1
            guard raw[p] == 0x20 else { throw fail() }
            p += 1
            var status = 0
            for _ in 0..<3 {
                guard let d = raw[p].decimalDigit else { throw fail() }
                status = status * 10 + d
                p += 1
            }
            var reasonStart = p
            if raw[p] == 0x20 {
                p += 1
                reasonStart = p
                while raw[p] != 0x0D && raw[p] != 0x0A {
                    guard raw[p].isFieldContent else { throw fail() }
                    p += 1
                }
            }
            let reason = reasonStart..<p
            try endLine(raw, &p)
            // Header lines up to the blank line.
            var fields: [Field] = []
            fields.reserveCapacity(12)
            var length: Int?
            var transferEncoding = false
            var chunked = false
            while raw[p] != 0x0D && raw[p] != 0x0A {
                let field = try fieldLine(raw, &p)
                fields.append(field)
                switch field.name.count {
                case 14 where equalsLower(raw, field.name, "content-length"):
                    let value = try contentLength(raw, field.value)
                    // Two lengths that differ: which one the client would believe is unknown.
                    if let length, length != value { throw fail() }
                    length = value
                case 17 where equalsLower(raw, field.name, "transfer-encoding"):
                    transferEncoding = true
                    let view =
                        bytes.viewBytes(at: bytes.readerIndex + field.value.lowerBound, length: field.value.count)
                        ?? ByteBufferView()
                    chunked = HTTPHead.list(view, endsWith: "chunked")
                default: break
                }
            }
            try endLine(raw, &p)
            let framing: Framing
            if headRequest || status < 200 || status == 204 || status == 304 {
                framing = .none
            } else if transferEncoding {
                framing = chunked ? .chunked : .untilClose
            } else if let length {
                framing = .sized(length)
            } else {
                framing = .untilClose
            }
            return HTTPHead(
                bytes: bytes, fields: fields, versionMinor: minor, status: status, reason: reason, framing: framing)
        }
    }

    /// How a request's body is delimited: none, `Content-Length` bytes, or chunks.
    enum RequestFraming: Equatable {
        case none
        case sized(Int)
        case chunked
    }

    /// HAProxy's `tune.http.maxhdr`: more header lines than this is a bad request.
    static let maxRequestFields = 101

    /// Parses a request head (exactly the bytes `headLength` delimited, leading blank lines already skipped),
    /// as strictly as a proxy must that passes requests on to servers that may read them differently: one space
    /// between the parts of the request line, a visible-ASCII target, HTTP/1.0 or 1.1, token header names
    /// right before their colon, no folded lines or control bytes, one body length (`Transfer-Encoding` ending
    /// in `chunked`, or `Content-Length`s that agree, never both).
    static func request(_ bytes: ByteBuffer) throws -> (HTTPRequestHead, RequestFraming) {
        try bytes.withUnsafeReadableBytes { raw in
            var p = 0
            guard raw.last == 0x0A, raw.count >= 16 else { throw MalformedHTTP(offset: 0) }
            while raw[p].isTokenCharacter { p += 1 }
            guard p > 0, raw[p] == 0x20 else { throw MalformedHTTP(offset: p) }
            let method = String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<p]), as: UTF8.self)
            p += 1
            let targetStart = p
            while raw[p] > 0x20 && raw[p] < 0x7F { p += 1 }
            guard p > targetStart, raw[p] == 0x20 else { throw MalformedHTTP(offset: p) }
            let target = String(decoding: UnsafeRawBufferPointer(rebasing: raw[targetStart..<p]), as: UTF8.self)
            p += 1
            guard p + 8 < raw.count, HTTPHead.isVersionPrefix(raw, at: p),
                let minor = raw[p + 7].decimalDigit, minor <= 1
            else { throw MalformedHTTP(offset: p) }
            p += 8
            try endLine(raw, &p)
            var headers: [(String, String)] = []
            headers.reserveCapacity(8)
            var length: Int?
            var transferEncoding: Bool?
            while raw[p] != 0x0D && raw[p] != 0x0A {
                let field = try fieldLine(raw, &p)
                guard headers.count < maxRequestFields else { throw MalformedHTTP(offset: p) }
                // Names in lower case, as HAProxy passes them on (NIO's look-ups ignore case anyway).
                let name = String(unsafeUninitializedCapacity: field.name.count) { out in
                    for (i, byte) in raw[field.name].enumerated() {
                        out[i] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                    }
                    return field.name.count
                }
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: raw[field.value]), as: UTF8.self)
                headers.append((name, value))
                switch field.name.count {
                case 14 where equalsLower(raw, field.name, "content-length"):
                    let value = try contentLength(raw, field.value)
                    if let length, length != value { throw MalformedHTTP(offset: field.value.lowerBound) }
                    length = value
                case 17 where equalsLower(raw, field.name, "transfer-encoding"):
                    // Only one coding list, ending in chunked, in HTTP/1.1.
                    let view =
                        bytes.viewBytes(at: bytes.readerIndex + field.value.lowerBound, length: field.value.count)
                        ?? ByteBufferView()
                    guard transferEncoding == nil, minor == 1, HTTPHead.list(view, endsWith: "chunked") else {
                        throw MalformedHTTP(offset: field.value.lowerBound)
                    }
                    transferEncoding = true
                default: break
                }
            }
            try endLine(raw, &p)
            let framing: RequestFraming
            switch (transferEncoding, length) {
            case (true?, nil): framing = .chunked
            case (nil, let n?): framing = n == 0 ? .none : .sized(n)
            case (nil, nil): framing = .none
            default: throw MalformedHTTP(offset: 0)  // both: which one the server believes is unknown
            }
            let head = HTTPRequestHead(
                version: HTTPVersion(major: 1, minor: minor), method: HTTPMethod(rawValue: method), uri: target,
                headers: HTTPHeaders(headers))
            return (head, framing)
        }
    }

    /// One header line at `p` (stepped over): the offsets of its name and of its value without blanks around.
    private static func fieldLine(_ raw: UnsafeRawBufferPointer, _ p: inout Int) throws -> Field {
        let nameStart = p
        while raw[p].isTokenCharacter { p += 1 }
        // No name, a blank before the colon, or a folded line: refused (a desync waiting to happen).
        guard p > nameStart, raw[p] == UInt8(ascii: ":") else { throw MalformedHTTP(offset: p) }
        let name = nameStart..<p
        p += 1
        while raw[p] == 0x20 || raw[p] == 0x09 { p += 1 }
        let valueStart = p
        var valueEnd = p
        while raw[p] != 0x0D && raw[p] != 0x0A {
            guard raw[p].isFieldContent else { throw MalformedHTTP(offset: p) }
            if raw[p] != 0x20 && raw[p] != 0x09 { valueEnd = p + 1 }
            p += 1
        }
        try endLine(raw, &p)
        return Field(name: name, value: valueStart..<valueEnd)
    }

    /// A `Content-Length` value: decimal digits only, at most 18 of them.
    private static func contentLength(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) throws -> Int {
        guard !range.isEmpty, range.count <= 18 else { throw MalformedHTTP(offset: range.lowerBound) }
        var value = 0
        for i in range {
            guard let d = raw[i].decimalDigit else { throw MalformedHTTP(offset: i) }
            value = value * 10 + d
        }
        return value
    }

    /// Steps over a line end (CRLF, or a bare LF as servers are forgiven).
    private static func endLine(_ raw: UnsafeRawBufferPointer, _ p: inout Int) throws {
        if raw[p] == 0x0D { p += 1 }
        guard raw[p] == 0x0A else { throw MalformedHTTP(offset: p) }
        p += 1
    }

    /// Whether `HTTP/1.` is at `offset` (7 bytes the caller knows are there), compared as one 7-byte word.
    @inline(__always)
    static func isVersionPrefix(_ raw: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        // "HTTP/1." little-endian in the low 7 bytes of a word.
        var word: UInt64 = 0
        for i in 0..<7 { word |= UInt64(raw[offset + i]) << (8 * UInt64(i)) }
        return word == 0x2E_31_2F_50_54_54_48
    }

    /// Whether the bytes at `range` are `lower` (lower case), compared without regard to case (lengths first).
    static func equalsLower(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString) -> Bool {
        guard range.count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { lower in
            var i = 0
            for offset in range {
                if raw[offset] | 0x20 != lower[i] { return false }
                i += 1
            }
            return true
        }
    }
}

extension UInt8 {
    var decimalDigit: Int? { self >= 0x30 && self <= 0x39 ? Int(self - 0x30) : nil }

    /// RFC 9110 `tchar`.
    var isTokenCharacter: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// A byte a field value or reason phrase may hold: visible characters, blanks and `obs-text`.
    var isFieldContent: Bool { self == 0x09 || (self >= 0x20 && self != 0x7F) }
}

extension Collection<UInt8> {
    /// Without leading and trailing spaces and tabs.
    var trimmingBlanks: SubSequence {
        let start = firstIndex { $0 != 0x20 && $0 != 0x09 } ?? endIndex
        var end = endIndex
        while end > start {
            let before = index(start, offsetBy: distance(from: start, to: end) - 1)
            if self[before] != 0x20 && self[before] != 0x09 { break }
            end = before
        }
        return self[start..<end]
    }
}
