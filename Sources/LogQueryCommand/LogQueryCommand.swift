import ArgumentParser
import LogQuery

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct LogQueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logquery",
        abstract: "Query stored HAProxy logs by backend, server, status, termination state and client.",
        discussion: """
            Reads /var/log/haproxy.log-style files (traditional or RFC 3339 syslog prefix, or bare lines): \
            tcplog, httplog and CLF lines, server state messages, anything else counted as not understood. \
            Files are scanned on every core; with no file (or -), standard input is read.
            """,
        version: LogQuery.version,
        subcommands: [Backends.self, Servers.self, Status.self, Terminations.self, Halog.self]
    )
}

/// Files, filters and output format, shared by the report subcommands.
struct QueryOptions: ParsableArguments {
    @Argument(help: "Log files to read (stdin when none, or -).")
    var files: [String] = []

    @Option(name: .long, help: "Output format: table, json, csv or ndjson.")
    var format: String = "table"

    @Option(help: "Only these backends (exact name or glob, repeatable).")
    var backend: [String] = []

    @Option(help: "Only these frontends (exact name or glob, repeatable).")
    var frontend: [String] = []

    @Option(help: "Only these servers (exact name or glob, repeatable).")
    var server: [String] = []

    @Option(help: "Only these HTTP statuses: 404, 5xx or 400-499 (repeatable).")
    var status: [String] = []

    @Flag(help: "Only errors: 5xx, <NOSRV>, or a termination state other than --.")
    var errors = false

    @Option(help: "Only these termination states, by first one or two characters: SC, CD, s (repeatable).")
    var termination: [String] = []

    @Option(help: "Only tcp or http lines.")
    var mode: String?

    @Option(help: "Only clients in this address or network: 10.0.0.5, 10.0.0.0/8, 2001:db8::/32 (repeatable).")
    var client: [String] = []

    @Option(help: "Only lines from this syslog host (exact or glob, repeatable): central logs of many proxies.")
    var host: [String] = []

    @Option(help: "Only this HTTP method (repeatable).")
    var method: [String] = []

    @Option(help: "Only URIs starting with this path (repeatable).")
    var path: [String] = []

    @Option(help: "Only lines whose total time (Ta for HTTP, Tt for TCP) is at least this: 500ms, 2s, 1m.")
    var slowerThan: String?

    @Flag(help: "Print the first lines that were not understood, and why.")
    var showUnparsed = false

    func outputFormat() throws -> OutputFormat {
        guard let f = OutputFormat(rawValue: format) else {
            throw ValidationError("--format must be table, json, csv or ndjson, not '\(format)'")
        }
        return f
    }

    func filter() throws -> LineFilter {
        var f = LineFilter()
        f.backends = backend.map(Glob.init)
        f.frontends = frontend.map(Glob.init)
        f.servers = server.map(Glob.init)
        f.hosts = host.map(Glob.init)
        f.statuses = try status.map(StatusRange.parse)
        f.errorsOnly = errors
        f.terminations = try termination.map { t in
            let b = Array(t.utf8)
            guard (1...2).contains(b.count) else {
                throw ValidationError("--termination takes one or two characters (SC, CD, s), not '\(t)'")
            }
            return b
        }
        if let mode {
            switch mode {
            case "tcp": f.mode = .tcp
            case "http": f.mode = .http
            default: throw ValidationError("--mode must be tcp or http, not '\(mode)'")
            }
        }
        f.clients = try client.map { c in
            guard let m = AddressMatcher(c) else {
                throw ValidationError("--client: '\(c)' is not an address or network")
            }
            return m
        }
        f.methods = method.map { Array($0.utf8) }
        f.pathPrefixes = path.map { Array($0.utf8) }
        if let slowerThan {
            guard let ms = Duration.milliseconds(slowerThan) else {
                throw ValidationError("--slower-than takes a time like 500ms, 2s or 1m, not '\(slowerThan)'")
            }
            f.slowerThan = ms
        }
        return f
    }

    /// Runs a report over the inputs, printing read errors and not-understood counts to stderr.
    func run<A: LineAccumulator>(_ type: A.Type) throws -> A where A.Configuration == Void {
        let scanner = Scanner(filter: try filter())
        let (result, counts, errors) = scanner.run(files, into: A.self)
        report(counts: counts, errors: errors, showUnparsed: showUnparsed)
        if !errors.isEmpty && errors.count == max(1, files.count) { throw ExitCode(1) }
        return result
    }
}

func report(counts: ScanCounts, errors: [InputError], showUnparsed: Bool) {
    for e in errors { printError("logquery: \(e)") }
    if counts.malformed > 0 {
        printError(
            "logquery: \(counts.malformed) lines not understood"
                + (showUnparsed ? ":" : " (--show-unparsed shows the first ones)"))
        if showUnparsed { for s in counts.samples { printError("  \(s)") } }
    }
}

func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

enum StatusRange {
    /// `404`, `5xx`, `400-499`.
    static func parse(_ text: String) throws -> ClosedRange<Int> {
        if text.count == 3, text.hasSuffix("xx"), let d = Int(text.prefix(1)), (1...5).contains(d) {
            return (d * 100)...(d * 100 + 99)
        }
        let parts = text.split(separator: "-", maxSplits: 1)
        if parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), low <= high { return low...high }
        if let n = Int(text) { return n...n }
        throw ValidationError("--status takes 404, 5xx or 400-499, not '\(text)'")
    }
}

enum Duration {
    /// `500ms`, `2s`, `1m`, `1h`, or a bare number of milliseconds (HAProxy's own time syntax).
    static func milliseconds(_ text: String) -> Int? {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Int(text.dropLast(suffix.count)), n >= 0 else { return nil }
            return n * factor
        }
        return Int(text)
    }
}

struct Backends: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per backend: requests and sessions, status classes, errors, time percentiles, bytes.",
        discussion: """
            p50/p90/p99 are of the total time (Ta for HTTP, Tt for TCP), tr_p50/tr_p99 of the server's time \
            (Tr for HTTP, Tc for TCP), nearest-rank, in ms; -1 timers are left out. error_pct counts 5xx, \
            <NOSRV> and sessions that did not end normally.
            """)
    @OptionGroup var options: QueryOptions

    func run() throws {
        let format = try options.outputFormat()
        let r = try options.run(BackendReport.self)
        print(Views.traffic(r.groups, keyColumn: "backend").render(format), terminator: "")
    }
}

struct Servers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per backend/server: the backends columns, plus how often it went DOWN and came back UP.")
    @OptionGroup var options: QueryOptions

    func run() throws {
        let format = try options.outputFormat()
        let r = try options.run(ServerReport.self)
        print(Views.traffic(r.groups, keyColumn: "server", extra: r).render(format), terminator: "")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counts by HTTP status (TCP sessions on their own row).")
    @OptionGroup var options: QueryOptions

    func run() throws {
        let format = try options.outputFormat()
        print(Views.status(try options.run(StatusReport.self)).render(format), terminator: "")
    }
}

struct Terminations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts by termination state (first two characters), TCP and HTTP lines.")
    @OptionGroup var options: QueryOptions

    func run() throws {
        let format = try options.outputFormat()
        print(Views.terminations(try options.run(TerminationReport.self)).render(format), terminator: "")
    }
}

struct Halog: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "halog's options and output formats, for scripts written for halog.",
        discussion: """
            Reads standard input like halog. Supported: -c -st -srv -tc -cc, -H -e -E -hs/-HS -rt/-RT \
            -tcn/-TCN -Q -QS, -v -q -m. On HTTP lines the numbers are halog's. TCP lines differ where halog \
            misreads them by position: -st leaves them out, -tc counts them, -srv counts each session as a \
            request with an "other" status; status filters never match them.
            """)

    @Argument(parsing: .captureForPassthrough, help: "halog options.")
    var arguments: [String] = []

    func run() throws {
        let query: HalogQuery
        do {
            query = try HalogQuery.parse(arguments)
        } catch let error as HalogUsageError {
            printError("logquery halog: \(error)")
            throw ExitCode(1)
        }
        let (result, counts, errors) = Scanner().run(["-"], into: HalogAccumulator.self, configuration: query)
        for e in errors { printError("logquery: \(e)") }
        let (text, out) = result.render(totalLines: counts.lines)
        print(text, terminator: "")
        if !query.quiet && query.output != .count {
            let parseErrors = counts.lines - counts.traffic + result.parseErrors
            printError("\(counts.lines) lines in, \(out) lines out, \(parseErrors) parsing errors")
        }
    }
}
