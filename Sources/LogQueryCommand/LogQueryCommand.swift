import ArgumentParser
import Foundation
import HAProxyLog
import LogCore
import LogQuery
import Synchronization

/// Whether some input was only partly read (see `LogQueryCommand.main`).
let partialInputs = Atomic<Bool>(false)

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct LogQueryCommand: ParsableCommand {
    /// As ArgumentParser's, then exit 1 when an input was only partly read (a truncated `.gz`): its answer was
    /// printed, with a warning, and a script must not take it as whole.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
        if partialInputs.load(ordering: .relaxed) { Foundation.exit(1) }
    }

    static let configuration = CommandConfiguration(
        commandName: "logquery",
        abstract: "Query stored HAProxy logs by backend, server, status, termination state and client.",
        discussion: """
            Reads /var/log/haproxy.log-style files (traditional or RFC 3339 syslog prefix, or bare lines; .gz \
            too; rotated sets oldest first): tcplog, httplog and CLF lines and server state messages. Other \
            programs' lines are counted as other, broken lines as not understood (--show-unparsed shows them). \
            Files are scanned on every core; with no file (or -), standard input is read.
            """,
        version: LogQuery.version,
        subcommands: [
            Backends.self, Servers.self, Hosts.self, Status.self, Terminations.self, URLs.self, Clients.self,
            Timeline.self,
            Lines.self, Events.self, SQL.self, Halog.self, Verify.self, SealKeyCommand.self,
        ]
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

    @Flag(help: "Only errors: 5xx, <NOSRV>, or a termination state other than -- (L, handled locally, is not one).")
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

    @Option(
        help:
            "Only URIs starting with this path, or matching it as a regular expression when it has regex characters (repeatable)."
    )
    var path: [String] = []

    @Option(help: "Only lines whose timer (--timer) is at least this: 500ms, 2s, 1m.")
    var slowerThan: String?

    @Option(help: "The timer --slower-than looks at: Ta (total: Ta for HTTP, Tt for TCP), TR, Tw, Tc or Tr.")
    var timer = "Ta"

    // `.unconditional`: the value may start with a dash (`--since -1h`), as documented.
    @Option(
        parsing: .unconditional,
        help: "Only lines dated at or after this: 2026-11-26, 2026-11-26T08:00, 08:00 (today), today, -1h, -30m.")
    var since: String?

    @Option(parsing: .unconditional, help: "Only lines dated before this (same forms as --since).")
    var until: String?

    @Flag(help: "Print the first lines that were not understood, and why.")
    var showUnparsed = false

    @Option(
        name: .customLong("log-format"),
        help: ArgumentHelp(
            "Also read traffic lines written with this log-format, as written in haproxy.cfg (repeatable).",
            discussion: "Example: --log-format '%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %{+Q}r'"))
    var logFormat: [String] = []

    @Option(help: "Also read traffic lines written with the log-format lines of this haproxy.cfg.")
    var config: String?

    @Flag(help: "Read the systemd journal instead of files: the entries a sink filed there (omjournal), or HAProxy's.")
    var journal = false

    @Option(help: "With --journal: the entries of this SYSLOG_IDENTIFIER (as journalctl -t).")
    var journalIdentifier = "haproxy"

    @Option(help: "Read the journal files in this directory (as journalctl -D).")
    var journalDirectory: String?

    @Option(help: "Read this journal file (as journalctl --file; repeatable).")
    var journalFile: [String] = []

    /// The journal to read, when one is asked for.
    var journalSelection: JournalSelection? {
        guard journal || journalDirectory != nil || !journalFile.isEmpty else { return nil }
        var selection = JournalSelection()
        selection.identifier = journalIdentifier
        selection.directory = journalDirectory
        selection.files = journalFile
        return selection
    }

    /// A bad value is refused before anything is read, with the subcommand's usage line.
    func validate() throws {
        _ = try outputFormat()
        _ = try filter()
        _ = try formats()
        if journalSelection != nil && !files.isEmpty {
            throw ValidationError("--journal reads the journal: name no file with it (\(files.joined(separator: " ")))")
        }
    }

    /// The custom formats lines are tried against: `--log-format`s first, then those of `--config`.
    func formats() throws -> [LogFormatReader] {
        var readers: [LogFormatReader] = []
        for text in logFormat {
            do {
                readers.append(try LogFormatReader(text: text))
            } catch {
                throw ValidationError("--log-format '\(text)': \(error.description)")
            }
        }
        if let config {
            do {
                readers += try ConfigFormats.read(path: config)
            } catch {
                throw ValidationError("--config: \(error.description)")
            }
        }
        return readers
    }

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
        f.paths = try path.map { p in
            do { return try PathPattern(p) } catch { throw ValidationError("\(error)") }
        }
        guard let t = Timer(rawValue: timer) else {
            throw ValidationError("--timer must be one of \(Timer.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        f.slowTimer = t
        if let slowerThan {
            guard let ms = Duration.milliseconds(slowerThan) else {
                throw ValidationError("--slower-than takes a time like 500ms, 2s or 1m, not '\(slowerThan)'")
            }
            f.slowerThan = ms
        }
        if let since {
            guard let t = WallTime.parse(since) else {
                throw ValidationError("--since: cannot read '\(since)' as a time")
            }
            f.since = t
        }
        if let until {
            guard let t = WallTime.parse(until) else {
                throw ValidationError("--until: cannot read '\(until)' as a time")
            }
            f.until = t
        }
        return f
    }

    /// Runs a report with a configuration, printing read errors and not-understood counts to stderr.
    func run<A: LineAccumulator>(_ type: A.Type, configuration: A.Configuration, workers: Int = Scanner.defaultWorkers)
        throws -> A
    {
        var scanner = Scanner(filter: try filter(), workers: workers)
        scanner.formats = try formats()
        scanner.showsProgress = isatty(2) != 0
        let (result, counts, errors) =
            journalSelection.map { scanner.run(journal: $0, into: A.self, configuration: configuration) }
            ?? scanner.run(files, into: A.self, configuration: configuration)
        report(counts: counts, errors: errors, showUnparsed: showUnparsed)
        if !errors.isEmpty && errors.count == max(1, files.count) && !errors.allSatisfy(\.partial) { throw ExitCode(1) }
        try noHAProxyLines(counts, files: files)
        return result
    }

    /// Runs a report over the inputs, printing read errors and not-understood counts to stderr.
    func run<A: LineAccumulator>(_ type: A.Type) throws -> A where A.Configuration == Void {
        var scanner = Scanner(filter: try filter())
        scanner.formats = try formats()
        scanner.showsProgress = isatty(2) != 0
        let (result, counts, errors) =
            journalSelection.map { scanner.run(journal: $0, into: A.self, configuration: ()) }
            ?? scanner.run(files, into: A.self)
        report(counts: counts, errors: errors, showUnparsed: showUnparsed)
        if !errors.isEmpty && errors.count == max(1, files.count) && !errors.allSatisfy(\.partial) { throw ExitCode(1) }
        try noHAProxyLines(counts, files: files)
        return result
    }
}

func report(counts: ScanCounts, errors: [InputError], showUnparsed: Bool) {
    for e in errors { printError("logquery: \(e)") }
    if errors.contains(where: \.partial) { partialInputs.store(true, ordering: .relaxed) }
    if counts.malformed > 0 {
        printError(
            "logquery: \(counts.malformed) line\(counts.malformed == 1 ? "" : "s") not understood"
                + (showUnparsed ? "" : " (--show-unparsed shows the first ones)"))
    }
    if showUnparsed {
        printError("logquery: \(counts.other) other lines, \(counts.malformed) not understood; the first ones:")
        for s in counts.samples { printError("  \(s)") }
    }
}

/// Input that has lines but none of HAProxy's (`/etc/services`, another program's log): said, and a failure, rather
/// than an empty report.
func noHAProxyLines(_ counts: ScanCounts, files: [String]) throws {
    guard counts.lines > 0, counts.traffic == 0, counts.events == 0, counts.malformed == 0 else { return }
    let names = files.isEmpty ? "the input" : files.joined(separator: ", ")
    printError(
        "logquery: no HAProxy lines in \(names) (\(counts.lines) lines read, none a tcplog, httplog, CLF or HAProxy "
            + "message; lines of a custom log-format are read with --log-format or --config haproxy.cfg)")
    throw ExitCode(1)
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
    /// `500ms`, `2s`, `1m`, `1h`, `1d`, or a bare number of milliseconds (HAProxy's own time syntax).
    static func milliseconds(_ text: String) -> Int? {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
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
            p50/p90/p99 are of the total time (Ta for HTTP, Tt for TCP), srv_p50/srv_p99 of the server's time \
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

struct Hosts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per syslog host (one row per proxy in a central log): the backends columns.",
        discussion: """
            The host is the one the stored line names (rsyslog writes the sender's hostname, or its address when \
            the message had none); a line stored without one is under -. Several files (one per host, or rotated \
            sets) are read as one.
            """)
    @OptionGroup var options: QueryOptions

    func run() throws {
        let format = try options.outputFormat()
        let r = try options.run(HostReport.self)
        print(Views.traffic(r.groups, keyColumn: "host").render(format), terminator: "")
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

struct URLs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "urls",
        abstract: "Per URL: requests, errors, times and bytes (halog's -u columns), HTTP lines only.",
        discussion: """
            errors are requests with a -1 timer; total_ms sums Tr (Ta when Tr is -1), ok_* only requests without             error. The URL is cut at '?' or ';' unless --query. Sorted by --sort (halog's -u, -uc, -ue, -ua, -ut,             -uao, -uto, -uba, -ubt are url, count, errors, avg, total, ok-avg, ok-total, bytes-avg, bytes-total).
            """)
    @OptionGroup var options: QueryOptions

    @Option(help: "Sort key: url, count, errors, avg, total, ok-avg, ok-total, bytes-avg, bytes-total.")
    var sort = "count"

    @Option(help: "Show only the first N URLs.")
    var top: Int?

    @Flag(help: "Keep the query string in the URL.")
    var query = false

    func run() throws {
        let format = try options.outputFormat()
        guard let order = Views.URLOrder(rawValue: sort) else {
            throw ValidationError(
                "--sort must be one of \(Views.URLOrder.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let r = try options.run(URLReport.self, configuration: query)
        print(Views.urls(r, order: order, top: top).render(format), terminator: "")
    }
}

struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per client address, busiest first.")
    @OptionGroup var options: QueryOptions

    @Option(help: "Show only the first N clients.")
    var top: Int?

    func run() throws {
        let format = try options.outputFormat()
        print(Views.clients(try options.run(ClientReport.self), top: top).render(format), terminator: "")
    }
}

struct Timeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts, errors and error rate per interval of the lines' own dates, with a bar in tables.")
    @OptionGroup var options: QueryOptions

    @Option(help: "Interval: 10s, 1m, 5m, 1h, 1d.")
    var every = "1m"

    func run() throws {
        let format = try options.outputFormat()
        guard let ms = Duration.milliseconds(every), ms > 0 else {
            throw ValidationError("--every takes an interval like 10s, 1m, 1h or 1d, not '\(every)'")
        }
        let r = try options.run(TimelineReport.self, configuration: Int64(ms))
        print(Views.timeline(r, bars: format == .table).render(format), terminator: "")
    }
}

struct Lines: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The matching traffic lines, unchanged and in order: grep by field.")
    @OptionGroup var options: QueryOptions

    @Option(help: "Stop after N lines.")
    var max: Int?

    @Flag(name: [.customShort("F"), .long], help: "Keep reading as the file grows, across rotation (like tail -F).")
    var follow = false

    func validate() throws {
        guard options.format == "table" else {
            throw ValidationError(
                "'logquery lines' prints the lines as they are stored; --format \(options.format) is for the reports "
                    + "(logquery sql \"SELECT … FROM haproxy_log\" --format \(options.format) gives the lines' fields)")
        }
    }

    func run() throws {
        let output = OutputBuffer(limit: max ?? Int.max)
        guard follow else {
            _ = try options.run(MatchingLines.self, configuration: output, workers: 1)
            output.flush()
            return
        }
        guard options.files.count == 1, let path = options.files.first, path != "-" else {
            throw ValidationError("--follow takes exactly one file")
        }
        if access(path, F_OK) != 0 {
            // As tail -F says it: the file may come (a rotation in progress, a service not started yet).
            printError("logquery: \(path): \(String(cString: strerror(errno))); waiting for it to appear")
        }
        var lines = MatchingLines(configuration: output)
        var scanner = Scanner(filter: try options.filter(), workers: 1)
        scanner.formats = try options.formats()
        try scanner.follow(
            path, into: &lines, afterBlock: { _ in output.flush() },
            shouldStop: { output.lines >= output.limit })
        output.flush()
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Server state changes, health checks and proxy start/stop messages, in order.",
        discussion: """
            --audit keeps what changes the gate: the proxy's audit lines (audit: start, stop, soft-stop, stats logins, \
            takeover, with the configuration's SHA-256), proxies started and stopped, servers going DOWN, UP or \
            into maintenance and backends left without a server; health-check results are left out.
            """)
    @OptionGroup var options: QueryOptions

    @Flag(help: "Only the audit trail: audit lines, proxy start/stop, server state changes.")
    var audit = false

    func run() throws {
        let format = try options.outputFormat()
        var list = try options.run(EventList.self)
        if audit {
            list.entries.removeAll { entry in
                switch entry.event {
                case .healthCheck, nil: true
                default: false
                }
            }
        }
        print(Views.events(list).render(format), terminator: "")
    }
}

struct SQL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run an SQL query (SQLite's dialect) over the logs.",
        discussion: """
            Tables: haproxy_log (every tcplog, httplog and CLF line), http (httplog and CLF lines), tcp (tcplog \
            lines), with lnav's haproxy_log columns: log_time (the accept or request date, 'YYYY-MM-DD \
            HH:MM:SS.mmm'), logging_host, process_name, pid, client_ip, client_port, accept_date, frontend_name, ssl \
            ('~' behind TLS), backend_name, server_name, tq, tw, tc, tr, tt (the timers in ms, NULL where HAProxy \
            wrote -1), status_code, bytes_read, captured_request_cookie, captured_response_cookie, \
            termination_state, actconn, feconn, beconn, srv_conn, retries, srv_queue, backend_queue, \
            captured_request_headers, captured_response_headers, http_method, http_url, http_version, and mode \
            (tcp, http, clf). events: log_time, logging_host, kind, backend_name, server_name, level, message. \
            Only the columns a query names are read; its comparisons on backend_name, frontend_name, server_name, \
            logging_host (=), status_code and log_time are applied while the files are scanned, with the filter \
            options (--explain shows what was). Example: logquery sql "SELECT backend_name, count(*) FROM \
            haproxy_log GROUP BY 1" /var/log/haproxy.log
            """)

    @Argument(help: "The query: one SELECT statement.")
    var query: String

    @OptionGroup var options: QueryOptions

    @Flag(help: "Print, after the answer, each scan's columns and what was applied while scanning.")
    var explain = false

    func run() throws {
        let format = try options.outputFormat()
        var sql = SQLQuery(files: options.files, filter: try options.filter())
        sql.formats = try options.formats()
        sql.showsProgress = isatty(2) != 0
        sql.journal = options.journalSelection
        let outcome: SQLQuery.Outcome
        do {
            outcome = try sql.run(query)
        } catch {
            printError("logquery sql: \(error)")
            throw ExitCode(1)
        }
        report(counts: outcome.counts, errors: outcome.errors, showUnparsed: options.showUnparsed)
        try noHAProxyLines(outcome.counts, files: options.files)
        print(outcome.report.render(format), terminator: "")
        if explain { for line in outcome.explain { printError("explain: " + line) } }
        if !outcome.errors.isEmpty && outcome.errors.count >= max(1, options.files.count) { throw ExitCode(1) }
    }
}

struct Halog: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "halog's options and output formats, for scripts written for halog.",
        discussion: """
            Reads standard input like halog (a redirected file is read on every core). Supported: -c -st -srv \
            -tc -cc -pct -u -uc -ue -ua -ut -uao -uto -uba -ubt -ic, -H -e -E -hs/-HS -rt/-RT -tcn/-TCN -Q -QS, \
            -v -q -m -query -time; -s is accepted and changes nothing (prefixes are recognised). Not yet: -gt -hdr \
            -hdr-match -ad -ac (refused, never ignored). On HTTP \
            lines the numbers are halog's. TCP lines differ where halog \
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
        if query.skipFieldsGiven {
            printError("logquery halog: -s is not needed (the syslog prefix is recognised) and changes nothing")
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
