import NIOCore
import LogCore
import NIOHTTP1

/// What a request's ACLs read besides its head, path and client: the client's TLS, how many servers serve each
/// backend (`nbsrv`), the userlists, the tracked counters, the port the client connected to, the variables.
struct RequestFacts {
    var tls: ClientTLS? = nil
    var servers: (String) -> Int = { _ in 0 }
    var users: UserlistAuth? = nil
    var counters: TrackedCounters? = nil
    var frontendPort: Int? = nil
    var variables: VariableStore? = nil
}

extension ACLTest {
    /// Whether the request matches: the path (without the query), the method, any value of the header, or the
    /// client's address (`client`, see `AddressSet`; nil for a client that has none, a unix socket's).
    func matches(_ head: HTTPRequestHead, path: Substring, client: UInt128?, _ facts: RequestFacts = RequestFacts())
        -> Bool
    {
        let tls = facts.tls
        if !integerConverters.isEmpty {
            let value: Int64? =
                switch sample {
                case .counter(let fetch): facts.counters?.fetch(fetch, client: client)
                case .tlsConnection: tls != nil ? 1 : 0
                case .clientCertificate: tls?.certificate != nil ? 1 : 0
                case .usableServers(let backend): Int64(facts.servers(backend))
                case .frontendPort: facts.frontendPort.map(Int64.init)
                case .headerValue(let name):
                    head.headers[name].last.map { Int64(Self.strl2ic(Array(HeaderValue.last(ofLine: $0).utf8))) }
                case .headerCount(let name): Int64(Self.valueCount(head.headers[name]))
                default: nil
                }
            return matches(converting: value, variables: facts.variables)
        }
        if !converters.isEmpty {
            switch sample {
            case .path: return compareConverted(String(path))
            case .method: return compareConverted(head.method.rawValue)
            case .header(let name): return head.headers[name].contains { compareConverted($0) }
            case .tlsSNI: return tls?.sni.map { compareConverted($0) } ?? false
            case .variable(let name): return facts.variables?[name].map { compareConverted($0.text) } ?? false
            default: break
            }
        }
        switch sample {
        case .path: return compare(path.utf8)
        case .method: return compare(head.method.rawValue.utf8)
        case .header(let name):
            // The reader lower-cased the client's names; one pass, no array of values made.
            for (field, value) in head.headers where field == name {
                if compare(value.utf8) { return true }
            }
            return false
        case .headerValue(let name):
            // The header's last value (its fields split at commas, as HAProxy's `hdr` reads them; none: no match).
            guard let line = head.headers[name].last else { return false }
            let n = Self.strl2ic(Array(HeaderValue.last(ofLine: line).utf8))
            return ranges.contains { $0.contains(n) }
        case .headerCount(let name):
            let count = Self.valueCount(head.headers[name])
            return ranges.contains { $0.contains(count) }
        case .source: return client.map(addresses.contains) ?? false
        case .tlsConnection: return tls != nil
        case .usableServers(let backend):
            let count = facts.servers(backend)
            return ranges.contains { $0.contains(count) }
        case .frontendPort: return facts.frontendPort.map { port in ranges.contains { $0.contains(port) } } ?? false
        case .variable(let name):
            guard let value = facts.variables?[name] else { return false }
            return compare(value)
        case .clientHelloSNI, .clientHelloType:
            // TCP frontends only (the parser refuses them in HTTP mode).
            return false
        // Known on a response only: a request's rule never matches them, as in HAProxy.
        case .status, .responseHeader: return false
        case .urlParameter(let name, let delimiter, let integer):
            let values = URLParameters.values(of: name, in: head.uri[...], delimiter: delimiter)
            if integer {
                return values.contains { value in
                    let n = Self.strl2ic(Array(value.utf8))
                    return ranges.contains { $0.contains(n) }
                }
            }
            if !converters.isEmpty { return values.contains { compareConverted(String($0)) } }
            return values.contains { compare($0.utf8) }
        case .tlsSNI: return tls?.sni.map { compare($0.utf8) } ?? false
        case .clientCertificate: return tls?.certificate != nil
        // A certificate that fails its check ends the handshake here: a TLS client's result is 0.
        case .clientCertificateVerify: return tls != nil && ranges.contains { $0.contains(0) }
        case .httpAuth(let list): return facts.users?.user(of: list, head.headers) != nil
        case .httpAuthGroup(let list):
            guard let user = facts.users?.user(of: list, head.headers) else { return false }
            return values.contains { user.groups.contains($0) }
        case .counter(let fetch): return matches(counter: fetch, facts.counters, client: client)
        }
    }

    /// How many values a header's lines hold, as HAProxy's `hdr_cnt` counts them: each comma-separated part.
    static func valueCount(_ lines: [String]) -> Int {
        lines.reduce(0) { $0 + $1.utf8.reduce(1) { $1 == UInt8(ascii: ",") ? $0 + 1 : $0 } }
    }

    /// A typed sample (a variable's): `-m int` reads it as an integer against `ranges` (not one: no match), the
    /// other methods its text.
    func compare(_ value: VariableValue) -> Bool {
        if match == .boolean {
            switch value {
            case .integer(let n): return n != 0
            case .text(let t): return Self.castToBoolean(t.utf8)
            }
        }
        guard match == .integer else { return compare(value.text.utf8) }
        guard let n = value.integer else { return false }
        let clamped = Int(clamping: n)
        return ranges.contains { $0.contains(clamped) }
    }

    /// HAProxy's cast of a string to a boolean (`c_str2int`, then not 0): an optional sign and the digits that
    /// follow it, whatever comes after them (`12x` is true, `true` is 0 and false); an empty string has no value.
    static func castToBoolean<Bytes: Collection<UInt8>>(_ text: Bytes) -> Bool {
        var digits = text[...]
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return digits.prefix { (48...57).contains($0) }.contains { $0 != 48 }
    }

    /// HAProxy's `strl2ic`, as its `hdr_val` reads a header: digits from the start (a leading `-` negates) until a
    /// byte above '9'; a byte below '0' is not a stop but adds its (negative) offset, as in HAProxy's C.
    static func strl2ic(_ bytes: [UInt8]) -> Int {
        var i: Int32 = 0
        guard let first = bytes.first else { return 0 }
        if first != UInt8(ascii: "-") {
            for b in bytes {
                let j = Int32(b) - 48
                if j > 9 { break }
                i = i &* 10 &+ j
            }
        } else {
            for b in bytes.dropFirst() {
                let j = Int32(b) - 48
                if j > 9 { break }
                i = i &* 10 &- j
            }
        }
        return Int(i)
    }

    /// A sample through its converters, then compared (no result, no match).
    private func compareConverted(_ text: String) -> Bool {
        var value: String? = text
        for converter in converters { value = value.flatMap(converter.apply) }
        guard let value else { return false }
        return compare(value.utf8)
    }

    /// An integer (or boolean) sample through the converters of integers, their operands' variables read in
    /// `variables`; then in `ranges`, or (without values) not 0. No sample, or a converter without a result: no
    /// match.
    func matches(converting sample: Int64?, variables: VariableStore?) -> Bool {
        guard var value = sample else { return false }
        for converter in integerConverters {
            guard let next = converter.apply(value, variable: { variables?[$0] }) else { return false }
            value = next
        }
        return ranges.isEmpty ? value != 0 : ranges.contains { $0.contains(Int(clamping: value)) }
    }

    /// A counter criterion: its value in `ranges` (no value, no match).
    func matches(counter fetch: StickCounterFetch, _ counters: TrackedCounters?, client: UInt128?) -> Bool {
        guard let value = counters?.fetch(fetch, client: client) else { return false }
        let n = Int(clamping: value)
        return ranges.contains { $0.contains(n) }
    }

    /// The sample against the values, byte by byte (the values are in lower case when `caseInsensitive`): nothing is
    /// allocated per request.
    func compare<Sample: Collection<UInt8>>(_ sample: Sample) -> Bool {
        if match == .found { return true }
        if match == .boolean { return Self.castToBoolean(sample) }
        if match == .regex { return regexes.matches(String(decoding: sample, as: UTF8.self)) }
        if match == .integer {
            guard let n = Int(String(decoding: sample, as: UTF8.self)) else { return false }
            return ranges.contains { $0.contains(n) }
        }
        return values.contains { value in
            let pattern = value.utf8
            switch match {
            case .exact:
                return sample.count == pattern.count && equal(sample, pattern)
            case .prefix:
                return sample.count >= pattern.count && equal(sample.prefix(pattern.count), pattern)
            case .suffix:
                return sample.count >= pattern.count && equal(sample.suffix(pattern.count), pattern)
            case .substring:
                guard pattern.count <= sample.count else { return false }
                if pattern.isEmpty { return true }
                var start = sample.startIndex
                var left = sample.count
                while left >= pattern.count {
                    if equal(sample[start...].prefix(pattern.count), pattern) { return true }
                    sample.formIndex(after: &start)
                    left -= 1
                }
                return false
            case .directory: return Self.containsWord(Array(sample), Array(pattern), delimiter: UInt8(ascii: "/"), equal)
            case .domain: return Self.containsWord(Array(sample), Array(pattern), delimiter: UInt8(ascii: "."), equal)
            case .found, .regex, .integer, .boolean: return true
            }
        }
    }

    /// HAProxy's `dir` and `dom` matches: the pattern (its own leading and trailing delimiters left out) occurs in
    /// the sample with a delimiter or an end of the sample on each side.
    static func containsWord(
        _ sample: [UInt8], _ pattern: [UInt8], delimiter: UInt8, _ equal: ([UInt8], ArraySlice<UInt8>) -> Bool
    ) -> Bool {
        var word = pattern[...]
        while word.first == delimiter { word.removeFirst() }
        while word.last == delimiter { word.removeLast() }
        guard !word.isEmpty, word.count <= sample.count else { return false }
        for start in 0...(sample.count - word.count) {
            let end = start + word.count
            guard start == 0 || sample[start - 1] == delimiter, end == sample.count || sample[end] == delimiter
            else { continue }
            if equal(Array(sample[start..<end]), word) { return true }
        }
        return false
    }

    /// Byte by byte, the sample's ASCII letters folded to lower case when `caseInsensitive` (HAProxy's `-i`).
    private func equal<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        caseInsensitive ? zip(a, b).allSatisfy { ASCII.lowercased($0) == $1 } : zip(a, b).allSatisfy { $0 == $1 }
    }
}

extension ACLTest {
    /// Whether a response matches (an `http-response` rule's condition): its status, its headers (`hdr()` reads the
    /// response's there, as in HAProxy), and what is known of the connection and the session; a request's fetch
    /// (`path`, `method`…) never matches, as HAProxy warns.
    func matches(response: HTTPHead, client: UInt128?, _ facts: RequestFacts) -> Bool {
        switch sample {
        case .status: return ranges.contains { $0.contains(Int(response.status)) }
        case .header(let name), .responseHeader(let name):
            let values = response.values(of: name)
            if !converters.isEmpty { return values.contains { compareConverted($0) } }
            return values.contains { compare($0.utf8) }
        case .headerCount(let name):
            let count = Self.valueCount(response.values(of: name))
            if !integerConverters.isEmpty { return matches(converting: Int64(count), variables: facts.variables) }
            return ranges.contains { $0.contains(count) }
        case .headerValue(let name):
            guard let line = response.values(of: name).last else { return false }
            let n = Self.strl2ic(Array(HeaderValue.last(ofLine: line).utf8))
            if !integerConverters.isEmpty { return matches(converting: Int64(n), variables: facts.variables) }
            return ranges.contains { $0.contains(n) }
        case .path, .method, .httpAuth, .httpAuthGroup, .clientHelloSNI, .clientHelloType, .urlParameter: return false
        case .source, .tlsConnection, .usableServers, .tlsSNI, .clientCertificate, .clientCertificateVerify, .counter,
            .frontendPort, .variable:
            // What the request's rules read of the connection and the session: the same answer now.
            return matches(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), path: "", client: client, facts)
        }
    }
}

extension RuleCondition {
    /// A response's rule's condition (see `ACLTest.matches(response:)`).
    func holds(response: HTTPHead, client: UInt128?, _ facts: RequestFacts) -> Bool {
        let any = alternatives.contains { terms in
            terms.allSatisfy { term in
                term.tests.contains { $0.matches(response: response, client: client, facts) } != term.negated
            }
        }
        return unless ? !any : any
    }

    func holds(_ head: HTTPRequestHead, path: Substring, client: UInt128?, _ facts: RequestFacts = RequestFacts())
        -> Bool
    {
        let any = alternatives.contains { terms in
            terms.allSatisfy { term in
                term.tests.contains { $0.matches(head, path: path, client: client, facts) } != term.negated
            }
        }
        return unless ? !any : any
    }
}

extension AddressSet {
    /// A socket address as the sets hold it (IPv4 mapped into IPv6); nil for one without an IP address.
    static func key(_ address: SocketAddress?) -> UInt128? {
        switch address {
        case .v4(let a)?: return mapped(UInt32(bigEndian: a.address.sin_addr.s_addr))
        case .v6(let a)?:
            var bytes = a.address.sin6_addr
            return withUnsafeBytes(of: &bytes) { raw in raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
        default: return nil
        }
    }
}

extension Optional where Wrapped == RuleCondition {
    /// No condition always holds.
    func holds(_ head: HTTPRequestHead, path: Substring, client: UInt128?, _ facts: RequestFacts = RequestFacts())
        -> Bool
    {
        self?.holds(head, path: path, client: client, facts) ?? true
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
