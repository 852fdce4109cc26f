/// The answers the proxy gives itself, as HAProxy 2.6 sends them (captured from it): a page refused while the
/// request was read (400, 408) goes out as written, with `Connection: close`, and is logged with 0 bytes; one
/// produced by the stream (502, 503, 504) goes through its HTTP layer (lower-case names, the client's connection
/// kept unless it closes, then `connection: close` last), and is logged with the size HAProxy counts for it.
enum HTTPErrorPages {
    struct Page {
        /// The page with the connection kept open (for a parser page: as it is always sent).
        let bytes: [UInt8]
        /// The log's `%B` for this page.
        let logged: Int64
        /// A stream page may leave the client's connection open; a parser page always closes it.
        let keepsConnection: Bool

        /// The page with one more header after its own (`www-authenticate` on a 401), counted in the log's size as
        /// HAProxy counts a header it adds: its name and value (its message blocks), not the `: ` and line end.
        func adding(_ name: String, _ value: String) -> Page {
            guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return self }
            let line = Array("\r\n\(name): \(value)".utf8)
            return Page(
                bytes: Array(bytes[..<end.lowerBound]) + line + Array(bytes[end.lowerBound...]),
                logged: logged + Int64(name.utf8.count + value.utf8.count), keepsConnection: keepsConnection)
        }

        /// The page as sent: a stream page that closes the connection says so in a last header.
        func bytes(closing: Bool) -> [UInt8] {
            guard closing, keepsConnection, let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
                return bytes
            }
            return Array(bytes[..<end.lowerBound]) + Array("\r\nconnection: close".utf8)
                + Array(bytes[end.lowerBound...])
        }
    }

    private static func body(_ code: Int, _ reason: String, _ text: String) -> String {
        "<html><body><h1>\(code) \(reason)</h1>\n\(text)\n</body></html>\n"
    }

    /// A page of the request parser: `HTTP/1.1 400 Bad request` with HAProxy's capitalised headers.
    private static func parserPage(_ code: Int, _ reason: String, _ text: String) -> Page {
        let body = body(code, reason, text)
        let head =
            "HTTP/1.1 \(code) \(reason)\r\nContent-length: \(body.utf8.count)\r\nCache-Control: no-cache\r\n"
            + "Connection: close\r\nContent-Type: text/html\r\n\r\n"
        return Page(bytes: Array((head + body).utf8), logged: 0, keepsConnection: false)
    }

    /// A page of the stream: lower-case header names, and HAProxy counts three bytes more than it sends.
    private static func streamPage(_ code: Int, _ reason: String, _ text: String) -> Page {
        let body = body(code, reason, text)
        let head =
            "HTTP/1.1 \(code) \(reason)\r\ncontent-length: \(body.utf8.count)\r\ncache-control: no-cache\r\n"
            + "content-type: text/html\r\n\r\n"
        let bytes = Array((head + body).utf8)
        return Page(bytes: bytes, logged: Int64(bytes.count + 3), keepsConnection: true)
    }

    static let badRequest = parserPage(400, "Bad request", "Your browser sent an invalid request.")
    /// What HAProxy 2.6 counts for the 400 its stats applet makes (through the stream, closing) when a `stats
    /// http-request` rule has answered first: 206 bytes (see `Exchange.answeredByStatsRule`).
    static let statsAppletBadRequestLogged = streamBadRequest.logged
    /// The 400 of the stream (not the parser's): `option abortonclose` answering a client that left.
    static let streamBadRequest =
        streamPage(400, "Bad request", "Your browser sent an invalid request.").adding("connection", "close")
    /// The `monitor-uri` page.
    static let monitor = streamPage(200, "OK", "Service ready.")
    static let requestTimeout = parserPage(
        408, "Request Time-out", "Your browser didn't send a complete request in time.")
    /// 414 and 431 are this proxy's own (HAProxy 2.6 answers 400 to both), in the parser's form.
    static let uriTooLong = parserPage(
        414, "Request-URI Too Long", "The request URI is longer than this proxy accepts.")
    static let headersTooLarge = parserPage(
        431, "Request Header Fields Too Large", "The request headers are larger than this proxy accepts.")
    static let unauthorized = streamPage(
        401, "Unauthorized", "You need a valid user and password to access this content.")
    static let forbidden = streamPage(403, "Forbidden", "Request forbidden by administrative rules.")
    static let notFound = streamPage(404, "Not Found", "The resource could not be found.")
    static let methodNotAllowed = streamPage(
        405, "Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource")
    static let gone = streamPage(410, "Gone", "The resource is no longer available and will not be available again.")
    static let tooEarly = streamPage(425, "Too Early", "Your browser sent early data.")
    static let tooManyRequests = streamPage(
        429, "Too Many Requests", "You have sent too many requests in a given amount of time.")
    static let notImplemented = streamPage(
        501, "Not Implemented", ".The server does not support the functionality required to fulfill the request.")

    /// The statuses `http-request deny deny_status` may give (HAProxy's own pages).
    static let denyStatuses: Set<Int> = [400, 401, 403, 404, 405, 408, 410, 425, 429, 500, 501, 502, 503, 504]
    static let internalError = streamPage(500, "Internal Server Error", "An internal server error occurred.")
    static let badGateway = streamPage(502, "Bad Gateway", "The server returned an invalid or incomplete response.")
    static let unavailable = streamPage(503, "Service Unavailable", "No server is available to handle this request.")
    static let gatewayTimeout = streamPage(504, "Gateway Time-out", "The server didn't respond in time.")
    /// The 408 of the stream (`option http-buffer-request`: a body that did not come in time), not the parser's.
    static let streamRequestTimeout = streamPage(
        408, "Request Time-out", "Your browser didn't send a complete request in time.")

    static func page(_ status: Int) -> Page {
        switch status {
        case 400: badRequest
        case 401: unauthorized
        case 403: forbidden
        case 404: notFound
        case 405: methodNotAllowed
        case 410: gone
        case 425: tooEarly
        case 429: tooManyRequests
        case 501: notImplemented
        case 408: requestTimeout
        case 414: uriTooLong
        case 431: headersTooLarge
        case 502: badGateway
        case 503: unavailable
        case 504: gatewayTimeout
        default: internalError
        }
    }
}
