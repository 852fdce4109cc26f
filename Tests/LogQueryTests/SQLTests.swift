import Foundation
import LogCore
import TestSupport
import Testing

@testable import LogQuery

/// `logquery sql`: SQLite over the parser's rows through a virtual table, lnav's column names, -1 as NULL, the
/// command line's filters and the query's comparisons applied while scanning, GROUP BY served grouped.
@Suite("logquery sql")
struct SQLTests {
    static let lines = [
        "Nov 26 08:00:01 lb1 haproxy[42]: 10.0.0.9:5000 [26/Nov/2026:08:00:01.120] web~ app/s1 1/0/2/30/33 200 512 - - ---- 3/3/1/1/0 0/0 \"GET /a HTTP/1.1\"",
        "Nov 26 08:00:02 lb1 haproxy[42]: 10.0.0.10:5001 [26/Nov/2026:08:00:02.000] web app/s2 1/0/2/-1/40 503 212 - - sH-- 3/3/1/1/0 0/0 \"GET /b HTTP/1.1\"",
        "Nov 26 08:00:03 lb2 haproxy[42]: 192.168.1.2:5002 [26/Nov/2026:08:00:03.500] web app/s1 -1/-1/-1/-1/5 -1 0 - - CR-- 3/3/1/1/0 0/0 \"<BADREQ>\"",
        "Nov 26 08:01:04 lb1 haproxy[42]: 10.0.0.9:5003 [26/Nov/2026:08:01:04.000] db mysql/m1 0/1/900 4096 -- 1/1/1/1/0 0/0",
        "Nov 26 08:01:05 lb1 haproxy[42]: 2001:db8::1:5004 [26/Nov/2026:08:01:05.000] web api/s3 0/0/1/5/6 404 80 - - ---- 3/3/1/1/0 0/0 \"GET /c HTTP/1.1\"",
        "Nov 26 08:01:06 lb1 haproxy[42]: Server app/s2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 1ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "Nov 26 08:01:07 lb1 sshd[7]: Accepted publickey for root",
    ]

    func run(_ sql: String, filter: LineFilter = LineFilter()) throws -> SQLQuery.Outcome {
        let dir = try TemporaryDirectory(prefix: "sql")
        let path = dir.file("haproxy.log")
        try (Self.lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return try SQLQuery(files: [path], filter: filter, workers: 2).run(sql)
    }

    func rows(_ sql: String, filter: LineFilter = LineFilter()) throws -> [[String]] {
        try run(sql, filter: filter).report.rows.map { $0.map { cell in
            switch cell {
            case .text(let t): t
            case .int(let n): String(n)
            case .decimal(let d, _): String(d)
            case .none: "NULL"
            }
        } }
    }

    @Test func trafficTablesTakeTheirLines() throws {
        #expect(try rows("SELECT count(*) FROM haproxy_log") == [["5"]])
        #expect(try rows("SELECT count(*) FROM http") == [["4"]])
        #expect(try rows("SELECT backend_name, server_name, tt, bytes_read FROM tcp") == [["mysql", "m1", "900", "4096"]])
    }

    @Test func columnsAreLnavsWithMinusOneAsNull() throws {
        let r = try rows(
            """
            SELECT log_time, logging_host, client_ip, client_port, accept_date, frontend_name, ssl, tq, tw, tc, tr, tt,
                   status_code, termination_state, actconn, http_method, http_url, http_version, mode, process_name, pid
            FROM haproxy_log ORDER BY log_time LIMIT 3
            """)
        #expect(
            r[0] == [
                "2026-11-26 08:00:01.120", "lb1", "10.0.0.9", "5000", "26/Nov/2026:08:00:01.120", "web", "~", "1", "0",
                "2", "30", "33", "200", "----", "3", "GET", "/a", "HTTP/1.1", "http", "haproxy", "42",
            ])
        #expect(r[1][10] == "NULL" && r[1][12] == "503", "a -1 timer is NULL: \(r[1])")
        #expect(r[2][7] == "NULL" && r[2][12] == "NULL" && r[2][13] == "CR--", "\(r[2])")
        #expect(try rows("SELECT tq, tr, termination_state FROM tcp") == [["NULL", "NULL", "--"]])
        #expect(try rows("SELECT client_ip FROM haproxy_log WHERE status_code = 404") == [["2001:db8::1"]])
    }

    @Test func groupingGivesWhatSQLitesOwnSortGives() throws {
        // `|| ''` makes the key an expression: SQLite then sorts the rows itself.
        for (column, table) in [("backend_name", "haproxy_log"), ("server_name", "http"), ("client_ip", "haproxy_log"), ("status_code", "http")] {
            let grouped = try rows("SELECT \(column), count(*), sum(tt) FROM \(table) GROUP BY 1")
            let collation = column == "client_ip" ? " COLLATE ipaddress" : ""
            let sorted = try rows("SELECT \(column), count(*), sum(tt) FROM \(table) GROUP BY (\(column) || '')\(collation)")
            #expect(grouped.map { $0.dropFirst() } == sorted.map { $0.dropFirst() }, "\(column)")
            #expect(grouped.count == sorted.count)
        }
        let outcome = try run("SELECT backend_name, count(*) FROM haproxy_log GROUP BY 1")
        #expect(outcome.explain.first?.contains("grouped by backend_name") == true, "\(outcome.explain)")
    }

    /// Two cursors on one table (a correlated subquery, a self-join) each read their own rows, in their own order,
    /// whatever the other was filtered with in between.
    @Test func cursorsOnOneTableReadTheirOwnRows() throws {
        let correlated = try rows(
            """
            SELECT a.backend_name, a.server_name,
                   (SELECT count(*) FROM haproxy_log b WHERE b.backend_name = a.backend_name) AS n
            FROM haproxy_log a ORDER BY a.tt DESC
            """)
        let reference = try rows(
            """
            SELECT a.backend_name, a.server_name,
                   (SELECT count(*) FROM haproxy_log b WHERE b.backend_name || '' = a.backend_name) AS n
            FROM haproxy_log a ORDER BY a.tt + 0 DESC
            """)
        #expect(correlated == reference)
        #expect(correlated.first == ["mysql", "m1", "1"] && correlated.count == 5, "\(correlated)")
        let joined = try rows(
            """
            SELECT a.server_name, b.server_name FROM haproxy_log a JOIN haproxy_log b ON a.backend_name = b.backend_name
            WHERE a.server_name < b.server_name GROUP BY 1, 2
            """)
        #expect(joined == [["s1", "s2"]], "\(joined)")
    }

    @Test func sortingGivesWhatSQLitesOwnSortGives() throws {
        // Expressions (`+ 0`, `|| ''`) keep SQLite from handing the ORDER BY to the table.
        for (ours, theirs) in [
            ("tt DESC, client_ip", "tt + 0 DESC, (client_ip || '') COLLATE ipaddress"),
            ("status_code, backend_name DESC", "status_code + 0, backend_name || '' DESC"),
            ("http_url, tt", "http_url || '', tt + 0"),
        ] {
            let sorted = try rows("SELECT client_ip, tt, status_code, backend_name, http_url FROM haproxy_log ORDER BY \(ours)")
            let reference = try rows("SELECT client_ip, tt, status_code, backend_name, http_url FROM haproxy_log ORDER BY \(theirs)")
            #expect(sorted == reference, "ORDER BY \(ours)")
        }
        let outcome = try run("SELECT backend_name FROM haproxy_log ORDER BY tt DESC")
        #expect(outcome.explain.first?.contains("sorted by tt DESC") == true, "\(outcome.explain)")
    }

    @Test func clientAddressesSortAsLnavSortsThem() throws {
        #expect(
            try rows("SELECT DISTINCT client_ip FROM haproxy_log ORDER BY client_ip").map(\.[0]) == [
                "10.0.0.9", "10.0.0.10", "192.168.1.2", "2001:db8::1",
            ])
    }

    @Test func comparisonsAreAppliedWhileScanningAndStillExact() throws {
        let outcome = try run(
            "SELECT count(*) FROM haproxy_log WHERE backend_name = 'app' AND status_code >= 500 AND log_time >= '2026-11-26 08:00:02'")
        #expect(outcome.report.rows == [[.int(1)]])
        let explain = outcome.explain.joined()
        #expect(explain.contains("backend_name = 'app'") && explain.contains("status_code in 500...999"), "\(explain)")
        #expect(explain.contains("log_time >= '2026-11-26 08:00:02'") && explain.contains("; 1 rows"), "\(explain)")
        // Only the columns named are kept.
        #expect(explain.contains("columns log_time, backend_name, status_code;"), "\(explain)")
        // A comparison SQLite cannot hand over (OR) is left to SQLite, with the same answer.
        #expect(try rows("SELECT count(*) FROM http WHERE status_code = 200 OR status_code = 404") == [["2"]])
        #expect(try rows("SELECT count(*) FROM http WHERE status_code > 600") == [["0"]])
    }

    @Test func theCommandLinesFiltersComeFirst() throws {
        var filter = LineFilter()
        filter.hosts = [Glob("lb2")]
        #expect(try rows("SELECT count(*) FROM haproxy_log", filter: filter) == [["1"]])
    }

    @Test func eventsAreATable() throws {
        #expect(
            try rows("SELECT kind, backend_name, server_name FROM events") == [["down", "app", "s2"]])
    }

    @Test func aBadQueryIsSQLitesMessage() {
        #expect(throws: SQLError.self) { try run("SELECT nope FROM http") }
        do {
            _ = try run("SELECT 1; SELECT 2")
            Issue.record("two statements accepted")
        } catch {
            #expect("\(error)".contains("one statement at a time"), "\(error)")
        }
    }
}
