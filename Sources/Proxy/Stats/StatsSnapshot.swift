import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ProxyState {
    /// Every proxy's figures now, in the configuration's order, for the stats page and `/metrics`.
    func statsSnapshot() -> [StatsProxy] {
        let now = Int(time(nil))
        var out: [StatsProxy] = []
        let firstID = configuration.global.statsSockets.isEmpty ? 1 : 2
        for (index, section) in configuration.proxies.enumerated() {
            var proxy = StatsProxy(name: section.name, mode: section.settings.mode)
            proxy.id = firstID + index
            proxy.sessionRateLimit = section.isFrontend ? section.settings.sessionRateLimit : nil
            if section.isFrontend, let frontendSessions = frontendSessions[section.name] {
                proxy.frontend = StatsRow(
                    values: frontendSessions.snapshot, limit: section.settings.maxconn, status: "OPEN")
            }
            if section.isBackend, let backend = backendsByName[section.name] {
                proxy.balance = section.settings.balance
                let (servers, backendQueue, serverQueues, health, checking) = backend.shared.withLock { s in
                    (
                        s.balancer.servers, s.queues.backendCount,
                        (0..<section.servers.count).map { s.queues.count(server: $0) }, s.health, s.checksEnabled
                    )
                }
                var active = 0
                var backup = 0
                var weight = 0
                var backupWeight = 0
                for (i, line) in section.servers.enumerated() {
                    let state = servers[i]
                    var h = health[i]
                    // Checks disabled (`disable health`, the admin form's `dhlth`): shown as unchecked, as HAProxy.
                    h.checked = h.checked && checking[i]
                    h.up = state.up
                    h.maintenance = state.admin.maintenance
                    h.resolution = state.admin.resolution
                    h.drain = state.admin.drain
                    if state.available {
                        if line.backup { backup += 1 } else { active += 1 }
                        if line.backup { backupWeight += state.weight } else { weight += state.weight }
                    }
                    proxy.servers.append(
                        StatsServer(
                            name: line.name, id: i + 1, address: line.localSocket != nil ? "unix" : line.port.map { "\(line.host):\($0)" } ?? line.host,
                            row: StatsRow(
                                values: backend.serverSessions[i].snapshot, limit: line.maxconn,
                                queueCurrent: serverQueues[i], status: h.status, weight: state.effectiveWeight,
                                userWeight: state.weight, times: backend.serverSessions[i].timeFigures),
                            backup: line.backup, health: h))
                }
                var values = backend.sessions.snapshot
                values.balanced = proxy.servers.reduce(0) { $0 + $1.row.values.balanced }
                let up = active + backup > 0 || section.servers.isEmpty
                let downtime = health.reduce(0) { max($0, $1.totalDowntime(now: now)) }
                proxy.backend = StatsRow(
                    values: values, limit: section.settings.maxconn,
                    // As HAProxy: the weight of the servers in use, the backups' when no active one is.
                    queueCurrent: backendQueue, status: up ? "UP" : "DOWN", weight: active > 0 ? weight : backupWeight,
                    active: active,
                    backup: backup, downTransitions: 0, downtime: up ? 0 : downtime,
                    lastChange: now - (health.map(\.lastChange).max() ?? now), times: backend.sessions.timeFigures)
            }
            out.append(proxy)
        }
        return out
    }
}
