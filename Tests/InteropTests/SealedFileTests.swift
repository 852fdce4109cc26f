import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// The sink's sealed files checked by `logquery verify`, as an auditor would: untouched, edited with sed, and
/// after the sink was killed in the middle of writing.
@Suite("Sealed files: syslog-sink and logquery verify", .serialized)
struct SealedFileTests {
    func keys(in dir: TemporaryDirectory) throws -> (private: String, public: String) {
        let made = try Peers.run(
            try Products.path("logquery"),
            ["seal-key", "--private-key", dir.file("seal.key"), "--public-key", dir.file("seal.pub")])
        #expect(made.status == 0)
        return (dir.file("seal.key"), dir.file("seal.pub"))
    }

    func verify(_ file: String, key: String) throws -> (status: Int32, text: String) {
        let run = try Peers.run(try Products.path("logquery"), ["verify", "--key", key, file])
        return (run.status, String(decoding: run.stdout + run.stderr, as: UTF8.self))
    }

    @Test func aSedEditOfOneByteIsNamedByItsLine() async throws {
        let dir = try TemporaryDirectory(prefix: "sealed-sink")
        let (secret, shared) = try keys(in: dir)
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
        $ActionFileSeal on
        $ActionFileSealKey \(secret)
        local0.* \(dir.file("haproxy.log"))
        & stop

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (sink, port) = try startSink(["-n", "-f", dir.file("sink.conf")], log: dir.file("sink.out"))
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        for n in 1...300 {
            sender.send(
                Array(
                    ("<134>Nov 26 08:51:02 haproxy[6296]: 10.0.0.1:\(40000 + n) [26/Nov/2026:08:51:02.000] fe be/s1 "
                        + "0/0/\(n) 10 -- 1/1/0/0/0 0/0").utf8))
            if n % 50 == 0 { usleep(20_000) }
        }
        let file = dir.file("haproxy.log")
        #expect(
            Peers.waitUntil(seconds: 10) {
                ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").count == 300
            })
        sink.stop()
        let clean = try verify(file, key: shared)
        #expect(clean.status == 0 && clean.text.contains("OK (300 lines sealed"), "\(clean.text)")
        // make demo's tamper step on a copy: line 3's first byte changes, whatever it was (the month's initial).
        let copy = dir.file("tampered.log")
        try FileManager.default.copyItem(atPath: file, toPath: copy)
        try FileManager.default.copyItem(atPath: file + ".seal", toPath: copy + ".seal")
        #expect(try Peers.run(SealedFileTests.tamperScript, ["3", copy]).status == 0)
        let demo = try verify(copy, key: shared)
        #expect(demo.status == 1 && demo.text.contains("line 3: modified"), "\(demo.text)")
        // One byte changed on line 123, as `sed -i` would.
        let sed = try Peers.run("/bin/sed", ["-i", "123s/ -- / SD /", file])
        #expect(sed.status == 0)
        let edited = try verify(file, key: shared)
        #expect(edited.status == 1, "\(edited.text)")
        #expect(edited.text.contains("TAMPERED") && edited.text.contains("line 123: modified"), "\(edited.text)")
    }

    static var tamperScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/tamper-line.sh").path
    }

    /// The demo's tamper step changes a byte on any date: whatever line 3 starts with (each month's initial, the
    /// script's own X, a multi-byte character), it differs afterwards and the other lines do not.
    @Test(arguments: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "X", "Y", "é"])
    func theDemoTamperStepChangesAByteWhateverTheDate(_ start: String) throws {
        let dir = try TemporaryDirectory(prefix: "tamper")
        let file = dir.file("haproxy.log")
        let lines = ["\(start) 1 line one", "\(start) 1 line two", "\(start) 1 line three", "\(start) 1 line four"]
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Peers.run(SealedFileTests.tamperScript, ["3", file]).status == 0)
        let after = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(after.count == 4)
        #expect(after[2] != lines[2] && after[2].dropFirst() == lines[2].dropFirst(), "\(after[2])")
        #expect(after[0] == lines[0] && after[1] == lines[1] && after[3] == lines[3])
    }

    /// kill -9 while lines pour in over TCP: the file verifies up to what was sealed and the rest is reported as
    /// not covered — never as tampered.
    @Test func aSinkKilledMidWriteLeavesAFileThatVerifiesHonestly() async throws {
        let dir = try TemporaryDirectory(prefix: "sealed-crash")
        let (secret, shared) = try keys(in: dir)
        let tcpPort = try Peers.freePort()
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        module(load="imtcp")
        input(type="imtcp" address="127.0.0.1" port="\(tcpPort)")
        action(type="omfile" file="\(dir.file("haproxy.log"))" seal="on" sealKey="\(secret)")

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (sink, _) = try startSink(["-n", "-f", dir.file("sink.conf")], log: dir.file("sink.out"))
        let file = dir.file("haproxy.log")
        try await blocking {
            let fd = try Peers.connectLoopback(port: tcpPort, timeoutSeconds: 5)
            defer { close(fd) }
            var sent = 0
            for n in 1...200_000 {
                let message = "<134>Nov 26 08:51:02 haproxy[6296]: session \(n) with some padding to make it longer"
                let frame = Array("\(message.utf8.count) \(message)".utf8)
                let written = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { break }
                sent += 1
                if n == 60_000 {
                    // Mid-stream, once a good part is in the file: the sink dies without a chance to seal more.
                    _ = Peers.waitUntil(seconds: 10) {
                        ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0) > 1_000_000
                    }
                    sink.send(signal: SIGKILL)
                }
            }
            _ = sent
        }
        #expect(Peers.waitUntil(seconds: 5) { !sink.isRunning })
        let report = try verify(file, key: shared)
        #expect(report.status == 0 || report.status == 3, "never 'tampered': \(report.text)")
        if report.status == 3 {
            #expect(report.text.contains("not covered by a signed checkpoint"), "\(report.text)")
        }
        #expect(!report.text.contains("TAMPERED"))
    }
}
