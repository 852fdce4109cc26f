import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// `show info`: HAProxy 2.6's process fields, in its order and with its tags (`StatsFieldTags.info`), for what
/// this process has. Fields about what it does not do (SSL sessions and their cache, compression, pipes, memory
/// pools, peers) carry 0 as HAProxy shows them when unused; the ones it does not measure (rates, idle time, the
/// run queue) are left out but for `Run_queue` and `Tasks`, which hatop needs (0, and the sessions, listeners and
/// health checks that make this process's tasks).
enum ShowInfo {
    /// What the process's connections may reach: the configured (or runtime-set) maxconn, else half the
    /// descriptors it may open (each session holds two).
    static func hardMaxconn(_ state: ProxyState) -> Int {
        if let configured = state.configuration.global.maxconn { return configured }
        return max(1, descriptorLimit() / 2)
    }

    static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur == rlim_t.max ? 1_048_576 : Int(min(limit.rlim_cur, 1 << 30))
    }

    /// The fields with their values, in order.
    static func fields(_ state: ProxyState, now: Int = Int(time(nil))) -> [(name: String, value: String)] {
        let g = state.configuration.global
        let uptime = max(0, now - state.started)
        let d = uptime / 86400
        let h = uptime % 86400 / 3600
        let m = uptime % 3600 / 60
        let s = uptime % 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let process = state.sessions.snapshot
        let requests = state.frontendSessions.values.reduce(0) { $0 + $1.snapshot.requests }
        let maxconn = state.processLimit.map { $0.limit > 0 ? $0.limit : hardMaxconn(state) } ?? hardMaxconn(state)
        let listeners = state.frontendControls.values.reduce(0) { $0 + $1.listeners.withLock(\.count) }
        let checks = state.backends.reduce(0) { n, b in n + b.servers.filter(\.check).count }
        let bytesOut = state.frontendSessions.values.reduce(Int64(0)) { $0 + $1.snapshot.bytesOut }
        var values: [String: String] = [
            "Name": "Tollgate", "Version": Proxy.version, "Release_date": Proxy.releaseDate,
            "Nbthread": "\(state.threads)", "Nbproc": "1", "Process_num": "1",
            "Pid": "\(getpid())", "Uptime": "\(d)d \(h)h\(two(m))m\(two(s))s", "Uptime_sec": "\(uptime)",
            "Memmax_MB": "0", "PoolAlloc_MB": "0", "PoolUsed_MB": "0", "PoolFailed": "0",
            "Ulimit-n": "\(descriptorLimit())", "Maxsock": "\(descriptorLimit())", "Maxconn": "\(maxconn)",
            "Hard_maxconn": "\(hardMaxconn(state))", "CurrConns": "\(process.open)", "CumConns": "\(process.total)",
            "CumReq": "\(requests)", "Maxpipes": "0", "PipesUsed": "0", "PipesFree": "0",
            "CompressBpsIn": "0", "CompressBpsOut": "0", "CompressBpsRateLim": "0",
            "Tasks": "\(process.open + listeners + checks)", "Run_queue": "0", "node": g.node ?? HostName.current(),
            "Stopping": "0", "Jobs": "\(process.open + listeners)", "Unstoppable Jobs": "0",
            "Listeners": "\(listeners)", "ActivePeers": "0", "ConnectedPeers": "0", "BusyPolling": "0",
            "FailedResolutions": "0", "TotalBytesOut": "\(bytesOut)", "TotalSplicdedBytesOut": "0",
            "Build info": Proxy.version, "Memmax_bytes": "0", "Start_time_sec": "\(state.started)", "Tainted": "0",
        ]
        if let description = g.description { values["description"] = description }
        var out: [(String, String)] = []
        for field in StatsFieldTags.info {
            if let value = values[field.name] { out.append((field.name, value)) }
        }
        return out
    }

    static func render(_ state: ProxyState, options: Set<String>) -> String {
        let fields = fields(state)
        let tags = Dictionary(StatsFieldTags.info.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if options.contains("json") {
            let items = fields.compactMap { f -> String? in
                guard let t = tags[f.name] else { return nil }
                let names = StatsFieldTags.names(t.tags)
                return "{\"field\":{\"pos\":\(t.position),\"name\":\(JSONText.quoted(f.name))},\"processNum\":1,"
                    + "\"tags\":{\"origin\":\"\(names.origin)\",\"nature\":\"\(names.nature)\",\"scope\":\"\(names.scope)\"},"
                    + "\"value\":{\"type\":\"\(t.type)\",\"value\":\(JSONText.value(f.value, type: t.type))}}"
            }
            return "[" + items.joined(separator: ",") + "]\n"
        }
        if options.contains("typed") {
            return fields.compactMap { f -> String? in
                guard let t = tags[f.name] else { return nil }
                return "\(t.position).\(f.name).1:\(t.tags):\(t.type):\(f.value)\n"
            }.joined()
        }
        return fields.map { "\($0.name): \($0.value)\n" }.joined()
    }
}

extension JSONText {
    /// A runtime API value: bare when its type is a number and its text is one, else a string.
    static func value(_ text: String, type: String) -> String {
        if type != "str", !text.isEmpty, Int64(text) != nil { return text }
        return quoted(text)
    }
}
