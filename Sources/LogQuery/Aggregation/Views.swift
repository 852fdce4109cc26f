import HAProxyLog

/// The reports the subcommands print, built from the accumulated statistics.
public enum Views {
    static func ms(_ v: Int?) -> Cell { v.map { .int($0) } ?? .none }

    /// `logquery backends` / `servers`: one row per group.
    public static func traffic(_ table: GroupTable<TrafficStats>, keyColumn: String, extra: ServerReport? = nil)
        -> Report
    {
        var columns = [
            keyColumn, "requests", "sessions", "1xx", "2xx", "3xx", "4xx", "5xx", "other", "errors", "error_pct",
            "p50_ms", "p90_ms", "p99_ms", "srv_p50_ms", "srv_p99_ms", "bytes",
        ]
        if extra != nil { columns += ["downs", "ups", "downtime_s", "down_now"] }
        let states = extra?.downtime() ?? [:]
        var report = Report(columns: columns)
        var entries = table.sorted()
        if let extra {
            // A server that only appears in state messages still gets its row.
            let known = Set(entries.map(\.key))
            for server in Set(extra.changes.map(\.server)).subtracting(known).sorted() {
                entries.append((server, TrafficStats()))
            }
            entries.sort { $0.key < $1.key }
        }
        for (key, s) in entries {
            // Total time: Ta for HTTP, Tt for TCP; server time: Tr for HTTP, Tc for TCP.
            let server = s.requests > 0 ? s.responseTime : s.connectTime
            var row: [Cell] = [
                .text(key), .int(s.requests), .int(s.sessions), .int(s.statusClasses[1]), .int(s.statusClasses[2]),
                .int(s.statusClasses[3]), .int(s.statusClasses[4]), .int(s.statusClasses[5]),
                .int(s.requests > 0 ? s.statusClasses[0] : 0), .int(s.errors), .decimal(s.errorPercent, places: 1),
                ms(s.totalTime.percentile(50)), ms(s.totalTime.percentile(90)), ms(s.totalTime.percentile(99)),
                ms(server.percentile(50)), ms(server.percentile(99)), .int(Int(s.bytes)),
            ]
            if extra != nil {
                let st = states[key] ?? (0, 0, 0, false)
                row += [.int(st.downs), .int(st.ups), .int(st.seconds), .text(st.downAtEnd ? "yes" : "no")]
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

extension Views {
    /// `logquery timeline`: one row per interval, with a bar of the count for tables.
    public static func timeline(_ r: TimelineReport, bars: Bool) -> Report {
        var report = Report(columns: ["time", "count", "errors", "error_pct"] + (bars ? ["bar"] : []))
        let peak = r.buckets.values.map(\.count).max() ?? 0
        // Every interval from the first to the last, the empty ones too (an outage shows as zeros and a gap in the
        // bars), unless that would be more than 100,000 rows.
        var starts = r.buckets.keys.sorted()
        if let first = starts.first, let last = starts.last, (last - first) / r.configuration < 100_000 {
            starts = Array(stride(from: first, through: last, by: Int(r.configuration)))
        }
        for start in starts {
            let b = r.buckets[start] ?? (0, 0)
            var row: [Cell] = [
                .text(WallTime(milliseconds: start).text), .int(b.count), .int(b.errors),
                .decimal(b.count > 0 ? Double(b.errors) * 100 / Double(b.count) : 0, places: 1),
            ]
            if bars {
                let width = peak > 0 ? Int((Double(b.count) / Double(peak) * 40).rounded(.up)) : 0
                row.append(.text(String(repeating: "█", count: width)))
            }
            report.rows.append(row)
        }
        return report
    }

    /// The sort keys of `logquery urls`, named as halog's -u options.
    public enum URLOrder: String, CaseIterable, Sendable {
        case url, count, errors, avg, total, okavg = "ok-avg", oktotal = "ok-total", bytesavg = "bytes-avg"
        case bytestotal = "bytes-total"
    }

    /// `logquery urls`: halog's -u columns, sorted like its -u options (descending, URL ascending for ties).
    public static func urls(_ r: URLReport, order: URLOrder, top: Int?) -> Report {
        var report = Report(columns: [
            "url", "requests", "errors", "total_ms", "avg_ms", "ok_total_ms", "ok_avg_ms", "bytes_avg", "bytes_total",
        ])
        func key(_ s: URLReport.Stats) -> Int64 {
            let ok = s.requests - s.errors
            switch order {
            case .url: return 0
            case .count: return Int64(s.requests)
            case .errors: return Int64(s.errors)
            case .avg: return Int64(s.requests > 0 ? s.totalTime / s.requests : 0)
            case .total: return Int64(s.totalTime)
            case .okavg: return Int64(ok > 0 ? s.okTime / ok : 0)
            case .oktotal: return Int64(s.okTime)
            case .bytesavg: return s.requests > 0 ? s.bytes / Int64(s.requests) : 0
            case .bytestotal: return s.bytes
            }
        }
        var entries = r.groups.sorted()
        if order != .url {
            entries.sort { a, b in
                let (ka, kb) = (key(a.value), key(b.value))
                return ka != kb ? ka > kb : a.key < b.key
            }
        }
        for (url, s) in entries.prefix(top ?? Int.max) {
            let ok = s.requests - s.errors
            report.rows.append([
                .text(url), .int(s.requests), .int(s.errors), .int(s.totalTime),
                .int(s.requests > 0 ? s.totalTime / s.requests : 0), .int(s.okTime), .int(ok > 0 ? s.okTime / ok : 0),
                .int(Int(s.requests > 0 ? s.bytes / Int64(s.requests) : 0)), .int(Int(s.bytes)),
            ])
        }
        return report
    }

    /// `logquery clients`: per address, busiest first.
    public static func clients(_ r: ClientReport, top: Int?) -> Report {
        var report = Report(columns: [
            "client", "requests", "sessions", "errors", "error_pct", "p50_ms", "p99_ms", "bytes",
        ])
        let entries = r.groups.sorted().sorted {
            $0.value.total != $1.value.total ? $0.value.total > $1.value.total : $0.key < $1.key
        }
        for (client, s) in entries.prefix(top ?? Int.max) {
            report.rows.append([
                .text(client), .int(s.requests), .int(s.sessions), .int(s.errors), .decimal(s.errorPercent, places: 1),
                ms(s.totalTime.percentile(50)), ms(s.totalTime.percentile(99)), .int(Int(s.bytes)),
            ])
        }
        return report
    }

    /// `logquery events`: state changes in order.
    public static func events(_ r: EventList) -> Report {
        var report = Report(columns: ["time", "host", "kind", "backend", "server", "level", "message"])
        for e in r.entries.enumerated().sorted(by: { a, b in
            let (ta, tb) = (a.element.when?.milliseconds ?? 0, b.element.when?.milliseconds ?? 0)
            return ta != tb ? ta < tb : a.offset < b.offset
        }).map(\.element) {
            let (backend, server) = e.event?.backendAndServer ?? ("", "")
            report.rows.append([
                .text(e.when?.text ?? e.time), .text(e.host), .text(e.event.map(kind) ?? "unknown"), .text(backend),
                .text(server),
                e.event.map { .int($0.level) } ?? .none, .text(e.message),
            ])
        }
        return report
    }

    static func kind(_ e: HAProxyEvent) -> String {
        switch e {
        case .serverDown: "down"
        case .serverUp: "up"
        case .serverStopping: "stopping"
        case .serverGoingDownForMaintenance: "maintenance-down"
        case .serverEntersMaintenance: "maintenance"
        case .serverLeavesMaintenance: "maintenance-end"
        case .serverEntersDrain: "drain"
        case .serverLeavesDrain: "drain-end"
        case .serverRemainsInDrain: "drain"
        case .noServerAvailable: "no-server"
        case .healthCheck(let h): h.succeeded ? "check-ok" : "check-failed"
        case .proxyStarted: "proxy-started"
        case .proxyStopped: "proxy-stopped"
        case .audit: "audit"
        }
    }
}
