import Prometheus

/// The stats in Prometheus' text format through swift-prometheus, with haproxy_exporter's names and labels
/// (`haproxy_frontend_…{frontend=}`, `haproxy_backend_…{backend=}`, `haproxy_server_…{backend=,server=}`), so
/// its dashboards and alerts work unchanged. Built from the counters at each scrape.
enum StatsMetrics {
    static func render(_ proxies: [StatsProxy]) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Int) {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels
            ).set(Int64(value))
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Int64) {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels
            ).increment(by: value)
        }
        let classes = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
        func common(_ kind: String, _ labels: [(String, String)], _ row: StatsRow, http: Bool) {
            let v = row.values
            gauge("haproxy_\(kind)_current_sessions", "Current number of active sessions.", labels, v.open)
            gauge("haproxy_\(kind)_max_sessions", "Maximum observed number of active sessions.", labels, v.max)
            if let limit = row.limit {
                gauge("haproxy_\(kind)_limit_sessions", "Configured session limit.", labels, limit)
            }
            counter("haproxy_\(kind)_sessions_total", "Total number of sessions.", labels, Int64(v.total))
            counter("haproxy_\(kind)_bytes_in_total", "Current total of incoming bytes.", labels, v.bytesIn)
            counter("haproxy_\(kind)_bytes_out_total", "Current total of outgoing bytes.", labels, v.bytesOut)
            if http {
                for (i, code) in classes.enumerated() {
                    counter(
                        "haproxy_\(kind)_http_responses_total", "Total of HTTP responses.", labels + [("code", code)],
                        Int64(v.responses[i]))
                }
            }
        }
        /// What backends and servers both have: queues, connection and response errors, retries.
        func serverSide(_ kind: String, _ labels: [(String, String)], _ row: StatsRow) {
            gauge("haproxy_\(kind)_current_queue", "Current number of queued requests.", labels, row.queueCurrent)
            gauge("haproxy_\(kind)_max_queue", "Maximum observed number of queued requests.", labels, row.queueMax)
            counter(
                "haproxy_\(kind)_connection_errors_total", "Total of connection errors.", labels,
                Int64(row.values.connectErrors))
            counter(
                "haproxy_\(kind)_response_errors_total", "Total of response errors.", labels,
                Int64(row.values.responseErrors))
            counter(
                "haproxy_\(kind)_retry_warnings_total", "Total of retry warnings.", labels, Int64(row.values.retries))
        }
        for proxy in proxies {
            let http = proxy.mode == .http
            if let fe = proxy.frontend {
                let labels = [("frontend", proxy.name)]
                common("frontend", labels, fe, http: http)
                counter(
                    "haproxy_frontend_request_errors_total", "Total of request errors.", labels,
                    Int64(fe.values.requestErrors))
                counter(
                    "haproxy_frontend_requests_denied_total", "Total of requests denied for security.", labels,
                    Int64(fe.values.deniedRequests))
                if http {
                    counter(
                        "haproxy_frontend_http_requests_total", "Total HTTP requests.", labels,
                        Int64(fe.values.requests))
                }
            }
            if let be = proxy.backend {
                let labels = [("backend", proxy.name)]
                common("backend", labels, be, http: http)
                gauge(
                    "haproxy_backend_up", "Current health status of the backend (1 = UP, 0 = DOWN).", labels,
                    be.status == "UP" ? 1 : 0)
                gauge("haproxy_backend_weight", "Total weight of the servers in the backend.", labels, be.weight)
                gauge("haproxy_backend_active_servers", "Number of active servers.", labels, be.active)
                gauge("haproxy_backend_backup_servers", "Number of backup servers.", labels, be.backup)
                serverSide("backend", labels, be)
                counter(
                    "haproxy_backend_redispatch_warnings_total", "Total of redispatch warnings.", labels,
                    Int64(be.values.redispatches))
            }
            for server in proxy.servers {
                let labels = [("backend", proxy.name), ("server", server.name)]
                common("server", labels, server.row, http: http)
                let up = !server.health.maintenance && server.health.up
                gauge(
                    "haproxy_server_up", "Current health status of the server (1 = UP, 0 = DOWN).", labels, up ? 1 : 0)
                gauge("haproxy_server_weight", "Current weight of the server.", labels, server.row.weight)
                serverSide("server", labels, server.row)
                counter(
                    "haproxy_server_check_failures_total", "Total number of failed health checks.", labels,
                    Int64(server.health.failedChecks))
                counter(
                    "haproxy_server_downtime_seconds_total", "Total downtime in seconds.", labels,
                    Int64(server.health.totalDowntime(now: Int(time(nil)))))
            }
        }
        return registry.emitToBuffer()
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
