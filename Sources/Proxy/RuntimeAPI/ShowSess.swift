import HAProxyLog
import LogCore
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The runtime API's `show sess [id|all]`, as HAProxy 2.6 writes it, with the fields this build has: a session's
/// number (where HAProxy shows its stream's address; `shutdown session` takes either), protocol, client, frontend,
/// backend and server, epoch, age and retries. HAProxy's task and buffer internals (`ts`, `calls`, `rate`, `cpu`,
/// `lat`, `rq[…]`, `rp[…]`, `scf`, `scb`, `exp`, `c_exp`, flags) have no counterpart here and are left out rather
/// than made up.
enum ShowSess {
    /// The answer to `show sess` followed by `target` (its third word: empty, `all`, or a session's number).
    static func render(_ directory: SessionDirectory?, target: String, now: Int = Int(time(nil))) -> String {
        let listings = directory?.snapshot() ?? []
        // As HAProxy: a number that does not parse (0) lists them all.
        let wanted = target == "all" ? nil : number(target)
        guard target == "all" || wanted != 0 else {
            return listings.map { line($0, directory: directory, now: now) }.joined()
        }
        let shown = listings.filter { wanted == nil || $0.id == wanted }
        if shown.isEmpty && wanted != nil { return "Session not found.\n" }
        return shown.map { full($0, directory: directory, now: now) }.joined()
    }

    /// A session's number as HAProxy reads a pointer (`strtoul(…, 0)`): `0x` hexadecimal, `0` octal, else decimal,
    /// up to the first character that is not a digit; 0 when there is none.
    static func number(_ text: String) -> UInt64 {
        var digits = Substring(text)
        var radix: UInt64 = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0") {
            radix = 8
        }
        var value: UInt64 = 0
        for c in digits {
            guard let d = c.hexDigitValue, UInt64(d) < radix else { break }
            let (times, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = times.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return .max }
            value = sum
        }
        return value
    }

    /// The one-line form.
    private static func line(_ s: SessionDirectory.Listing, directory: SessionDirectory?, now: Int) -> String {
        let place = s.now
        let backend = place.backend?.name ?? (s.frontend.isBackend ? s.frontend.name : "<NONE>")
        return "0x\(String(s.id, radix: 16)): proto=\(proto(s.frontendAddress)) src=\(address(s.client)) "
            + "fe=\(s.frontend.name) be=\(backend) srv=\(place.serverName ?? "<none>") epoch=\(hex(s.epoch)) "
            + "age=\(ShowPeers.human(Int64(max(0, now - s.acceptedAt)) * 1_000)) rc=\(place.retries)\n"
    }

    /// The detailed form (`show sess <id>`, `show sess all`).
    private static func full(_ s: SessionDirectory.Listing, directory: SessionDirectory?, now: Int) -> String {
        let place = s.now
        var date: [UInt8] = []
        HAProxyLogFormat.appendDate(s.accepted, milliseconds: false, into: &date)
        date.append(0x2E)
        date.appendDecimal(s.accepted.microsecond, width: 6)
        let ids = directory?.proxyIDs ?? [:]
        var out = "0x\(String(s.id, radix: 16)): [\(String(decoding: date, as: UTF8.self))]"
        if let stream = place.stream { out += " id=\(stream)" }
        out += " proto=\(proto(s.frontendAddress)) source=\(address(s.client))\n"
        out += "  frontend=\(s.frontend.name) (id=\(ids[s.frontend.name] ?? 0) mode=\(s.frontend.settings.mode.rawValue))"
        if let local = s.frontendAddress { out += " addr=\(address(local))" }
        out += "\n"
        let backend = place.backend ?? (s.frontend.isBackend ? s.frontend : nil)
        if let backend {
            out += "  backend=\(backend.name) (id=\(ids[backend.name] ?? 0) mode=\(backend.settings.mode.rawValue))\n"
            out += "  server=\(place.serverName ?? "<none>") (id=\(place.server.map { $0 + 1 } ?? 0))"
            if let address = place.serverAddress { out += " addr=\(self.address(address))" }
            out += "\n"
        } else {
            out += "  backend=<NONE> (id=-1 mode=-)\n  server=<NONE> (id=-1)\n"
        }
        out += "  conn_retries=\(place.retries) epoch=\(hex(s.epoch)) age=\(ShowPeers.human(Int64(max(0, now - s.acceptedAt)) * 1_000))\n"
        return out
    }

    private static func proto(_ address: SocketAddress?) -> String {
        switch address {
        case .v4: return "tcpv4"
        case .v6: return "tcpv6"
        case .unixDomainSocket: return "unix_stream"
        case nil: return "?"
        }
    }

    /// An address as HAProxy's `addr_to_str` and port write it (`::1:8080`, without brackets).
    private static func address(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress else { return "unix" }
        return "\(ip):\(address.port ?? 0)"
    }

    /// C's `%#x`: `0` for zero, else `0x…`.
    private static func hex(_ n: UInt32) -> String { n == 0 ? "0" : "0x" + String(n, radix: 16) }
}
