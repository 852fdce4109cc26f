/// One server's health as HAProxy's checks keep it: a counter from 0 to rise + fall - 1, the server UP while it
/// is at least `rise`. A success raises it, and once it reaches `rise` restores it to the top (the server comes UP
/// if it was DOWN); a failure while UP
/// lowers it, and the failure that would take it below `rise` takes the server DOWN with the counter at 0; a
/// failure while DOWN resets it to 0. A server starts UP at `rise` (so one failed first check takes it down, as
/// in HAProxy), and the time to the next check is `inter` when steady, `fastinter` in transition (not yet
/// checked, going up or going down) and `downinter` while fully DOWN, each falling back to `inter`.
public struct HealthState: Hashable, Sendable {
    public let rise: Int
    public let fall: Int
    public private(set) var health: Int
    public private(set) var isUp: Bool
    /// `http-check disable-on-404`: UP, but a check answered 404, so the server takes no new sessions from the
    /// balancer (HAProxy's NOLB, `SRV_ST_STOPPING`), only those that persist on it.
    public private(set) var stopping = false
    private let inter: ConfigTime
    private let fastinter: ConfigTime?
    private let downinter: ConfigTime?

    /// What a check result did to the server.
    public enum Transition: Hashable, Sendable {
        case none
        case wentUp
        case wentDown
        /// A 404 under `disable-on-404` (NOLB).
        case wentStopping
    }

    public init(rise: Int, fall: Int, inter: ConfigTime, fastinter: ConfigTime? = nil, downinter: ConfigTime? = nil) {
        self.rise = max(1, rise)
        self.fall = max(1, fall)
        self.inter = inter
        self.fastinter = fastinter
        self.downinter = downinter
        health = self.rise
        isUp = true
    }

    public init(_ server: ServerLine) {
        self.init(
            rise: server.rise, fall: server.fall, inter: server.inter, fastinter: server.fastinter,
            downinter: server.downinter)
    }

    private var top: Int { rise + fall - 1 }

    /// A check's result; `conditional`: a success under `http-check disable-on-404` (a 404, for a server that is
    /// UP), which counts as one and stops the server (NOLB) until a plain success.
    public mutating func record(success: Bool, conditional: Bool = false) -> Transition {
        if success && isUp && conditional != stopping {
            // Into NOLB or out of it, at full health.
            health = top
            stopping = conditional
            return conditional ? .wentStopping : .wentUp
        }
        if success {
            guard health < top else { return .none }
            health += 1
            // As HAProxy 2.6: once at `rise`, one success restores full health (UP or not yet).
            guard health >= rise else { return .none }
            health = top
            if isUp { return .none }
            isUp = true
            return .wentUp
        }
        if !isUp {
            health = 0
            return .none
        }
        if health > rise {
            health -= 1
            return .none
        }
        health = 0
        isUp = false
        stopping = false
        return .wentDown
    }

    /// `set server … health up|stopping|down`: the state an operator forces (the counter at its top, or 0), until
    /// the next checks move it.
    public mutating func force(up: Bool, stopping: Bool) {
        health = up ? top : 0
        isUp = up
        self.stopping = up && stopping
    }

    /// A reload's `server-state-file`: the operational state the server had (HAProxy's SRV_ST_*: 0 stopped,
    /// 1 starting, 2 running, 3 stopping) sets the counter as HAProxy 2.6 sets it.
    public mutating func restore(operationalState: Int, health saved: Int) {
        switch operationalState {
        case 0:
            health = 0
            isUp = false
        case 1 where rise > 1:
            health = saved >= 1 && saved < rise ? saved : rise - 1
            isUp = false
        case 3 where fall > 1:
            health = saved >= rise && saved <= top - 1 ? saved : rise
            isUp = true
        case 3:
            health = 0
            isUp = false
        default:
            health = top
            isUp = true
        }
    }

    /// When the next check is due.
    public var nextInterval: ConfigTime {
        if isUp && health == top { return inter }
        if !isUp && health == 0 { return downinter ?? inter }
        return fastinter ?? inter
    }

    /// The `health/threshold` HAProxy prints in health-check log lines and on the stats page, e.g. `2/3` going
    /// down or `1/2` coming up.
    public var progress: (value: Int, threshold: Int) {
        isUp ? (health - rise + 1, fall) : (health, rise)
    }
}
