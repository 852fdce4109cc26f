import LogCore

extension HAProxyEvent {
    /// Reads a state, health-check or lifecycle message (the text after the syslog header); nil when the text is
    /// not one of them.
    public init?(message text: some StringProtocol) {
        var s = TextScanner(Array(text.utf8))
        s.trimTrailingNewlines()
        guard let event = HAProxyEvent.read(&s), s.atEnd else { return nil }
        self = event
    }

    private static func read(_ s: inout TextScanner) -> HAProxyEvent? {
        if s.consume(HAProxyEvent.auditPrefix) {
            let text = s.readRest()
            return text.isEmpty ? nil : .audit(text)
        }
        if s.consume("Proxy ") {
            guard let name = s.readWord() else { return nil }
            if s.consume(" started.") { return .proxyStarted(name: name) }
            guard s.consume(" stopped (cumulated conns: FE: "), let fe = s.readInt(), s.consume(", BE: "),
                let be = s.readInt(), s.consume(").")
            else { return nil }
            return .proxyStopped(name: name, frontendConnections: fe, backendConnections: be)
        }
        for kind in [ProxyKind.backend, .proxy, .frontend] where s.consume(kind.rawValue + " ") {
            guard let name = s.readWord(), s.consume(" has no server available!") else { return nil }
            return .noServerAvailable(kind: kind, name: name)
        }
        if s.consume("Health check for ") {
            let backup = s.consume("backup ")
            guard s.consume("server "), let (backend, server) = s.readBackendServer(), s.consume(" ") else {
                return nil
            }
            let conditionally = s.consume("conditionally ")
            let succeeded: Bool
            if s.consume("succeeded") {
                succeeded = true
            } else if s.consume("failed") {
                succeeded = false
            } else {
                return nil
            }
            guard s.consume(", reason: "), let reason = readReason(&s, until: ", status: "),
                s.consume(", status: "), let health = s.readInt(), s.consume("/"), let threshold = s.readInt(),
                s.consume(" "), let state = s.readUntil("."), s.consume(".")
            else { return nil }
            return .healthCheck(
                HealthCheckReport(
                    backend: backend, server: server, backup: backup, succeeded: succeeded,
                    conditionally: conditionally, reason: reason, health: health, threshold: threshold, state: state))
        }
        let backup = s.consume("Backup ")
        guard s.consume("Server "), let (backend, server) = s.readBackendServer() else { return nil }
        if s.consume(" was DOWN and now enters maintenance.") {
            return .serverEntersMaintenance(backend: backend, server: server, backup: backup)
        }
        for word in ["UP", "DOWN", "DRAIN"] where s.consume(" is \(word)/") {
            // `is UP/READY (leaving forced maintenance).` and its siblings.
            guard let rest = s.readUntil(" (leaving forced maintenance)."),
                s.consume(" (leaving forced maintenance).")
            else { return nil }
            return .serverLeavesMaintenance(backend: backend, server: server, backup: backup, state: word + "/" + rest)
        }
        if s.consume(" remains in forced drain mode.") {
            return .serverRemainsInDrain(backend: backend, server: server, backup: backup)
        }
        if s.consume(" enters drain state") {
            guard let change = readChange(&s, backend, server, backup, up: true) else { return nil }
            return .serverEntersDrain(change)
        }
        for word in ["UP", "DOWN"] where s.consume(" is \(word) (leaving forced drain).") {
            return .serverLeavesDrain(backend: backend, server: server, backup: backup, state: word)
        }
        if s.consume(" is going DOWN for maintenance") {
            guard let change = readChange(&s, backend, server, backup, up: false) else { return nil }
            return .serverGoingDownForMaintenance(change)
        }
        if s.consume(" is DOWN") {
            guard let change = readChange(&s, backend, server, backup, up: false) else { return nil }
            return .serverDown(change)
        }
        if s.consume(" is stopping") {
            guard let change = readChange(&s, backend, server, backup, up: true) else { return nil }
            return .serverStopping(change)
        }
        if s.consume(" is UP") {
            guard let change = readChange(&s, backend, server, backup, up: true) else { return nil }
            return .serverUp(change)
        }
        return nil
    }

    private static func readChange(
        _ s: inout TextScanner, _ backend: String, _ server: String, _ backup: Bool, up: Bool
    ) -> ServerStateChange? {
        var reason: CheckReason?
        if s.consume(", reason: ") {
            guard let r = readReason(&s, until: ". ") else { return nil }
            reason = r
        }
        guard s.consume(". "), let active = s.readInt(), s.consume(" active and "), let backupCount = s.readInt(),
            s.consume(up ? " backup servers online." : " backup servers left.")
        else { return nil }
        let runningOnBackup = s.consume(" Running on backup.")
        var change = ServerStateChange(
            backend: backend, server: server, backup: backup, reason: reason, activeServers: active,
            backupServers: backupCount, runningOnBackup: runningOnBackup)
        if up {
            guard s.consume(" "), let requeued = s.readInt(), s.consume(" sessions requeued, "),
                let queued = s.readInt(), s.consume(" total in queue.")
            else { return nil }
            change.requeued = requeued
            change.queued = queued
        } else {
            guard s.consume(" "), let active = s.readInt(), s.consume(" sessions active, "),
                let requeued = s.readInt(), s.consume(" requeued, "), let queued = s.readInt(),
                s.consume(" remaining in queue.")
            else { return nil }
            change.sessionsActive = active
            change.requeued = requeued
            change.queued = queued
        }
        return change
    }

    /// `<desc>[, code: N][, info: "…"][, check duration: Nms]`, ending where `terminator` starts.
    private static func readReason(_ s: inout TextScanner, until terminator: String) -> CheckReason? {
        guard let description = s.readUntilAny([", code: ", ", info: \"", ", check duration: ", terminator]) else {
            return nil
        }
        var reason = CheckReason(description: description)
        if s.consume(", code: ") {
            guard let code = s.readInt() else { return nil }
            reason.code = code
        }
        if s.consume(", info: \"") {
            guard let info = s.readEscapedQuoted() else { return nil }
            reason.info = info
        }
        if s.consume(", check duration: ") {
            guard let d = s.readInt(), s.consume("ms") else { return nil }
            reason.durationMilliseconds = d
        }
        return reason
    }
}

/// A forward-only reader of ASCII text for the few fixed-wording messages.
struct TextScanner {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    /// Everything left.
    mutating func readRest() -> String {
        defer { position = bytes.count }
        return String(decoding: bytes[position...], as: UTF8.self)
    }

    mutating func trimTrailingNewlines() {
        var end = bytes.count
        while end > position && (bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D) { end -= 1 }
        if end < bytes.count { self = TextScanner(Array(bytes[..<end])) }
    }

    private func matches(_ literal: String, at offset: Int) -> Bool {
        var i = offset
        for b in literal.utf8 {
            guard i < bytes.count, bytes[i] == b else { return false }
            i += 1
        }
        return true
    }

    mutating func consume(_ literal: String) -> Bool {
        guard matches(literal, at: position) else { return false }
        position += literal.utf8.count
        return true
    }

    /// A run of bytes up to a space or the end (a proxy name).
    mutating func readWord() -> String? {
        let start = position
        while position < bytes.count && bytes[position] != 0x20 { position += 1 }
        return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
    }

    /// `backend/server` up to a space.
    mutating func readBackendServer() -> (String, String)? {
        let start = position
        guard let word = readWord(), let slash = word.firstIndex(of: "/") else {
            position = start
            return nil
        }
        let backend = String(word[..<slash])
        let server = String(word[word.index(after: slash)...])
        guard !backend.isEmpty, !server.isEmpty else { return nil }
        return (backend, server)
    }

    mutating func readInt() -> Int? {
        let start = position
        var negative = false
        if position < bytes.count && bytes[position] == 0x2D {
            negative = true
            position += 1
        }
        var value = 0
        let digitsStart = position
        while position < bytes.count && ASCII.isDigit(bytes[position]) && position - digitsStart < 18 {
            value = value * 10 + Int(bytes[position] &- 0x30)
            position += 1
        }
        guard position > digitsStart else {
            position = start
            return nil
        }
        return negative ? -value : value
    }

    /// Text up to (not including) `literal`; nil when it never comes.
    mutating func readUntil(_ literal: String) -> String? {
        readUntilAny([literal])
    }

    /// Text up to the first of `literals`; nil when none comes.
    mutating func readUntilAny(_ literals: [String]) -> String? {
        var i = position
        while i < bytes.count {
            if literals.contains(where: { matches($0, at: i) }) {
                let text = String(decoding: bytes[position..<i], as: UTF8.self)
                position = i
                return text
            }
            i += 1
        }
        return nil
    }

    /// The rest of a `"…"` string whose opening quote is consumed: `\"`, `\\` and `\xHH` undone.
    mutating func readEscapedQuoted() -> String? {
        var out: [UInt8] = []
        while position < bytes.count {
            let b = bytes[position]
            if b == 0x22 {
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b == 0x5C && position + 1 < bytes.count {
                let next = bytes[position + 1]
                if next == 0x78, position + 3 < bytes.count, let hi = ASCII.hexValue(bytes[position + 2]),
                    let lo = ASCII.hexValue(bytes[position + 3])
                {
                    out.append(hi << 4 | lo)
                    position += 4
                    continue
                }
                out.append(next)
                position += 2
                continue
            }
            out.append(b)
            position += 1
        }
        return nil
    }
}
