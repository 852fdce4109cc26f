import Foundation
import LogCore
import LogQuery
import TestSupport
import Testing

/// `logquery halog OPTIONS` must print what HAProxy's halog prints for the same HTTP log.
@Suite("logquery halog against real halog", .serialized)
struct LogqueryHalogTests {
    static let optionSets: [[String]] = [
        ["-c"], ["-st"], ["-srv"], ["-tc"], ["-cc"], ["-H", "-c"], ["-e", "-c"], ["-E", "-st"], ["-e", "-srv"],
        ["-hs", "400:499", "-c"], ["-HS", "500:", "-st"], ["-hs", "404", "-srv"], ["-rt", "100", "-c"],
        ["-RT", "100", "-st"], ["-tcn", "SC", "-st"], ["-TCN", "--", "-tc"], ["-Q", "-c"], ["-QS", "-srv"],
        ["-v", "-e", "-st"], ["-m", "3", "-st"], ["-m", "2", "-srv"], ["-e"], ["-hs", "503", "-m", "5"],
        ["-pct"], ["-e", "-pct"], ["-u"], ["-uc"], ["-ue"], ["-ua"], ["-ut"], ["-uao"], ["-uto"], ["-uba"], ["-ubt"],
        ["-u", "-query"], ["-m", "10", "-uc"], ["-ic"], ["-H", "-e", "-ic"], ["-s", "1", "-st"],
        ["-time", "\(LogqueryHalogTests.midday)", "-c"], ["-time", ":\(LogqueryHalogTests.midday)", "-srv"],
    ]

    /// 2026-11-26 08:06:00 local time as a Unix time: the generated lines span 08:00 to 08:12.
    static var midday: Int64 {
        let wall =
            WallTime(CivilTime(year: 2026, month: 11, day: 26, hour: 8, minute: 6, second: 0)).milliseconds / 1000
        return wall - Int64(CivilTime.localUTCOffset(atEpochSeconds: Int(wall)))
    }

    static let log: Data = {
        var generator = LogGenerator(seed: 2026)
        return Data(generator.storedLog(lines: 20_000).utf8)
    }()

    @Test("same output as halog", arguments: optionSets)
    func sameAsHalog(_ options: [String]) throws {
        let halog = try Peers.find("halog")
        let expected = try Peers.run(halog, ["-q"] + options, stdin: Self.log)
        #expect(expected.status == 0)
        let dir = try TemporaryDirectory(prefix: "halog-eq")
        let path = dir.file("haproxy.log")
        try Self.log.write(to: URL(fileURLWithPath: path))
        let query = try HalogQuery.parse(["-q"] + options)
        let (result, counts, errors) = Scanner().run([path], into: HalogAccumulator.self, configuration: query)
        #expect(errors.isEmpty)
        let ours = result.render(totalLines: counts.lines).text
        let theirs = String(decoding: expected.stdout, as: UTF8.self)
        #expect(ours == theirs, "halog \(options.joined(separator: " "))")
    }

    @Test func theCommandReadsStandardInputLikeHalog() throws {
        let halog = try Peers.find("halog")
        let logquery = try Products.path("logquery")
        for options in [["-srv"], ["-st"], ["-c"]] {
            let theirs = try Peers.run(halog, options, stdin: Self.log)
            let ours = try Peers.run(logquery, ["halog"] + options, stdin: Self.log)
            #expect(ours.status == 0, "\(String(decoding: ours.stderr, as: UTF8.self))")
            #expect(ours.stdout == theirs.stdout, "logquery halog \(options)")
            // The summary halog prints on stderr (not with -c) names the same counts of lines in and out.
            let summary = { (d: Data) in String(decoding: d, as: UTF8.self).split(separator: ",").prefix(2) }
            #expect(summary(ours.stderr) == summary(theirs.stderr))
        }
    }

    @Test func backendsOnTheCommandLine() throws {
        let logquery = try Products.path("logquery")
        let dir = try TemporaryDirectory(prefix: "logquery-cli")
        let path = dir.file("haproxy.log")
        try Self.log.write(to: URL(fileURLWithPath: path))
        let table = try Peers.run(logquery, ["backends", path])
        #expect(table.status == 0)
        let text = String(decoding: table.stdout, as: UTF8.self)
        #expect(text.hasPrefix("backend"))
        #expect(text.contains("be_app"))
        let json = try Peers.run(logquery, ["backends", path, "--format", "json", "--status", "5xx"])
        let parsed = try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]]
        let rows = try #require(parsed)
        #expect(rows.count == 3)
        // Under --status 5xx every request is a 5xx.
        for row in rows { #expect(row["requests"] as? Int == row["5xx"] as? Int) }
        let bad = try Peers.run(logquery, ["backends", path, "--status", "abc"])
        #expect(bad.status != 0)
        #expect(String(decoding: bad.stderr, as: UTF8.self).contains("--status takes"))
        let missing = try Peers.run(logquery, ["status", "/nonexistent.log"])
        #expect(missing.status == 1)
        #expect(String(decoding: missing.stderr, as: UTF8.self).contains("/nonexistent.log"))
    }
}

@Suite("logquery lines --follow")
struct FollowTests {
    @Test func followsAcrossRotation() async throws {
        let logquery = try Products.path("logquery")
        let dir = try TemporaryDirectory(prefix: "follow")
        let path = dir.file("haproxy.log")
        var generator = LogGenerator(seed: 11)
        let lines = generator.storedLog(lines: 30).split(separator: "\n").map(String.init)
        func append(_ chunk: ArraySlice<String>, to file: String) throws {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(chunk.map { $0 + "\n" }.joined().utf8))
            try handle.close()
        }
        try Data(lines[0..<10].map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
        let out = dir.file("out.txt")
        let peer = try RunningPeer(logquery, ["lines", "--follow", path, "--max", "30"], logPath: out)
        defer { peer.stop() }
        func seen() -> Int { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").count }
        #expect(Peers.waitUntil(seconds: 10) { seen() == 10 })
        try append(lines[10..<20], to: path)
        #expect(Peers.waitUntil(seconds: 10) { seen() == 20 })
        // logrotate: move the file away, the writer goes on in the old one a moment, then a new file starts.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try append(lines[20..<25], to: path + ".1")
        try Data(lines[25..<30].map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
        #expect(Peers.waitUntil(seconds: 10) { seen() == 30 })
        #expect(Peers.waitUntil(seconds: 10) { !peer.isRunning }, "--max 30 ends the follow")
        let got = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(got == lines)
    }
}
