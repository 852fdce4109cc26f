import LogCore

/// HAProxy 2.6's cookie persistence (`cookie NAME insert|… indirect nocache …`, `server … cookie VALUE`), as value
/// types with no I/O: which server a request's cookie names, what is left of its `Cookie` headers, and what a
/// response gets (the server's own cookie taken out, a `Set-Cookie` and `Cache-control: private` added), with the
/// two characters the log shows for them. The session carries the decisions out.
enum PersistenceCookies {
    /// The log's third termination character: what the client's cookie said.
    enum ClientStatus: UInt8 {
        case none = 0x4E  // N
        case invalid = 0x49  // I: it names no server
        case down = 0x44  // D: it names a server that is down
        case valid = 0x56  // V: the server it names took the request
        case unused = 0x55  // U: `ignore-persist` left it unused
    }

    /// What `ignore-persist` and `force-persist` decided for a request (the first rule that holds).
    enum Override {
        case none, ignore, force
    }

    /// The log's fourth character: what was done about the server's cookie.
    enum ServerStatus: UInt8 {
        case none = 0x4E  // N
        case found = 0x50  // P: the server set it, and it was passed on
        case deleted = 0x44  // D: the server set it, and it was taken out
        case inserted = 0x49  // I: the proxy set it
    }

    /// A server as persistence sees it: its cookie value, and whether it may take the request (not stopped: a
    /// drained server keeps its clients, a server down or in maintenance does not).
    struct Server {
        var cookie: String?
        var usable: Bool
    }

    struct Request: Equatable {
        var status: ClientStatus
        /// The server the cookie sends the request to directly (HAProxy's SF_DIRECT).
        var server: Int?
        /// Each `Cookie` header's value as passed on (nil: the header is taken out), when any changed.
        var headers: [String?]?
    }

    /// Reads the request's `Cookie` header values (in order): the first usable server whose cookie equals the
    /// value (up to a `|`) takes it; in insert mode with `indirect` the cookie is taken out of the headers, as
    /// HAProxy does (an emptied header goes).
    /// `ignore-persist` (`override` `.ignore`) uses no cookie (each is `U`, still taken out in `indirect` mode);
    /// `force-persist` (`.force`) sends the request to the cookie's server even when it is down.
    static func request(
        _ cookie: PersistenceCookie, cookieHeaders: [String], servers: [Server], override: Override = .none
    ) -> Request {
        var result = Request(status: .none, server: nil, headers: nil)
        let strip = cookie.insert && cookie.indirect
        var rewritten: [String?] = []
        var changed = false
        for value in cookieHeaders {
            var kept: [Substring] = []
            for item in value.split(separator: ";", omittingEmptySubsequences: false) {
                let trimmed = item.drop { $0 == " " || $0 == "\t" }
                let name = trimmed.prefix { $0 != "=" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
                guard String(name) == cookie.name, trimmed.contains("=") else {
                    kept.append(trimmed)
                    continue
                }
                var serverValue = trimmed.dropFirst(name.count).drop { $0 == " " || $0 == "\t" }.dropFirst()
                serverValue = serverValue.drop { $0 == " " || $0 == "\t" }
                let id = String(serverValue.prefix { $0 != "|" }).trimmingTrailingBlanks
                var found: Int?
                var down = false
                if !id.isEmpty && override != .ignore {
                    for (i, server) in servers.enumerated() where server.cookie == id {
                        if server.usable || override == .force {
                            found = i
                            // Forced to a server that is down: it takes the request, and the log says `D`.
                            down = !server.usable
                            break
                        }
                        down = true
                    }
                }
                if let found {
                    result.status = down ? .down : .valid
                    result.server = found
                } else {
                    result.status = override == .ignore ? .unused : down ? .down : .invalid
                }
                if strip {
                    changed = true
                } else {
                    kept.append(trimmed)
                }
            }
            rewritten.append(kept.isEmpty ? nil : kept.joined(separator: "; "))
        }
        if changed { result.headers = rewritten }
        return result
    }

    struct Response: Equatable {
        var status: ServerStatus
        /// Whether the server's `Set-Cookie` fields for the cookie are taken out.
        var removesServerCookie: Bool
        /// Fields added after the server's: `set-cookie`, then `cache-control`.
        var added: [Field]

        struct Field: Equatable {
            var name: String
            var value: String
        }
    }

    /// What a server's response gets. `serverCookie`: the serving server's cookie value (nil: it has none);
    /// `direct`: the request's cookie chose that server; `setCookieNames`: the cookie names of the server's
    /// `Set-Cookie` fields; `cacheable`: see `cacheable`.
    static func response(
        _ cookie: PersistenceCookie, serverCookie: String?, direct: Bool, method: String, setCookieNames: [String],
        cacheable: Bool
    ) -> Response {
        var result = Response(status: .none, removesServerCookie: false, added: [])
        if setCookieNames.contains(cookie.name) {
            if cookie.insert || (direct && cookie.indirect) {
                result.removesServerCookie = true
                result.status = .deleted
            } else {
                result.status = .found
            }
        }
        guard cookie.insert, !direct, !cookie.postOnly || method == "POST" else { return result }
        var text: String
        if let serverCookie {
            text = "\(cookie.name)=\(serverCookie); path=/"
        } else {
            // A server without a cookie (a backup, say) tells the client to forget the one it has.
            text = "\(cookie.name)=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"
        }
        if !cookie.domains.isEmpty { text += "; domain=" + cookie.domains.joined(separator: "; domain=") }
        if cookie.httpOnly { text += "; HttpOnly" }
        if cookie.secure { text += "; Secure" }
        if !cookie.attributes.isEmpty { text += "; " + cookie.attributes.joined(separator: "; ") }
        result.added.append(.init(name: "set-cookie", value: text))
        result.status = .inserted
        if cookie.nocache && cacheable { result.added.append(.init(name: "cache-control", value: "private")) }
        return result
    }

    /// HAProxy 2.6's reading of whether a response may be cached (for `nocache`, checked against HAProxy 2.6.12): a
    /// safe method (GET, HEAD, OPTIONS, TRACE) and a status cacheable by default, unless `Pragma: no-cache` or a
    /// Cache-Control value says otherwise (`public` makes any response cacheable); and a cache would keep it only
    /// with a lifetime (`max-age`, `s-maxage`, an `Expires` header) or a validator (`ETag`, `Last-Modified`).
    static func cacheable(
        method: String, status: Int, pragma: String?, cacheControl: [String], expires: Bool, validator: Bool
    ) -> Bool {
        guard status >= 200 else { return false }
        var cacheable =
            ["GET", "HEAD", "OPTIONS", "TRACE"].contains(method)
            && [200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501].contains(status)
        if let pragma, pragma.lowercased() == "no-cache" { return false }
        var lifetime = false
        for value in cacheControl {
            let lower = value.lowercased()
            switch lower {
            case "public": cacheable = true
            case "private", "no-cache", "no-store", "max-age=0", "s-maxage=0": cacheable = false
            default: if lower.hasPrefix("max-age") || lower.hasPrefix("s-maxage") { lifetime = true }
            }
        }
        return cacheable && (lifetime || expires || validator)
    }
}

extension String {
    fileprivate var trimmingTrailingBlanks: String {
        String(reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
