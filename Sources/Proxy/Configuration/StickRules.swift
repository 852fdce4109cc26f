import LogCore

/// A sample a `track-sc` or `stick` rule keys its table with (one fetch, no converter).
public enum StickKeyFetch: Hashable, Sendable {
    /// `src`, `dst`: the client's and the frontend's addresses; `src_port`, `dst_port`.
    case source, destination, sourcePort, destinationPort
    /// `req.hdr(NAME)`, `hdr(NAME)`: the last value of the header (HAProxy's sample, not an ACL's every value);
    /// `req.fhdr(NAME)`: the whole last line of it.
    case header(String), fullHeader(String)
    /// `path`, `url`, `base` (Host and path), `query`.
    case path, url, base, query
    /// `base32`, `url32`: HAProxy's 32-bit hashes of them; `+src`: the hash then the client's address, as binary.
    case base32, url32, base32Source, url32Source
    /// `ssl_fc_sni`.
    case tlsSNI
    /// Another sample expression of a request (`var(txn.id)`, `req.cook(id)`, `str(x)`, `hdr(host),lower`): see
    /// `LogFormatValue.parseExpression`.
    case expression(LogFormatValue)

    /// Known on a connection, before any byte of it (what `tcp-request connection` may use).
    public var isLayer4: Bool {
        switch self {
        case .source, .destination, .sourcePort, .destinationPort: true
        default: false
        }
    }

    /// The fetches, by HAProxy's names (a header's name goes between parentheses).
    static func parse(_ word: String) -> StickKeyFetch? {
        let plain: [String: StickKeyFetch] = [
            "src": .source, "dst": .destination, "src_port": .sourcePort, "dst_port": .destinationPort,
            "path": .path, "url": .url, "base": .base, "query": .query, "base32": .base32, "url32": .url32,
            "base32+src": .base32Source, "url32+src": .url32Source, "ssl_fc_sni": .tlsSNI,
        ]
        if let fetch = plain[word] { return fetch }
        if let open = word.firstIndex(of: "("), word.hasSuffix(")") {
            let name = String(word[..<open])
            let argument = String(word[word.index(after: open)..<word.index(before: word.endIndex)]).lowercased()
            if !argument.isEmpty, !argument.contains(",") {
                switch name {
                case "req.hdr", "hdr": return .header(argument)
                case "req.fhdr": return .fullHeader(argument)
                default: break
                }
            }
        }
        if case .success(let value) = LogFormatValue.parseExpression(word) { return .expression(value) }
        return nil
    }
}

/// `track-sc0|1|2 KEY [table NAME]` (in `tcp-request connection|session|content` and `http-request`): the
/// session, or the request, tracks the key's entry of the table as counter `counter`.
public struct StickTracking: Hashable, Sendable {
    public var counter: Int
    public var key: StickKeyFetch
    /// The table's section (the rule's own when none is named).
    public var table: String
}

/// An ACL criterion on tracked counters or on the client's entry: `sc_DATA(N[,TABLE])`, `scN_DATA[(TABLE)]`,
/// `src_DATA[(TABLE)]` (HAProxy 2.6's names; the table of `src_*` is the rule's own section when none is named).
public struct StickCounterFetch: Hashable, Sendable {
    public enum Source: Hashable, Sendable {
        /// The entry the session or request tracks as counter N.
        case tracked(Int)
        /// The client's address in the table (`src_*`): 0 when it has no entry.
        case client
    }
    public enum Value: Hashable, Sendable {
        /// A stored datum (a rate read over its period); the fetch fails when the table does not store it.
        case data(StickData)
        /// `kbytes_in`, `kbytes_out`: the byte counts in KiB.
        case kilobytes(out: Bool)
        /// `get_gpc0|1`, `inc_gpc0|1` (counts one first: a fetch with an effect), `clr_gpc0|1` (0 after; the value
        /// before).
        case getGPC(Int), incrementGPC(Int), clearGPC(Int)
        case getGPT0
        /// `sc_tracked`: a boolean; `sc_trackers`: the sessions tracking the entry.
        case tracked, trackers
    }
    public var source: Source
    public var value: Value
    /// The table named by the criterion (nil: the one the counter tracks; always set for `src_*`).
    public var table: String?
    /// The criterion as written (messages).
    public var name: String

    /// The criteria, by name: `(source, value, table)`; nil for a name that is none of them.
    static func parse(_ word: String) -> (name: String, source: Source?, value: Value, arguments: [String])? {
        var name = word
        var arguments: [String] = []
        if let open = word.firstIndex(of: "("), word.hasSuffix(")") {
            name = String(word[..<open])
            arguments = word[word.index(after: open)..<word.index(before: word.endIndex)]
                .split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let source: Source?
        let rest: Substring
        if name.hasPrefix("sc_") {
            source = nil  // the counter is the first argument
            rest = name.dropFirst(3)
        } else if name.count > 4, name.hasPrefix("sc"), let n = Int(String(name.dropFirst(2).prefix(1))),
            name.dropFirst(3).first == "_"
        {
            source = .tracked(n)
            rest = name.dropFirst(4)
        } else if name.hasPrefix("src_") {
            source = .client
            rest = name.dropFirst(4)
        } else {
            return nil
        }
        let value: Value
        switch rest {
        case "kbytes_in": value = .kilobytes(out: false)
        case "kbytes_out": value = .kilobytes(out: true)
        case "get_gpc0": value = .getGPC(0)
        case "get_gpc1": value = .getGPC(1)
        case "inc_gpc0": value = .incrementGPC(0)
        case "inc_gpc1": value = .incrementGPC(1)
        case "clr_gpc0": value = .clearGPC(0)
        case "clr_gpc1": value = .clearGPC(1)
        case "get_gpt0": value = .getGPT0
        case "tracked" where source != .client: value = .tracked
        case "trackers" where source != .client: value = .trackers
        default:
            // `server_id` is read through persistence, not as a counter.
            guard let data = StickData.byName[String(rest)], data != .serverID, data != .gpt0, data != .gpc0,
                data != .gpc1
            else { return nil }
            value = .data(data)
        }
        return (name, source, value, arguments)
    }
}

/// `stick on|match|store-request KEY [table NAME] [if|unless …]`: server persistence through a table's
/// `server_id` (the server's place in its backend, from 1).
public struct StickRule: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case on, match, storeRequest = "store-request"
        var matches: Bool { self != .storeRequest }
        var stores: Bool { self != .match }
    }
    public var kind: Kind
    public var key: StickKeyFetch
    public var table: String
    public var condition: RuleCondition?
}
