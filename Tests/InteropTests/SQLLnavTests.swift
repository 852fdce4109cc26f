import Foundation
import LogCore
import TestSupport
import Testing

/// `logquery sql` beside lnav (Debian's) on the same generated log: an lnav user's queries on its `haproxy_log`
/// table run unchanged and give the same answers (lnav's table and logquery's CSV compared row by row).
@Suite("logquery sql beside lnav", .serialized)
struct SQLLnavTests {
    static let queries = [
        "SELECT backend_name, count(*) AS n FROM haproxy_log GROUP BY 1",
        "SELECT server_name, status_code, count(*) FROM haproxy_log WHERE status_code >= 400 GROUP BY 1, 2",
        "SELECT client_ip, count(*) AS n FROM haproxy_log GROUP BY 1 ORDER BY n DESC, client_ip LIMIT 10",
        "SELECT frontend_name, sum(bytes_read), round(avg(tt), 2) FROM haproxy_log GROUP BY 1",
        "SELECT termination_state, count(*) FROM haproxy_log WHERE termination_state != '----' AND termination_state != '--' GROUP BY 1",
        "SELECT http_method, count(*) FROM haproxy_log WHERE http_method IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
        "SELECT backend_name, max(tt) FILTER (WHERE pr <= 0.99) AS p99 FROM (SELECT backend_name, tt, percent_rank() OVER (PARTITION BY backend_name ORDER BY tt) AS pr FROM haproxy_log) GROUP BY 1",
    ]

    /// Lines of the shapes lnav's format reads (its patterns take no `+` timers, no captures with spaces): HTTP
    /// lines over four backends with statuses, methods, URLs and termination states, one in ten a TCP line.
    static func plainLog(lines count: Int) -> String {
        var state: UInt64 = 28
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let statuses = [200, 200, 200, 200, 301, 304, 400, 403, 404, 500, 502, 503, 504]
        let states = ["----", "----", "----", "CD--", "SC--", "sH--", "cR--"]
        let methods = ["GET", "GET", "POST", "HEAD"]
        var out = ""
        for i in 0..<count {
            let second = i / 10
            let stamp = String(format: "%02d:%02d:%02d", 8 + second / 3600, second / 60 % 60, second % 60)
            let client = "10.\(next(3)).\(next(40)).\(next(250) + 1):\(next(60_000) + 1_024)"
            let date = "26/Nov/2026:\(stamp).\(String(format: "%03d", i % 10 * 100))"
            if next(10) == 0 {
                out += "Nov 26 \(stamp) lb1 haproxy[6296]: \(client) [\(date)] fe_tcp be_tcp/m\(next(2) + 1) "
                out += "\(next(3))/\(next(5))/\(next(30_000)) \(next(90_000)) \(next(5) == 0 ? "SD" : "--") 4/3/2/1/0 0/0\n"
            } else {
                let backend = ["be_api", "be_app", "be_static"][next(3)]
                let status = statuses[next(statuses.count)]
                let timers = "\(next(20))/\(next(3))/\(next(5))/\(next(400))/\(next(20_000) + 400)"
                out += "Nov 26 \(stamp) lb1 haproxy[6296]: \(client) [\(date)] fe_http \(backend)/s\(next(4) + 1) \(timers) "
                out += "\(status) \(next(50_000)) - - \(states[next(states.count)]) 12/11/3/1/0 0/0 "
                out += "\"\(methods[next(methods.count)]) /\(["api/v1/orders", "static/app.js", "login", "health"][next(4)]) HTTP/1.1\"\n"
            }
        }
        return out
    }

    @Test func anLnavUsersQueriesGiveTheSameAnswers() throws {
        let lnav = try Peers.find("lnav")
        let logquery = try Products.path("logquery")
        let dir = try TemporaryDirectory(prefix: "sql-lnav")
        let path = dir.file("haproxy.log")
        try Self.plainLog(lines: 5_000).write(toFile: path, atomically: true, encoding: .utf8)
        for query in Self.queries {
            let theirs = try Peers.run(lnav, ["-n", "-c", ";" + query, path], timeout: 60)
            let ours = try Peers.run(logquery, ["sql", "--format", "csv", query, path])
            #expect(ours.status == 0, "\(query): \(String(decoding: ours.stderr, as: UTF8.self))")
            let expected = String(decoding: theirs.stdout, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
                line.replacingOccurrences(of: "<NULL>", with: "").split(separator: " ").joined(separator: " ")
            }
            let got = String(decoding: ours.stdout, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
                line.split(separator: ",", omittingEmptySubsequences: true).joined(separator: " ")
            }
            #expect(!expected.isEmpty, "lnav answered nothing to \(query): \(String(decoding: theirs.stderr, as: UTF8.self))")
            #expect(got == expected, "\(query)\n--- ours:\n\(got.joined(separator: "\n"))\n--- lnav:\n\(expected.joined(separator: "\n"))")
        }
    }
}

/// What a new user hit with logquery's command line, each mended (issue 28's list).
@Suite("logquery's rough edges")
struct LogqueryRoughEdgesTests {
    @Test func theDocumentedSinceMinusOneHourIsAccepted() throws {
        let logquery = try Products.path("logquery")
        let dir = try TemporaryDirectory(prefix: "lq-since")
        let path = dir.file("haproxy.log")
        try SQLLnavTests.plainLog(lines: 50).write(toFile: path, atomically: true, encoding: .utf8)
        let run = try Peers.run(logquery, ["servers", "--errors", "--since", "-1h", path])
        #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
        let until = try Peers.run(logquery, ["sql", "--until", "-30m", "SELECT count(*) FROM haproxy_log", path])
        #expect(until.status == 0 && String(decoding: until.stdout, as: UTF8.self).contains("50"), "\(until)")
    }

    @Test func aFileWithoutHAProxyLinesIsSaidAndFails() throws {
        let logquery = try Products.path("logquery")
        for command in [["backends"], ["sql", "SELECT count(*) FROM haproxy_log"]] {
            let run = try Peers.run(logquery, command + ["/etc/services"])
            #expect(run.status == 1)
            #expect(String(decoding: run.stderr, as: UTF8.self).contains("no HAProxy lines in /etc/services"))
        }
    }

    @Test func linesRefusesAFormatItWouldNotHonourWithItsOwnUsage() throws {
        let logquery = try Products.path("logquery")
        let run = try Peers.run(logquery, ["lines", "--format", "json", "/etc/services"])
        let text = String(decoding: run.stderr, as: UTF8.self)
        #expect(run.status != 0 && text.contains("--format json is for the reports"), "\(text)")
        #expect(text.contains("Usage: logquery lines"), "\(text)")
    }

    @Test func aTruncatedGzipIsCountedSaidAndFails() throws {
        let logquery = try Products.path("logquery")
        let gzip = try Peers.find("gzip")
        let dir = try TemporaryDirectory(prefix: "lq-gz")
        let path = dir.file("haproxy.log")
        try SQLLnavTests.plainLog(lines: 20_000).write(toFile: path, atomically: true, encoding: .utf8)
        _ = try Peers.run(gzip, ["-k", path])
        let whole = try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: dir.file("cut.log.gz")))
        let cut = try Peers.run(logquery, ["sql", "SELECT count(*) FROM haproxy_log", dir.file("cut.log.gz")])
        let counted = Int(String(decoding: cut.stdout, as: UTF8.self).split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
        #expect(cut.status == 1 && counted > 1_000 && counted < 20_000, "\(counted) \(cut)")
        #expect(String(decoding: cut.stderr, as: UTF8.self).contains("cut.log.gz: truncated"))
        let ok = try Peers.run(logquery, ["sql", "SELECT count(*) FROM haproxy_log", path + ".gz"])
        #expect(ok.status == 0 && String(decoding: ok.stdout, as: UTF8.self).contains("20000"))
        // Compressed data on standard input, redirected or piped.
        let redirected = try Peers.run("/bin/sh", ["-c", "\(logquery) sql 'SELECT count(*) FROM haproxy_log' < \(path).gz"])
        #expect(String(decoding: redirected.stdout, as: UTF8.self).contains("20000"), "\(redirected)")
        let piped = try Peers.run("/bin/sh", ["-c", "cat \(path).gz | \(logquery) sql 'SELECT count(*) FROM haproxy_log'"])
        #expect(String(decoding: piped.stdout, as: UTF8.self).contains("20000"), "\(piped)")
    }

    @Test func followingAMissingFileSaysItWaitsAndVerifyExplainsAMissingSeal() throws {
        let logquery = try Products.path("logquery")
        let dir = try TemporaryDirectory(prefix: "lq-follow")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: logquery)
        process.arguments = ["lines", "-F", dir.file("later.log")]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        // The message comes at once (a blocking read of the first bytes), while the command goes on waiting.
        let said = String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
        #expect(said.contains("later.log: No such file or directory; waiting for it to appear"), "\(said)")
        #expect(process.isRunning)
        // SIGKILL: the test runner's threads block SIGTERM, and a child inherits that mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try SQLLnavTests.plainLog(lines: 5).write(toFile: dir.file("plain.log"), atomically: true, encoding: .utf8)
        let verify = try Peers.run(logquery, ["verify", dir.file("plain.log")])
        #expect(verify.status == 2)
        #expect(String(decoding: verify.stderr, as: UTF8.self).contains("has no seal beside it"), "\(verify)")
    }

    @Test func theJournalIsAnInputForReportsAndSQL() throws {
        let logquery = try Products.path("logquery")
        let systemdCat = try Peers.find("systemd-cat")
        let identifier = "haproxy-lq-\(UUID().uuidString.prefix(8))"
        let stored = SQLLnavTests.plainLog(lines: 300)
        // journald gets the messages as HAProxy's own would be (systemd-cat: MESSAGE, SYSLOG_IDENTIFIER).
        let bodies = stored.split(separator: "\n").map { line in
            line.range(of: "]: ").map { String(line[$0.upperBound...]) } ?? String(line)
        }.joined(separator: "\n") + "\n"
        let sent = try Peers.run(systemdCat, ["-t", identifier], stdin: Data(bodies.utf8))
        #expect(sent.status == 0, "\(sent)")
        let arrived = Peers.waitUntil(seconds: 15) {
            let count = try? Peers.run(
                logquery, ["sql", "--journal", "--journal-identifier", identifier, "--format", "csv", "SELECT count(*) FROM haproxy_log"])
            return count.map { String(decoding: $0.stdout, as: UTF8.self).contains("300") } ?? false
        }
        #expect(arrived, "the 300 entries were not read back from the journal")
        let dir = try TemporaryDirectory(prefix: "lq-journal")
        try stored.write(toFile: dir.file("haproxy.log"), atomically: true, encoding: .utf8)
        let fromJournal = try Peers.run(
            logquery, ["backends", "--journal", "--journal-identifier", identifier, "--format", "csv"])
        let fromFile = try Peers.run(logquery, ["backends", "--format", "csv", dir.file("haproxy.log")])
        #expect(fromJournal.status == 0 && fromJournal.stdout == fromFile.stdout, "\(fromJournal)\n---\n\(fromFile)")
        let refused = try Peers.run(logquery, ["backends", "--journal", dir.file("haproxy.log")])
        #expect(refused.status != 0)
    }

    @Test func aLargeGzipShowsProgressOnATerminal() throws {
        let logquery = try Products.path("logquery")
        let script = try Peers.find("script")
        let dir = try TemporaryDirectory(prefix: "lq-progress")
        let gz = dir.file("big.log.gz")
        // 9 MB that do not compress: past the 8 MB of compressed input where the progress line starts.
        let made = try Peers.run("/bin/sh", ["-c", "head -c 9000000 /dev/urandom | base64 -w 100 | gzip -1 > \(gz)"])
        #expect(made.status == 0)
        // `script` gives the command a terminal, as a user at a shell has.
        let run = try Peers.run(script, ["-qec", "\(logquery) status \(gz) > /dev/null", "/dev/null"], timeout: 60)
        let shown = String(decoding: run.stdout, as: UTF8.self)
        #expect(shown.contains("big.log.gz [") && shown.contains("% "), "\(shown.prefix(300))")
        // Not on a pipe.
        let piped = try Peers.run(logquery, ["status", gz])
        #expect(!String(decoding: piped.stderr, as: UTF8.self).contains("big.log.gz ["))
    }
}
