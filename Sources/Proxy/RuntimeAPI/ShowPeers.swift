import Foundation
import LogCore
import NIOCore

/// `show peers [NAME]`, laid out as HAProxy 2.6 prints it: a line per `peers` section (when it last changed, its
/// resynchronisation deadline), then each peer with its state, its counters, and for each shared table the
/// session's cursors and the table's update numbers. HAProxy's memory addresses are stand-ins (stable per object).
enum ShowPeers {
    /// What one section looks like at one moment, copied out on its event loop.
    struct Snapshot: Sendable {
        struct Table: Sendable {
            var name: String
            var localID: Int
            var remoteID: UInt64
            var remoteData: UInt64
            var lastAcked: UInt32
            var lastPushed: UInt64
            var lastGet: UInt32
            var teachingOrigin: UInt64
            var update: UInt64
            var localUpdate: UInt64
            var commitUpdate: UInt64
        }
        struct Peer: Sendable {
            var name: String
            var local: Bool
            var active: Bool
            var address: String
            var status: Int
            var sinceHandshake: Int64?
            var reconnectIn: Int64?
            var heartbeatIn: Int64?
            var confirm: Int
            var sentHeartbeats, receivedHeartbeats, missedHeartbeats, newConnections, protocolErrors, collisions: Int
            var established: Bool
            var source: String?
            var destination: String?
            var tables: [Table]
            /// The peer's `server_key` dictionary as this side received it (128 entries; nil: none yet).
            var received: [String?] = []
        }
        var name: String
        var disabled: Bool
        var lastChange: Date
        var resyncIn: Int64?
        var flags: UInt32
        var peers: [Peer]
    }

    /// `dict`: each table also lists the dictionary caches (the sent one is empty: this side sends each server key
    /// whole, never by reference).
    static func render(_ sections: [Snapshot], only name: String?, dictionary: Bool = false) -> String {
        var out = ""
        for (n, s) in sections.enumerated() where name == nil || s.name == name {
            if !out.isEmpty { out += "\n" }
            let base = 0x5600_0000_0000 + n << 24
            out += hex(base) + ": [\(date(s.lastChange))] id=\(s.name) disabled=\(s.disabled ? 1 : 0) "
            out += "flags=0x\(String(s.flags, radix: 16)) resync_timeout=\(timer(s.resyncIn)) task_calls=0\n"
            for (p, peer) in s.peers.enumerated() {
                let address = base + 0x1000 * (p + 1)
                out += "  \(hex(address)): id=\(peer.name)(\(peer.local ? "local" : "remote"),"
                out += "\(peer.active ? "active" : "inactive")) addr=\(peer.address) last_status=\(status(peer.status))"
                out += " last_hdshk=\(peer.sinceHandshake.map(human) ?? "<NEVER>")\n"
                out += "        reconnect=\(timer(peer.reconnectIn)) heartbeat=\(timer(peer.heartbeatIn))"
                out += " confirm=\(peer.confirm) tx_hbt=\(peer.sentHeartbeats) rx_hbt=\(peer.receivedHeartbeats)"
                out += " no_hbt=\(peer.missedHeartbeats) new_conn=\(peer.newConnections) proto_err=\(peer.protocolErrors)"
                out += " coll=\(peer.collisions)\n"
                out += "        flags=0x0"
                if peer.active {
                    out += " appctx:\(hex(address + 0x100)) st0=\(peer.established ? 7 : 3) st1=0 task_calls=0"
                    out += " state=\(peer.established ? "EST" : "CON")"
                    if peer.source != nil || peer.destination != nil {
                        out += "\n        xprt=RAW"
                        if let source = peer.source { out += " src=\(source)" }
                        if let destination = peer.destination { out += " addr=\(destination)" }
                    }
                }
                if !peer.tables.isEmpty {
                    out += "\n        shared tables:"
                    for (t, table) in peer.tables.enumerated() {
                        out += "\n          \(hex(address + 0x200 + 0x40 * t)) local_id=\(table.localID)"
                        out += " remote_id=\(table.remoteID) flags=0x0 remote_data=0x\(String(table.remoteData, radix: 16))"
                        out += "\n              last_acked=\(table.lastAcked) last_pushed=\(UInt32(truncatingIfNeeded: table.lastPushed))"
                        out += " last_get=\(table.lastGet) teaching_origin=\(UInt32(truncatingIfNeeded: table.teachingOrigin))"
                        out += " update=\(UInt32(truncatingIfNeeded: table.update))"
                        out += "\n              table:\(hex(base + 0x80_0000 + 0x1000 * t)) id=\(table.name)"
                        out += " update=\(UInt32(truncatingIfNeeded: table.localUpdate))"
                        out += " localupdate=\(UInt32(truncatingIfNeeded: table.localUpdate))"
                        out += " commitupdate=\(UInt32(truncatingIfNeeded: table.commitUpdate)) refcnt=1"
                        if dictionary {
                            out += "\n        TX dictionary cache:\n        RX dictionary cache:"
                            let received = peer.received + Array(repeating: nil, count: max(0, 128 - peer.received.count))
                            for (i, value) in received.prefix(128).enumerated() {
                                if i % 4 == 0 { out += "\n        " }
                                out += "  " + String(repeating: " ", count: max(0, 3 - String(i).count)) + "\(i) -> "
                                    + (value ?? "-")
                            }
                        } else {
                            out += "\n        Dictionary cache not dumped (use \"show peers dict\")"
                        }
                    }
                }
                out += "\n"
            }
        }
        return out
    }

    static func status(_ code: Int) -> String {
        switch code {
        case 100: "CONN"
        case 110: "HSHK"
        case 200: "ESTA"
        case 300: "RETR"
        case 501: "PROT"
        case 502: "VERS"
        case 503: "NAME"
        case 504: "UNKN"
        default: "NONE"
        }
    }

    /// A timer: `<PAST>` once expired, `<NEVER>` when not set, else what remains.
    private static func timer(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "<NEVER>" }
        return milliseconds <= 0 ? "<PAST>" : human(milliseconds)
    }

    /// HAProxy's `human_time`: at most two units of d, h, m, s.
    static func human(_ milliseconds: Int64) -> String {
        let t = Int(milliseconds / 1_000)
        var out = ""
        var count = 2
        if t >= 86_400 {
            out += "\(t / 86_400)d"
            count -= 1
        }
        if count > 0 && t % 86_400 / 3_600 != 0 {
            out += "\(t % 86_400 / 3_600)h"
            count -= 1
        }
        if count > 0 && t % 3_600 / 60 != 0 {
            out += "\(t % 3_600 / 60)m"
            count -= 1
        }
        if (count > 0 && t % 60 != 0) || t == 0 { out += "\(t % 60)s" }
        return out
    }

    private static func hex(_ n: Int) -> String { "0x" + String(n, radix: 16) }

    private static func date(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970)
        var tm = tm()
        localtime_r(&t, &tm)
        var out: [UInt8] = []
        out.appendDecimal(Int(tm.tm_mday), width: 2)
        out.append(0x2F)
        out.appendMonthAbbreviation(Int(tm.tm_mon) + 1)
        out.append(0x2F)
        out.appendDecimal(Int(tm.tm_year) + 1900, width: 4)
        out.append(0x3A)
        out.appendClock(hour: Int(tm.tm_hour), minute: Int(tm.tm_min), second: Int(tm.tm_sec))
        return String(decoding: out, as: UTF8.self)
    }
}
