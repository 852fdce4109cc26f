import Foundation
import TestSupport
import Testing

/// The real-world collections in Tests/Corpus (haproxy.cfg and rsyslog.conf files shaped after public ones, with
/// the verdicts HAProxy 2.6 and rsyslogd 8.2302 give them): each file is checked by the real program and by ours.
/// The peer's verdict must still be the recorded one (the collection is honest on this machine), and ours must be
/// fail-closed: a file the peer refuses we refuse, and a file we run has nothing dropped (no alert, no error).
@Suite("Real-world configurations beside HAProxy and rsyslogd", .serialized)
struct RealWorldCorpusTests {
    static let corpus = Products.packageRoot + "/Tests/Corpus"

    /// `file → (verdict, first message)` from a corpus folder's verdicts.tsv.
    static func verdicts(_ folder: String) throws -> [(file: String, valid: Bool)] {
        let text = try String(contentsOfFile: "\(corpus)/\(folder)/verdicts.tsv", encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return (String(fields[0]), fields.count > 1 && fields[1] == "valid")
        }
    }

    /// Runs `executable arguments` in `directory` (HAProxy resolves the files' relative paths from there), with a
    /// clean environment so that no variable of the machine changes a verdict.
    static func run(_ executable: String, _ arguments: [String], in directory: String) throws
        -> (status: Int32, output: String)
    {
        let result = try Peers.run(
            "/usr/bin/env", ["-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "/bin/sh", "-c", "cd \"$0\" && exec \"$@\"",
                directory, executable] + arguments)
        return (result.status, String(decoding: result.stdout + result.stderr, as: UTF8.self))
    }

    @Test func haproxyConfigurations() throws {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let folder = "\(RealWorldCorpusTests.corpus)/haproxy"
        let files = try RealWorldCorpusTests.verdicts("haproxy")
        #expect(files.count >= 50)
        var ran = 0
        for (file, valid) in files {
            let theirs = try RealWorldCorpusTests.run(haproxy, ["-c", "-f", file], in: folder)
            #expect((theirs.status == 0) == valid, "\(file): haproxy's verdict changed: \(theirs.output)")
            let ours = try RealWorldCorpusTests.run(proxy, ["-c", "-f", file], in: folder)
            if ours.status == 0 {
                ran += 1
                #expect(valid, "\(file): HAProxy refuses it, the proxy runs it")
                #expect(!ours.output.contains("[ALERT]"), "\(file): \(ours.output)")
            } else {
                #expect(ours.status == 1, "\(file): \(ours.output)")
                #expect(ours.output.contains("[ALERT] parsing [\(file):"), "\(file): names no file and line: \(ours.output)")
            }
        }
        let accepted = files.filter(\.valid).count
        print("haproxy.cfg corpus: HAProxy 2.6 accepts \(accepted) of \(files.count); the proxy runs \(ran) of them, refuses the rest")
        // What the proxy ran when the collection last grew: a change that refuses one of those files is a step back.
        #expect(ran >= 89, "the proxy runs \(ran) of the files, fewer than the 89 it ran on 2026-12-08")
    }

    /// rsyslogd runs no configuration that delivers nothing (only `stop`s, or only inputs): neither does the sink.
    @Test func aConfigurationWithoutActiveActionsIsRefusedAsRsyslogdRefusesIt() throws {
        let dir = try TemporaryDirectory(prefix: "no-actions")
        try "module(load=\"imudp\")\ninput(type=\"imudp\" port=\"5514\")\nif $programname == \"x\" then stop\n"
            .write(toFile: dir.file("none.conf"), atomically: true, encoding: .utf8)
        let theirs = try RealWorldCorpusTests.run(try Peers.find("rsyslogd"), ["-N1", "-f", dir.file("none.conf")], in: dir.path)
        let ours = try RealWorldCorpusTests.run(try Products.path("syslog-sink"), ["-N1", "-f", dir.file("none.conf")], in: dir.path)
        #expect(theirs.status != 0 && theirs.output.contains("there are no active actions configured"))
        #expect(ours.status == 1 && ours.output.contains("there are no active actions configured"), "\(ours.output)")
    }

    @Test func rsyslogConfigurations() throws {
        let rsyslogd = try Peers.find("rsyslogd")
        let sink = try Products.path("syslog-sink")
        let folder = "\(RealWorldCorpusTests.corpus)/rsyslog"
        let files = try RealWorldCorpusTests.verdicts("rsyslog")
        #expect(files.count >= 50)
        let dir = try TemporaryDirectory(prefix: "rsyslog-corpus")
        var ran = 0
        for (file, valid) in files {
            let text = try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)
                .replacingOccurrences(of: "@CORPUS@", with: folder)
            try text.write(toFile: dir.file(file), atomically: true, encoding: .utf8)
            let theirs = try RealWorldCorpusTests.run(rsyslogd, ["-N1", "-f", dir.file(file)], in: dir.path)
            #expect((theirs.status == 0) == valid, "\(file): rsyslogd's verdict changed: \(theirs.output)")
            let ours = try RealWorldCorpusTests.run(sink, ["-N1", "-f", dir.file(file)], in: dir.path)
            if ours.status == 0 {
                ran += 1
                #expect(valid, "\(file): rsyslogd refuses it, the sink runs it")
                #expect(!ours.output.contains(": error:"), "\(file): \(ours.output)")
            } else {
                #expect(ours.status == 1 && ours.output.contains(": error: "), "\(file): \(ours.output)")
            }
        }
        let accepted = files.filter(\.valid).count
        print("rsyslog corpus: rsyslogd accepts \(accepted) of \(files.count); the sink runs \(ran) of them with nothing dropped")
        #expect(ran >= 99, "the sink runs \(ran) of the files, fewer than the 99 it ran on 2026-12-07")
    }
}
