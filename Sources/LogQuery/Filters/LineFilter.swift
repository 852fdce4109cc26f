import HAProxyLog
import LogCore

/// The timers `--slower-than` can look at.
public enum Timer: String, CaseIterable, Sendable {
    /// Ta (HTTP) or Tt (TCP).
    case total = "Ta"
    case request = "TR"
    case queue = "Tw"
    case connect = "Tc"
    case response = "Tr"
}

/// The conditions a traffic line must meet to be counted; all given conditions must hold. Evaluated on the
/// parsed line in place, without allocating.
public struct LineFilter: Sendable {
    public var backends: [Glob] = []
    public var frontends: [Glob] = []
    public var servers: [Glob] = []
    /// HTTP status ranges (`5xx` = 500...599); TCP lines never match a status filter.
    public var statuses: [ClosedRange<Int>] = []
    /// 5xx, no server reached (`<NOSRV>`), or a termination state other than `--`.
    public var errorsOnly = false
    /// Termination states, by their first one or two characters (`SC`, `C`).
    public var terminations: [[UInt8]] = []
    public var mode: HAProxyLogRecord.Mode?
    public var clients: [AddressMatcher] = []
    /// Syslog hostnames of the stored lines (central logs from several proxies).
    public var hosts: [Glob] = []
    public var methods: [[UInt8]] = []
    /// The URI starts with one of these prefixes or matches one of these regular expressions.
    public var paths: [PathPattern] = []
    /// The timer `slowTimer` (by default the total time: Ta for HTTP, Tt for TCP) is at least this many ms.
    public var slowerThan: Int?
    public var slowTimer = Timer.total
    /// The line's date (accept date for TCP, request date for HTTP) is at or after `since` and before `until`.
    public var since: WallTime?
    public var until: WallTime?

    public init() {}

    public var isEmpty: Bool {
        backends.isEmpty && frontends.isEmpty && servers.isEmpty && statuses.isEmpty && !errorsOnly
            && terminations.isEmpty && mode == nil && clients.isEmpty && hosts.isEmpty && methods.isEmpty
            && paths.isEmpty && slowerThan == nil && since == nil && until == nil
    }

    /// Whether a condition looks at the request line (method, path), which a partial parse leaves out.
    public var needsRequestLine: Bool { !methods.isEmpty || !paths.isEmpty }

    /// Whether a condition needs the full parse (the request line, or the date's value).
    public var needsFullParse: Bool { needsRequestLine || since != nil || until != nil }

    public func matches(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        @inline(__always) func bytes(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: buffer[r])
        }
        let isTCP = line.kind == .tcp
        let status = line.status
        let total = line.totalTime
        let t = line.terminationState
        if let mode, (mode == .tcp) != isTCP { return false }
        if let slowerThan {
            let value: Int
            switch slowTimer {
            case .total: value = total
            case .request: value = line.requestTime
            case .queue: value = line.queueTime
            case .connect: value = line.connectTime
            case .response: value = line.responseTime
            }
            if value < slowerThan { return false }
        }
        if since != nil || until != nil {
            let when = WallTime(line.date)
            if let since, when < since { return false }
            if let until, !(when < until) { return false }
        }
        if !statuses.isEmpty {
            if isTCP || !statuses.contains(where: { $0.contains(status) }) { return false }
        }
        if errorsOnly {
            guard LineFilter.isError(line, in: buffer) else { return false }
        }
        if !terminations.isEmpty {
            guard terminations.contains(where: { $0[0] == t.cause && ($0.count < 2 || $0[1] == t.phase) }) else {
                return false
            }
        }
        let (backend, frontend, server, host, client) = (
            bytes(line.backend), bytes(line.frontend), bytes(line.server), bytes(line.host), bytes(line.clientIP)
        )
        if !backends.isEmpty && !backends.contains(where: { $0.matches(backend) }) { return false }
        if !frontends.isEmpty && !frontends.contains(where: { $0.matches(frontend) }) { return false }
        if !servers.isEmpty && !servers.contains(where: { $0.matches(server) }) { return false }
        if !hosts.isEmpty && !hosts.contains(where: { $0.matches(host) }) { return false }
        if !clients.isEmpty && !clients.contains(where: { $0.matches(client) }) { return false }
        if !methods.isEmpty {
            let m = bytes(line.method)
            guard methods.contains(where: { $0.elementsEqual(m) }) else { return false }
        }
        if !paths.isEmpty {
            let uri = bytes(line.uri)
            guard paths.contains(where: { $0.matches(uri) }) else { return false }
        }
        return true
    }

    /// The `--errors` condition: a 5xx, no server reached, or a session that did not end normally. As in
    /// HAProxy's own notion of an error line, what HAProxy handled itself (`L`: stats page, redirect) is not one.
    @inline(__always)
    public static func isError(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        let status = line.status
        if line.kind != .tcp {
            if status >= 500 { return true }
        }
        let t = line.terminationState
        if t.cause == 0x4C { return false }
        if t.cause != 0x2D || t.phase != 0x2D { return true }
        let server = UnsafeBufferPointer(rebasing: buffer[line.server])
        return server.count == 7 && server.elementsEqual("<NOSRV>".utf8)
    }
}
