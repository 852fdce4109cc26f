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
                let op = server.up && !maintenance ? 2 : 0
                // Checks paused, health 0: in maintenance, and (as 2.6 shows it) ever after for a server that was
                // `disabled` in the configuration.
                let paused = maintenance || server.admin.configuredMaintenance
                let checkState = (line.check ? 0x02 | (enabled[i] ? 0x04 : 0) : 0) | (paused ? 0x08 : 0)
                let checkHealth = paused ? 0 : (line.check ? checks[i].health : (h.beenInMaintenance ? 0 : line.rise))
                let result = !line.check || h.checkStatus.isEmpty ? 0 : (h.checkStatus.hasSuffix("OK") ? 3 : 2)
                let address = backend.addresses[i]?.ipAddress ?? line.host
                let fqdn = address == line.host ? "-" : line.host
                let fields: [String] = [
                    "\(firstID + index)", section.name, "\(i + 1)", line.name, address, "\(op)",
                    "\(server.admin.flags)", "\(server.weight)", "\(server.initialWeight)", "\(max(0, now - h.lastChange))",
                    "\(checkStatusCode(line.check ? h.checkStatus : nil))", "\(result)", "\(checkHealth)", "\(checkState)",
                    "0", "0", "0", fqdn, line.port.map(String.init) ?? "0", "-", "0", "\(line.checkPort ?? 0)",
                    line.checkAddress ?? "-", "-", "0",
                ]
                out += fields.joined(separator: " ") + "\n"
            }
        }
        return out
    }

    /// HAProxy's `HCHK_STATUS_*` number for a check status: 1 (INI) before the first check.
    static func checkStatusCode(_ status: String?) -> Int {
        switch status {
        case "L4OK": 6
        case "L4TOUT": 7
        case "L4CON": 8
        case "L6OK": 9
        case "L6TOUT": 10
        case "L6RSP": 11
        case "L7TOUT": 12
        case "L7RSP": 13
        case "L7OK": 15
        case "L7OKC": 16
        case "L7STS": 17
        default: 1
        }
    }
}
