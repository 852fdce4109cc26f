import HAProxyLog
import NIOCore
import NIOHTTP1

/// The proxy's own answers in HTTP mode, in one place: what it refuses before any rule (as HAProxy 2.6's HTTP/1
/// parser does), its error pages (HAProxy's, byte for byte, with their termination states) and the stats page.
extension HTTPSession {
    /// Answers `head` here when the proxy refuses it outright or it is for the stats page; false: it goes on to
    /// the rules and a backend.
    func answeredBeforeRules(_ head: HTTPRequestHead, _ exchange: Exchange) -> Bool {
        // CONNECT and protocol upgrades (WebSocket) are not relayed by this build: refused (the parser stops at
        // them, so nothing after them on this connection could be read).
        if head.method == .CONNECT || head.headers.hasToken("upgrade", in: "connection") {
            closing = true
            refuse(status: 501, requestLine: exchange.requestLine)
            return true
        }
        // HAProxy refuses a `#` in the request target (a fragment is never sent on the wire).
        if head.uri.utf8.contains(UInt8(ascii: "#")) {
            refuse(status: 400, requestLine: HAProxyLogRecord.badRequest)
            return true
        }
        // As HAProxy's HTTP/1 parser: two different Host headers, or an absolute-form target whose authority is not
        // the Host header, are refused (either would walk past the Host ACLs that route and deny).
        if HTTPSession.hostIsAmbiguous(head) {
            refuse(status: 400, requestLine: HAProxyLogRecord.badRequest)
            return true
        }
        if let monitor = frontend.section.settings.monitorURI, head.uri == monitor {
            // `monitor fail` conditions: a failing one answers 503 (HAProxy's page), still not logged.
            let failed = frontend.section.rules.monitorFail.contains {
                $0.holds(head, path: head.path, client: clientForRules, facts)
            }
            answerMonitor(head, exchange, failed: failed)
            return true
        }
        return false
    }

    /// Whether the request names two hosts: several Host headers that differ, or an absolute-form target
    /// (`http://authority/path`) whose authority differs from the Host header (compared without regard to case).
    static func hostIsAmbiguous(_ head: HTTPRequestHead) -> Bool {
        // One pass over the headers, nothing allocated: this runs for every request.
        var host: String?
        for (name, value) in head.headers where sameIgnoringASCIICase(name.utf8, "host".utf8) {
            guard let first = host else {
                host = value
                continue
            }
            if !sameIgnoringASCIICase(first.utf8, value.utf8) { return true }
        }
        guard let host else { return false }
        let uri = head.uri.utf8
        guard let colon = uri.firstIndex(of: UInt8(ascii: ":")), uri[colon...].starts(with: "://".utf8),
            uri[..<colon].allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") })
        else { return false }
        let start = uri.index(colon, offsetBy: 3)
        let end = uri[start...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? uri.endIndex
        return !sameIgnoringASCIICase(uri[start..<end], host.utf8)
    }

    /// Whether two byte strings are equal but for the case of ASCII letters.
    static func sameIgnoringASCIICase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// A request the proxy refuses (400/414/431, `PR--`): answered and the connection closed.
    func refuse(status: Int, requestLine: String) {
        guard let exchange else { return }
        exchange.requestLine = requestLine
        exchange.state.answeredByProxy(timersKnown: false)
        exchange.termination = TerminationState(.proxy, .request)
        frontend.sessions.update { $0.requestErrors += 1 }
        _ = exchange.state.requestEnded()
        // HAProxy's HTTP/1 layer answers these itself: no `http-after-response` rule sees them.
        respondLocally(status: status, afterRules: false)
    }

    /// Sends one of HAProxy's error pages (or nothing when `status` is nil), logs, and closes the connection.
    func respondLocally(
        status: Int?, logStatus: Int? = nil, header: (name: String, value: String)? = nil,
        page streamPage: HTTPErrorPages.Page? = nil, file given: HTTPErrorFile? = nil, afterRules: Bool = true
    ) {
        guard let exchange, let context else { return }
        var keep = false
        exchange.state.answeredByProxy()
        writeHeldHead()
        if let connection = exchange.connection {
            exchange.connection = nil
            connection.owner = nil
            connection.close()
        }
        // The request parser's pages (400, 408) stay HAProxy's own whatever `errorfile` says, as in HAProxy 2.6 (a
        // rule's own file is sent whatever its status).
        if let status,
            let file = given
                ?? (HTTPErrorPages.page(status).keepsConnection
                    ? exchange.backend?.errorFiles[status] ?? frontend.errorFiles[status] : nil)
        {
            sendErrorFile(file, exchange, context, afterRules: afterRules)
        } else if let status {
            var page = streamPage ?? HTTPErrorPages.page(status)
            if let header { page = page.adding(header.name, header.value) }
            // As HAProxy: after a page of the stream, a keep-alive client whose request was read in full (or has
            // no body to come: its end is on its way) keeps its connection.
            keep =
                page.keepsConnection && exchange.clientKeepAlive
                && (exchange.requestDone || !Self.bodyComing(exchange.head, exchange)) && !closing
                && !(clientDone && waiting.isEmpty)
            if !keep { closing = true }
            let bytes = page.bytes(closing: !exchange.clientKeepAlive)
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            sendReply(buffer, afterRules: afterRules)
            exchange.loggedBytes = page.logged
        } else {
            closing = true
            exchange.loggedBytes = 0
        }
        exchange.status = logStatus ?? status ?? -1
        // Answered before the request's end was read: the exchange ends with it.
        if keep && exchange.state.finishesAtRequestEnd() { return }
        finish(exchange)
    }

    /// `http-request tarpit`: the request is held for `timeout tarpit` (none: answered at once), then answered with
    /// `status`'s page (the connection kept alive as after a deny); logged `PT--` as HAProxy logs it (no request
    /// time, the time held as the queue time).
    func tarpit(_ exchange: Exchange, status: Int) {
        guard let context else { return }
        exchange.termination = TerminationState(.proxy, .tarpit)
        frontend.sessions.update { $0.deniedRequests += 1 }
        let delay = ProxyRuntime.amount(frontend.section.settings.timeouts.tarpit) ?? .zero
        context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard self.exchange === exchange, !exchange.logged else { return }
            exchange.requestTimeUnknown = true
            exchange.queueTime = Int((NIODeadline.now() - exchange.start).nanoseconds / 1_000_000)
            respondLocally(status: status)
        }
    }

    /// Sends a reply the proxy made, its head through the `http-after-response` rules first (`afterRules`).
    func sendReply(_ buffer: ByteBuffer, afterRules: Bool = true) {
        guard afterRules, let exchange else { return send(buffer, flush: true) }
        send(afterResponse(buffer, exchange), flush: true)
    }

    /// The `http-after-response` rules (the backend's, then the frontend's) on a reply the proxy made, whose head is
    /// at the start of `buffer`: its fields removed, set and added as HAProxy does (names in lower case, added ones
    /// after the others). What they add and remove changes `%B`, as HAProxy counts a reply it makes as stored.
    private func afterResponse(_ buffer: ByteBuffer, _ exchange: Exchange) -> ByteBuffer {
        let rules = frontend.afterResponseRules(from: exchange.backend)
        guard !rules.isEmpty, let length = HTTPHead.headLength(in: buffer),
            let slice = buffer.getSlice(at: buffer.readerIndex, length: length),
            let head = try? HTTPHead.response(slice, headRequest: false),
            let edits = responseEdits(rules, head, exchange).edits
        else { return buffer }
        var out = client.allocator.buffer(capacity: buffer.readableBytes + 128)
        var delta: Int64 = 0
        var connection: [UInt8]?
        head.bytes.withUnsafeReadableBytes { raw in
            // The status line as it is, then the fields that stay, then the added ones; `connection` last, as
            // HAProxy's HTTP/1 layer writes it when the message goes out.
            var end = 0
            while end + 1 < raw.count && !(raw[end] == 0x0D && raw[end + 1] == 0x0A) { end += 1 }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<min(end + 2, raw.count)]))
            for field in head.fields {
                if edits.removes(raw, field.name) {
                    delta -= Int64(field.name.count + field.value.count)
                    continue
                }
                if HTTPHead.equalsLower(raw, field.name, "connection") {
                    connection = Array(UnsafeRawBufferPointer(rebasing: raw[field.value]))
                    continue
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.name]))
                out.writeStaticString(": ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.value]))
                out.writeStaticString("\r\n")
            }
        }
        for field in edits.added {
            out.writeBytes(field.name)
            out.writeStaticString(": ")
            out.writeBytes(field.value)
            out.writeStaticString("\r\n")
            delta += Int64(field.name.count + field.value.count)
        }
        if let connection {
            out.writeStaticString("connection: ")
            out.writeBytes(connection)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        if let rest = buffer.getSlice(at: buffer.readerIndex + length, length: buffer.readableBytes - length) {
            out.writeImmutableBuffer(rest)
        }
        exchange.afterResponseBytes += delta
        return out
    }

    /// Whether the request's body is still to be read (a length above 0 or chunks): an answer made before it
    /// closes the connection, as HAProxy does not read it.
    static func bodyComing(_ head: HTTPRequestHead, _ exchange: Exchange) -> Bool {
        !exchange.requestDone
            && (head.headers.contains(name: "transfer-encoding")
                || head.headers["content-length"].contains { Int($0).map { $0 > 0 } ?? true })
    }

    /// `monitor-uri`: HAProxy's 200 page ("Service ready."), its body left out for HEAD, the client's connection
    /// kept when it can be; not logged.
    func answerMonitor(_ head: HTTPRequestHead, _ exchange: Exchange, failed: Bool = false) {
        exchange.state.answeredByMonitor()
        let keep = exchange.clientKeepAlive && !Self.bodyComing(head, exchange) && !closing && !(clientDone && waiting.isEmpty)
        if !keep { closing = true }
        var bytes = (failed ? HTTPErrorPages.page(503) : HTTPErrorPages.monitor).bytes(closing: !exchange.clientKeepAlive)
        if head.method == .HEAD, let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
            bytes.removeSubrange(end.upperBound...)
        }
        var buffer = client.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        sendReply(buffer)
        exchange.status = failed ? 503 : 200
        if keep && exchange.state.finishesAtRequestEnd() { return }
        finish(exchange)
    }

    /// A `redirect` (`LR--`), as HAProxy 2.6 answers one: an empty body, the location, `cache-control: no-cache`
    /// for the temporary codes, the client's connection kept when it can be; logged with the size HAProxy counts.
    /// False when nothing was answered: an `ignore-empty` location whose log-format made nothing (the rules go on).
    @discardableResult
    func respondRedirect(_ redirect: Redirect, _ head: HTTPRequestHead) -> Bool {
        guard let exchange, let context else { return true }
        let target = redirect.format.map { render($0, head) } ?? redirect.target
        if redirect.kind == .location && redirect.ignoreEmpty && target.isEmpty { return false }
        exchange.state.answeredByProxy()
        exchange.termination = TerminationState(.local, .request)
        let uri = redirect.dropQuery ? String(head.path) : head.uri
        var location: String
        switch redirect.kind {
        case .location: location = target
        // A prefix of exactly "/" adds nothing before the request's URI.
        case .prefix: location = (redirect.format == nil && target == "/" ? "" : target) + uri
        case .scheme: location = target + "://" + (head.headers["host"].first ?? "") + uri
        }
        if redirect.appendSlash, redirect.kind != .location, let last = location.last, last != "/" { location += "/" }
        let reason = Redirect.reasons[redirect.code] ?? "Found"
        let temporary = [302, 303, 307].contains(redirect.code)
        // A body still to come closes the connection (HAProxy does not read it); a request without one is answered
        // at once and the exchange ends with its end.
        let bodyComing = Self.bodyComing(head, exchange)
        let keep = exchange.clientKeepAlive && !bodyComing && !closing && !(clientDone && waiting.isEmpty)
        if !keep { closing = true }
        var text = "HTTP/1.1 \(redirect.code) \(reason)\r\ncontent-length: 0\r\nlocation: \(location)\r\n"
        if temporary { text += "cache-control: no-cache\r\n" }
        // As HAProxy: a close because of a body still coming is part of the reply (and counted); a client that
        // asked to close is told so by the connection layer (not counted); one that half-closed is not told.
        let closesForBody = exchange.clientKeepAlive && bodyComing
        if !exchange.clientKeepAlive || closesForBody {
            text += "connection: close\r\n"
        } else if keep && !head.version.atLeast11 {
            text += "connection: keep-alive\r\n"
        }
        text += "\r\n"
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        sendReply(buffer)
        exchange.status = redirect.code
        // As HAProxy counts a reply it makes: the status line and the fields as stored.
        let fields = 15 + 8 + location.utf8.count + (temporary ? 21 : 0) + (closesForBody ? 15 : 0)
        exchange.loggedBytes = Int64(21 + 8 + 3 + reason.utf8.count + fields)
        if keep && exchange.state.finishesAtRequestEnd() { return true }
        finish(exchange)
        return true
    }

    /// An `errorfile`'s response instead of HAProxy's page, as HAProxy 2.6 sends one (see `HTTPErrorFile`).
    private func sendErrorFile(
        _ file: HTTPErrorFile, _ exchange: Exchange, _ context: ChannelHandlerContext, afterRules: Bool
    ) {
        let plan = ResponsePlan(
            response: file.head, requestVersion: exchange.head.version, clientKeepAlive: exchange.clientKeepAlive,
            closesBothSides: closesBothSides)
        let keep = !plan.closesClient && exchange.requestDone && !closing && !(clientDone && waiting.isEmpty)
        if !keep { closing = true }
        // Closing, an HTTP/1.1 response says so; an HTTP/1.0 one says nothing (its version does).
        let connection = keep ? plan.connectionHeader : (file.head.isHTTP11 ? "close" : nil)
        var written = HTTPHeadWriter.response(
            file.head, allocator: context.channel.allocator, connection: connection, keepVersion: true,
            room: file.body.count)
        written.bytes.writeBytes(file.body)
        sendReply(written.bytes, afterRules: afterRules)
        exchange.loggedBytes = file.logged
    }

    /// The admin form's body is read: carried out, answered (a 303 to the page with its outcome) and logged.
    func answerStatsForm(_ stats: StatsPage, _ exchange: Exchange) {
        guard let context else { return }
        var body: [UInt8] = []
        for part in exchange.body { body += part.readableBytesView }
        exchange.body = []
        let user = UserlistAuth.claimedUser(exchange.head.headers).map { " user=\(AuditText.quoted($0))" } ?? ""
        let answer =
            exchange.requestBytes > Int64(ProxyRuntime.bufferSize)
            ? stats.formTooLarge(exchange.head)
            : stats.adminPost(exchange.head, body: body, peer: "client=\(peer.ip ?? "-")\(user)")
        exchange.status = answer.status
        if let logged = answer.logged { exchange.loggedBytes = logged }
        var buffer = context.channel.allocator.buffer(capacity: answer.bytes.count)
        buffer.writeBytes(answer.bytes)
        sendReply(buffer)
        if !exchange.clientKeepAlive { closing = true }
        finish(exchange)
    }

    func serveStats(_ stats: StatsPage, _ head: HTTPRequestHead) {
        guard let exchange, let context else { return }
        let client = peer.ip ?? "-"
        // `stats admin`: the first rule that holds for this request grants the page's form.
        let admin = stats.settings.adminRules.contains {
            $0.holds(head, path: head.path, client: clientForRules, facts)
        }
        let answer = stats.answer(head, client: client, admin: admin)
        if answer.awaitsForm {
            exchange.termination = TerminationState(.local, .request)
            exchange.queueTime = 0
            exchange.state.answeredByStatsForm()
            if exchange.requestDone { answerStatsForm(stats, exchange) }
            return
        }
        exchange.termination = TerminationState(.local, .request)
        if answer.status == 401 {
            // HAProxy makes `stats auth` a `stats http-request auth` rule: the same 401 as that rule's, logged as
            // its answers are (see `Exchange.answeredByStatsRule`).
            let realm = String((stats.settings.realm ?? "HAProxy Statistics").filter { $0 != "\"" })
            exchange.answeredByStatsRule = true
            return respondLocally(status: 401, header: ("www-authenticate", "Basic realm=\"\(realm)\""))
        }
        exchange.status = answer.status
        exchange.queueTime = 0
        exchange.state.answeredByStats()
        if let logged = answer.logged { exchange.loggedBytes = logged }
        var buffer = context.channel.allocator.buffer(capacity: answer.bytes.count)
        buffer.writeBytes(answer.bytes)
        sendReply(buffer)
        if !exchange.clientKeepAlive { closing = true }
        // Else the rest of the request (a body nobody reads) is dropped before the next one; logged at its end.
        if exchange.requestDone { finish(exchange) }
    }

    /// `use-service prometheus-exporter`: the exporter's answer (chunked, as HAProxy's), logged as HAProxy logs its
    /// applet (`<PROMEX>`, `LR--`, status 200).
    func servePrometheus(_ exchange: Exchange, _ head: HTTPRequestHead) {
        guard let context, let prometheus = frontend.prometheus else { return }
        let query = head.uri.firstIndex(of: "?").map { head.uri[head.uri.index(after: $0)...] } ?? ""
        let body = Array(prometheus(query).utf8)
        exchange.backendName = frontend.section.name
        exchange.serverName = "<PROMEX>"
        exchange.termination = TerminationState(.local, .request)
        exchange.status = 200
        exchange.queueTime = 0
        exchange.state.answeredByStats()
        var text = "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\n"
        let chunked = head.version.atLeast11
        text += chunked ? "transfer-encoding: chunked\r\n" : "content-length: \(body.count)\r\n"
        if !exchange.clientKeepAlive && chunked { text += "connection: close\r\n" }
        text += "\r\n"
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count + body.count + 16)
        buffer.writeString(text)
        if head.method != .HEAD {
            if chunked {
                buffer.writeString(String(body.count, radix: 16) + "\r\n")
                buffer.writeBytes(body)
                buffer.writeString("\r\n0\r\n\r\n")
            } else {
                buffer.writeBytes(body)
            }
        }
        exchange.loggedBytes = Int64(body.count)
        sendReply(buffer)
        if !exchange.clientKeepAlive || !chunked { closing = true }
        if exchange.requestDone { finish(exchange) }
    }
}
