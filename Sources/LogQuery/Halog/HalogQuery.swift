import HAProxyLog

/// halog's command line: its input filters, modifiers and one output, as `logquery halog` accepts them.
public struct HalogQuery: Sendable, Equatable {
    public enum Output: Sendable, Equatable {
        /// No output option: the matching lines, unchanged.
        case lines
        /// `-c`
        case count
        /// `-st`
        case statuses
        /// `-srv`
        case servers
        /// `-tc`
        case terminationCodes
        /// `-cc`
        case cookieCodes
        /// `-pct`
        case percentiles
        /// `-u`, `-uc`, `-ue`, `-ua`, `-ut`, `-uao`, `-uto`, `-uba`, `-ubt`
        case urls(URLSort)
        /// `-ic`: the URL columns per client address, by count.
        case clients
    }

    /// The sort of halog's URL outputs.
    public enum URLSort: String, Sendable, Equatable {
        case url = "-u", count = "-uc", errors = "-ue", average = "-ua", total = "-ut", okAverage = "-uao"
        case okTotal = "-uto", bytesAverage = "-uba", bytesTotal = "-ubt"
    }

    public var output = Output.lines
    public var httpOnly = false
    /// `-e` (true) / `-E` (false).
    public var errors: Bool?
    /// `-hs`/`-HS`: status range and whether it is inverted.
    public var statusRange: ClosedRange<Int>?
    public var statusRangeInverted = false
    /// `-rt`/`-RT`: the 4th timer (Tr) at least / below this.
    public var responseTime: Int?
    public var responseTimeInverted = false
    /// `-tcn`/`-TCN`: the first two termination characters.
    public var terminationCode: [UInt8]?
    public var terminationCodeInverted = false
    /// `-Q` / `-QS`
    public var queuedOnly = false
    public var serverQueuedOnly = false
    /// `-v`
    public var invert = false
    /// `-q`
    public var quiet = false
    /// `-m`
    public var maxLines: Int?
    /// `-query`: keep the query string in URL keys.
    public var keepQuery = false
    /// `-time [min][:max]`: the accept date as a Unix time (read in the local zone, as halog's mktime does).
    public var timeRange: ClosedRange<Int64>?
    /// `-s N` was given: logquery recognises the syslog prefix itself, so it changes nothing.
    public var skipFieldsGiven = false

    public init() {}

    /// Options halog has and logquery does not implement yet: refused with a clear message, never ignored.
    static let notYet: Set<String> = ["-gt", "-hdr", "-hdr-match", "-ad", "-ac"]

    /// Reads halog's arguments; the error names the option.
    public static func parse(_ arguments: [String]) throws -> HalogQuery {
        var q = HalogQuery()
        var outputs = 0
        var i = 0
        func value(_ option: String) throws -> String {
            i += 1
            guard i < arguments.count else { throw HalogUsageError("missing value for \(option)") }
            return arguments[i]
        }
        func number(_ option: String) throws -> Int {
            let text = try value(option)
            guard let n = Int(text) else { throw HalogUsageError("\(option) takes a number, not '\(text)'") }
            return n
        }
        while i < arguments.count {
            let a = arguments[i]
            switch a {
            case "-c": q.output = .count; outputs += 1
            case "-st": q.output = .statuses; outputs += 1
            case "-srv": q.output = .servers; outputs += 1
            case "-tc": q.output = .terminationCodes; outputs += 1
            case "-cc": q.output = .cookieCodes; outputs += 1
            case "-pct": q.output = .percentiles; outputs += 1
            case "-ic": q.output = .clients; outputs += 1
            case "-query": q.keepQuery = true
            case "-s":
                _ = try number(a)
                q.skipFieldsGiven = true
            case "-time":
                let text = try value(a)
                let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let low = parts[0].isEmpty ? 0 : Int64(parts[0])
                let high = parts.count < 2 ? 0xFFFF_FFFF : Int64(parts[1])
                guard let low, let high else {
                    throw HalogUsageError("-time takes [min][:max] Unix times, not '\(text)'")
                }
                q.timeRange = low...max(low, high)
            case "-H": q.httpOnly = true
            case "-e": q.errors = true
            case "-E": q.errors = false
            case "-Q": q.queuedOnly = true
            case "-QS": q.serverQueuedOnly = true
            case "-v": q.invert = true
            case "-q": q.quiet = true
            case "-o": break  // halog parses it and ignores it
            case "-m": q.maxLines = try number(a)
            case "-rt", "-RT":
                q.responseTime = try number(a)
                q.responseTimeInverted = a == "-RT"
            case "-tcn", "-TCN":
                let code = Array(try value(a).utf8)
                guard code.count >= 2 else { throw HalogUsageError("\(a) takes a two-character code") }
                q.terminationCode = Array(code.prefix(2))
                q.terminationCodeInverted = a == "-TCN"
            case "-hs", "-HS":
                let text = try value(a)
                let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let low = parts[0].isEmpty ? 0 : Int(parts[0])
                let high = parts.count < 2 ? low : (parts[1].isEmpty ? 65535 : Int(parts[1]))
                guard let low, let high else { throw HalogUsageError("\(a) takes [min][:[max]], not '\(text)'") }
                q.statusRange = low...max(low, high)
                q.statusRangeInverted = a == "-HS"
            default:
                if let sort = URLSort(rawValue: a) {
                    q.output = .urls(sort)
                    outputs += 1
                    break
                }
                if notYet.contains(a) {
                    throw HalogUsageError("\(a) is a halog option logquery does not implement yet")
                }
                throw HalogUsageError("unknown option '\(a)'")
            }
            i += 1
        }
        guard outputs <= 1 else { throw HalogUsageError("Please, set only one output filter.") }
        return q
    }

    /// Whether any input filter is set (halog's plain `-c` counts every line without looking at it).
    var hasInputFilter: Bool {
        httpOnly || errors != nil || statusRange != nil || responseTime != nil || terminationCode != nil || queuedOnly
            || serverQueuedOnly || timeRange != nil
    }
}

public struct HalogUsageError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
