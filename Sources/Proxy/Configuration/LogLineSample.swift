import Foundation
import HAProxyLog

/// A `log-format` compiled for a proxy: the format and, for each of its `%[…]` expressions, the sample it logs.
public struct CompiledLogFormat: Hashable, Sendable {
    public let format: CustomLogFormat
    public let samples: [LogLineSample]

    /// The format of `text` for a proxy in `mode http` (`http`) or `mode tcp`, or what is wrong with it in
    /// HAProxy's words (a sample this build cannot log is refused, never logged as `-`).
    public static func compile(
        _ text: String, http: Bool, forHeader: Bool = false
    ) -> Result<CompiledLogFormat, CustomLogFormat.ParseError> {
        let format: CustomLogFormat
        do {
            format = try CustomLogFormat.parse(text, http: http, forHeader: forHeader)
        } catch {
            return .failure(error)
        }
        if format.uses([.tlsCipher]) {
            return .failure(
                Problem("format variable 'sslc' (the TLS cipher) is HAProxy's, not in this build (it would be logged as '-')"))
        }
        var samples: [LogLineSample] = []
        for expression in format.samples {
            switch LogLineSample.compile(expression) {
            case .success(let sample): samples.append(sample)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(CompiledLogFormat(format: format, samples: samples))
    }
}

private typealias Problem = CustomLogFormat.ParseError

/// A sample expression of a `log-format` line (`%[src]`, `%[capture.req.hdr(0),lower]`), fetched when the line
/// is written. HAProxy 2.6 evaluates them at the end of the stream, where the request's and response's headers are
/// gone: fetches that need them are refused by HAProxy itself (with the words used here), and the captures are
/// how a line names a header.
public struct LogLineSample: Hashable, Sendable {
    public enum Fetch: Hashable, Sendable {
        case source, sourcePort, destination, destinationPort
        case frontendName, backendName, serverName
        /// `method` and `capture.req.method` / `.uri` / `.ver`: from the request line.
        case method, capturedMethod, capturedURI, capturedVersion
        /// `capture.req.hdr(N)`, `capture.res.hdr(N)`.
        case requestCapture(Int), responseCapture(Int)
        /// `status`: HAProxy 2.6 has no response left at log time and logs `-` (checked beside it).
        case status
        case tlsFlag, tlsSNI, tlsProtocol, clientCertificateUsed, clientCertificateVerify, clientSubject, clientIssuer
        /// `str(TEXT)`, `int(N)`, `env(NAME)` (read at start), `hostname`.
        case constant(String?)
        case hostname
        /// `unique-id`: the stream's `unique-id-format` (as `%ID`).
        case uniqueID
    }

    public enum Converter: String, Hashable, Sendable {
        case lower, upper
    }

    public let fetch: Fetch
    public let converters: [Converter]

    /// HAProxy 2.6's fetches that need what is gone at log time (the messages are HAProxy's).
    private static let unavailable: [String: String] = [
        "req.hdr": "HTTP request headers", "hdr": "HTTP request headers", "req.fhdr": "HTTP request headers",
        "req.hdr_cnt": "HTTP request headers", "path": "HTTP request headers", "url": "HTTP request headers",
        "query": "HTTP request headers", "base": "HTTP request headers", "req.ver": "HTTP request headers",
        "res.hdr": "HTTP response headers", "res.ver": "HTTP response headers",
        "txn.status": "HTTP response headers", "req.len": "request buffers", "res.len": "response buffers",
    ]

    public static func compile(_ expression: String) -> Result<LogLineSample, CustomLogFormat.ParseError> {
        var parts = splitConverters(expression)
        let head = parts.removeFirst()
        let (name, argument) = nameAndArgument(head)
        if let needs = unavailable[name] {
            return .failure(
                Problem(
                    "sample fetch <\(expression)> may not be reliably used here because it needs '\(needs)' which is "
                        + "not available here"))
        }
        let fetch: Fetch
        switch (name, argument) {
        case ("src", nil): fetch = .source
        case ("src_port", nil): fetch = .sourcePort
        case ("dst", nil): fetch = .destination
        case ("dst_port", nil): fetch = .destinationPort
        case ("fe_name", nil): fetch = .frontendName
        case ("be_name", nil): fetch = .backendName
        case ("srv_name", nil): fetch = .serverName
        case ("method", nil): fetch = .method
        case ("capture.req.method", nil): fetch = .capturedMethod
        case ("capture.req.uri", nil): fetch = .capturedURI
        case ("capture.req.ver", nil): fetch = .capturedVersion
        case ("status", nil): fetch = .status
        case ("ssl_fc", nil): fetch = .tlsFlag
        case ("ssl_fc_sni", nil): fetch = .tlsSNI
        case ("ssl_fc_protocol", nil): fetch = .tlsProtocol
        case ("ssl_c_used", nil), ("ssl_fc_has_crt", nil): fetch = .clientCertificateUsed
        case ("ssl_c_verify", nil): fetch = .clientCertificateVerify
        case ("ssl_c_s_dn", nil): fetch = .clientSubject
        case ("ssl_c_i_dn", nil): fetch = .clientIssuer
        case ("hostname", nil): fetch = .hostname
        case ("unique-id", nil): fetch = .uniqueID
        case ("capture.req.hdr", let n?), ("capture.res.hdr", let n?):
            guard let index = Int(n), index >= 0 else {
                return .failure(Problem("invalid args in fetch method '\(name)' : expects a capture index"))
            }
            fetch = name == "capture.req.hdr" ? .requestCapture(index) : .responseCapture(index)
        case ("str", let text?): fetch = .constant(text)
        case ("int", let n?):
            guard let value = Int(n) else { return .failure(Problem("invalid args in fetch method 'int' : '\(n)'")) }
            fetch = .constant(String(value))
        case ("env", let variable?): fetch = .constant(ProcessInfo.processInfo.environment[variable])
        default:
            return .failure(
                Problem(
                    "sample fetch <\(expression)> is HAProxy's, not one this build can log (it logs src, src_port, "
                        + "dst, dst_port, fe_name, be_name, srv_name, method, capture.req.*, capture.res.hdr, ssl_fc*, "
                        + "ssl_c_*, hostname, unique-id, str, int, env)"))
        }
        var converters: [Converter] = []
        for part in parts {
            guard let converter = Converter(rawValue: part) else {
                return .failure(
                    Problem(
                        "converter '\(part)' in sample expression <\(expression)> is HAProxy's, not in this build "
                            + "(it has lower and upper)"))
            }
            converters.append(converter)
        }
        return .success(LogLineSample(fetch: fetch, converters: converters))
    }

    /// `a(b,c),d` → `a(b,c)`, `d`: commas inside parentheses are arguments.
    private static func splitConverters(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            switch c {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                parts.append(current)
                current = ""
                continue
            default: break
            }
            current.append(c)
        }
        parts.append(current)
        return parts
    }

    private static func nameAndArgument(_ text: String) -> (String, String?) {
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else { return (text, nil) }
        return (String(text[..<open]), String(text[text.index(after: open)..<text.index(before: text.endIndex)]))
    }

    /// The sample's value for a line (nil: none, logged `-`).
    func value(_ r: HAProxyLogRecord, _ c: HAProxyLogContext, tls: ClientTLS?) -> String? {
        var value: String?
        switch fetch {
        case .source: value = r.clientIP == "-" ? nil : r.clientIP
        case .sourcePort: value = r.clientIP == "-" ? nil : String(r.clientPort)
        case .destination: value = c.frontendIP
        case .destinationPort: value = c.frontendPort.map(String.init)
        case .frontendName: value = r.frontend
        case .backendName: value = r.backend
        case .serverName: value = r.server.hasPrefix("<") ? nil : r.server
        case .method, .capturedMethod: value = r.requestLine == HAProxyLogRecord.badRequest ? nil : word(r.requestLine, 0)
        case .capturedURI: value = r.requestLine == HAProxyLogRecord.badRequest ? nil : word(r.requestLine, 1)
        case .capturedVersion: value = r.requestLine == HAProxyLogRecord.badRequest ? nil : word(r.requestLine, 2)
        case .requestCapture(let i): value = r.requestHeaders.flatMap { i < $0.count ? $0[i] : nil }
        case .responseCapture(let i): value = r.responseHeaders.flatMap { i < $0.count ? $0[i] : nil }
        case .status: value = nil
        case .tlsFlag: value = tls == nil ? "0" : "1"
        case .tlsSNI: value = tls?.sni
        case .tlsProtocol: value = tls?.protocolName
        case .clientCertificateUsed: value = tls.map { $0.certificate == nil ? "0" : "1" }
        // A certificate that fails its check ends the handshake, so one that came is verified (0).
        case .clientCertificateVerify: value = tls == nil ? nil : "0"
        case .clientSubject: value = tls?.subjectDN
        case .clientIssuer: value = tls?.issuerDN
        case .constant(let text): value = text
        case .hostname: value = c.hostname
        case .uniqueID: value = c.uniqueID
        }
        guard var text = value, !text.isEmpty else { return nil }
        for converter in converters {
            switch converter {
            case .lower: text = text.lowercased()
            case .upper: text = text.uppercased()
            }
        }
        return text
    }

    private func word(_ line: String, _ n: Int) -> String? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        return n < words.count ? String(words[n]) : nil
    }
}
