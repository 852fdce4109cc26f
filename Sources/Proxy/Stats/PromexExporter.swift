#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `http-request use-service prometheus-exporter`: the stats in the text format of HAProxy 2.6's built-in exporter
/// (its metric names, types, `proxy`/`server`/`state`/`code` labels, its order: each metric for every object
/// before the next metric; its rules: HTTP-only metrics left out for TCP proxies, `NaN` for a field without a
/// value, times in seconds), so the dashboards and alerts written for it work unchanged. The values are the
/// ones `show stat` gives (`StatsCSV`); the help texts are this build's own words. `scope=` (global, frontend,
/// backend, server) and `no-maint` as HAProxy reads them.
enum PromexExporter {
    enum Object { case frontend, backend, server }

    /// One exported field: its name after `haproxy_<object>_`, the `show stat` column it comes from, its type, the
    /// objects it is exported for, and whether it is an HTTP proxy's only.
    struct Metric {
        let name: String
        let column: String
        let counter: Bool
        let objects: Set<Object>
        let httpOnly: Set<Object>
        let help: String
        /// A time `show stat` gives in milliseconds, exported in seconds.
        var milliseconds = false
    }

    private static let all: Set<Object> = [.frontend, .backend, .server]
    private static let beSrv: Set<Object> = [.backend, .server]

    /// HAProxy 2.6's list, in its order.
    static let metrics: [Metric] = [
        Metric(name: "current_queue", column: "qcur", counter: false, objects: beSrv, httpOnly: [], help: "Requests waiting in the queue now."),
        Metric(name: "max_queue", column: "qmax", counter: false, objects: beSrv, httpOnly: [], help: "Most requests seen waiting in the queue."),
        Metric(name: "current_sessions", column: "scur", counter: false, objects: all, httpOnly: [], help: "Sessions open now."),
        Metric(name: "max_sessions", column: "smax", counter: false, objects: all, httpOnly: [], help: "Most sessions seen open at once."),
        Metric(name: "limit_sessions", column: "slim", counter: false, objects: all, httpOnly: [], help: "The configured session limit."),
        Metric(name: "sessions_total", column: "stot", counter: true, objects: all, httpOnly: [], help: "Sessions since start."),
        Metric(name: "bytes_in_total", column: "bin", counter: true, objects: all, httpOnly: [], help: "Bytes received from clients."),
        Metric(name: "bytes_out_total", column: "bout", counter: true, objects: all, httpOnly: [], help: "Bytes sent to clients."),
        Metric(name: "requests_denied_total", column: "dreq", counter: true, objects: [.frontend, .backend], httpOnly: [], help: "Requests denied by rules."),
        Metric(name: "responses_denied_total", column: "dresp", counter: true, objects: all, httpOnly: [], help: "Responses denied by rules."),
        Metric(name: "request_errors_total", column: "ereq", counter: true, objects: [.frontend], httpOnly: [], help: "Requests that could not be read or were refused."),
        Metric(name: "connection_errors_total", column: "econ", counter: true, objects: beSrv, httpOnly: [], help: "Failed connections to servers."),
        Metric(name: "response_errors_total", column: "eresp", counter: true, objects: beSrv, httpOnly: [], help: "Invalid or aborted server responses."),
        Metric(name: "retry_warnings_total", column: "wretr", counter: true, objects: beSrv, httpOnly: [], help: "Connection retries."),
        Metric(name: "redispatch_warnings_total", column: "wredis", counter: true, objects: beSrv, httpOnly: [], help: "Sessions sent to another server after a failure."),
        Metric(name: "status", column: "status", counter: false, objects: all, httpOnly: [], help: "The object's state, one gauge per state label."),
        Metric(name: "weight", column: "weight", counter: false, objects: beSrv, httpOnly: [], help: "The weight in use (a backend's: its active servers' sum)."),
        Metric(name: "active_servers", column: "act", counter: false, objects: [.backend], httpOnly: [], help: "Active servers taking traffic."),
        Metric(name: "backup_servers", column: "bck", counter: false, objects: [.backend], httpOnly: [], help: "Backup servers taking traffic."),
        Metric(name: "check_failures_total", column: "chkfail", counter: true, objects: [.server], httpOnly: [], help: "Failed health checks."),
        Metric(name: "check_up_down_total", column: "chkdown", counter: true, objects: beSrv, httpOnly: [], help: "Changes from UP to DOWN."),
        Metric(name: "check_last_change_seconds", column: "lastchg", counter: false, objects: beSrv, httpOnly: [], help: "Seconds since the last change of state."),
        Metric(name: "downtime_seconds_total", column: "downtime", counter: true, objects: beSrv, httpOnly: [], help: "Seconds spent DOWN."),
        Metric(name: "queue_limit", column: "qlimit", counter: false, objects: [.server], httpOnly: [], help: "The configured queue limit (maxqueue)."),
        Metric(name: "current_throttle", column: "throttle", counter: false, objects: [.server], httpOnly: [], help: "The slowstart share in use, in percent."),
        Metric(name: "loadbalanced_total", column: "lbtot", counter: true, objects: beSrv, httpOnly: [], help: "Times a server was chosen."),
        Metric(name: "limit_session_rate", column: "rate_lim", counter: false, objects: [.frontend], httpOnly: [], help: "The configured sessions-per-second limit."),
        Metric(name: "max_session_rate", column: "rate_max", counter: false, objects: all, httpOnly: [], help: "Most sessions seen in one second."),
        Metric(name: "check_status", column: "check_status", counter: false, objects: [.server], httpOnly: [], help: "The last health check's result, one gauge per state label."),
        Metric(name: "check_code", column: "check_code", counter: false, objects: [.server], httpOnly: [], help: "The last health check's layer 5-7 code, when it has one."),
        Metric(name: "check_duration_seconds", column: "check_duration", counter: false, objects: [.server], httpOnly: [], help: "The last health check's duration.", milliseconds: true),
        Metric(name: "http_responses_total", column: "hrsp_1xx", counter: true, objects: all, httpOnly: all, help: "HTTP responses, by class of status."),
        Metric(name: "http_responses_total", column: "hrsp_2xx", counter: true, objects: all, httpOnly: all, help: "HTTP responses, by class of status."),
        Metric(name: "http_responses_total", column: "hrsp_3xx", counter: true, objects: all, httpOnly: all, help: "HTTP responses, by class of status."),
        Metric(name: "http_responses_total", column: "hrsp_4xx", counter: true, objects: all, httpOnly: all, help: "HTTP responses, by class of status."),
        Metric(name: "http_responses_total", column: "hrsp_5xx", counter: true, objects: all, httpOnly: all, help: "HTTP responses, by class of status."),
        Metric(name: "http_responses_total", column: "hrsp_other", counter: true, objects: all, httpOnly: all, help: "HTTP responses, by class of status."),
        Metric(name: "http_requests_rate_max", column: "req_rate_max", counter: false, objects: [.frontend], httpOnly: [.frontend], help: "Most HTTP requests seen in one second."),
        Metric(name: "http_requests_total", column: "req_tot", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "HTTP requests since start."),
        Metric(name: "client_aborts_total", column: "cli_abrt", counter: true, objects: beSrv, httpOnly: [], help: "Transfers aborted by the client."),
        Metric(name: "server_aborts_total", column: "srv_abrt", counter: true, objects: beSrv, httpOnly: [], help: "Transfers aborted by the server."),
        Metric(name: "http_comp_bytes_in_total", column: "comp_in", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "Bytes fed to the compressor."),
        Metric(name: "http_comp_bytes_out_total", column: "comp_out", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "Bytes the compressor produced."),
        Metric(name: "http_comp_bytes_bypassed_total", column: "comp_byp", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "Bytes that bypassed the compressor."),
        Metric(name: "http_comp_responses_total", column: "comp_rsp", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "HTTP responses compressed."),
        Metric(name: "last_session_seconds", column: "lastsess", counter: false, objects: beSrv, httpOnly: [], help: "Seconds since the last session was assigned."),
        Metric(name: "queue_time_average_seconds", column: "qtime", counter: false, objects: beSrv, httpOnly: [], help: "Average queue time of recent sessions.", milliseconds: true),
        Metric(name: "connect_time_average_seconds", column: "ctime", counter: false, objects: beSrv, httpOnly: [], help: "Average connect time of recent sessions.", milliseconds: true),
        Metric(name: "response_time_average_seconds", column: "rtime", counter: false, objects: beSrv, httpOnly: [], help: "Average response time of recent sessions.", milliseconds: true),
        Metric(name: "total_time_average_seconds", column: "ttime", counter: false, objects: beSrv, httpOnly: [], help: "Average total time of recent sessions.", milliseconds: true),
        Metric(name: "connections_rate_max", column: "conn_rate_max", counter: false, objects: [.frontend], httpOnly: [], help: "Most connections seen in one second."),
        Metric(name: "connections_total", column: "conn_tot", counter: true, objects: [.frontend], httpOnly: [], help: "Connections since start."),
        Metric(name: "intercepted_requests_total", column: "intercepted", counter: true, objects: [.frontend], httpOnly: [.frontend], help: "Requests answered by the proxy itself."),
        Metric(name: "denied_connections_total", column: "dcon", counter: true, objects: [.frontend], httpOnly: [], help: "Connections refused by tcp-request connection rules."),
        Metric(name: "denied_sessions_total", column: "dses", counter: true, objects: [.frontend], httpOnly: [], help: "Sessions refused by tcp-request session rules."),
        Metric(name: "failed_header_rewriting_total", column: "wrew", counter: true, objects: all, httpOnly: [], help: "Header rewrites that failed."),
        Metric(name: "connection_attempts_total", column: "connect", counter: true, objects: beSrv, httpOnly: [], help: "Connection attempts to servers."),
        Metric(name: "connection_reuses_total", column: "reuse", counter: true, objects: beSrv, httpOnly: [], help: "Server connections reused."),
        Metric(name: "http_cache_lookups_total", column: "cache_lookups", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "Cache lookups."),
        Metric(name: "http_cache_hits_total", column: "cache_hits", counter: true, objects: [.frontend, .backend], httpOnly: [.frontend, .backend], help: "Cache hits."),
        Metric(name: "idle_connections_current", column: "srv_icur", counter: false, objects: [.server], httpOnly: [], help: "Idle server connections kept now."),
        Metric(name: "idle_connections_limit", column: "src_ilim", counter: false, objects: [.server], httpOnly: [], help: "The limit of idle server connections."),
        Metric(name: "max_queue_time_seconds", column: "qtime_max", counter: false, objects: beSrv, httpOnly: [], help: "The longest queue time seen.", milliseconds: true),
        Metric(name: "max_connect_time_seconds", column: "ctime_max", counter: false, objects: beSrv, httpOnly: [], help: "The longest connect time seen.", milliseconds: true),
        Metric(name: "max_response_time_seconds", column: "rtime_max", counter: false, objects: beSrv, httpOnly: [], help: "The longest response time seen.", milliseconds: true),
        Metric(name: "max_total_time_seconds", column: "ttime_max", counter: false, objects: beSrv, httpOnly: [], help: "The longest total time seen.", milliseconds: true),
        Metric(name: "internal_errors_total", column: "eint", counter: true, objects: all, httpOnly: [], help: "Internal errors."),
        Metric(name: "unsafe_idle_connections_current", column: "idle_conn_cur", counter: false, objects: [.server], httpOnly: [], help: "Idle server connections not safe to reuse for a first request."),
        Metric(name: "safe_idle_connections_current", column: "safe_conn_cur", counter: false, objects: [.server], httpOnly: [], help: "Idle server connections safe to reuse."),
        Metric(name: "used_connections_current", column: "used_conn_cur", counter: false, objects: [.server], httpOnly: [], help: "Server connections in use."),
        Metric(name: "need_connections_current", column: "need_conn_est", counter: false, objects: [.server], httpOnly: [], help: "Server connections estimated to be needed."),
        Metric(name: "uweight", column: "uweight", counter: false, objects: beSrv, httpOnly: [], help: "The configured weight."),
        Metric(name: "agg_server_status", column: "agg_server_status", counter: false, objects: [.backend], httpOnly: [], help: "The backend's servers by state, one gauge per state label."),
        Metric(name: "agg_server_check_status", column: "agg_server_check_status", counter: false, objects: [.backend], httpOnly: [], help: "The backend's servers by state (the older name), one gauge per state label."),
        Metric(name: "agg_check_status", column: "agg_check_status", counter: false, objects: [.backend], httpOnly: [], help: "The backend's checked servers by their last check's result, one gauge per state label."),
    ]

    static let serverStates = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"]
    /// The health check results HAProxy exports (those that pass or fail a check), in its order.
    static let checkStates = [
        "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC",
        "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
    ]

    /// What `scope=` and `no-maint` in the request's query string ask for (HAProxy's defaults: every scope).
    struct Request {
        var scopes: Set<String> = ["global", "frontend", "backend", "server"]
        var noMaint = false

        init(query: Substring) {
            var chosen: Set<String>?
            for item in query.split(separator: "&") {
                if item == "no-maint" { noMaint = true }
                guard item.hasPrefix("scope=") else { continue }
                let scope = String(item.dropFirst(6))
                var set = chosen ?? []
                if scope == "*" { set.formUnion(["global", "frontend", "backend", "server"]) } else if !scope.isEmpty { set.insert(scope) }
                chosen = set
            }
            if let chosen { scopes = chosen }
        }
    }

    /// One proxy as the exporter sees it: its mode and `show stat` rows.
    struct Proxy {
        let name: String
        let http: Bool
        let frontend: StatsCSV.Record?
        let backend: StatsCSV.Record?
        let servers: [(name: String, record: StatsCSV.Record, checked: Bool)]
    }

    static func render(_ proxies: [Proxy], process: [(name: String, help: String, value: String)], _ request: Request) -> String {
        var out = ""
        if request.scopes.contains("global") {
            for metric in process {
                out += "# HELP haproxy_process_\(metric.name) \(metric.help)\n# TYPE haproxy_process_\(metric.name) gauge\n"
                out += "haproxy_process_\(metric.name) \(metric.value)\n"
            }
        }
        for (object, scope) in [(Object.frontend, "frontend"), (.backend, "backend"), (.server, "server")]
        where request.scopes.contains(scope) {
            for metric in metrics where metric.objects.contains(object) {
                var lines: [String] = []
                let prefix = "haproxy_\(scope)_\(metric.name)"
                for proxy in proxies {
                    if metric.httpOnly.contains(object) && !proxy.http { continue }
                    switch object {
                    case .frontend:
                        guard let record = proxy.frontend else { continue }
                        lines += values(metric, prefix, ["proxy": proxy.name], record, object: object)
                    case .backend:
                        guard let record = proxy.backend else { continue }
                        var labels = ["proxy": proxy.name]
                        labels["server"] = nil
                        if metric.name.hasPrefix("agg_") {
                            guard !proxy.servers.isEmpty else { continue }
                            var counts = [String: Int]()
                            let checks = metric.name == "agg_check_status"
                            for s in proxy.servers {
                                if checks {
                                    guard s.checked else { continue }
                                    counts[(s.record.fields["check_status"] ?? "").replacingOccurrences(of: "* ", with: ""), default: 0] += 1
                                } else {
                                    counts[serverState(s.record.fields["status"] ?? ""), default: 0] += 1
                                }
                            }
                            for state in checks ? checkStates : serverStates {
                                lines.append("\(prefix){proxy=\"\(escaped(proxy.name))\",state=\"\(state)\"} \(counts[state] ?? 0)")
                            }
                            continue
                        }
                        lines += values(metric, prefix, labels, record, object: object)
                    case .server:
                        for server in proxy.servers {
                            if request.noMaint && serverState(server.record.fields["status"] ?? "") == "MAINT" { continue }
                            if ["check_status", "check_code", "check_duration"].contains(metric.column) && !server.checked {
                                continue
                            }
                            if metric.column == "check_duration" && (server.record.fields["check_duration"] ?? "").isEmpty {
                                continue
                            }
                            lines += values(
                                metric, prefix, ["proxy": proxy.name, "server": server.name], server.record, object: object)
                        }
                    }
                }
                guard !lines.isEmpty else { continue }
                // The six classes of `http_responses_total` share the first one's header, as in HAProxy.
                if !metric.column.hasPrefix("hrsp_") || metric.column == "hrsp_1xx" {
                    out += "# HELP \(prefix) \(metric.help)\n# TYPE \(prefix) \(metric.counter ? "counter" : "gauge")\n"
                }
                out += lines.joined(separator: "\n") + "\n"
            }
        }
        return out
    }

    /// A metric's lines for one object.
    private static func values(
        _ metric: Metric, _ prefix: String, _ labels: [String: String], _ record: StatsCSV.Record, object: Object
    ) -> [String] {
        let base = ["proxy", "server"].compactMap { key in labels[key].map { "\(key)=\"\(escaped($0))\"" } }
        func line(_ extra: String?, _ value: String) -> String {
            "\(prefix){\((base + (extra.map { [$0] } ?? [])).joined(separator: ","))} \(value)"
        }
        let fields = record.fields
        switch metric.column {
        case "status":
            let status = fields["status"] ?? ""
            switch object {
            case .frontend:
                let up = status != "STOP"
                return [line("state=\"DOWN\"", up ? "0" : "1"), line("state=\"UP\"", up ? "1" : "0")]
            case .backend:
                let up = status.hasPrefix("UP")
                return [line("state=\"DOWN\"", up ? "0" : "1"), line("state=\"UP\"", up ? "1" : "0")]
            case .server:
                let state = serverState(status)
                return serverStates.map { line("state=\"\($0)\"", $0 == state ? "1" : "0") }
            }
        case "check_status":
            let current = (fields["check_status"] ?? "").replacingOccurrences(of: "* ", with: "")
            return checkStates.map { line("state=\"\($0)\"", $0 == current ? "1" : "0") }
        case let column where column.hasPrefix("hrsp_"):
            return [line("code=\"\(column.dropFirst(5))\"", number(fields[column]))]
        default:
            let raw = fields[metric.column]
            if metric.milliseconds {
                guard let raw, let ms = Double(raw) else { return [line(nil, "NaN")] }
                return [line(nil, fixed(ms / 1000))]
            }
            return [line(nil, number(raw))]
        }
    }

    /// A server's state as the exporter names it, from its `show stat` status.
    static func serverState(_ status: String) -> String {
        if status.hasPrefix("MAINT") { return "MAINT" }
        if status.hasPrefix("DRAIN") { return "DRAIN" }
        if status.hasPrefix("NOLB") { return "NOLB" }
        if status.hasPrefix("DOWN") { return "DOWN" }
        return "UP"
    }

    /// An integer field, `NaN` when it has no value (as HAProxy writes an empty field).
    private static func number(_ raw: String?) -> String {
        guard let raw, !raw.isEmpty, Int64(raw) != nil else { return "NaN" }
        return raw
    }

    /// `%f`: six decimals.
    private static func fixed(_ value: Double) -> String {
        let micro = Int64((value * 1_000_000).rounded())
        let sign = micro < 0 ? "-" : ""
        let m = abs(micro)
        let fraction = String(m % 1_000_000)
        return "\(sign)\(m / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

extension PromexExporter {
    /// The exporter's view of the stats: each proxy's rows as `show stat` gives them.
    static func proxies(_ stats: [StatsProxy], now: Int) -> [Proxy] {
        stats.map { proxy in
            let records = StatsCSV.records([proxy], now: now)
            // A server's check is paused while it is in maintenance: HAProxy then exports no check figures for it.
            let servers = zip(proxy.servers, records.filter { $0.kind == .server }).map {
                (name: $0.0.name, record: $0.1, checked: $0.0.health.checked && !$0.0.health.maintenance)
            }
            return Proxy(
                name: proxy.name, http: proxy.mode == .http, frontend: records.first { $0.kind == .frontend },
                backend: records.first { $0.kind == .backend }, servers: servers)
        }
    }

    /// The process's figures this build has, under HAProxy's names.
    static func process(uptime: Int, started: Int, threads: Int, maxconn: Int?, current: Int, total: Int) -> [(name: String, help: String, value: String)] {
        [
            ("nbthread", "Threads started.", "\(threads)"),
            ("nbproc", "Processes (always 1).", "1"),
            ("relative_process_id", "This process's number (always 1).", "1"),
            ("uptime_seconds", "Seconds since start.", "\(uptime)"),
            ("start_time_seconds", "Start time, in seconds since the epoch.", "\(started)"),
            ("max_connections", "The process's connection limit (0: none).", "\(maxconn ?? 0)"),
            ("current_connections", "Connections open now.", "\(current)"),
            ("connections_total", "Connections since start.", "\(total)"),
        ]
    }
}

extension PromexExporter {
    /// The exporter's text now, for a request's query string.
    static func answer(_ state: ProxyState, query: Substring) -> String {
        let now = Int(time(nil))
        let process = process(
            uptime: now - state.started, started: state.started, threads: state.threads,
            maxconn: state.processLimit.map(\.limit), current: state.sessions.open, total: state.sessions.total)
        return render(proxies(state.statsSnapshot(), now: now), process: process, Request(query: query))
    }
}
