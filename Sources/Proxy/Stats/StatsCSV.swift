/// The stats page's `;csv` export with HAProxy 2.6's columns in its order (through `agg_check_status`, the last
/// fixed one: what follows in 2.6 are module statistics, absent here), `# ` before the header, a `,` at the end of
/// every line, empty fields where a column does not apply.
enum StatsCSV {
    static let columns = [
        "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq", "dresp", "ereq",
        "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck", "chkfail", "chkdown", "lastchg",
        "downtime", "qlimit", "pid", "iid", "sid", "throttle", "lbtot", "tracked", "type", "rate", "rate_lim",
        "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
        "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt",
        "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime",
        "rtime", "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise",
        "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo",
        "conn_rate", "conn_rate_max", "conn_tot", "intercepted", "dcon", "dses", "wrew", "connect", "reuse",
        "cache_lookups", "cache_hits", "srv_icur", "src_ilim", "qtime_max", "ctime_max", "rtime_max", "ttime_max",
        "eint", "idle_conn_cur", "safe_conn_cur", "used_conn_cur", "need_conn_est", "uweight", "agg_server_status",
        "agg_server_check_status", "agg_check_status",
    ]

    /// One row of the export: a frontend, server or backend with its proxy's id (`iid`) and its own (`sid`).
    struct Record {
        enum Kind: String {
            case frontend = "F", backend = "B", server = "S"
            var objType: String {
                switch self {
                case .frontend: "Frontend"
                case .backend: "Backend"
                case .server: "Server"
                }
            }
        }
        var kind: Kind
        var iid: Int
        var sid: Int
        var fields: [String: String]
    }

    /// The rows in HAProxy's order: each proxy's frontend, its servers, its backend.
    static func records(_ proxies: [StatsProxy], now: Int = Int(time(nil))) -> [Record] {
        var out: [Record] = []
        for proxy in proxies {
            let iid = "\(proxy.id)"
            if let row = proxy.frontend {
                out.append(Record(kind: .frontend, iid: proxy.id, sid: 0, fields: frontend(proxy, row, iid: iid)))
            }
            for (index, server) in proxy.servers.enumerated() {
                let sid = server.id ?? index + 1
                out.append(
                    Record(
                        kind: .server, iid: proxy.id, sid: sid,
                        fields: self.server(proxy, server, iid: iid, sid: "\(sid)", now: now)))
            }
            if let row = proxy.backend {
                out.append(Record(kind: .backend, iid: proxy.id, sid: 0, fields: backend(proxy, row, iid: iid, now: now)))
            }
        }
        return out
    }

    static func render(_ proxies: [StatsProxy], now: Int = Int(time(nil))) -> String {
        render(records(proxies, now: now))
    }

    static func render(_ records: [Record]) -> String {
        var out = "# " + columns.joined(separator: ",") + ",\n"
        for record in records { out += StatsCSV.line(record.fields) }
        return out
    }

    static func line(_ fields: [String: String]) -> String {
        var out = ""
        for column in columns {
            out += quoted(fields[column] ?? "")
            out += ","
        }
        return out + "\n"
    }

    /// A field is quoted only when it must be, a quote doubled.
    static func quoted(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return value }
        return "\"" + value.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    private static func common(_ proxy: StatsProxy, _ row: StatsRow, name: String, iid: String, sid: String)
        -> [String: String]
    {
        let v = row.values
        var f: [String: String] = [
            "pxname": proxy.name, "svname": name, "scur": "\(v.open)", "smax": "\(v.max)", "stot": "\(v.total)",
            "bin": "\(v.bytesIn)", "bout": "\(v.bytesOut)", "status": row.status, "pid": "1", "iid": iid,
            "sid": sid, "mode": proxy.mode.rawValue,
        ]
        if let limit = row.limit { f["slim"] = "\(limit)" }
        if proxy.mode == .http {
            let classes = ["hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"]
            for (i, column) in classes.enumerated() { f[column] = "\(v.responses[i])" }
        }
        return f
    }

    private static func frontend(_ proxy: StatsProxy, _ row: StatsRow, iid: String) -> [String: String] {
        let v = row.values
        var f = common(proxy, row, name: "FRONTEND", iid: iid, sid: "0")
        f["dreq"] = "\(v.deniedRequests)"
        f["dresp"] = "\(v.deniedResponses)"
        f["ereq"] = "\(v.requestErrors)"
        f["dcon"] = "\(v.deniedConnections)"
        f["type"] = "0"
        f["conn_tot"] = "\(v.total)"
        f["wrew"] = "0"
        f["eint"] = "0"
        if let limit = proxy.sessionRateLimit { f["rate_lim"] = "\(limit)" }
        httpCounts(&f, proxy, v)
        return f
    }

    private static func server(_ proxy: StatsProxy, _ s: StatsServer, iid: String, sid: String, now: Int)
        -> [String: String]
    {
        let h = s.health
        var f = common(proxy, s.row, name: s.name, iid: iid, sid: sid)
        serverSide(&f, s.row, now: now)
        f["act"] = s.backup ? "0" : "1"
        f["bck"] = s.backup ? "1" : "0"
        f["lastchg"] = "\(now - h.lastChange)"
        f["type"] = "2"
        f["addr"] = s.address
        f["qlimit"] = ""
        if h.checked {
            f["chkfail"] = "\(h.failedChecks)"
            f["chkdown"] = "\(h.downTransitions)"
            f["downtime"] = "\(h.totalDowntime(now: now))"
            f["check_status"] = (h.checkInProgress ? "* " : "") + h.checkStatus
            f["check_code"] = h.checkCode.map { "\($0)" } ?? ""
            f["check_duration"] = h.checkDuration.map { "\($0)" } ?? ""
            f["check_desc"] = StatsHTML.checkDescription(h.checkStatus)
            f["check_rise"] = "\(h.rise)"
            f["check_fall"] = "\(h.fall)"
            f["check_health"] = "\(h.health)"
            f["last_chk"] = ""
        }
        return f
    }

    /// The columns backends and servers share: queues, errors, warnings, balancing, aborts.
    private static func serverSide(_ f: inout [String: String], _ row: StatsRow, now: Int) {
        let v = row.values
        f["qcur"] = "\(row.queueCurrent)"
        f["qmax"] = "\(row.queueMax)"
        f["dresp"] = "\(v.deniedResponses)"
        f["econ"] = "\(v.connectErrors)"
        f["eresp"] = "\(v.responseErrors)"
        f["wretr"] = "\(v.retries)"
        f["wredis"] = "\(v.redispatches)"
        f["weight"] = "\(row.weight)"
        f["lbtot"] = "\(v.balanced)"
        f["cli_abrt"] = "\(v.clientAborts)"
        f["srv_abrt"] = "\(v.serverAborts)"
        f["lastsess"] = v.lastSession == 0 ? "-1" : "\(now - v.lastSession)"
        f["uweight"] = "\(row.userWeight ?? row.weight)"
        f["connect"] = "\(v.connectAttempts)"
        f["reuse"] = "\(v.reuses)"
        // Rewrites and internal errors never fail here: HAProxy's counters stay at 0 in this build.
        f["wrew"] = "0"
        f["eint"] = "0"
        if let t = row.times {
            let a = t.averages
            f["qtime"] = "\(a.queue)"
            f["ctime"] = "\(a.connect)"
            f["rtime"] = "\(a.data)"
            f["ttime"] = "\(a.total)"
            f["qtime_max"] = "\(t.maxima.queue)"
            f["ctime_max"] = "\(t.maxima.connect)"
            f["rtime_max"] = "\(t.maxima.data)"
            f["ttime_max"] = "\(t.maxima.total)"
        }
    }

    private static func backend(_ proxy: StatsProxy, _ row: StatsRow, iid: String, now: Int) -> [String: String] {
        let v = row.values
        var f = common(proxy, row, name: "BACKEND", iid: iid, sid: "0")
        serverSide(&f, row, now: now)
        f["dreq"] = "\(v.deniedRequests)"
        f["act"] = "\(row.active)"
        f["bck"] = "\(row.backup)"
        f["chkdown"] = "\(row.downTransitions)"
        f["lastchg"] = "\(row.lastChange)"
        f["downtime"] = "\(row.downtime)"
        f["type"] = "1"
        f["algo"] = proxy.balance.rawValue
        f["conn_tot"] = "\(v.total)"
        httpCounts(&f, proxy, v)
        return f
    }

    /// A frontend's or backend's HTTP counts: requests, and (no cache in this build) no cache lookup nor hit.
    private static func httpCounts(_ f: inout [String: String], _ proxy: StatsProxy, _ v: ProxyRuntime.Tally.Values) {
        guard proxy.mode == .http else { return }
        f["req_tot"] = "\(v.requests)"
        f["cache_lookups"] = "0"
        f["cache_hits"] = "0"
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
