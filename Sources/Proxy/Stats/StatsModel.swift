/// What the stats page, its CSV and `/metrics` show: one entry per proxy, read from the live counters when asked.
struct StatsProxy: Sendable {
    var name: String
    var mode: ProxyMode
    /// HAProxy's proxy id (`iid`): the configuration's order from 1, from 2 when a `stats socket` exists (its
    /// own proxy takes 1).
    var id = 1
    /// The frontend row (a `frontend` or `listen`), nil for a `backend`.
    var frontend: StatsRow?
    /// `rate-limit sessions` (the frontend row's `rate_lim`).
    var sessionRateLimit: Int?
    /// The server rows and the backend row, nil for a `frontend`.
    var servers: [StatsServer] = []
    var backend: StatsRow?
    var balance: BalanceAlgorithm = .roundrobin
}

/// The counters of a frontend, backend or server row.
struct StatsRow: Sendable {
    var values: ProxyRuntime.Tally.Values
    var limit: Int?
    var queueCurrent = 0
    var queueMax = 0
    /// `OPEN`, `UP`, `DOWN`, `no check`, `MAINT`…
    var status: String
    var weight = 0
    /// The weight set (configured or by an operator), when it differs from the one in use (`slowstart`).
    var userWeight: Int?
    var active = 0
    var backup = 0
    /// DOWN transitions and seconds spent DOWN (backend: no server left).
    var downTransitions = 0
    var downtime = 0
    /// Seconds since the last state change.
    var lastChange = 0
    /// A backend's or server's time figures (`qtime`…, `qtime_max`…).
    var times: ProxyRuntime.Tally.Times?
}

/// A server row: its counters and its health.
struct StatsServer: Sendable {
    var name: String
    /// The server's id (`sid`), when not its place in the backend from 1.
    var id: Int?
    var address: String
    var row: StatsRow
    var backup: Bool
    var health: ServerHealth
}

/// A server's health as its checks last saw it.
struct ServerHealth: Sendable {
    var checked: Bool
    /// The balancer's up/down state, copied in when the figures are read (the balancer keeps the one truth).
    var up = true
    /// In maintenance (`disabled`, `set server … state maint`), or drained (`… state drain`).
    var maintenance = false
    /// In maintenance for want of an address (`init-addr … none`): HAProxy's `MAINT (resolution)`.
    var resolution = false
    var drain = false
    /// The health `show servers state` gives a server without checks: nil for HAProxy's `rise`, 0 once it has
    /// been in maintenance or DOWN, `rise + fall - 1` when a reload found it running.
    var uncheckedHealth: Int?
    /// HAProxy's check status (`L4OK`, `L4CON`, `L7OK`, `L7STS`, `L4TOUT`, `L7TOUT`, `L7RSP`), "" before the first.
    var checkStatus = ""
    /// A check is under way now.
    var checkInProgress = false
    var checkCode: Int?
    var checkDuration: Int?
    var failedChecks = 0
    var downTransitions = 0
    /// When the state last changed (seconds since the epoch) and, while DOWN, since when.
    var lastChange: Int
    var downSince: Int?
    /// Seconds DOWN before the current state.
    var downtime = 0
    var rise: Int
    var fall: Int
    /// The health counter: 0 ... rise+fall-1, UP from `rise` on.
    var health: Int
    /// A transitional state (`UP 1/3` going down, `DOWN 1/2` going up), as the page shows it.
    var transition: String?

    init(_ server: ServerLine, now: Int) {
        checked = server.check
        maintenance = server.disabled || server.noAddress
        resolution = server.noAddress && !server.disabled
        uncheckedHealth = server.disabled ? 0 : nil
        lastChange = now
        rise = server.rise
        fall = server.fall
        health = server.rise + server.fall - 1
    }

    /// The `status` column.
    var status: String {
        if resolution { return "MAINT (resolution)" }
        if maintenance { return "MAINT" }
        if drain && up { return "DRAIN" }
        if !checked { return "no check" }
        if let transition { return transition }
        return up ? "UP" : "DOWN"
    }

    /// Seconds DOWN in all, up to `now`.
    func totalDowntime(now: Int) -> Int { max(0, downtime + (downSince.map { now - $0 } ?? 0)) }

    /// HAProxy's check status code for one of the checker's result descriptions.
    static func checkStatus(for description: String) -> String {
        switch description {
        case "Layer4 check passed": "L4OK"
        case "Layer4 timeout": "L4TOUT"
        case "Layer4 connection problem": "L4CON"
        case "Layer6 check passed": "L6OK"
        case "Layer6 timeout": "L6TOUT"
        case "Layer6 invalid response": "L6RSP"
        case "Layer7 check passed": "L7OK"
        case "Layer7 check conditionally passed": "L7OKC"
        case "Layer7 wrong status": "L7STS"
        case "Layer7 timeout": "L7TOUT"
        case "Layer7 invalid response": "L7RSP"
        default: "UNK"
        }
    }
}
