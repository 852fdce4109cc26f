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
    /// What carries out the admin form's actions (`stats admin`): the runtime API's commands, logged and audited
    /// as an operator's; set once the runtime is built.
    private let api = Mutex<RuntimeAPI?>(nil)

    func attach(_ api: RuntimeAPI) { self.api.withLock { $0 = api } }
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
        /// The admin form's POST: the answer comes once its body is read (see `adminPost`).
        var awaitsForm = false
        /// The log's `%B` when HAProxy counts other than the bytes sent (a reply it builds: its stored blocks).
        var logged: Int64?
    }

    /// The answer to a request for the page; `admin`: a `stats admin` rule holds for it (the page then offers its
    /// form). A POST is the form's: without admin it is answered `st=DENY`; with it, see `adminPost`.
    func answer(_ head: HTTPRequestHead, client: String, admin: Bool = false) -> Answer {
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
        if head.method == .POST && head.uri != StatsPage.metricsPath {
            return admin ? Answer(status: 303, bytes: [], awaitsForm: true) : redirect("DENY", head)
        }
        if head.method != .GET && head.method != .HEAD && head.uri != StatsPage.metricsPath {
            return redirect("IVAL", head)
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
        // `stats scope`: the listed proxies only (`.` is the one serving the page), as HAProxy's page and CSV.
        let scoped =
            settings.scopes.isEmpty
            ? proxies
            : proxies.filter { settings.scopes.contains($0.name) || ($0.name == proxyName && settings.scopes.contains(".")) }
        let shown = upOnly ? scoped.map(StatsPage.upOnly) : scoped
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
                description: description, refresh: refresh, upOnly: upOnly, uptime: Int(time(nil) - started),
                admin: admin,
                notice: options.first { $0.hasPrefix("st=") }.flatMap { StatsAdminForm.message(String($0.dropFirst(3))) }))
        var extra: [(String, String)] = []
        if let refresh { extra.append(("refresh", "\(refresh)")) }
        return Answer(
            status: 200,
            bytes: response(200, "OK", contentType: "text/html", body: Array(html.utf8), headers: extra))
    }

    /// The admin form's POST (`body` read in full), carried out as HAProxy does (see `StatsAdminForm`) by the
    /// runtime API's commands, on behalf of `peer` (`client=… user=…`, for the audit trail).
    func adminPost(_ head: HTTPRequestHead, body: [UInt8], peer: String) -> Answer {
        guard let form = StatsAdminForm.parse(body) else { return redirect("ERRP", head) }
        // As HAProxy: an unknown backend or action is an error; without both, nothing is done.
        if let name = form.backend, state.backendsByName[name] == nil { return redirect("ERRP", head) }
        if let action = form.action, !StatsAdminForm.actions.contains(action) { return redirect("ERRP", head) }
        guard let action = form.action, let backendName = form.backend, let backend = state.backendsByName[backendName]
        else { return redirect("NONE", head) }
        guard let api = api.withLock({ $0 }) else { return redirect("ERRP", head) }
        var session = CLISession(level: .admin, timeout: .seconds(10), peer: peer, socket: "stats page \(proxyName)")
        var total = 0
        var altered = 0
        for name in form.servers {
            guard let i = backend.servers.firstIndex(where: { $0.name == name }) else {
                total += 1
                continue
            }
            let target = "\(backendName)/\(name)"
            let admin = backend.shared.withLock { $0.balancer.servers[i].admin }
            let command: [String]?
            switch action {
            case "ready", "drain", "maint": command = ["set", "server", target, "state", action]
            case "disable": command = admin.maintenance ? nil : ["set", "server", target, "state", "maint"]
            case "enable": command = admin.maintenance ? ["set", "server", target, "state", "ready"] : nil
            case "stop": command = admin.drain ? nil : ["set", "server", target, "state", "drain"]
            case "start": command = admin.drain ? ["set", "server", target, "state", "ready"] : nil
            case "dhlth", "ehlth":
                command = backend.servers[i].check ? [action == "dhlth" ? "disable" : "enable", "health", target] : nil
            case "shutdown": command = ["shutdown", "sessions", "server", target]
            case "hrunn", "hnolb", "hdown":
                // Forcing a health state is not carried out here: counted, not done (the page says so).
                total += 1
                command = nil
            default:
                // The agent's actions: no server has an agent (agent-check is refused), so none counts.
                command = nil
            }
            guard let command else { continue }
            total += 1
            if api.execute(command, &session).text.isEmpty { altered += 1 }
        }
        return redirect(StatsAdminForm.outcome(total: total, altered: altered), head)
    }

    /// A form whose body does not fit a buffer: HAProxy's `EXCD`.
    func formTooLarge(_ head: HTTPRequestHead) -> Answer { redirect("EXCD", head) }

    /// HAProxy's answer to the form: `303 See Other` to the page with the outcome (`;st=CODE`), and the page's own
    /// `;up` / `;norefresh` kept.
    private func redirect(_ code: String, _ head: HTTPRequestHead) -> Answer {
        let options = head.uri.dropFirst(settings.uri.count).split(separator: ";").map(String.init)
        let location =
            settings.uri + ";st=\(code)" + (options.contains("up") ? ";up" : "")
            + (options.contains("norefresh") ? ";norefresh" : "")
        let text =
            "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n"
            + "location: \(location)\r\n\r\n"
        // As HAProxy counts it: 20 and the status line's parts, each field's name and value, the head's end.
        let logged = 20 + 8 + 3 + 9 + (13 + 8) + (12 + 10) + (14 + 1) + (8 + location.utf8.count) + 1
        return Answer(status: 303, bytes: Array(text.utf8), logged: Int64(logged))
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
