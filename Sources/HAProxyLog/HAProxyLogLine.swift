import LogCore

/// A parsed log line that points into the line's bytes instead of copying them: what the fast path works on.
///
/// Ranges are byte offsets into the buffer that was parsed; ``record(in:)`` and ``text(_:in:)`` turn them into
/// values when (and only when) they are needed. Numeric fields are already numbers.
public struct HAProxyLogLine: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// `option tcplog`
        case tcp
        /// `option httplog`
        case http
        /// `option httplog clf`
        case clf
        /// A server-state, health-check or lifecycle message; ``body`` holds it (see ``HAProxyEvent``).
        case event
        /// Anything else behind a syslog header (another program, a custom format).
        case other
    }

    public var kind: Kind = .other

    // MARK: Syslog prefix (empty ranges when the line has none)

    /// The timestamp of the stored line (`Nov 26 08:51:08`, or an RFC 3339 stamp).
    public var syslogTimestamp: Range<Int> = 0..<0
    /// The syslog hostname (`localhost` in `Nov 26 08:51:08 localhost haproxy[6553]: …`).
    public var host: Range<Int> = 0..<0
    /// The program name of the tag (`haproxy`); after a partial parse, the whole tag without its colon.
    public var program: Range<Int> = 0..<0
    /// The pid of the tag, -1 when the tag has none (or after a partial parse).
    public var pid: Int = -1
    /// The message after the syslog header (the whole line when there is no header).
    public var body: Range<Int> = 0..<0

    // MARK: Traffic fields (tcp, http, clf)

    public var clientIP: Range<Int> = 0..<0
    public var clientPort: Int = 0
    /// The accept (TCP) or request (HTTP) date; for CLF the GMT date with the `%ms` milliseconds.
    public var date = CivilTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0)
    /// Where the date is in the line (inside the brackets; for CLF, the GMT date).
    public var dateRange: Range<Int> = 0..<0
    /// The frontend name without a TLS `~`.
    public var frontend: Range<Int> = 0..<0
    public var frontendTLS = false
    public var backend: Range<Int> = 0..<0
    public var server: Range<Int> = 0..<0
    /// TR, Tw, Tc, Tr, and Ta (HTTP) or Tt (TCP); -1 where HAProxy printed -1 (TCP lines have TR = Tr = -1).
    public var requestTime = -1
    public var queueTime = -1
    public var connectTime = -1
    public var responseTime = -1
    public var totalTime = -1
    public var logASAP = false
    /// The HTTP status, -1 for TCP lines and for requests that got none.
    public var status = -1
    public var bytesRead: Int64 = 0
    /// Captured cookies; empty when logged as `-` (or `""` in CLF).
    public var requestCookie: Range<Int> = 0..<0
    public var responseCookie: Range<Int> = 0..<0
    public var terminationState = TerminationState.normal
    public var activeConnections = 0
    public var frontendConnections = 0
    public var backendConnections = 0
    public var serverConnections = 0
    public var retries = 0
    public var redispatched = false
    public var serverQueue = 0
    public var backendQueue = 0
    /// Inside the first `{…}` (httplog) or the quoted values after `%CS` (CLF); nil when absent.
    public var requestCaptures: Range<Int>?
    /// Inside the second `{…}`; nil when absent.
    public var responseCaptures: Range<Int>?
    /// Inside the quotes of `"GET / HTTP/1.1"` (escaped as logged); the closing quote may be missing when the
    /// line was cut short.
    public var requestLine: Range<Int> = 0..<0
    public var method: Range<Int> = 0..<0
    public var uri: Range<Int> = 0..<0
    public var httpVersion: Range<Int> = 0..<0
    /// Fields a custom `log-format` does not write (read as absent, not as 0 or `--`); empty for the built-in
    /// formats, which write them all.
    public var absent: Absent = []

    /// Fields a line may not have (see ``absent``).
    public struct Absent: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let clientPort = Absent(rawValue: 1)
        public static let date = Absent(rawValue: 2)
        public static let terminationState = Absent(rawValue: 4)
        public static let bytesRead = Absent(rawValue: 8)
        /// `%ac/%fc/%bc/%sc`
        public static let connectionCounts = Absent(rawValue: 16)
        public static let retries = Absent(rawValue: 32)
        /// `%sq/%bq`
        public static let queues = Absent(rawValue: 64)
    }

    public init() {}

    /// Puts back the defaults of every field a parse does not always write, so that one value can be reused
    /// line after line without a full reset (what the scanning loop does).
    mutating func resetOptionalFields() {
        kind = .other
        syslogTimestamp = 0..<0
        host = 0..<0
        program = 0..<0
        pid = -1
        clientIP = 0..<0
        clientPort = 0
        frontendTLS = false
        dateRange = 0..<0
        requestTime = -1
        responseTime = -1
        logASAP = false
        status = -1
        requestCookie = 0..<0
        responseCookie = 0..<0
        requestCaptures = nil
        responseCaptures = nil
        requestLine = 0..<0
        method = 0..<0
        uri = 0..<0
        httpVersion = 0..<0
        absent = []
    }

    /// A line with only this one's syslog header and body (kind `other`, every traffic field at its default).
    var headerOnly: HAProxyLogLine {
        var line = HAProxyLogLine()
        line.syslogTimestamp = syslogTimestamp
        line.host = host
        line.program = program
        line.pid = pid
        line.body = body
        return line
    }

    /// Whether this is a traffic line (tcplog, httplog or CLF).
    public var isTraffic: Bool { kind == .tcp || kind == .http || kind == .clf }

    /// The bytes of `range` as text.
    public func text(_ range: Range<Int>, in line: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: line[range]), as: UTF8.self)
    }

    /// The bytes of `range` as text, HAProxy's `#XX` escapes undone.
    public func unescapedText(_ range: Range<Int>, in line: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: HAProxyLogFormat.unescape(UnsafeBufferPointer(rebasing: line[range])), as: UTF8.self)
    }

    /// The traffic record this line holds (nil for events and other lines).
    public func record(in line: UnsafeBufferPointer<UInt8>) -> HAProxyLogRecord? {
        guard isTraffic else { return nil }
        var r = HAProxyLogRecord(
            mode: kind == .tcp ? .tcp : .http, clientIP: text(clientIP, in: line), clientPort: clientPort, date: date,
            frontend: text(frontend, in: line), frontendTLS: frontendTLS, backend: text(backend, in: line),
            server: text(server, in: line), requestTime: requestTime, queueTime: queueTime,
            connectTime: connectTime, responseTime: responseTime, totalTime: totalTime, logASAP: logASAP,
            status: status, bytesRead: bytesRead, requestCookie: unescapedText(requestCookie, in: line),
            responseCookie: unescapedText(responseCookie, in: line), terminationState: terminationState,
            activeConnections: activeConnections, frontendConnections: frontendConnections,
            backendConnections: backendConnections, serverConnections: serverConnections, retries: retries,
            redispatched: redispatched, serverQueue: serverQueue, backendQueue: backendQueue)
        if kind != .tcp {
            r.requestLine = unescapedText(requestLine, in: line)
        }
        if kind == .clf {
            r.requestHeaders = requestCaptures.map { quotedValues($0, in: line) }
        } else {
            r.requestHeaders = requestCaptures.map { captureValues($0, in: line) }
            r.responseHeaders = responseCaptures.map { captureValues($0, in: line) }
        }
        return r
    }

    /// The server-state or lifecycle message of an event line.
    public func event(in line: UnsafeBufferPointer<UInt8>) -> HAProxyEvent? {
        guard kind == .event else { return nil }
        return HAProxyEvent(message: text(body, in: line))
    }

    /// `a|b|c` split on `|` and unescaped.
    private func captureValues(_ range: Range<Int>, in line: UnsafeBufferPointer<UInt8>) -> [String] {
        var values: [String] = []
        var start = range.lowerBound
        for i in range where line[i] == 0x7C {
            values.append(unescapedText(start..<i, in: line))
            start = i + 1
        }
        values.append(unescapedText(start..<range.upperBound, in: line))
        return values
    }

    /// `"a" "b"` into its unescaped values.
    private func quotedValues(_ range: Range<Int>, in line: UnsafeBufferPointer<UInt8>) -> [String] {
        var values: [String] = []
        var i = range.lowerBound
        while i < range.upperBound {
            guard line[i] == 0x22 else {
                i += 1
                continue
            }
            var j = i + 1
            while j < range.upperBound && line[j] != 0x22 { j += 1 }
            values.append(unescapedText((i + 1)..<j, in: line))
            i = j + 1
        }
        return values
    }
}

extension HAProxyLogLine {
    /// Parses a line given as bytes and calls `body` with the result and the buffer its ranges refer to.
    public static func withParsed<T>(
        _ line: [UInt8], _ body: (HAProxyLogParseResult, UnsafeBufferPointer<UInt8>) throws -> T
    ) rethrows -> T {
        try line.withUnsafeBufferPointer { buffer in
            try body(HAProxyLogParser.parse(buffer), buffer)
        }
    }
}
