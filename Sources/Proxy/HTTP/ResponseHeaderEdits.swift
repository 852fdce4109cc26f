import LogCore

/// What `http-response set-header|add-header|del-header` rules do to a server's response head, decided once when
/// the configuration is read: which of the server's header names are taken out, and which fields are added after
/// the server's (as HAProxy appends them, in the rules' order). A backend's edits apply first, then its frontend's
/// (`then`). A value type with no I/O: `HTTPHeadWriter.response` carries it out.
struct ResponseHeaderEdits: Hashable, Sendable {
    /// Lower-cased names whose fields the server sent are dropped.
    private(set) var removed: [[UInt8]] = []
    /// Fields added after the server's: lower-cased name, value.
    private(set) var added: [(name: [UInt8], value: [UInt8])] = []

    /// Cookie persistence: the server's `Set-Cookie` fields for this cookie name are dropped.
    private(set) var removedCookie: [UInt8]?
    /// `replace-header|replace-value` on the server's fields, in the rules' order (each also rewrote the fields
    /// added before it).
    private(set) var rewrites: [(name: [UInt8], rewrite: HeaderRewrite)] = []

    /// `set-status`: the status and reason the client gets instead of the server's.
    private(set) var status: (code: Int, reason: [UInt8])?

    var isEmpty: Bool { removed.isEmpty && added.isEmpty && removedCookie == nil && rewrites.isEmpty && status == nil }

    /// Drops the server's `Set-Cookie` fields that set cookie `name` (one response's edit, for persistence).
    mutating func removeSetCookie(named name: String) { removedCookie = Array(name.utf8) }

    /// Adds a field after the others (one response's edit, for persistence).
    mutating func append(_ name: String, _ value: String) { add(name, value) }

    /// Whether the server's field is a `Set-Cookie` for the persistence cookie (see `removeSetCookie`).
    func removesCookie(_ raw: UnsafeRawBufferPointer, name: Range<Int>, value: Range<Int>) -> Bool {
        guard let cookie = removedCookie, name.count == 10,
            zip(Array("set-cookie".utf8), name).allSatisfy({ $0 == ASCII.lowercased(raw[$1]) })
        else { return false }
        var start = value.lowerBound
        while start < value.upperBound && (raw[start] == 0x20 || raw[start] == 0x09) { start += 1 }
        var end = start
        while end < value.upperBound && raw[end] != UInt8(ascii: "=") && raw[end] != UInt8(ascii: ";") { end += 1 }
        while end > start && (raw[end - 1] == 0x20 || raw[end - 1] == 0x09) { end -= 1 }
        return end - start == cookie.count && zip(cookie, start..<end).allSatisfy { $0 == raw[$1] }
    }

    init() {}

    init(_ rules: [HTTPResponseRule]) {
        for rule in rules {
            switch rule.action {
            // A value with samples is made per response first (see `HTTPSession`): here it is text.
            case .setHeader(let name, let value):
                remove(name)
                add(name, value.text)
            case .addHeader(let name, let value):
                add(name, value.text)
            case .delHeader(let name):
                remove(name)
            case .rewriteHeader(let rewrite):
                self.rewrite(rewrite)
            case .setStatus(let code, let reason):
                status = (code, Array((reason ?? HTTPReasons.phrase(code)).utf8))
            case .variable, .deny, .returnReply, .setLogLevel:
                break
            }
        }
    }

    private mutating func rewrite(_ rewrite: HeaderRewrite) {
        let lower = Self.lower(rewrite.name)
        for i in added.indices where added[i].name == lower {
            added[i].value = Array(rewrite.apply(to: String(decoding: added[i].value, as: UTF8.self), replacement: rewrite.value.text).utf8)
        }
        rewrites.append((lower, rewrite))
    }

    /// The server's field named by `name` of `raw`, with value `value`, as the `replace-*` rules leave it (nil: as
    /// it came).
    func rewritten(_ raw: UnsafeRawBufferPointer, name: Range<Int>, value: Range<Int>) -> [UInt8]? {
        guard !rewrites.isEmpty else { return nil }
        var text: String?
        for (lower, rewrite) in rewrites
        where lower.count == name.count && zip(lower, name).allSatisfy({ $0 == ASCII.lowercased(raw[$1]) }) {
            let current = text ?? String(decoding: UnsafeRawBufferPointer(rebasing: raw[value]), as: UTF8.self)
            text = rewrite.apply(to: current, replacement: rewrite.value.text)
        }
        return text.map { Array($0.utf8) }
    }

    /// These edits, then `next`'s (a backend's, then its frontend's).
    func then(_ next: ResponseHeaderEdits) -> ResponseHeaderEdits {
        if next.isEmpty { return self }
        if isEmpty { return next }
        var both = self
        for name in next.removed { both.remove(name) }
        for (_, rewrite) in next.rewrites { both.rewrite(rewrite) }
        both.added += next.added
        if let status = next.status { both.status = status }
        return both
    }

    private mutating func remove(_ name: String) { remove(Self.lower(name)) }

    private mutating func remove(_ lower: [UInt8]) {
        // A field added by an earlier rule goes too: the rules act on the head as it is at their turn.
        added.removeAll { $0.name == lower }
        if !removed.contains(lower) { removed.append(lower) }
    }

    private mutating func add(_ name: String, _ value: String) { added.append((Self.lower(name), Array(value.utf8))) }

    private static func lower(_ name: String) -> [UInt8] { name.utf8.map { ASCII.lowercased($0) } }

    /// Whether the server's field named by `range` of `raw` is taken out.
    func removes(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        removed.contains { name in
            name.count == range.count && zip(name, range).allSatisfy { $0 == ASCII.lowercased(raw[$1]) }
        }
    }

    static func == (a: ResponseHeaderEdits, b: ResponseHeaderEdits) -> Bool {
        a.removed == b.removed && a.removedCookie == b.removedCookie && a.status?.code == b.status?.code
            && a.status?.reason == b.status?.reason
            && a.added.elementsEqual(b.added) { $0.name == $1.name && $0.value == $1.value }
            && a.rewrites.elementsEqual(b.rewrites) { $0.rewrite == $1.rewrite }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(removed)
        hasher.combine(removedCookie)
        hasher.combine(status?.code)
        for field in added {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
        for r in rewrites { hasher.combine(r.rewrite) }
    }
}
