/// The stats page's admin form (`stats admin if|unless COND`), processed as HAProxy 2.6 processes its POST
/// (stats.c, `stats_process_http_post`): the body's `b` (backend), `action` and `s` (servers) fields, read from the
/// end (the last `b` and `action` win), `+` and `%XX` decoded; the action applied to each named server of that
/// backend; the outcome one of HAProxy's codes, carried to the page by a 303 to `URI;st=CODE`.
struct StatsAdminForm: Equatable {
    var backend: String?
    var action: String?
    var servers: [String]

    /// The form's fields; nil when a field cannot be decoded (HAProxy's ERRP).
    static func parse(_ body: [UInt8]) -> StatsAdminForm? {
        var form = StatsAdminForm(backend: nil, action: nil, servers: [])
        for field in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false).reversed() {
            let parts = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : []) else { return nil }
            switch key {
            case "b" where form.backend == nil: form.backend = value
            case "action" where form.action == nil: form.action = value
            case "s": form.servers.insert(value, at: 0)
            default: break
            }
        }
        return form
    }

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; nil for a broken escape.
    static func decode(_ bytes: some Collection<UInt8>) -> String? {
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let byte = bytes[i]
            if byte == UInt8(ascii: "+") {
                out.append(0x20)
            } else if byte == UInt8(ascii: "%") {
                let high = bytes.index(after: i)
                guard high != bytes.endIndex else { return nil }
                let low = bytes.index(after: high)
                guard low != bytes.endIndex, let h = hex(bytes[high]), let l = hex(bytes[low]) else { return nil }
                out.append(h << 4 | l)
                i = low
            } else {
                out.append(byte)
            }
            i = bytes.index(after: i)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The actions of HAProxy 2.6's form; those this build cannot carry out (forcing a health or agent state) are
    /// known, and count as not done.
    static let actions: Set<String> = [
        "ready", "drain", "maint", "shutdown", "dhlth", "ehlth", "hrunn", "hnolb", "hdown", "dagent", "eagent",
        "arunn", "adown", "disable", "enable", "stop", "start",
    ]

    /// The outcome HAProxy reports from how many named servers there were and how many were changed.
    static func outcome(total: Int, altered: Int) -> String {
        if total == 0 { return "NONE" }
        if altered == 0 { return "ERRP" }
        return altered == total ? "DONE" : "PART"
    }

    /// What the page says for a code (`URI;st=CODE`).
    static func message(_ code: String) -> String? {
        switch code {
        case "DONE": "Action processed successfully."
        case "NONE": "Nothing has changed."
        case "PART": "Action not processed for some servers."
        case "ERRP": "Action not processed because of invalid parameters."
        case "EXCD": "Action not processed : the buffer couldn't store all the data."
        case "DENY": "Action denied."
        case "IVAL": "Invalid requests (unsupported method or chunked encoded request)."
        case "UNKN": "Unexpected result."
        default: nil
        }
    }
}
