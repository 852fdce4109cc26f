import NIOHTTP1

extension ACLTest {
    /// Whether the request matches: the path (without the query), the method, any value of the header, or the
    /// client's address (`client`, see `AddressSet`; nil for a client that has none, a unix socket's).
    func matches(_ head: HTTPRequestHead, path: Substring, client: UInt128?) -> Bool {
        switch sample {
        case .path: return compare(path)
        case .method: return compare(head.method.rawValue)
        case .header(let name): return head.headers[name].contains { compare($0) }
        case .source: return client.map(addresses.contains) ?? false
        case .tlsConnection: return false
        }
    }

    private func compare(_ sample: some StringProtocol) -> Bool {
        let s = caseInsensitive ? sample.lowercased() : String(sample)
        switch match {
        case .exact: return values.contains(s)
        case .prefix: return values.contains { s.hasPrefix($0) }
        case .suffix: return values.contains { s.hasSuffix($0) }
        case .substring: return values.contains { s.contains($0) }
        }
    }
}

extension RuleCondition {
    func holds(_ head: HTTPRequestHead, path: Substring, client: UInt128?) -> Bool {
        let any = alternatives.contains { terms in
            terms.allSatisfy { term in
                term.tests.contains { $0.matches(head, path: path, client: client) } != term.negated
            }
        }
        return unless ? !any : any
    }
}

extension Optional where Wrapped == RuleCondition {
    /// No condition always holds.
    func holds(_ head: HTTPRequestHead, path: Substring, client: UInt128?) -> Bool {
        self?.holds(head, path: path, client: client) ?? true
    }
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
