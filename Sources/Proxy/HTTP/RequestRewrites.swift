import LogCore

/// A regular expression of a rewriting rule (`replace-path`, `replace-header`…) and HAProxy's replacement: where the
/// expression is found (anywhere, unless it anchors itself), the *whole* subject becomes the replacement, with `\N`
/// the N-th group (`\0` the match), `\xHH` a byte and `\c` the character c (HAProxy's `exp_replace`). Equal when
/// written the same.
public struct RewriteRegex: Hashable, @unchecked Sendable {
    // Read-only once made (a Regex is a value; it is shared between threads without change).
    private let regex: Regex<AnyRegexOutput>
    public let pattern: String

    /// nil when `pattern` does not compile.
    public init?(_ pattern: String, ignoringCase: Bool = false) {
        guard let regex = try? Regex(pattern) else { return nil }
        self.regex = ignoringCase ? regex.ignoresCase() : regex
        self.pattern = ignoringCase ? "(?i)" + pattern : pattern
    }

    public static func == (a: RewriteRegex, b: RewriteRegex) -> Bool { a.pattern == b.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }

    /// `subject` rewritten with `replacement`, or nil when the expression is not found in it.
    public func rewrite(_ subject: Substring, with replacement: String) -> String? {
        guard let match = try? regex.firstMatch(in: subject) else { return nil }
        return Self.expand(replacement, match)
    }

    /// The `regsub(REGEX,SUBST[,FLAGS])` converter: each match (the first only, without `g`) replaced by `subst`
    /// expanded, the rest of the subject kept.
    public func substitute(_ subject: Substring, with template: String, global: Bool) -> String {
        var out = ""
        var rest = subject
        while let match = try? regex.firstMatch(in: rest) {
            out += rest[..<match.range.lowerBound]
            out += Self.expand(template, match)
            if match.range.isEmpty {
                // An empty match moves on by one character (or the loop would not end).
                guard match.range.upperBound < rest.endIndex else {
                    rest = rest[rest.endIndex...]
                    break
                }
                out.append(rest[match.range.upperBound])
                rest = rest[rest.index(after: match.range.upperBound)...]
            } else {
                rest = rest[match.range.upperBound...]
            }
            if !global || rest.isEmpty { break }
        }
        return out + rest
    }

    /// HAProxy's `exp_replace` of `replacement` with a match's groups.
    private static func expand(_ replacement: String, _ match: Regex<AnyRegexOutput>.Match) -> String {
        var groups: [Substring?] = []
        for i in 0..<match.output.count { groups.append(match.output[i].substring) }
        var out: [UInt8] = []
        let template = Array(replacement.utf8)
        var i = 0
        while i < template.count {
            let c = template[i]
            guard c == 0x5C, i + 1 < template.count else {
                out.append(c)
                i += 1
                continue
            }
            let next = template[i + 1]
            if next >= 0x30 && next <= 0x39 {
                let n = Int(next - 0x30)
                if n < groups.count, let group = groups[n] { out += group.utf8 }
                i += 2
            } else if next == 0x78, i + 3 < template.count,
                let high = ASCII.hexValue(template[i + 2]), let low = ASCII.hexValue(template[i + 3])
            {
                out.append(high << 4 | low)
                i += 4
            } else {
                out.append(next)
                i += 2
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A request target's parts as HAProxy's rewriting actions see them: the scheme and authority of an absolute-form
/// target, its path, and its query string with its `?`.
struct RequestTarget: Equatable {
    var authority: Substring
    var path: Substring
    var query: Substring

    init(_ uri: String) {
        var rest = Substring(uri)
        authority = ""
        if rest.first != "/", let scheme = rest.range(of: "://") {
            let afterAuthority = rest[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            authority = rest[..<afterAuthority]
            rest = rest[afterAuthority...]
        }
        let mark = rest.firstIndex(of: "?") ?? rest.endIndex
        path = rest[..<mark]
        query = rest[mark...]
    }

    var uri: String { String(authority) + path + query }
}

/// What an `http-request set-path|set-query|set-uri|replace-path|replace-uri` rule changes.
public struct TargetRewrite: Hashable, Sendable {
    public enum Part: Hashable, Sendable {
        /// The path (the query string kept), the query string (a `?` then the value), the whole target.
        case path, query, uri
    }
    public var part: Part
    /// `replace-*`: the expression looked for; the value is then HAProxy's replacement.
    public var regex: RewriteRegex?
    public var value: LogFormatValue

    /// The target `uri` after the rule, given the value's text; nil when it does not change it.
    func apply(to uri: String, value text: String) -> String? {
        var target = RequestTarget(uri)
        switch (part, regex) {
        case (.path, nil): target.path = Substring(text)
        case (.query, nil): target.query = "?" + text
        case (.uri, nil): return text
        case (.path, let regex?):
            guard !target.path.isEmpty, let rewritten = regex.rewrite(target.path, with: text) else { return nil }
            target.path = Substring(rewritten)
        case (.uri, let regex?), (.query, let regex?):
            return regex.rewrite(Substring(uri), with: text)
        }
        return target.uri
    }
}

/// `http-request|http-response replace-header|replace-value NAME REGEX REPLACEMENT`: each of the header's fields
/// (`replace-value`: each comma-separated value of them) in which the expression is found is rewritten.
public struct HeaderRewrite: Hashable, Sendable {
    public var name: String
    public var regex: RewriteRegex
    public var value: LogFormatValue
    /// `replace-value`.
    public var eachValue: Bool

    /// A field's value after the rule (the same when nothing matched).
    func apply(to field: String, replacement: String) -> String {
        guard eachValue else { return regex.rewrite(Substring(field), with: replacement) ?? field }
        // Each value between commas, its spaces kept around it.
        return field.split(separator: ",", omittingEmptySubsequences: false).map { part -> String in
            let leading = part.prefix { $0 == " " || $0 == "\t" }
            let inner = part.dropFirst(leading.count)
            let trailing = inner.reversed().prefix { $0 == " " || $0 == "\t" }
            let value = inner.dropLast(trailing.count)
            let rewritten = regex.rewrite(value, with: replacement) ?? String(value)
            return String(leading) + rewritten + String(trailing.reversed())
        }.joined(separator: ",")
    }
}
