/// A server's administrative state, as HAProxy 2.6's runtime API sets it (`set server BE/SRV state
/// ready|drain|maint`, `disable server`, `enable server`) and `show servers state` reports it:
///
/// - **maintenance** (HAProxy's FMAINT): no traffic at all and no health checks; `disabled` in the configuration
///   starts a server there (and sets CMAINT, which `show servers state` goes on reporting after `ready`, as 2.6
///   does);
/// - **drain** (FDRAIN): no new sessions from the balancer, the server stays UP and checked;
/// - `ready` clears both; `drain` leaves maintenance into drain (HAProxy then says it "remains in forced drain
///   mode"); `maint` clears drain.
///
/// `apply` returns what HAProxy logs for the change; the caller adds the server counts (see `AdminEvent`).
public struct ServerAdmin: Hashable, Sendable {
    /// Forced maintenance (FMAINT), what the operator's requests set and clear.
    public private(set) var forcedMaintenance: Bool
    public private(set) var drain = false
    /// `disabled` in the configuration (CMAINT): only reported.
    public let configuredMaintenance: Bool
    /// No address (RMAINT: `init-addr … none` and nothing resolved yet, or its resolvers lost it): in maintenance
    /// whatever the operator asks, until its resolvers find it an address.
    public private(set) var resolution: Bool
    /// Its address and port come from an SRV record (HAProxy's HMAINT flag, which 2.6 sets then): only reported.
    public var fromSRVRecord = false

    /// In maintenance: forced, or for want of an address.
    public var maintenance: Bool { forcedMaintenance || resolution }

    public init(disabled: Bool, noAddress: Bool = false) {
        forcedMaintenance = disabled
        configuredMaintenance = disabled
        resolution = noAddress
    }

    /// What an operator asks.
    public enum Request: String, Hashable, Sendable, CaseIterable {
        case ready, drain, maint
    }

    /// A change HAProxy logs, in its order.
    public enum AdminEvent: Hashable, Sendable {
        /// `Server be/srv is going DOWN for maintenance. …left. …` (alert when the server was serving, else notice).
        case goingDownForMaintenance(wasServing: Bool)
        /// `Server be/srv was DOWN and now enters maintenance.` (a checked server that was DOWN; notice)
        case downEntersMaintenance
        /// `Server be/srv is UP/READY (leaving forced maintenance).`, or `UP/DRAIN` (notice)
        case leavesMaintenance(intoDrain: Bool)
        /// `Server be/srv enters drain state. …online. …` (notice)
        case entersDrain
        /// `Server be/srv is UP (leaving forced drain).` (notice)
        case leavesDrain
        /// `Server be/srv remains in forced drain mode.` (notice, after leaving maintenance into drain)
        case remainsInDrain
    }

    /// What HAProxy logs when a server's resolvers take its address away or give it one again.
    public enum ResolutionEvent: Hashable, Sendable {
        /// `Server be/srv is going DOWN for maintenance (CAUSE). …left. …` (alert when it was serving, else notice)
        case goingDownForMaintenance(wasServing: Bool)
        /// `Server be/srv was DOWN and now enters maintenance (CAUSE).` (notice)
        case downEntersMaintenance
        /// `Server be/srv ('FQDN') is UP/READY (resolves again).` (or DOWN, DRAIN; notice)
        case resolvesAgain(up: Bool, drain: Bool)
        /// `Server be/srv ('FQDN') resolves again but remains in maintenance.` (notice)
        case resolvesAgainButRemainsInMaintenance
    }

    /// The resolvers' verdict on a server that is UP or DOWN by its health (`up`) and took traffic or not
    /// (`serving`): it `lost` its address (RMAINT set), or has one again (cleared).
    public mutating func setResolution(lost: Bool, up: Bool, serving: Bool) -> [ResolutionEvent] {
        guard lost != resolution else { return [] }
        let wasMaintenance = maintenance
        resolution = lost
        if lost {
            guard !wasMaintenance else { return [] }
            return up ? [.goingDownForMaintenance(wasServing: serving)] : [.downEntersMaintenance]
        }
        return forcedMaintenance ? [.resolvesAgainButRemainsInMaintenance] : [.resolvesAgain(up: up, drain: drain)]
    }

    /// Applies `request` to a server that is UP or DOWN by its health (`up`), and whether it took traffic before
    /// (`serving`: up, not drained, weight above 0).
    public mutating func apply(_ request: Request, up: Bool, serving: Bool) -> [AdminEvent] {
        switch request {
        case .ready:
            // As HAProxy: drain is cleared first, then maintenance.
            var events: [AdminEvent] = []
            if drain {
                drain = false
                if !forcedMaintenance { events.append(.leavesDrain) }
            }
            if forcedMaintenance {
                forcedMaintenance = false
                events.append(.leavesMaintenance(intoDrain: false))
            }
            return events
        case .drain:
            if forcedMaintenance {
                forcedMaintenance = false
                drain = true
                return [.leavesMaintenance(intoDrain: true), .remainsInDrain]
            }
            guard !drain else { return [] }
            drain = true
            return [.entersDrain]
        case .maint:
            guard !forcedMaintenance else {
                drain = false
                return []
            }
            forcedMaintenance = true
            drain = false
            return up ? [.goingDownForMaintenance(wasServing: serving)] : [.downEntersMaintenance]
        }
    }

    /// A reload's `server-state-file`: the flags the server had, with HAProxy 2.6's rules: a change of `disabled`
    /// in the configuration wins over the file; otherwise the file's forced maintenance holds; its forced drain
    /// holds outside maintenance unless it came only from a configured weight of 0 that is no longer 0.
    public mutating func restore(flags saved: Int, savedInitialWeight: Int, initialWeight: Int) {
        let savedConfigured = saved & 0x04 != 0
        if savedConfigured != configuredMaintenance {
            forcedMaintenance = configuredMaintenance
        } else if saved & 0x01 != 0 && !configuredMaintenance {
            forcedMaintenance = true
        } else if saved & 0x01 == 0 && configuredMaintenance {
            forcedMaintenance = false
        }
        if !forcedMaintenance && saved & 0x08 != 0 && (savedInitialWeight > 0 || initialWeight == 0) { drain = true }
    }

    /// `srv_admin_state` of `show servers state`: FMAINT 0x01, CMAINT 0x04, FDRAIN 0x08, RMAINT 0x20, HMAINT 0x40.
    public var flags: Int {
        (forcedMaintenance ? 0x01 : 0) | (configuredMaintenance ? 0x04 : 0) | (drain ? 0x08 : 0)
            | (resolution ? 0x20 : 0) | (fromSRVRecord ? 0x40 : 0)
    }
}
