import Foundation
import HAProxyLog
import LogCore
import TestSupport
import Testing

@testable import LogQuery

/// A small log whose answers are worked out by hand in the tests below.
let handLog = """
    Nov 26 08:51:02 lb1 haproxy[1]: 10.0.0.1:1000 [26/Nov/2026:08:51:02.001] fe be_app/s1 0/0/1/10/20 200 100 - - ---- 1/1/1/1/0 0/0 "GET /api/a HTTP/1.1"
    Nov 26 08:51:02 lb1 haproxy[1]: 10.0.0.2:1000 [26/Nov/2026:08:51:02.002] fe be_app/s1 0/0/1/30/40 200 200 - - ---- 1/1/1/1/0 0/0 "GET /api/b HTTP/1.1"
    Nov 26 08:51:02 lb1 haproxy[1]: 10.0.0.3:1000 [26/Nov/2026:08:51:02.003] fe be_app/s2 0/0/2/50/60 404 300 - - ---- 1/1/1/1/0 0/0 "POST /api/c HTTP/1.1"
    Nov 26 08:51:02 lb2 haproxy[1]: 10.1.0.4:1000 [26/Nov/2026:08:51:02.004] fe be_app/s2 0/0/-1/-1/3003 503 217 - - SC-- 1/1/1/1/3 0/0 "GET /api/d HTTP/1.1"
    Nov 26 08:51:02 lb2 haproxy[1]: 10.1.0.5:1000 [26/Nov/2026:08:51:02.005] fe be_static/<NOSRV> 0/-1/-1/-1/0 403 192 - - PR-- 1/1/1/1/0 0/0 "GET /static/x HTTP/1.1"
    Nov 26 08:51:02 lb2 haproxy[1]: 127.0.0.1:2000 [26/Nov/2026:08:51:02.006] mycat mycat/m1 0/1/5000 2048 -- 3/2/2/1/0 0/0
    Nov 26 08:51:02 lb2 haproxy[1]: 127.0.0.1:2001 [26/Nov/2026:08:51:02.007] mycat mycat/m2 0/1/7000 4096 CD 3/2/2/1/0 0/0
    Nov 26 08:51:03 lb2 haproxy[1]: Server mycat/m2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.
    Nov 26 08:51:04 lb2 haproxy[1]: Server mycat/m2 is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.
    Nov 26 08:51:05 lb2 sshd[7]: Accepted publickey for root
    Nov 26 08:51:05 lb2 haproxy[1]: 10.0.0.9:1000 [26/Nov/2026:08:51:0

    """

func withLog<T>(_ text: String, _ body: (String) throws -> T) throws -> T {
    let dir = try TemporaryDirectory(prefix: "logquery")
    let path = dir.file("haproxy.log")
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return try withExtendedLifetime(dir) { try body(path) }
}

@Suite("logquery reports on a hand-made log")
struct ReportTests {
    func run<A: LineAccumulator>(_ type: A.Type, _ filter: LineFilter = LineFilter(), log: String = handLog) throws
        -> (A, ScanCounts)
    where A.Configuration == Void {
        try withLog(log) { path in
            let (r, c, errors) = Scanner(filter: filter).run([path], into: A.self)
            #expect(errors.isEmpty)
            return (r, c)
        }
    }

    @Test func counts() throws {
        let (_, c) = try run(StatusReport.self)
        #expect(c.lines == 11)
        #expect(c.traffic == 7)
        #expect(c.events == 2)
        #expect(c.other == 1, "the sshd line")
        #expect(c.malformed == 1)
        #expect(c.samples.contains { $0.contains("date is not") })
        #expect(c.samples.contains { $0.contains("sshd") })
    }

    @Test func backends() throws {
        let (r, _) = try run(BackendReport.self)
        let report = Views.traffic(r.groups, keyColumn: "backend")
        let rows = Dictionary(uniqueKeysWithValues: report.rows.map { ($0[0], $0) })
        let app = try #require(rows[.text("be_app")])
        // requests, sessions, 1xx..5xx, other, errors, error%, p50, p90, p99 (Ta), Tr p50, Tr p99, bytes
        let counts: [Cell] = [.int(4), .int(0), .int(0), .int(2), .int(0), .int(1), .int(1), .int(0), .int(1)]
        #expect(Array(app[1...9]) == counts)
        #expect(app[10] == .decimal(25, places: 1))
        let times: [Cell] = [.int(40), .int(3003), .int(3003), .int(30), .int(50), .int(817)]
        #expect(Array(app[11...16]) == times)
        let mycat = try #require(rows[.text("mycat")])
        #expect(mycat[1] == .int(0))
        #expect(mycat[2] == .int(2))
        #expect(mycat[9] == .int(1), "CD is an abnormal end")
        #expect(mycat[11] == .int(5000))
        #expect(mycat[12] == .int(7000))
        #expect(mycat[16] == .int(6144))
        let statics = try #require(rows[.text("be_static")])
        #expect(statics[9] == .int(1), "<NOSRV> and PR")
    }

    @Test func serversWithStateChanges() throws {
        let (r, _) = try run(ServerReport.self)
        let report = Views.traffic(r.groups, keyColumn: "server", extra: r)
        #expect(
            report.rows.map { $0[0] } == [
                .text("be_app/s1"), .text("be_app/s2"), .text("be_static/<NOSRV>"), .text("mycat/m1"),
                .text("mycat/m2"),
            ])
        let m2 = try #require(report.rows.last)
        // downs, ups, seconds down (DOWN 08:51:03, UP 08:51:04), still down
        let states: [Cell] = [.int(1), .int(1), .int(1), .text("no")]
        #expect(Array(m2.suffix(4)) == states)
    }

    @Test func statusAndTerminations() throws {
        let (s, _) = try run(StatusReport.self)
        #expect(Views.status(s).render(.csv) == "status,count\n200,2\n403,1\n404,1\n503,1\ntcp,2\n")
        let (t, _) = try run(TerminationReport.self)
        #expect(Views.terminations(t).render(.csv) == "termination,count\n--,4\nCD,1\nPR,1\nSC,1\n")
    }

    struct FilterCase: CustomTestStringConvertible, Sendable {
        let name: String
        let make: @Sendable () -> LineFilter
        let matched: Int
        var testDescription: String { name }
    }

    static let filterCases: [FilterCase] = [
        FilterCase(
            name: "backend exact",
            make: {
                var f = LineFilter(); f.backends = [Glob("be_app")]; return f
            }, matched: 4),
        FilterCase(
            name: "backend glob",
            make: {
                var f = LineFilter(); f.backends = [Glob("be_*")]; return f
            }, matched: 5),
        FilterCase(
            name: "server",
            make: {
                var f = LineFilter(); f.servers = [Glob("s?")]; return f
            }, matched: 4),
        FilterCase(
            name: "status 5xx",
            make: {
                var f = LineFilter(); f.statuses = [500...599]; return f
            }, matched: 1),
        FilterCase(
            name: "status 400-499",
            make: {
                var f = LineFilter(); f.statuses = [400...499]; return f
            }, matched: 2),
        FilterCase(
            name: "errors",
            make: {
                var f = LineFilter(); f.errorsOnly = true; return f
            }, matched: 3),
        FilterCase(
            name: "termination SC",
            make: {
                var f = LineFilter(); f.terminations = [Array("SC".utf8)]; return f
            }, matched: 1),
        FilterCase(
            name: "termination C",
            make: {
                var f = LineFilter(); f.terminations = [Array("C".utf8)]; return f
            }, matched: 1),
        FilterCase(
            name: "mode tcp",
            make: {
                var f = LineFilter(); f.mode = .tcp; return f
            }, matched: 2),
        FilterCase(
            name: "mode http",
            make: {
                var f = LineFilter(); f.mode = .http; return f
            }, matched: 5),
        FilterCase(
            name: "client /16",
            make: {
                var f = LineFilter(); f.clients = [AddressMatcher("10.1.0.0/16")!]; return f
            }, matched: 2),
        FilterCase(
            name: "client exact",
            make: {
                var f = LineFilter(); f.clients = [AddressMatcher("127.0.0.1")!]; return f
            }, matched: 2),
        FilterCase(
            name: "host",
            make: {
                var f = LineFilter(); f.hosts = [Glob("lb1")]; return f
            }, matched: 3),
        FilterCase(
            name: "method",
            make: {
                var f = LineFilter(); f.methods = [Array("POST".utf8)]; return f
            }, matched: 1),
        FilterCase(
            name: "path",
            make: {
                var f = LineFilter(); f.paths = [try! PathPattern("/api/")]; return f
            }, matched: 4),
        FilterCase(
            name: "path regex",
            make: {
                var f = LineFilter(); f.paths = [try! PathPattern("^/api/[ab]$")]; return f
            }, matched: 2),
        FilterCase(
            name: "slower on Tr",
            make: {
                var f = LineFilter(); f.slowerThan = 30; f.slowTimer = .response; return f
            }, matched: 2),
        FilterCase(
            name: "slower than 3s",
            make: {
                var f = LineFilter(); f.slowerThan = 3000; return f
            }, matched: 3),
        FilterCase(
            name: "combined",
            make: {
                var f = LineFilter(); f.backends = [Glob("be_app")]; f.errorsOnly = true; return f
            }, matched: 1),
    ]

    @Test("filters", arguments: filterCases)
    func filters(_ c: FilterCase) throws {
        let (_, counts) = try run(StatusReport.self, c.make())
        #expect(counts.matched == c.matched)
    }

    @Test func formats() {
        let report = Report(
            columns: ["name", "n", "pct"],
            rows: [
                [.text("a,\"b\""), .int(3), .decimal(12.345, places: 1)], [.text("c"), .none, .decimal(0, places: 1)],
            ])
        #expect(report.render(.csv) == "name,n,pct\n\"a,\"\"b\"\"\",3,12.3\nc,,0.0\n")
        #expect(
            report.render(.ndjson)
                == "{\"name\":\"a,\\\"b\\\"\",\"n\":3,\"pct\":12.3}\n{\"name\":\"c\",\"n\":null,\"pct\":0.0}\n")
        #expect(report.render(.json).hasPrefix("[\n  {\"name\":"))
        #expect(report.render(.table) == "name   n   pct\na,\"b\"  3  12.3\nc      -   0.0\n")
    }

    @Test func aLongCellIsCutInTablesOnly() {
        let url = "/" + String(repeating: "x", count: 5_000)
        let report = Report(columns: ["url", "n", "message"], rows: [[.text(url), .int(1), .text(url)]])
        let table = report.render(.table).split(separator: "\n")
        // The padding follows the cut cell, not the 5,000 characters.
        #expect(table[0].count < 200 && table[1].hasPrefix("/" + String(repeating: "x", count: 118) + "…  1  /"), "\(table[1].prefix(140))")
        #expect(table[1].count == 120 + 2 + 1 + 2 + 1_000)
        #expect(report.render(.csv).contains(url) && report.render(.json).contains(url))
    }

    @Test func unreadableFilesAreNamedAndOthersStillRead() throws {
        try withLog(handLog) { path in
            let (r, c, errors) = Scanner().run(["/nonexistent/haproxy.log", path], into: StatusReport.self)
            #expect(errors.count == 1)
            #expect(errors.first?.description.hasPrefix("/nonexistent/haproxy.log: ") == true)
            #expect(c.traffic == 7)
            #expect(r.tcpSessions == 2)
        }
    }

    @Test func largeFilesSplitAcrossCoresGiveTheSameAnswer() throws {
        // Over 8 MB, so the file is cut into pieces and read in 4 MB blocks; lines straddle every cut.
        var generator = LogGenerator(seed: 7)
        let log = generator.storedLog(lines: 60_000, tcpShare: 10)
        try withLog(log) { path in
            let (one, c1, _) = Scanner(workers: 1).run([path], into: ServerReport.self)
            let (many, c2, _) = Scanner(workers: 3).run([path], into: ServerReport.self)
            #expect(c1.lines == 60_000)
            #expect(c1.traffic == 60_000)
            #expect(c1 == c2)
            #expect(
                Views.traffic(one.groups, keyColumn: "s").render(.csv)
                    == Views.traffic(many.groups, keyColumn: "s").render(.csv))
        }
    }
}

@Suite("logquery's other views")
struct MoreViewTests {
    func run<A: LineAccumulator>(_ type: A.Type, _ configuration: A.Configuration, _ filter: LineFilter = LineFilter())
        throws -> A
    {
        try withLog(handLog) { path in
            Scanner(filter: filter).run([path], into: A.self, configuration: configuration).result
        }
    }

    @Test func urls() throws {
        let r = try run(URLReport.self, false)
        let report = Views.urls(r, order: .count, top: nil)
        #expect(report.rows.count == 5)
        let c = try #require(report.rows.first { $0[0] == .text("/api/c") })
        // requests, errors, ttot (Tr), avg, oktot, okavg, bytes avg, bytes total
        #expect(Array(c[1...8]) == [.int(1), .int(0), .int(50), .int(50), .int(50), .int(50), .int(300), .int(300)])
        let d = try #require(report.rows.first { $0[0] == .text("/api/d") })
        #expect(Array(d[1...4]) == [.int(1), .int(1), .int(3003), .int(3003)], "Tr -1: total time counts Ta")
        let byTotal = Views.urls(r, order: .total, top: 2)
        #expect(byTotal.rows.map { $0[0] } == [.text("/api/d"), .text("/api/c")])
    }

    @Test func timeline() throws {
        let r = try run(TimelineReport.self, 1000)
        let t = Views.timeline(r, bars: false)
        #expect(t.rows == [[.text("2026-11-26 08:51:02"), .int(7), .int(3), .decimal(300.0 / 7, places: 1)]])
    }

    @Test func aTimelineShowsTheEmptyIntervalsOfAnOutage() {
        var r = TimelineReport(configuration: 60_000)
        let start: Int64 = 1_000 * 60_000
        r.buckets[start] = (10, 1)
        r.buckets[start + 3 * 60_000] = (4, 0)
        let t = Views.timeline(r, bars: true)
        #expect(t.rows.map { $0[1] } == [.int(10), .int(0), .int(0), .int(4)])
        #expect(t.rows[1][4] == .text(""), "no bar in the gap")
    }

    @Test func clientsAndEvents() throws {
        let c = Views.clients(try run(ClientReport.self, ()), top: 1)
        #expect(c.rows.first?[0] == .text("127.0.0.1"))
        #expect(c.rows.first?[2] == .int(2))
        let e = Views.events(try run(EventList.self, ()))
        #expect(e.rows.map { $0[2] } == [.text("down"), .text("up")])
        #expect(e.rows.first?[0] == .text("2026-11-26 08:51:03"), "the year of the file's modification")
        #expect(e.rows.first?[1] == .text("lb2"))
        #expect(e.rows.first?[4] == .text("m2"))
    }

    @Test func yearsOfTraditionalStamps() {
        let january = CivilTime(year: 2027, month: 1, day: 2, hour: 3, minute: 0, second: 0)
        #expect(StoredTime.wallTime(Array("Dec 31 23:59:59".utf8), reference: january)?.text == "2026-12-31 23:59:59")
        #expect(StoredTime.wallTime(Array("Jan  2 01:00:00".utf8), reference: january)?.text == "2027-01-02 01:00:00")
        #expect(
            StoredTime.wallTime(Array("2025-06-01T10:00:00.123+02:00".utf8), reference: january)?.text
                == "2025-06-01 10:00:00")
        #expect(StoredTime.wallTime(Array("garbage".utf8), reference: january) == nil)
    }

    @Test func sinceAndUntil() throws {
        var f = LineFilter()
        f.since = WallTime.parse("2026-11-26T08:51:02.004".replacingOccurrences(of: ".004", with: ""))
        f.until = WallTime.parse("2026-11-26 08:52")
        let all = try run(StatusReport.self, (), f)
        #expect(all.tcpSessions == 2)
        f.since = WallTime.parse("2026-11-26 08:51:03")
        let none = try run(StatusReport.self, (), f)
        #expect(none.sorted.isEmpty && none.tcpSessions == 0)
    }

    @Test func timeForms() {
        let now = WallTime(CivilTime(year: 2026, month: 11, day: 26, hour: 10, minute: 30, second: 15))
        func text(_ s: String) -> String? { WallTime.parse(s, now: now)?.text }
        #expect(text("today") == "2026-11-26 00:00:00")
        #expect(text("yesterday") == "2026-11-25 00:00:00")
        #expect(text("-1h") == "2026-11-26 09:30:15")
        #expect(text("-2d") == "2026-11-24 10:30:15")
        #expect(text("08:00") == "2026-11-26 08:00:00")
        #expect(text("2026-01-02") == "2026-01-02 00:00:00")
        #expect(text("2026-01-02T03:04:05") == "2026-01-02 03:04:05")
        #expect(text("2026-01-02 03:04") == "2026-01-02 03:04:00")
        for bad in ["", "soon", "25:00", "2026-13-01", "-1y", "1 2 3"] { #expect(text(bad) == nil, "\(bad)") }
    }

    @Test func handledLocallyIsNotAnError() throws {
        let log = """
            Nov 26 08:52:25 h haproxy[1]: 127.0.0.1:51784 [26/Nov/2026:08:52:25.624] stats stats/<STATS> 0/0/0/0/0 200 26086 - - LR-- 1/1/0/0/0 0/0 "GET /stats HTTP/1.1"
            Nov 26 08:52:25 h haproxy[1]: 127.0.0.1:43088 [26/Nov/2026:08:52:25.617] fe fe/<NOSRV> 0/-1/-1/-1/0 302 83 - - LR-- 1/1/0/0/0 0/0 "GET /redir HTTP/1.1"

            """
        let r = try withLog(log) { Scanner().run([$0], into: BackendReport.self).result }
        #expect(r.groups.values.allSatisfy { $0.errors == 0 })
    }
}

@Suite("logquery inputs")
struct InputTests {
    @Test func rotatedSetsReadOldestFirst() {
        #expect(
            InputPaths.inRotationOrder([
                "haproxy.log", "haproxy.log.1", "haproxy.log.2.gz", "other.log", "haproxy.log.10.gz",
            ])
                == ["haproxy.log.10.gz", "haproxy.log.2.gz", "haproxy.log.1", "haproxy.log", "other.log"])
        #expect(InputPaths.rotation("/var/log/haproxy.log.3.gz") == ("/var/log/haproxy.log", 3))
        #expect(InputPaths.rotation("/var/log/haproxy.log") == ("/var/log/haproxy.log", 0))
    }

    @Test func gzipAndGlobsAndOrder() throws {
        let dir = try TemporaryDirectory(prefix: "rotated")
        // Three generations with one event each, named in the wrong order and as a pattern.
        for (generation, hour) in [(0, 10), (1, 9), (2, 8)] {
            let line = "Nov 26 0\(hour % 10):00:00 h haproxy[1]: Proxy gen\(generation) started.\n"
            let name = generation == 0 ? "haproxy.log" : "haproxy.log.\(generation)"
            try line.write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            if generation == 2 {
                let gz = try Peers.run("/bin/gzip", ["-f", dir.file(name)])
                #expect(gz.status == 0)
            }
        }
        let (events, counts, errors) = Scanner().run([dir.file("haproxy.log*")], into: EventList.self)
        #expect(errors.isEmpty)
        #expect(counts.events == 3)
        #expect(events.entries.map(\.message) == ["Proxy gen2 started.", "Proxy gen1 started.", "Proxy gen0 started."])
    }

    @Test func gzipStreamsGiveWhatThePlainFileGives() throws {
        var generator = LogGenerator(seed: 3)
        let log = generator.storedLog(lines: 30_000, tcpShare: 5)
        let dir = try TemporaryDirectory(prefix: "gz")
        try log.write(toFile: dir.file("a.log"), atomically: true, encoding: .utf8)
        _ = try Peers.run("/bin/sh", ["-c", "gzip -c \(dir.file("a.log")) > \(dir.file("a.log.1.gz"))"])
        // Two members back to back, as `cat x.gz y.gz` makes.
        _ = try Peers.run(
            "/bin/sh", ["-c", "cat \(dir.file("a.log.1.gz")) \(dir.file("a.log.1.gz")) > \(dir.file("b.gz"))"])
        let plain = Scanner().run([dir.file("a.log")], into: StatusReport.self)
        let gz = Scanner().run([dir.file("a.log.1.gz")], into: StatusReport.self)
        let twice = Scanner().run([dir.file("b.gz")], into: StatusReport.self)
        #expect(plain.counts.lines == 30_000)
        #expect(gz.counts == plain.counts)
        #expect(gz.result.sorted.map(\.count) == plain.result.sorted.map(\.count))
        #expect(twice.counts.lines == 60_000)
        try "not gzip".write(toFile: dir.file("bad.gz"), atomically: true, encoding: .utf8)
        let bad = Scanner().run([dir.file("bad.gz"), dir.file("a.log")], into: StatusReport.self)
        #expect(bad.errors.count == 1)
        #expect(bad.errors.first?.description.contains("not a valid gzip file") == true)
        #expect(bad.counts.lines == 30_000, "the other file is still read")
    }
}
