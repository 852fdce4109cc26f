#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The stats page as HTML: one table per proxy (frontend row, server rows, backend row) with HAProxy's column
/// groups — queue, sessions, bytes, denied, errors, warnings, server — and its status colours (UP green, DOWN
/// red, going up or down orange, NOLB/MAINT grey, backup servers blue). It fits a phone: the tables scroll
/// sideways inside the page with the names kept in view, and each server's status shows beside its name.
enum StatsHTML {
    struct Context {
        var uri: String
        var version: String?
        var node: String?
        var description: String?
        var refresh: Int?
        var upOnly: Bool
        var uptime: Int
        /// `stats admin` holds: each backend's servers can be changed from the page (HAProxy's form).
        var admin = false
        /// What the last admin action came to (`;st=CODE`).
        var notice: String?
    }

    static func render(_ proxies: [StatsProxy], context c: Context, now: Int = Int(time(nil))) -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Statistics Report for Tollgate\(c.node.map { " on " + escape($0) } ?? "")</title>
            <style>
            body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Arial,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
            header{background:#1d2a44;color:#fff;padding:10px 16px}
            header h1{font-size:18px;margin:0 0 4px}
            header p{margin:0;color:#c6cfe0}
            main{padding:10px 12px}
            .bar a{margin-right:14px;color:#1d4ed8;text-decoration:none}
            .px{background:#fff;border:1px solid #d5dae3;border-radius:6px;margin:12px 0;overflow-x:auto}
            .px h2{font-size:14px;margin:0;padding:6px 10px;background:#e8ecf3;border-bottom:1px solid #d5dae3}
            .px h2 span{font-weight:normal;color:#56607a;margin-left:8px}
            table{border-collapse:collapse;white-space:nowrap;width:100%}
            th,td{padding:3px 6px;border-bottom:1px solid #edf0f5;text-align:right}
            th{background:#f7f8fb;font-weight:600;color:#3b4560}
            th.g{text-align:center;border-left:1px solid #d5dae3}
            td.n,th.n{text-align:left}
            td.l{border-left:1px solid #d5dae3}
            tr.fe td{background:#eef3ff}
            tr.be td{background:#eef3ff;font-weight:600}
            tr.up td.s{background:#c9f2cf}
            tr.down td.s{background:#ffc9c9}
            tr.going td.s{background:#ffe2b0}
            tr.maint td.s,tr.nocheck td.s{background:#e4e6eb}
            tr.draining td.s{background:#d9c9f2}
            tr.bck td.n{color:#1d4ed8}
            .legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:3px}
            .notice{background:#fff4cc;border:1px solid #e6cf73;border-radius:4px;padding:6px 10px}
            .act{margin:6px 10px}
            td.n,th.n{position:sticky;left:0;background:#fff;z-index:1}
            tr.fe td.n,tr.be td.n{background:#eef3ff}
            .mb{display:none;margin-left:6px;padding:0 5px;border-radius:3px;font-size:11px;font-weight:600}
            tr.up .mb{background:#c9f2cf}tr.down .mb{background:#ffc9c9}tr.going .mb{background:#ffe2b0}
            tr.maint .mb,tr.nocheck .mb{background:#e4e6eb}tr.draining .mb{background:#d9c9f2}
            @media (max-width:700px){.mb{display:inline-block}}
            </style></head><body>
            <header><h1>Statistics Report\(c.version.map { " &mdash; Tollgate " + escape($0) } ?? "")</h1>
            <p>\(c.node.map { "node " + escape($0) + " &middot; " } ?? "")\(c.description.map { escape($0) + " &middot; " } ?? "")uptime \(duration(c.uptime))\(c.refresh.map { " &middot; refresh every \($0) s" } ?? "")</p></header>
            <main><p class="bar">
            """
        let base = escape(c.uri)
        out += c.upOnly ? "<a href=\"\(base)\">Show all servers</a>" : "<a href=\"\(base);up\">Hide DOWN servers</a>"
        out += c.refresh == nil ? "" : "<a href=\"\(base);norefresh\">Disable refresh</a>"
        out += "<a href=\"\(base);csv\">CSV export</a></p>\n"
        out += """
            <p class="legend"><span style="background:#c9f2cf">UP</span><span style="background:#ffe2b0">going up/down</span>\
            <span style="background:#ffc9c9">DOWN</span><span style="background:#e4e6eb">MAINT / no check</span>\
            <span style="color:#1d4ed8">backup</span></p>\n
            """
        if let notice = c.notice { out += "<p class=\"notice\">\(escape(notice))</p>\n" }
        for proxy in proxies { out += table(proxy, now: now, admin: c.admin ? base : nil) }
        out += "</main></body></html>\n"
        return out
    }

    /// One proxy's table; `admin` (the page's URI): its servers get check boxes and the table HAProxy's form to act
    /// on them.
    private static func table(_ p: StatsProxy, now: Int, admin: String? = nil) -> String {
        let form = admin != nil && p.backend != nil && !p.servers.isEmpty
        var out = "<section class=\"px\"><h2>\(escape(p.name))<span>mode \(p.mode.rawValue)"
        if p.backend != nil { out += " &middot; balance \(p.balance.rawValue)" }
        out += "</span></h2>"
        if form, let admin { out += "<form method=\"post\" action=\"\(admin)\">" }
        out += "<table>\n"
        out += """
            <tr><th class="n" rowspan="2"></th><th class="g" colspan="3">Queue</th><th class="g" colspan="5">Sessions</th>\
            <th class="g" colspan="2">Bytes</th><th class="g" colspan="2">Denied</th><th class="g" colspan="3">Errors</th>\
            <th class="g" colspan="2">Warnings</th><th class="g" colspan="8">Server</th></tr>
            <tr><th class="g">Cur</th><th>Max</th><th>Limit</th><th class="g">Cur</th><th>Max</th><th>Limit</th><th>Total</th>\
            <th>LbTot</th><th class="g">In</th><th>Out</th><th class="g">Req</th><th>Resp</th><th class="g">Req</th>\
            <th>Conn</th><th>Resp</th><th class="g">Retr</th><th>Redis</th><th class="g">Status</th><th>LastChk</th>\
            <th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th></tr>\n
            """
        if let fe = p.frontend {
            let v = fe.values
            out += "<tr class=\"fe\"><td class=\"n\">Frontend</td>"
            out += cells(["", "", ""], first: true)
            out += cells([n(v.open), n(v.max), fe.limit.map(n) ?? "", n(v.total), ""], first: true)
            out += cells([bytes(v.bytesIn), bytes(v.bytesOut)], first: true)
            out += cells([n(v.deniedRequests), n(v.deniedResponses)], first: true)
            out += cells([n(v.requestErrors), "", ""], first: true)
            out += cells(["", ""], first: true)
            out += "<td class=\"l s\">\(fe.status)</td>" + cells(["", "", "", "", "", "", ""])
            out += "</tr>\n"
        }
        for s in p.servers {
            let v = s.row.values
            let h = s.health
            var classes = [statusClass(h)]
            if s.backup { classes.append("bck") }
            // On a phone the status also shows beside the name (the status column is off to the right).
            out += "<tr class=\"\(classes.joined(separator: " "))\"><td class=\"n\">"
            if form { out += "<input type=\"checkbox\" name=\"s\" value=\"\(escape(s.name))\"> " }
            out += escape(s.name)
            out += "<span class=\"mb\">\(escape(h.status))</span></td>"
            out += cells([n(s.row.queueCurrent), n(s.row.queueMax), ""], first: true)
            out += cells([n(v.open), n(v.max), s.row.limit.map(n) ?? "", n(v.total), n(v.balanced)], first: true)
            out += cells([bytes(v.bytesIn), bytes(v.bytesOut)], first: true)
            out += cells(["", n(v.deniedResponses)], first: true)
            out += cells(["", n(v.connectErrors), n(v.responseErrors)], first: true)
            out += cells([n(v.retries), n(v.redispatches)], first: true)
            let status = "\(escape(h.status))\(h.checked ? " " + duration(now - h.lastChange) : "")"
            let lastCheck =
                h.checked && !h.checkStatus.isEmpty
                ? "\(h.checkStatus)\(h.checkCode.map { "/\($0)" } ?? "")\(h.checkDuration.map { " in \($0)ms" } ?? "")"
                : ""
            out += "<td class=\"l s\">\(status)</td>"
            out += cells([
                escape(lastCheck), n(s.row.weight), s.backup ? "-" : "Y", s.backup ? "Y" : "-",
                h.checked ? n(h.failedChecks) : "", h.checked ? n(h.downTransitions) : "",
                h.checked ? duration(h.totalDowntime(now: now)) : "",
            ])
            out += "</tr>\n"
        }
        if let be = p.backend {
            let v = be.values
            out += "<tr class=\"be\"><td class=\"n\">Backend</td>"
            out += cells([n(be.queueCurrent), n(be.queueMax), ""], first: true)
            out += cells([n(v.open), n(v.max), be.limit.map(n) ?? "", n(v.total), n(v.balanced)], first: true)
            out += cells([bytes(v.bytesIn), bytes(v.bytesOut)], first: true)
            out += cells([n(v.deniedRequests), n(v.deniedResponses)], first: true)
            out += cells(["", n(v.connectErrors), n(v.responseErrors)], first: true)
            out += cells([n(v.retries), n(v.redispatches)], first: true)
            out += "<td class=\"l s\">\(be.status) \(duration(be.lastChange))</td>"
            out += cells([
                "", n(be.weight), n(be.active), n(be.backup), "", n(be.downTransitions), duration(be.downtime),
            ])
            out += "</tr>\n"
        }
        out += "</table>"
        if form {
            // HAProxy's choices, by its names (the form posts `s`, `action` and `b` as HAProxy's page does).
            out += """
                <p class="act">Choose the action to perform on the checked servers : <select name="action">\
                <option value="">---</option><option value="ready">Set state to READY</option>\
                <option value="drain">Set state to DRAIN</option><option value="maint">Set state to MAINT</option>\
                <option value="dhlth">Health: disable checks</option><option value="ehlth">Health: enable checks</option>\
                <option value="shutdown">Kill Sessions</option></select>\
                <input type="hidden" name="b" value="\(escape(p.name))"> <input type="submit" value="Apply"></p></form>
                """
        }
        return out + "</section>\n"
    }

    private static func statusClass(_ h: ServerHealth) -> String {
        if h.maintenance { return "maint" }
        if h.drain && h.up { return "draining" }
        if !h.checked { return "nocheck" }
        if h.transition != nil { return "going" }
        return h.up ? "up" : "down"
    }

    private static func cells(_ values: [String], first: Bool = false) -> String {
        var out = ""
        for (i, value) in values.enumerated() {
            out += i == 0 && first ? "<td class=\"l\">\(value)</td>" : "<td>\(value)</td>"
        }
        return out
    }

    private static func n(_ value: Int) -> String { "\(value)" }

    /// Bytes as HAProxy's page shows them: plain below 10 000, then with a unit.
    static func bytes(_ value: Int64) -> String {
        var v = Double(value)
        guard v >= 10_000 else { return "\(value)" }
        for unit in ["k", "M", "G", "T"] {
            v /= 1024
            if v < 10_000 || unit == "T" {
                let rounded = (v * 10).rounded() / 10
                return "\(rounded)\(unit)"
            }
        }
        return "\(value)"
    }

    /// `5s`, `3m12s`, `2h4m`, `1d3h`.
    static func duration(_ seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// The text HAProxy shows for a check status.
    static func checkDescription(_ status: String) -> String {
        switch status {
        case "L4OK": "Layer4 check passed"
        case "L4TOUT": "Layer4 timeout"
        case "L4CON": "Layer4 connection problem"
        case "L7OK": "Layer7 check passed"
        case "L7STS": "Layer7 wrong status"
        case "L7TOUT": "Layer7 timeout"
        case "L7RSP": "Layer7 invalid response"
        default: ""
        }
    }
}
