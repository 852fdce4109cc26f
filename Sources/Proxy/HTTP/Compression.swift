import NIOHTTP1

/// `compression algo|type|offload` of a section (HAProxy 2.6's compression filter).
public struct CompressionSettings: Hashable, Sendable {
    public enum Algorithm: String, Hashable, Sendable {
        case identity, deflate, rawDeflate = "raw-deflate", gzip

        /// The name clients ask for and `Content-Encoding` says.
        var token: String {
            switch self {
            case .identity: "identity"
            case .deflate, .rawDeflate: "deflate"
            case .gzip: "gzip"
            }
        }

        var format: Deflater.Format? {
            switch self {
            case .identity: nil
            case .deflate: .zlib
            case .rawDeflate: .raw
            case .gzip: .gzip
            }
        }
    }

    /// In HAProxy's order: each `algo` line's names put before the ones already there, the last written first.
    public var algorithms: [Algorithm] = []
    /// `compression type`: content types compressed (prefixes, without case); none: any.
    public var types: [String] = []
    /// `compression offload`: `Accept-Encoding` taken out of requests (the servers then never compress).
    public var offload = false

    public init() {}

    /// The settings that apply to an exchange, as HAProxy looks them up: the backend's algorithms if it has
    /// some, else the frontend's; the same for the types; offload if either says so.
    static func combined(backend: CompressionSettings?, frontend: CompressionSettings?) -> CompressionSettings? {
        var c = CompressionSettings()
        c.algorithms = backend.flatMap { $0.algorithms.isEmpty ? nil : $0.algorithms } ?? frontend?.algorithms ?? []
        c.types = backend.flatMap { $0.types.isEmpty ? nil : $0.types } ?? frontend?.types ?? []
        c.offload = backend?.offload == true || frontend?.offload == true
        return c.algorithms.isEmpty ? nil : c
    }
}

/// Whether and how a response is compressed, decided as HAProxy 2.6's compression filter decides it (facts from
/// its `flt_http_comp.c`): the algorithm from the request's `Accept-Encoding`, then the response's checks. Value
/// functions, no I/O (`CompressionTests`).
enum Compression {
    /// The algorithm for a request: of the `Accept-Encoding` values (in order, each header's comma-separated
    /// values), the one with the highest q-value above 0 (the first among equals) that names one of the
    /// algorithms (`*`: the first of them). None for a "Mozilla/4" agent other than MSIE 6 SP2 and later.
    static func algorithm(
        acceptEncoding: [Substring], userAgent: Substring?, _ settings: CompressionSettings
    ) -> CompressionSettings.Algorithm? {
        if let agent = userAgent.map({ Array($0.utf8) }), agent.count >= 9, agent.starts(with: Array("Mozilla/4".utf8)) {
            let msie = agent.count >= 31 && Array(agent[25..<30]) == Array("MSIE ".utf8)
            let version = msie ? agent[30] : 0
            let sp2 = agent.count >= 54 && Array(agent[51..<54]) == Array("SV1".utf8)
            if !msie || version < UInt8(ascii: "6") || (version == UInt8(ascii: "6") && !sp2) { return nil }
        }
        var chosen: CompressionSettings.Algorithm?
        var best = 0
        for raw in acceptEncoding {
            let value = raw.drop { $0 == " " || $0 == "\t" }
            let token = value.prefix { isTokenCharacter($0) }
            let q = qValue(value.dropFirst(token.count))
            if q <= best { continue }
            for algorithm in settings.algorithms
            where value.first == "*" || matches(value[value.startIndex...], token.count, algorithm.token) {
                chosen = algorithm
                best = q
                break
            }
        }
        return chosen
    }

    /// `identity` when it is configured and the request named none of the algorithms (no header to offload then).
    static func fallback(_ settings: CompressionSettings) -> CompressionSettings.Algorithm? {
        settings.algorithms.contains(.identity) ? .identity : nil
    }

    /// Whether a response with `response` to a request with `method` and `version` is compressed: both HTTP/1.1,
    /// not HEAD, status 200 to 203, a body of known length (a length or chunks), no `Content-Encoding`, no
    /// `Cache-Control: no-transform`, at most one well-formed `ETag`, a content type that is not multipart and
    /// (with `compression type`) one of the types.
    static func compresses(
        _ response: HTTPHead, requestMethod: HTTPMethod, requestVersion: HTTPVersion, _ settings: CompressionSettings
    ) -> Bool {
        guard response.isHTTP11, requestVersion.atLeast11, requestMethod != .HEAD else { return false }
        guard (200...203).contains(response.status) else { return false }
        switch response.framing {
        case .sized, .chunked: break
        default: return false
        }
        if !response.values(of: "content-encoding").isEmpty { return false }
        for value in response.values(of: "cache-control") {
            for word in value.split(separator: ",") where word.trimmingCharacters(in: .whitespaces).lowercased() == "no-transform" {
                return false
            }
        }
        let etags = response.values(of: "etag")
        if etags.count > 1 || etags.first.map({ !validETag($0) }) == true { return false }
        if let type = response.values(of: "content-type").first {
            let lower = type.lowercased()
            if lower.hasPrefix("multipart") { return false }
            if !settings.types.isEmpty && !settings.types.contains(where: { lower.hasPrefix($0.lowercased()) }) {
                return false
            }
        } else if !settings.types.isEmpty {
            return false
        }
        return true
    }

    /// `"x"` or `W/"x"`, as HAProxy's `http_get_etag_type` accepts them.
    static func validETag(_ value: String) -> Bool {
        var v = Substring(value.trimmingCharacters(in: .whitespaces))
        if v.hasPrefix("W/") { v = v.dropFirst(2) }
        return v.count >= 2 && v.first == "\"" && v.last == "\""
    }

    /// HAProxy's `word_match`: `word` at the start of `value`'s token, letters without case, then only blanks.
    private static func matches(_ value: Substring, _ tokenLength: Int, _ word: String) -> Bool {
        let sample = Array(value.utf8.prefix(tokenLength))
        let w = Array(word.utf8)
        guard sample.count >= w.count else { return false }
        for (a, b) in zip(sample, w) where a != b && a ^ b != 0x20 { return false }
        return sample.dropFirst(w.count).allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    private static func isTokenCharacter(_ c: Character) -> Bool {
        guard let a = c.asciiValue, a > 0x20, a < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?={}".contains(c)
    }

    /// The first `q=` parameter's value in thousandths (1000 without one), as HAProxy's `http_parse_qvalue`.
    private static func qValue(_ parameters: Substring) -> Int {
        for parameter in parameters.split(separator: ";").map({ $0.drop { $0 == " " || $0 == "\t" } })
        where parameter.hasPrefix("q=") {
            let digits = Array(parameter.dropFirst(2).utf8)
            guard let first = digits.first, (0x30...0x39).contains(first) else { return 1000 }
            var q = Int(first - 0x30) * 1000
            if digits.count > 1, digits[1] == 0x2E {
                var scale = 100
                for d in digits.dropFirst(2).prefix(3) {
                    guard (0x30...0x39).contains(d) else { break }
                    q += Int(d - 0x30) * scale
                    scale /= 10
                }
            }
            return min(q, 1000)
        }
        return 1000
    }
}
