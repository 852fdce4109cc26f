import LogCore

/// Reads traffic lines written with a custom `log-format` back into a ``HAProxyLogLine``, so that logs of
/// frontends with their own format are queried as tcplog and httplog lines are: the format's items in order,
/// each value found by what follows it in the format, each known variable put in its field.
///
/// How a value's end is found (the renderer's rules, `CustomLogFormat.format`, read backwards):
/// - a quoted value (`+Q`) runs to its closing quote (`\"` skipped under `+E`); header captures (`%hr`, `%hs`)
///   run to their `}`, and are absent when nothing was captured (the item then wrote nothing);
/// - the GMT and local dates (`%T`, `%Tl`, `%trg`, `%trl`) are 26 bytes, their zone after a space;
/// - `%r` unquoted is three words (the request line), or the rest of the line when it comes last;
/// - an address followed by `:` ends at the last `:` of its word (IPv6 addresses are written bare);
/// - any other value ends at the first byte of the text that follows it in the format, or at a space; the last
///   item of a format takes the rest of the line.
///
/// Fields it fills: client address and port (`%ci %cp`), the date (`%tr` family first, then `%t` family, then
/// `%Ts` with `%ms`), frontend (`%ft` with its `~`, `%f`), backend, server, the timers (`%TR` or `%Tq`, `%Tw`,
/// `%Tc`, `%Tr`, `%Ta` or `%Tt`), status, bytes read, cookies, termination state, connection counts, retries,
/// queues, header captures and the request line (`%r`, or `%HM %HU %HV`). Other items are read past. A line is
/// HTTP when the format names an HTTP-only variable or `%ST`, TCP otherwise.
public struct LogFormatReader: Hashable, Sendable {
    public let format: CustomLogFormat
    let kind: HAProxyLogLine.Kind
    /// The byte that ends each node's value when it is not quoted (nil: the rest of the line).
    private let delimiters: [UInt8?]
    /// Whether the text after each node starts with `:` (an address then ends at its word's last colon).
    private let colonFollows: [Bool]
    /// What this format does not write.
    let absent: HAProxyLogLine.Absent

    public init(_ format: CustomLogFormat) {
        self.format = format
        let http = format.nodes.contains {
            guard case .variable(let v, _) = $0 else { return false }
            return v.httpOnly || v == .status
        }
        kind = http ? .http : .tcp
        var absent: HAProxyLogLine.Absent = []
        let dates: Set<CustomLogFormat.Variable> = [
            .date, .requestDate, .dateGMT, .dateLocal, .requestDateGMT, .requestDateLocal, .timestamp,
        ]
        if !format.uses([.clientPort]) { absent.insert(.clientPort) }
        if !format.uses(dates) { absent.insert(.date) }
        if !format.uses([.termination, .terminationWithCookies]) { absent.insert(.terminationState) }
        if !format.uses([.bytesRead]) { absent.insert(.bytesRead) }
        if !format.uses([.activeConnections, .frontendConnections, .backendConnections, .serverConnections]) {
            absent.insert(.connectionCounts)
        }
        if !format.uses([.retries]) { absent.insert(.retries) }
        if !format.uses([.serverQueue, .backendQueue]) { absent.insert(.queues) }
        self.absent = absent
        var delimiters: [UInt8?] = []
        var colonFollows: [Bool] = []
        for i in format.nodes.indices {
            let next = i + 1 < format.nodes.count ? format.nodes[i + 1] : nil
            switch next {
            case nil: delimiters.append(nil)
            case .text(let bytes)?: delimiters.append(bytes.first ?? 0x20)
            default: delimiters.append(0x20)
            }
            if case .text(let bytes)? = next { colonFollows.append(bytes.first == 0x3A) } else { colonFollows.append(false) }
        }
        self.delimiters = delimiters
        self.colonFollows = colonFollows
    }

    /// A format as written after `log-format` in haproxy.cfg (its words already split), in HAProxy's words when
    /// it cannot be read.
    public init(text: String) throws(CustomLogFormat.ParseError) {
        self.init(try CustomLogFormat.parse(text, http: true))
    }

    /// Reads the body at `s.p` into `out`'s traffic fields; false (and `out` partly written) when the line is not
    /// in this format.
    func read(_ s: inout Scan, into out: inout HAProxyLogLine) -> Bool {
        var dateRank = -1
        var totalFromActive = false
        var requestFromTR = false
        var uriFromHU = false
        var epochSeconds: Int?
        var milliseconds = 0
        for (index, node) in format.nodes.enumerated() {
            switch node {
            case .separator:
                _ = s.consumeSpace()
            case .text(let bytes):
                guard s.end - s.p >= bytes.count else { return false }
                for (k, b) in bytes.enumerated() where s.b[s.p + k] != b { return false }
                s.p += bytes.count
            case .sample(_, let flags):
                guard value(index, nil, flags, &s) != nil else { return false }
            case .variable(let v, let flags):
                guard let r = value(index, v, flags, &s) else { return false }
                var sub = Scan(b: s.b, p: r.lowerBound, end: r.upperBound)
                func number(_ plus: inout Bool) -> Int? {
                    if r.count == 1 && s.b[r.lowerBound] == 0x2D { return -1 }
                    guard let n = sub.signedValue(plus: &plus), sub.p == sub.end, n <= Int(Int32.max) else { return nil }
                    return n
                }
                func timer() -> Int? {
                    var plus = false
                    let n = number(&plus)
                    if plus { out.logASAP = true }
                    return n
                }
                func text() -> Range<Int> { r.count == 1 && s.b[r.lowerBound] == 0x2D ? r.lowerBound..<r.lowerBound : r }
                switch v {
                case .clientIP: out.clientIP = r
                case .clientPort:
                    var plus = false
                    out.clientPort = flags.contains(.hexadecimal) ? hex(r, s.b) ?? 0 : max(0, number(&plus) ?? 0)
                case .requestDate, .date:
                    let rank = v == .requestDate ? 3 : 2
                    guard r.count == 24, let d = HAProxyLogParser.readDate(&sub, milliseconds: true) else { return false }
                    if rank > dateRank {
                        dateRank = rank
                        out.date = d
                        out.dateRange = r
                    }
                case .requestDateGMT, .requestDateLocal, .dateGMT, .dateLocal:
                    let rank = v == .requestDateGMT || v == .requestDateLocal ? 3 : 2
                    guard let d = HAProxyLogParser.readDate(&sub, milliseconds: false) else { return false }
                    if rank > dateRank {
                        dateRank = rank
                        out.date = d
                        out.dateRange = r
                    }
                case .timestamp:
                    var plus = false
                    epochSeconds = flags.contains(.hexadecimal) ? hex(r, s.b) : number(&plus)
                case .milliseconds:
                    var plus = false
                    milliseconds = (flags.contains(.hexadecimal) ? hex(r, s.b) : number(&plus)) ?? 0
                case .frontendTransport:
                    if r.count > 1 && s.b[r.upperBound - 1] == 0x7E {
                        out.frontendTLS = true
                        out.frontend = r.lowerBound..<(r.upperBound - 1)
                    } else {
                        out.frontend = r
                    }
                case .frontend: out.frontend = r
                case .backend: out.backend = r
                case .server: out.server = r
                case .requestTime:
                    guard let n = timer() else { return false }
                    out.requestTime = n
                    requestFromTR = true
                case .requestTimeWithIdle:
                    guard let n = timer() else { return false }
                    if !requestFromTR { out.requestTime = n }
                case .queueTime:
                    guard let n = timer() else { return false }
                    out.queueTime = n
                case .connectTime:
                    guard let n = timer() else { return false }
                    out.connectTime = n
                case .responseTime:
                    guard let n = timer() else { return false }
                    out.responseTime = n
                case .activeTime:
                    guard let n = timer() else { return false }
                    out.totalTime = n
                    totalFromActive = true
                case .totalTime:
                    guard let n = timer() else { return false }
                    if !totalFromActive { out.totalTime = n }
                case .status:
                    var plus = false
                    guard let n = number(&plus) else { return false }
                    out.status = kind == .http ? n : -1
                case .bytesRead:
                    if sub.consume(0x2B) { out.logASAP = true }
                    guard let n = sub.digits(), sub.p == sub.end else { return false }
                    out.bytesRead = Int64(n)
                case .requestCookie: out.requestCookie = text()
                case .responseCookie: out.responseCookie = text()
                case .termination:
                    guard r.count == 2 else { return false }
                    out.terminationState = TerminationState(cause: s.b[r.lowerBound], phase: s.b[r.lowerBound + 1])
                case .terminationWithCookies:
                    guard r.count == 4 else { return false }
                    out.terminationState = TerminationState(
                        cause: s.b[r.lowerBound], phase: s.b[r.lowerBound + 1], clientCookie: s.b[r.lowerBound + 2],
                        serverCookie: s.b[r.lowerBound + 3])
                case .activeConnections, .frontendConnections, .backendConnections, .serverConnections, .serverQueue,
                    .backendQueue, .retries:
                    var plus = false
                    guard let n = number(&plus) else { return false }
                    switch v {
                    case .activeConnections: out.activeConnections = n
                    case .frontendConnections: out.frontendConnections = n
                    case .backendConnections: out.backendConnections = n
                    case .serverConnections: out.serverConnections = n
                    case .serverQueue: out.serverQueue = n
                    case .backendQueue: out.backendQueue = n
                    default:
                        out.retries = n
                        out.redispatched = plus
                    }
                case .requestHeaders, .responseHeaders:
                    guard r.count >= 2, s.b[r.lowerBound] == 0x7B, s.b[r.upperBound - 1] == 0x7D else { break }
                    let inside = (r.lowerBound + 1)..<(r.upperBound - 1)
                    if v == .requestHeaders { out.requestCaptures = inside } else { out.responseCaptures = inside }
                case .request:
                    HAProxyLogParser.readRequestLine(&sub, &out)
                case .method: out.method = r
                case .uri:
                    out.uri = r
                    uriFromHU = true
                case .path: if !uriFromHU { out.uri = r }
                case .version: out.httpVersion = r
                default: break
                }
            }
        }
        guard s.p == s.end else { return false }
        if dateRank < 0, let epochSeconds {
            let seconds = Int64(epochSeconds)
            out.date = CivilTime(
                epochMicroseconds: seconds * 1_000_000 + Int64(milliseconds) * 1000,
                utcOffsetSeconds: CivilTime.localUTCOffset(atEpochSeconds: epochSeconds))
        }
        out.kind = kind
        out.absent = absent
        return true
    }

    /// Where the value of node `index` is (quotes and braces included for captures, quotes left out otherwise),
    /// `s.p` moved past it; nil when the line cannot hold it.
    private func value(_ index: Int, _ v: CustomLogFormat.Variable?, _ flags: CustomLogFormat.Flags, _ s: inout Scan)
        -> Range<Int>?
    {
        let start = s.p
        switch v {
        case .dateGMT?, .dateLocal?, .requestDateGMT?, .requestDateLocal?:
            guard s.end - start >= 26 else { return nil }
            s.p += 26
            return start..<s.p
        case .requestHeaders?, .responseHeaders?:
            let quoted = flags.contains(.quote) && s.peek == 0x22
            let open = quoted ? start + 1 : start
            guard open < s.end, s.b[open] == 0x7B else { return start..<start }  // nothing captured: nothing written
            guard let close = s.find(0x7D, from: open + 1) else { return nil }
            s.p = close + 1
            if quoted {
                guard s.consume(0x22) else { return nil }
            }
            return open..<(close + 1)
        default:
            break
        }
        if flags.contains(.quote) && s.peek == 0x22 {
            var i = start + 1
            while i < s.end && s.b[i] != 0x22 {
                if flags.contains(.escape) && s.b[i] == 0x5C { i += 1 }
                i += 1
            }
            guard i < s.end else { return nil }
            s.p = i + 1
            return (start + 1)..<i
        }
        guard let delimiter = delimiters[index] else {
            s.p = s.end
            return start..<s.end
        }
        if v == .request {
            // METHOD SP URI SP VERSION (a bad request may have fewer words).
            var words = 0
            while true {
                s.skipToSpace()
                words += 1
                guard words < 3, s.end - s.p >= 2, s.b[s.p] == 0x20 else { break }
                s.p += 1
            }
            return start..<s.p
        }
        let word = s.wordRange()
        if colonFollows[index], v == .clientIP || v == .frontendIP || v == .serverIP || v == .backendSourceIP {
            var colon = word.upperBound - 1
            while colon > word.lowerBound && s.b[colon] != 0x3A { colon -= 1 }
            guard colon > word.lowerBound else { return nil }
            s.p = colon
            return word.lowerBound..<colon
        }
        guard delimiter != 0x20 else { return word }
        var i = start
        while i < word.upperBound && s.b[i] != delimiter { i += 1 }
        s.p = i
        return start..<i
    }

    private func hex(_ r: Range<Int>, _ b: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !r.isEmpty, r.count <= 16 else { return nil }
        var n = 0
        for i in r {
            let c = b[i]
            let d: Int
            switch c {
            case 0x30...0x39: d = Int(c - 0x30)
            case 0x41...0x46: d = Int(c - 0x41 + 10)
            case 0x61...0x66: d = Int(c - 0x61 + 10)
            default: return nil
            }
            n = n << 4 | d
        }
        return n
    }
}
