/// The reports the subcommands print, built from the accumulated statistics.
public enum Views {
    static func ms(_ v: Int?) -> Cell { v.map { .int($0) } ?? .none }

    /// `logquery backends` / `servers`: one row per group.
    public static func traffic(_ table: GroupTable<TrafficStats>, keyColumn: String, extra: ServerReport? = nil)
        -> Report
    {
        var columns = [
            keyColumn, "requests", "sessions", "1xx", "2xx", "3xx", "4xx", "5xx", "other", "errors", "error_pct",
            "p50_ms", "p90_ms", "p99_ms", "tr_p50_ms", "tr_p99_ms", "bytes",
        ]
        if extra != nil { columns += ["downs", "ups"] }
        var report = Report(columns: columns)
        for (key, s) in table.sorted() {
            // Total time: Ta for HTTP, Tt for TCP; server time: Tr for HTTP, Tc for TCP.
            let server = s.requests > 0 ? s.responseTime : s.connectTime
            var row: [Cell] = [
                .text(key), .int(s.requests), .int(s.sessions), .int(s.statusClasses[1]), .int(s.statusClasses[2]),
                .int(s.statusClasses[3]), .int(s.statusClasses[4]), .int(s.statusClasses[5]),
                .int(s.requests > 0 ? s.statusClasses[0] : 0), .int(s.errors), .decimal(s.errorPercent, places: 1),
                ms(s.totalTime.percentile(50)), ms(s.totalTime.percentile(90)), ms(s.totalTime.percentile(99)),
                ms(server.percentile(50)), ms(server.percentile(99)), .int(Int(s.bytes)),
            ]
            if let extra {
                let k = Array(key.utf8)
                let downs = extra.downs.keys.firstIndex(of: k).map { extra.downs.values[$0] } ?? 0
                let ups = extra.ups.keys.firstIndex(of: k).map { extra.ups.values[$0] } ?? 0
                row += [.int(downs), .int(ups)]
            }
            report.rows.append(row)
        }
        return report
    }

    public static func status(_ r: StatusReport) -> Report {
        var report = Report(columns: ["status", "count"])
        for (status, count) in r.sorted { report.rows.append([.int(status), .int(count)]) }
        if r.tcpSessions > 0 { report.rows.append([.text("tcp"), .int(r.tcpSessions)]) }
        return report
    }

    public static func terminations(_ r: TerminationReport) -> Report {
        Report(columns: ["termination", "count"], rows: r.sorted.map { [.text($0.state), .int($0.count)] })
    }
}
