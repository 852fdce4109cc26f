import NIOConcurrencyHelpers
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The stats page of a frontend with `stats enable`/`stats uri`: HTTP basic authentication against its
/// `stats auth` accounts (compared in constant time), the HTML report, the `;csv` export with HAProxy 2.6's
/// columns, `;up` and `;norefresh`, and `/metrics` (Prometheus' text format, the same accounts).
///
/// Logins are part of the audit trail: a refused login (wrong credentials) each time, a granted one when a user
/// first comes from an address or returns after `loginQuiet` (a browser sends its credentials with every
/// refresh: each of those is not a login).
final class StatsPage: Sendable {
    let settings: StatsSettings
    let proxyName: String
    /// The live figures (read at each request) and the audit trail.
    private let state: ProxyState
    private let version: String
    private let node: String?
    private let description: String?
    /// The last granted login of each `user client` pair (seconds since the epoch).
    private let logins = Mutex<[String: Int]>([:])
    static let loginQuiet = 600
    private let started = time(nil)

    init(
        proxy: String, settings: StatsSettings, global: GlobalSettings, version: String, state: ProxyState
    ) {
        self.settings = settings
        proxyName = proxy
        self.state = state
        self.version = version
        node = global.node
        description = global.description
    }

    /// Whether a request is for the page (any URI starting with `stats uri`) or for `/metrics`.
    func matches(_ uri: String) -> Bool { uri.hasPrefix(settings.uri) || uri == StatsPage.metricsPath }

    static let metricsPath = "/metrics"

    struct Answer {
        var status: Int
        var bytes: [UInt8]
    }

    func answer(_ head: HTTPRequestHead, client: String) -> Answer {
        if !settings.credentials.isEmpty {
            switch authenticate(head.headers["authorization"].first) {
            case .missing:
                return challenge()
            case .refused(let user):
                state.audit.record("stats login refused user=\(AuditText.quoted(user)) client=\(client) proxy=\(proxyName)")
                return challenge()
            case .granted(let user):
                noteLogin(user: user, client: client)
            }
        }
        let proxies = state.statsSnapshot()
        if head.uri == StatsPage.metricsPath {
            return Answer(
                status: 200,
                bytes: response(
                    200, "OK", contentType: "text/plain; version=0.0.4", body: StatsMetrics.render(proxies)))
        }
        let options = head.uri.dropFirst(settings.uri.count).split(separator: ";").map(String.init)
        let upOnly = options.contains("up")
        let shown = upOnly ? proxies.map(StatsPage.upOnly) : proxies
        if options.contains("csv") {
            return Answer(
                status: 200,
                bytes: response(200, "OK", contentType: "text/plain", body: Array(StatsCSV.render(shown).utf8)))
        }
        let refresh = options.contains("norefresh") ? nil : settings.refresh.map { Int($0.microseconds / 1_000_000) }
        let html = StatsHTML.render(
            shown,
            context: .init(
                uri: settings.uri, version: settings.hideVersion ? nil : version, node: node,
                description: description, refresh: refresh, upOnly: upOnly, uptime: Int(time(nil) - started)))
        var extra: [(String, String)] = []
        if let refresh { extra.append(("refresh", "\(refresh)")) }
        return Answer(
            status: 200,
            bytes: response(200, "OK", contentType: "text/html", body: Array(html.utf8), headers: extra))
    }

    private static func upOnly(_ proxy: StatsProxy) -> StatsProxy {
        var p = proxy
        p.servers = p.servers.filter { $0.health.up && !$0.health.maintenance }
        return p
    }

    private func noteLogin(user: String, client: String) {
        let now = time(nil)
        let key = "\(user) \(client)"
        let isNew = logins.withLock { seen -> Bool in
            defer { seen[key] = now }
            if seen.count > 10_000 { seen = seen.filter { now - $0.value < StatsPage.loginQuiet } }
            return seen[key].map { now - $0 >= StatsPage.loginQuiet } ?? true
        }
        if isNew { state.audit.record("stats login granted user=\(AuditText.quoted(user)) client=\(client) proxy=\(proxyName)") }
    }

    // MARK: Authentication

    enum Authentication: Equatable {
        case missing
        case refused(user: String)
        case granted(user: String)
    }

    /// Checks an `Authorization: Basic …` value against the accounts; every account is compared in full whatever
    /// the input, so the time taken does not tell how much of it matched.
    func authenticate(_ header: String?) -> Authentication {
        guard let header else { return .missing }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let decoded = Base64.decode(parts[1]) else {
            return .refused(user: "")
        }
        let user = String(decoding: decoded.prefix { $0 != UInt8(ascii: ":") }, as: UTF8.self)
        var matched = false
        for account in settings.credentials {
            let expected = Array("\(account.user):\(account.password)".utf8)
            if StatsPage.constantTimeEqual(decoded, expected) { matched = true }
        }
        return matched ? .granted(user: user) : .refused(user: user)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    /// HAProxy's 401: `www-authenticate: Basic realm="…"` and a short page.
    private func challenge() -> Answer {
        let realm = settings.realm ?? "HAProxy Statistics"
        let body = Array(
            "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
                .utf8)
        return Answer(
            status: 401,
            bytes: response(
                401, "Unauthorized", contentType: "text/html", body: body,
                headers: [("www-authenticate", "Basic realm=\"\(String(realm.filter { $0 != "\"" }))\"")]))
    }

    private func response(
        _ status: Int, _ reason: String, contentType: String, body: [UInt8], headers: [(String, String)] = []
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\ncontent-type: \(contentType)\r\ncontent-length: \(body.count)\r\n"
        head += "cache-control: no-cache\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}

/// Values written into audit lines: a user name is quoted when it holds a space, a quote or a control byte.
enum AuditText {
    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 != 0x22 && $0 != 0x5C && $0 < 0x7F }
        guard !plain else { return text }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\x" + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// RFC 4648 base64, as HTTP basic authentication carries it.
enum Base64 {
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var out: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return padding <= 2 ? out : nil
    }
}
