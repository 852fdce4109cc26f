#if canImport(Glibc)
    import Glibc
#endif

/// `show servers state [BACKEND]`: HAProxy 2.6's format version 1, the file `server-state-file` keeps across
/// reloads: one line per server with its operational and administrative state, weights, check state and address.
enum ServersState {
    static let header =
        "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        + "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        + "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        + "srv_check_addr srv_agent_addr srv_agent_port"

    static func render(_ state: ProxyState, backend only: String?, now: Int = Int(time(nil))) -> String {
        var out = "1\n" + header + "\n"
        let firstID = state.configuration.global.statsSockets.isEmpty ? 1 : 2
        for (index, section) in state.configuration.proxies.enumerated() where section.isBackend {
            guard only == nil || only == section.name, let backend = state.backendsByName[section.name] else {
                continue
            }
            let (servers, health, checks, enabled) = backend.shared.withLock {
                ($0.balancer.servers, $0.health, $0.checks, $0.checksEnabled)
            }
            for (i, line) in section.servers.enumerated() {
                let server = servers[i]
                let h = health[i]
                let maintenance = server.admin.maintenance
                // SRV_ST_STARTING (1) while warming up after `slowstart`.
                // SRV_ST_STOPPING (3) in NOLB (`http-check disable-on-404`).
                let op = server.up && !maintenance ? (server.stopping ? 3 : server.warmupStart != nil ? 1 : 2) : 0
                // Checks paused: a checked server in maintenance, and (as 2.6 shows it) ever after a server that was
                // `disabled` in the configuration; health 0 then too.
                let paused = (line.check && maintenance) || server.admin.configuredMaintenance
                let checkState = (line.check ? 0x02 | (enabled[i] ? 0x04 : 0) : 0) | (paused ? 0x08 : 0)
                // A server without an address (RMAINT) has health 0, its address `-` and its name as the FQDN.
                let checkHealth =
                    paused || server.admin.resolution
                    ? 0 : (line.check ? checks[i].health : (h.uncheckedHealth ?? line.rise))
                // CHK_RES_PASSED 3, CHK_RES_CONDPASS 4 (L7OKC), CHK_RES_FAILED 2.
                let result =
                    !line.check || h.checkStatus.isEmpty
                    ? 0 : h.checkStatus == "L7OKC" ? 4 : (h.checkStatus.hasSuffix("OK") ? 3 : 2)
                // The address now (what the resolvers found since, or none).
                let address =
                    backend.address(i)?.ipAddress
                    ?? (line.noAddress || line.resolve.resolvers != nil || line.localSocket != nil ? "-" : line.host)
                let name = backend.fqdn(i)
                var fqdn = address == name || AddressSet.address(name) != nil ? "-" : name
                var port = (backend.address(i)?.port ?? line.port).map(String.init) ?? "0"
                if line.srvRecord != nil {
                    // A server of an SRV record: its target and port, while it has one.
                    let target = backend.srvTarget(i)
                    fqdn = target?.target ?? "-"
                    port = "\(target?.port ?? 0)"
                }
                let fields: [String] = [
                    "\(firstID + index)", section.name, "\(i + 1)", line.name, address, "\(op)",
                    "\(server.admin.flags)", "\(server.weight)", "\(server.initialWeight)", "\(max(0, now - h.lastChange))",
                    "\(checkStatusCode(line.check ? h.checkStatus : nil))", "\(result)", "\(checkHealth)", "\(checkState)",
                    "0", "0", "0", fqdn, port, line.srvRecord ?? "-", "0", "\(line.checkPort ?? 0)",
                    line.checkAddress ?? "-", "-", "0",
                ]
                out += fields.joined(separator: " ") + "\n"
            }
        }
        return out
    }

    /// HAProxy's `HCHK_STATUS_*` numbers of the check statuses.
    static let statusCodes = [
        "L4OK": 6, "L4TOUT": 7, "L4CON": 8, "L6OK": 9, "L6TOUT": 10, "L6RSP": 11, "L7TOUT": 12, "L7RSP": 13, "L7OK": 15,
        "L7OKC": 16, "L7STS": 17,
    ]

    /// The check status a saved number stands for ("" before the first check).
    static func checkStatusName(_ code: Int) -> String { statusCodes.first { $0.value == code }?.key ?? "" }

    /// The number of a check status: 1 (INI) before the first check.
    static func checkStatusCode(_ status: String?) -> Int { status.flatMap { statusCodes[$0] } ?? 1 }
}
