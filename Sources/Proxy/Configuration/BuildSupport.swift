import LogCore

/// What this build does with each HAProxy 2.6 keyword it reads, in one place: the parser asks it about every
/// keyword it does not carry out, and `docs/not-in-this-build.md` is rendered from it.
///
/// The rule is fail-closed. A keyword HAProxy knows and this build does not carry out is an ALERT (the file is
/// refused, as HAProxy refuses a keyword it does not know), because running without it would let in whom it keeps
/// out, send other bytes to the servers or the clients, or send clear text where it asks for TLS. Only a keyword
/// whose absence changes nothing a user can observe (tuning) is a warning, and `-dW` makes those fatal too. A word
/// HAProxy does not know either is an ALERT with the nearest known word.
public enum BuildSupport {
    /// Where a keyword is read: each has its own vocabulary.
    public enum Context: String, CaseIterable, Sendable {
        case section
        case global
        case proxy
        case option
        case timeout
        case bind
        case server
        case stats
        case httpRequest = "http-request"
        case httpResponse = "http-response"
        case aclCriterion = "acl criterion"
        case aclFlag = "acl flag"

        /// How the docs and the messages name the context.
        var title: String {
            switch self {
            case .section: return "Sections"
            case .global: return "`global` keywords"
            case .proxy: return "`defaults`, `frontend`, `listen`, `backend` keywords"
            case .option: return "`option` names"
            case .timeout: return "`timeout` names"
            case .bind: return "`bind` options"
            case .server: return "`server` and `default-server` options"
            case .stats: return "`stats` keywords in proxies"
            case .httpRequest: return "`http-request` actions"
            case .httpResponse: return "`http-response` actions"
            case .aclCriterion: return "ACL criteria (sample fetches)"
            case .aclFlag: return "ACL flags"
            }
        }

        /// How a keyword of this context is named in messages (`'option htplog'`, `the bind option 'ssl'`).
        func quoted(_ keyword: String) -> String {
            switch self {
            case .option: return "'option \(keyword)'"
            case .timeout: return "'timeout \(keyword)'"
            case .stats: return "'stats \(keyword)'"
            case .httpRequest: return "'http-request \(keyword)'"
            case .httpResponse: return "'http-response \(keyword)'"
            case .section: return "the section '\(keyword)'"
            case .bind: return "the bind option '\(keyword)'"
            case .server: return "the server option '\(keyword)'"
            case .aclCriterion: return "the ACL criterion '\(keyword)'"
            case .aclFlag: return "the ACL flag '\(keyword)'"
            case .global, .proxy: return "'\(keyword)'"
            }
        }
    }

    /// Why a keyword HAProxy knows is refused: what running without it would do.
    public enum Family: String, CaseIterable, Sendable {
        case tls = "TLS"
        case authentication = "authentication"
        case accessRules = "access rules and ACLs"
        case rewriting = "header, URL and response rewriting"
        case stickTables = "stick tables, trackers and rate limits"
        case routing = "routing, persistence and balancing"
        case healthChecks = "health checks"
        case logging = "logging"
        case limits = "limits and timeouts"
        case runtimeAPI = "the runtime API and process management"
        case other = "other features"

        /// The consequence, in the user's terms.
        var consequence: String {
            switch self {
            case .tls: return "it would serve or send clear text where TLS is asked for"
            case .authentication: return "it would let in whom the configuration keeps out"
            case .accessRules: return "it would let through what the rule is meant to stop or route"
            case .rewriting: return "servers or clients would see other bytes than the configuration asks"
            case .stickTables: return "rate limits, trackers and persistence would not apply"
            case .routing: return "traffic would reach other servers than the configuration asks"
            case .healthChecks: return "servers would be judged by another test than the configuration asks"
            case .logging: return "the log lines would differ from what the configuration asks"
            case .limits: return "a limit or timeout that protects the servers or the proxy would not apply"
            case .runtimeAPI: return "an interface or process behaviour the configuration asks for would be missing"
            case .other: return "the proxy would behave otherwise than the configuration asks"
            }
        }
    }

    /// What this build does with a keyword it does not carry out.
    public enum Verdict: Equatable, Sendable {
        /// Tuning whose absence nobody can observe: a warning (fatal under `-dW`).
        case noEffect(reason: String)
        /// HAProxy's, not in this build: an alert.
        case notInThisBuild(Family)
        /// Unknown to HAProxy 2.6 too: an alert, with the nearest known word.
        case unknown(suggestion: String?)
    }

    /// The verdict on `keyword` read in `context`; `keyword` is one this build does not carry out.
    public static func verdict(_ context: Context, _ keyword: String) -> Verdict {
        if let reason = noEffect[context]?[keyword] ?? prefixed(noEffectPrefixes[context], keyword) {
            return .noEffect(reason: reason)
        }
        if isKnown(context, keyword) { return .notInThisBuild(family(context, keyword)) }
        return .unknown(suggestion: suggestion(context, keyword))
    }

    /// Whether HAProxy 2.6 knows `keyword` in `context` (implemented here or not).
    public static func isKnown(_ context: Context, _ keyword: String) -> Bool {
        HAProxyKeywords.known(context).contains(keyword) || implemented[context, default: []].contains(keyword)
            || (context == .global && keyword.hasPrefix("tune.")) || (context == .global && keyword.hasPrefix("ssl-"))
    }

    /// The message for a keyword this build does not carry out, or nil when it has no effect (see `warning`).
    static func alert(_ context: Context, _ keyword: String, in section: String) -> String? {
        switch verdict(context, keyword) {
        case .noEffect: return nil
        case .notInThisBuild(let family):
            return "\(context.quoted(keyword)) is HAProxy's, not in this build (\(family.rawValue)): refused, "
                + "because \(family.consequence). See docs/not-in-this-build.md."
        case .unknown(let suggestion):
            let base: String
            switch context {
            case .option: base = "unknown option '\(keyword)'"
            case .timeout: base = "unknown timeout '\(keyword)'"
            case .bind: base = "'bind' : unknown keyword '\(keyword)'"
            case .server: base = "unknown server option '\(keyword)'"
            case .stats: base = "'stats' : unknown stats parameter '\(keyword)'"
            case .httpRequest: base = "'http-request' : unknown action '\(keyword)'"
            case .httpResponse: base = "'http-response' : unknown action '\(keyword)'"
            case .aclCriterion: base = "unknown fetch method '\(keyword)' in ACL expression"
            case .aclFlag: base = "unknown ACL flag '\(keyword)'"
            case .section, .global, .proxy: base = "unknown keyword '\(keyword)' in '\(section)' section"
            }
            // HAProxy ends the keyword messages without a period when it has nothing to suggest.
            let end = context == .global || context == .proxy || context == .section ? "" : "."
            return base + (suggestion.map { "; did you mean '\($0)' maybe ?" } ?? end)
        }
    }

    /// The warning for a keyword with no effect here, or nil when it is refused.
    static func warning(_ context: Context, _ keyword: String) -> String? {
        guard case .noEffect(let reason) = verdict(context, keyword) else { return nil }
        return "\(context.quoted(keyword)) has no effect in this build (\(reason)); it is ignored."
    }

    private static func prefixed(_ table: [String: String]?, _ keyword: String) -> String? {
        table?.first { keyword.hasPrefix($0.key) }?.value
    }

    private static func family(_ context: Context, _ keyword: String) -> Family {
        if let f = families[context]?[keyword] { return f }
        if let f = familyPrefixes[context]?.first(where: { keyword.hasPrefix($0.key) })?.value { return f }
        return defaultFamily[context] ?? .other
    }

    /// The known word nearest to `keyword`, when one is near.
    static func suggestion(_ context: Context, _ keyword: String) -> String? {
        EditDistance.nearest(keyword, in: HAProxyKeywords.known(context).union(implemented[context, default: []]))
    }
}

// MARK: The tables

extension BuildSupport {
    /// What the parser carries out, by context (a test holds the parser to it: each of these loads without an
    /// alert or a not-in-this-build warning).
    public static let implemented: [Context: Set<String>] = [
        .section: ["global", "defaults", "frontend", "backend", "listen", "userlist", "peers", "resolvers", "http-errors"],
        .global: [
            "log", "log-send-hostname", "log-tag", "maxconn", "daemon", "pidfile", "chroot", "user", "uid", "group",
            "gid", "nbthread", "node", "localpeer", "description", "zero-warning", "crt-base", "ca-base", "ssl-default-bind-options",
            "ssl-default-bind-ciphersuites", "ssl-default-bind-curves",
            "ssl-default-bind-ciphers", "stats", "server-state-base", "server-state-file", "master-worker",
            "ssl-server-verify", "ssl-default-server-options", "ssl-default-server-ciphers",
            "ssl-default-server-ciphersuites", "unix-bind", "tune.comp.maxlevel", "set-var", "set-var-fmt",
            "external-check", "insecure-fork-wanted", "setenv", "presetenv", "unsetenv", "resetenv",
        ],
        .proxy: [
            "mode", "log", "option", "no", "retries", "maxconn", "timeout", "balance", "http-check", "bind",
            "server", "default-server", "default_backend", "use_backend", "stats", "description", "acl",
            "http-request", "http-response", "capture", "errorfile", "errorloc", "errorloc302", "errorloc303", "redirect", "monitor-uri", "monitor",
            "load-server-state-from-file", "server-state-file-name", "tcp-check", "tcp-request", "cookie",
            "stick-table", "stick", "rate-limit", "log-format", "fullconn",
            "unique-id-format", "unique-id-header", "hash-type", "compression", "http-reuse", "ignore-persist", "retry-on",
            "external-check",
            "force-persist", "server-template", "errorfiles", "http-after-response",
        ],
        .option: [
            "tcplog", "httplog", "tcpka", "clitcpka", "srvtcpka", "dontlognull", "dontlog-normal",
            "log-separate-errors", "redispatch", "httpchk", "allbackups", "forwardfor", "http-server-close",
            "httpclose", "http-keep-alive", "http-pretend-keepalive", "abortonclose", "tcp-check", "mysql-check", "redis-check", "log-health-checks", "pgsql-check",
            "ssl-hello-chk", "prefer-last-server", "http-buffer-request", "external-check", "originalto",
        ],
        .timeout: [
            "connect", "client", "server", "queue", "check", "tunnel", "http-request", "http-keep-alive", "client-fin",
            "server-fin", "tarpit",
        ],
        .bind: [
            "ssl", "crt", "crt-list", "alpn", "strict-sni", "ciphers", "ciphersuites", "curves", "ecdhe", "prefer-client-ciphers",
            "verify", "ca-file", "ca-verify-file",
            "crl-file", "name", "ssl-min-ver", "accept-proxy", "v6only", "v4v6",
            "ssl-max-ver", "no-sslv3",
            "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13", "force-tlsv12", "force-tlsv13", "no-tls-tickets",
            "interface", "transparent", "backlog", "mode", "uid", "gid", "user", "group",
        ],
        .server: [
            "check", "no-check", "port", "addr", "inter", "fastinter", "downinter", "rise", "fall", "weight",
            "maxconn", "backup", "disabled", "enabled", "send-proxy", "send-proxy-v2", "no-send-proxy", "on-marked-down",
            "slowstart", "maxqueue", "cookie", "minconn",
            "no-send-proxy-v2", "ssl", "no-ssl", "check-ssl", "no-check-ssl", "verify", "ca-file", "crt", "sni",
            "check-sni", "verifyhost", "alpn", "ciphers", "ciphersuites", "no-tls-tickets",
            "tls-tickets", "ssl-reuse", "no-ssl-reuse", "ssl-min-ver", "ssl-max-ver", "no-sslv3", "no-tlsv10",
            "no-tlsv11", "no-tlsv12", "no-tlsv13", "force-tlsv12", "force-tlsv13", "init-addr",
            "resolvers", "resolve-prefer", "resolve-net", "resolve-opts",
        ],
        .stats: ["enable", "uri", "auth", "realm", "refresh", "hide-version", "admin", "http-request", "scope"],
        .httpRequest: [
            "set-header", "add-header", "del-header", "deny", "redirect", "set-src", "auth", "return", "track-sc0",
            "track-sc1", "track-sc2", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "silent-drop", "tarpit", "allow",
            "set-path", "set-query", "set-uri", "replace-path", "replace-uri", "replace-header", "replace-value",
            "use-service", "set-var", "set-var-fmt", "unset-var", "capture", "set-log-level",
        ],
        .httpResponse: [
            "set-header", "add-header", "del-header", "replace-header", "replace-value", "set-var", "set-var-fmt",
            "unset-var", "deny", "return", "set-log-level", "set-status",
        ],
        .aclCriterion: Set<String>([
            "path", "path_beg", "path_end", "path_sub", "path_dir", "path_dom", "path_reg", "method", "hdr", "hdr_beg",
            "hdr_end", "hdr_sub", "hdr_dir", "hdr_dom", "hdr_reg", "hdr_val", "src", "ssl_fc", "nbsrv", "req.ssl_sni", "req_ssl_sni",
            "req.ssl_hello_type", "req_ssl_hello_type", "ssl_fc_sni", "ssl_fc_sni_end", "ssl_fc_sni_reg", "ssl_c_used",
            "ssl_fc_has_crt", "ssl_c_verify", "http_auth", "http_auth_group", "req.hdr", "dst_port", "var",
            "always_true", "always_false", "status", "res.hdr", "shdr", "urlp", "url_param", "urlp_beg", "urlp_end",
            "urlp_sub", "urlp_dir", "urlp_dom", "urlp_reg", "urlp_val",
        ]).union(HAProxyKeywords.fetches.filter { StickCounterFetch.parse($0) != nil }),
        .aclFlag: ["-i", "--", "-m", "-f"],
    ]

    /// Keywords whose absence nobody can observe, with why.
    static let noEffect: [Context: [String: String]] = [
        .section: [
            "cache": "read, and not used: the actions that use a cache are refused",
            "ring": "read, and not used: log targets that name a ring are refused",
            "mailers": "read, and not used: email alerts are refused",
        ],
        .global: [
            "nbproc": "removed in HAProxy 2.5; this proxy uses threads (nbthread)",
            "tune.ssl.default-dh-param": "key exchange is elliptic-curve here; there are no DH parameters",
            "ulimit-n": "the proxy raises its own descriptor limit",
            "maxcompcpuusage": "compression tuning; compression is refused",
            "maxcomprate": "compression tuning; compression is refused",
            "maxzlibmem": "compression tuning; compression is refused",
            "maxpipes": "splice tuning",
            "spread-checks": "health-check timing jitter",
            "max-spread-checks": "health-check timing jitter",
            "quiet": "start-up messages",
            "hard-stop-after": "how long an old process may linger after a reload",
            "cpu-map": "CPU pinning",
            "noepoll": "event-loop tuning",
            "nopoll": "event-loop tuning",
            "nosplice": "splice tuning",
            "noreuseport": "socket tuning",
            "nogetaddrinfo": "resolver tuning",
            "busy-polling": "event-loop tuning",
            "insecure-setuid-wanted": "only matters to external checks and Lua, which are refused",
            "numa-cpu-mapping": "CPU pinning",
            "thread-groups": "thread tuning",
            "strict-limits": "start-up limit checks",
            "expose-experimental-directives": "enables nothing this build has",
            "pp2-never-send-local": "only matters to send-proxy, which is refused",
            "profiling.tasks": "profiling",
            "profiling.memory": "profiling",
            "grace": "soft-stop tuning",
        ],
        .proxy: [
            "backlog": "listen queue tuning",
            "id": "a number for the runtime API, which is refused",
            "max-keep-alive-queue": "server connection reuse tuning",
            "bind-process": "removed with nbproc",
        ],
        .option: [
            "contstats": "statistics timing",
            "splice-auto": "splice tuning",
            "splice-request": "splice tuning",
            "splice-response": "splice tuning",
            "tcp-smart-accept": "socket tuning",
            "tcp-smart-connect": "socket tuning",
            "socket-stats": "statistics detail",
            "http-no-delay": "socket tuning",
            "nolinger": "socket tuning",
            "http-use-htx": "HTX is the only engine since HAProxy 2.1",
        ],
        .bind: [
            "id": "a number for the runtime API, which is refused",
            "nice": "scheduling tuning",
            "process": "removed with nbproc",
            "thread": "thread tuning",
            "tfo": "TCP fast open tuning",
            "defer-accept": "socket tuning",
            "mss": "socket tuning",
            "tcp-ut": "socket tuning",
        ],
        .server: [
            "id": "a number for the runtime API, which is refused",
            "tfo": "TCP fast open tuning",
            "no-tfo": "TCP fast open tuning",
            "pool-max-conn": "server connection reuse tuning",
            "pool-low-conn": "server connection reuse tuning",
            "pool-purge-delay": "server connection reuse tuning",
            "pool-conn-name": "server connection reuse tuning",
        ],
        .stats: [
            "show-node": "what the stats page shows",
            "show-desc": "what the stats page shows",
            "show-legends": "what the stats page shows",
        ],
    ]

    static let noEffectPrefixes: [Context: [String: String]] = [
        .global: ["tune.": "tuning"]
    ]

    /// The family of the keywords that are not the context's default.
    static let families: [Context: [String: Family]] = [
        .section: ["program": .runtimeAPI, "log-forward": .logging],
        .global: [
            "stats": .runtimeAPI, "master-worker": .runtimeAPI, "lua-load": .other, "lua-prepend-path": .other,
            "ca-base": .tls, "crt-base": .tls, "issuers-chain-path": .tls,
            "maxconnrate": .limits, "maxsessrate": .limits,
            "maxsslrate": .limits, "maxsslconn": .limits, "log-send-hostname": .logging,
            "h1-case-adjust": .rewriting, "h1-case-adjust-file": .rewriting,
            "server-state-base": .routing, "server-state-file": .routing, "default-path": .other,
        ],
        .proxy: [
            "tcp-request": .accessRules,
            "tcp-response": .accessRules,
            "stick store-response": .stickTables, "log-format": .logging,
            "log-format-sd": .logging, "error-log-format": .logging, "log-tag": .logging, "unique-id-format": .logging,
            "unique-id-header": .logging,
            "monitor-net": .other, "tcp-check": .healthChecks,
            "email-alert": .healthChecks, "use-server": .routing,
            "persist": .routing, "dynamic-cookie-key": .routing,
            "source": .routing,
            "http-error": .rewriting, "filter": .other,
            "declare": .logging, "load-server-state-from-file": .routing, "server-state-file-name": .routing,
            "hash-balance-factor": .routing, "http-send-name-header": .rewriting, "disabled": .other,
            "enabled": .other, "guid": .other, "clitcpka-cnt": .limits, "srvtcpka-cnt": .limits,
        ],
        .option: [
            "log-health-checks": .logging, "http-ignore-probes": .logging,
            "dontlog-normal": .logging,
            "mysql-check": .healthChecks, "pgsql-check": .healthChecks, "redis-check": .healthChecks,
            "ldap-check": .healthChecks, "smtpchk": .healthChecks, "spop-check": .healthChecks,
            "persist": .routing,
            "accept-invalid-http-request": .accessRules, "accept-invalid-http-response": .accessRules,
            "http-pretend-keepalive": .rewriting, "http-restrict-req-hdr-names": .accessRules,
            "transparent": .routing, "abortonclose": .limits, "independent-streams": .limits,
            "checkcache": .rewriting, "disable-h2-upgrade": .rewriting,
        ],
        .timeout: [:],
        .bind: [
            "ssl": .tls, "crt": .tls, "ca-file": .tls, "verify": .tls, "alpn": .tls, "npn": .tls,
            "accept-proxy": .accessRules, "maxconn": .limits,
            "v4v6": .routing, "v6only": .routing, "namespace": .routing, "level": .runtimeAPI,
            "expose-fd": .runtimeAPI, "accept-netscaler-cip": .accessRules, "proto": .tls,
        ],
        .server: [
            "send-proxy": .rewriting, "send-proxy-v2": .rewriting, "send-proxy-v2-ssl": .rewriting,
            "send-proxy-v2-ssl-cn": .rewriting, "proxy-v2-options": .rewriting,
            "slowstart": .routing, "observe": .healthChecks, "on-error": .healthChecks, "on-marked-down": .healthChecks,
            "on-marked-up": .healthChecks, "agent-check": .healthChecks, "agent-port": .healthChecks,
            "agent-inter": .healthChecks, "agent-addr": .healthChecks, "agent-send": .healthChecks,
            "track": .healthChecks, "check-send-proxy": .healthChecks, "error-limit": .healthChecks,
            "maxqueue": .limits, "minconn": .limits,
            "redir": .routing,
            "source": .routing, "usesrc": .routing, "namespace": .routing, "proto": .other, "max-reuse": .limits,
            "ws": .other, "shard": .stickTables, "non-stick": .stickTables, "stick": .stickTables,
        ],
        .stats: ["socket": .runtimeAPI],
        .httpRequest: [
            "auth": .authentication, "reject": .accessRules, "return": .rewriting,
            "sc-inc-gpc": .stickTables, "sc-set-gpt": .stickTables, "cache-use": .rewriting,
            "set-dst": .routing, "set-dst-port": .routing, "set-src-port": .accessRules,
            "do-resolve": .routing, "lua": .other, "wait-for-body": .accessRules, "wait-for-handshake": .tls,
            "normalize-uri": .rewriting, "early-hint": .rewriting, "send-spoe-group": .other,
            "set-bandwidth-limit": .limits, "set-timeout": .limits, "strict-mode": .rewriting,
        ],
        .httpResponse: [
            "allow": .accessRules, "silent-drop": .accessRules, "wait-for-body": .accessRules,
            "capture": .logging, "send-spoe-group": .other, "lua": .other,
            "set-timeout": .limits, "set-bandwidth-limit": .limits,
        ],
        // `src_*` are stick-table fetches, but for these two (the client's port, whether it is local).
        .aclCriterion: ["src_port": .accessRules, "src_is_local": .accessRules],
    ]

    static let familyPrefixes: [Context: [String: Family]] = [
        .global: ["ssl-": .tls, "lua-": .other, "stats": .runtimeAPI, "log": .logging, "tune.ssl": .tls],
        .proxy: ["stick": .stickTables, "http-check": .healthChecks],
        .option: ["http": .rewriting],
        .bind: ["ssl": .tls, "ca-": .tls, "crt": .tls, "ciphers": .tls, "ciphersuites": .tls, "curves": .tls,
            "ecdhe": .tls, "no-": .tls, "force-": .tls, "prefer-client-ciphers": .tls, "strict-sni": .tls,
            "sigalgs": .tls, "client-sigalgs": .tls, "tls-ticket-keys": .tls, "allow-0rtt": .tls,
            "generate-certificates": .tls, "quic": .tls, "crl-file": .tls],
        .server: ["ssl": .tls, "ca-": .tls, "crt": .tls, "ciphers": .tls, "ciphersuites": .tls, "verify": .tls,
            "sni": .tls, "check-ssl": .tls, "check-sni": .tls, "check-alpn": .tls, "alpn": .tls, "npn": .tls,
            "no-": .tls, "force-": .tls, "allow-0rtt": .tls, "crl-file": .tls, "curves": .tls, "sigalgs": .tls,
            "client-sigalgs": .tls, "check-proto": .healthChecks, "check-via-socks4": .healthChecks,
            "socks4": .routing],
        .httpRequest: ["set-": .rewriting, "add-": .rewriting, "del-": .rewriting, "replace-": .rewriting,
            "sc-": .stickTables, "track-": .stickTables],
        .httpResponse: ["sc-": .stickTables, "track-": .stickTables],
        .aclCriterion: ["ssl_": .tls, "sc_": .stickTables, "sc0_": .stickTables, "sc1_": .stickTables,
            "sc2_": .stickTables, "src_": .stickTables, "table_": .stickTables, "http_auth": .authentication],
    ]

    /// The family of a refused keyword of each context, unless `families` says otherwise.
    static let defaultFamily: [Context: Family] = [
        .section: .other, .global: .other, .proxy: .other, .option: .other, .timeout: .limits, .bind: .accessRules,
        .server: .routing, .stats: .runtimeAPI, .httpRequest: .accessRules, .httpResponse: .rewriting,
        .aclCriterion: .accessRules, .aclFlag: .accessRules,
    ]
}

// MARK: The page for users

extension BuildSupport {
    /// `docs/not-in-this-build.md`'s proxy part: what `proxy -c` refuses and what it only warns about, by context
    /// and family (a test keeps the checked-in page equal to this).
    public static func markdown() -> String {
        var out = """
            ## The proxy: HAProxy 2.6 keywords not in this build

            `proxy -c` refuses a configuration that uses any keyword below marked **refused**, naming the file, the
            line and the keyword, and the proxy does not start with it: running without it would let in whom the
            configuration keeps out, send other bytes to the servers or the clients, or send clear text where TLS is
            asked for. The keywords marked *no effect* are accepted with a warning (tuning whose absence nobody can
            observe); `proxy -c -dW` (or `zero-warning` in `global`) makes those fatal too. A word HAProxy 2.6 does
            not know either is refused with the nearest known word.


            """
        for context in Context.allCases {
            let known = HAProxyKeywords.known(context).union(implemented[context, default: []])
            let done = implemented[context, default: []]
            var refused: [Family: [String]] = [:]
            var quiet: [(String, String)] = []
            for keyword in known.sorted() where !done.contains(keyword) {
                switch verdict(context, keyword) {
                case .noEffect(let reason): quiet.append((keyword, reason))
                case .notInThisBuild(let family): refused[family, default: []].append(keyword)
                case .unknown: break
                }
            }
            out += "### \(context.title)\n\n"
            out += "Carried out: " + (done.isEmpty ? "none yet." : done.sorted().map { "`\($0)`" }.joined(separator: ", ") + ".") + "\n\n"
            for family in Family.allCases {
                guard let words = refused[family] else { continue }
                out += "- **refused** (\(family.rawValue): \(family.consequence)): "
                out += words.map { "`\($0)`" }.joined(separator: ", ") + "\n"
            }
            for (keyword, reason) in quiet { out += "- *no effect*: `\(keyword)` (\(reason))\n" }
            out += "\n"
        }
        return out
    }
}
