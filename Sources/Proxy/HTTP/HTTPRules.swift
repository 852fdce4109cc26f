import NIOHTTP1

extension ACLTest {
    /// Whether the request matches: the path (without the query), the method, or any value of the header.
    func matches(_ head: HTTPRequestHead, path: Substring) -> Bool {
        switch criterion {
        case "path", "path_beg", "path_end", "path_sub": return compare(String(path))
        case "method": return compare(head.method.rawValue)
        case "hdr", "hdr_beg", "hdr_end", "hdr_sub":
            guard let header else { return false }
            return head.headers[header].contains { compare($0) }
        default: return false
        }
    }

    private func compare(_ sample: String) -> Bool {
        let s = caseInsensitive ? sample.lowercased() : sample
        if criterion.hasSuffix("_beg") { return values.contains { s.hasPrefix($0) } }
        if criterion.hasSuffix("_end") { return values.contains { s.hasSuffix($0) } }
        if criterion.hasSuffix("_sub") { return values.contains { s.contains($0) } }
        return values.contains(s)
    }
}

extension RuleCondition {
    func holds(_ head: HTTPRequestHead, path: Substring) -> Bool {
        let any = alternatives.contains { terms in
            terms.allSatisfy { term in term.tests.contains { $0.matches(head, path: path) } != term.negated }
        }
        return unless ? !any : any
    }
}

extension Optional where Wrapped == RuleCondition {
    /// No condition always holds.
    func holds(_ head: HTTPRequestHead, path: Substring) -> Bool { self?.holds(head, path: path) ?? true }
}

extension HTTPRequestHead {
    /// The path of the request target, without its query.
    var path: Substring { uri.prefix { $0 != "?" } }
}

extension HeaderCapture {
    /// The captured value of a header (its first occurrence, cut to `length`), "" when absent, as HAProxy logs it.
    func value(in headers: HTTPHeaders) -> String {
        guard let value = headers[name].first else { return "" }
        return String(value.utf8.prefix(length)) ?? String(value.prefix(length))
    }

    /// The same, from a response head as received.
    func value(in head: HTTPHead) -> String { head.firstValue(of: name, limit: length) ?? "" }
}
