import HAProxyLog

extension ProxyRuntime.Backend {
    /// Applies the states a reload's server-state file kept for these servers (see `ServerStateLine`), as HAProxy
    /// 2.6 does when it starts: operational state and check health, maintenance and drain, a weight set at run
    /// time (when the configured one did not change), health checks disabled by an operator. Returns what HAProxy
    /// prints meanwhile (`Server be/srv is DOWN, changed from server-state after a reload. …`).
    func restore(_ saved: [String: ServerStateLine], now: Int) -> [String] {
        var notes: [String] = []
        shared.withLock { s in
            for (i, line) in servers.enumerated() {
                guard let state = saved[line.name] else { continue }
                var h = s.health[i]
                if line.check {
                    s.checks[i].restore(operationalState: state.operationalState, health: state.checkHealth)
                    s.balancer.setUp(i, s.checks[i].isUp)
                    h.health = s.checks[i].health
                    if !s.checks[i].isUp { h.downSince = now }
                    if state.checkState & 0x02 != 0 && state.checkState & 0x04 == 0 { s.checksEnabled[i] = false }
                    h.checkStatus = ServersState.checkStatusName(state.checkStatus)
                } else {
                    h.uncheckedHealth = state.operationalState == 0 ? 0 : line.rise + line.fall - 1
                }
                if state.operationalState == 0 {
                    // The servers left: without this one (a server without checks is not marked DOWN here, its
                    // maintenance keeps it out).
                    var counts = s.balancer.upCounts
                    if s.balancer.servers[i].available {
                        if line.backup { counts.backup -= 1 } else { counts.active -= 1 }
                    }
                    notes.append(
                        (line.backup ? "Backup " : "") + "Server \(name)/\(line.name) is DOWN, changed from server-state after a reload. "
                            + "\(counts.active) active and \(counts.backup) backup servers left. "
                            + "0 sessions active, 0 requeued, 0 remaining in queue.")
                }
                let server = s.balancer.servers[i]
                var admin = server.admin
                admin.restore(
                    flags: state.adminState, savedInitialWeight: state.initialWeight, initialWeight: server.initialWeight)
                s.balancer.restore(i, admin: admin, weight: state.initialWeight == server.initialWeight ? state.userWeight : nil)
                if admin.drain {
                    notes.append(HAProxyEvent.serverRemainsInDrain(backend: name, server: line.name, backup: line.backup).message)
                }
                if admin.maintenance { h.uncheckedHealth = 0 }
                h.lastChange = now - max(0, state.secondsSinceChange)
                s.health[i] = h
            }
        }
        return notes
    }
}
