import Foundation
import LogCore
import SyslogProtocol
import TestSupport
import Testing

/// Real rsyslogd 8.2302 (Debian) receives the same datagrams as our parser; the files it writes with its
/// built-in templates must equal what SyslogTemplate renders from SyslogParser's reading, byte for byte.
@Suite("Real rsyslog 8.2302", .serialized)
struct RsyslogInteropTests {
    /// Messages that carry their own timestamp (a message without one is stamped with the reception instant,
    /// which two receivers cannot share).
    static let messages: [String] = [
        "<134>Nov 26 08:51:08 haproxy[6553]: 127.0.0.1:5 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0",
        "<131>Nov  6 08:51:05 haproxy[6296]: 127.0.0.1:38418 [06/Nov/2026:08:51:02.480] fe_err be_dead/d1 0/0/-1/-1/3003 503 217 - - SC-- 1/1/0/0/3 0/0 \"GET / HTTP/1.1\"",
        "<134>Nov 26 08:52:25 myhost mytag[9031]: 127.0.0.1:43076 [26/Nov/2026:08:52:25.610] fe_tag fe_tag/<NOSRV> 0/-1/-1/-1/0 403 192 - - PR-- 1/1/0/0/0 0/0 \"GET /deny HTTP/1.1\"",
        "<134>1 2026-11-26T08:51:02.452387+00:00 - haproxy 6296 - - 127.0.0.1:1 [26/Nov/2026:08:51:02.451] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0",
        "<134>1 2026-11-26T08:51:02.452387+01:00 lb1 haproxy 6296 ID7 [a@1 b=\"c\"] msg with sd",
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        "<13>Aug  2 11:31:11 host4 tag:nospace",
        "<13>Jan  1 00:00:00 host1 app: a\tb\u{01}c\u{1B}d",
        "<13>Aug  2 11:31:11 h app: crlf\r",
        "<167>Mar  6 16:57:54 172.20.245.8 %PIX-7-710005: UDP request discarded from SERVER1/2741",
        "<167>Mar 7 2008 19:06:53: example tag: testmessage",
        "<6>AUG 10 22:18:24 2009  netips-warden2-p [audit] user=[*SMS] src=192.168.11.11",
        "<167>Oct  8 23:05:06 10.321.1.123 05\",result_code=200,b",
        "<13>2026-08-22T11:31:11.123+02:00 h t: rfc3339 with fraction",
        "<13>Aug 22 11:31:11.123456 h t: bsd with fraction",
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        "<142>Aug 22 11:31:11 h1 averyveryveryveryverylongtagname_beyond32: fwd local1",
        "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
    ]

    @Test func filesEqualOurTemplates() async throws {
        let rsyslogd = try Peers.find("rsyslogd")
        let dir = try TemporaryDirectory(prefix: "rsyslog-interop")
        let port = try Peers.freePort(udp: true)
        let config = """
            global(workDirectory="\(dir.path)")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            *.* action(type="omfile" file="\(dir.file("traditional.log"))" template="RSYSLOG_TraditionalFileFormat")
            *.* action(type="omfile" file="\(dir.file("file.log"))" template="RSYSLOG_FileFormat")
            *.* action(type="omfile" file="\(dir.file("protocol23.log"))" template="RSYSLOG_SyslogProtocol23Format")

            """
        let configPath = dir.file("rsyslog.conf")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let peer = try RunningPeer(
            rsyslogd, ["-n", "-f", configPath, "-i", dir.file("rsyslogd.pid")], logPath: dir.file("rsyslogd.out"))
        defer { peer.stop() }

        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        // rsyslog binds its socket some time after it starts: send a probe until it is written. The probe has
        // no hostname, so it also tells which name rsyslog gives 127.0.0.1 (its fromhost).
        let traditional = dir.file("traditional.log")
        let started = Peers.waitUntil(seconds: 15) {
            sender.send(Array("<13>Nov 26 08:00:00 probe: ready".utf8))
            return ((try? String(contentsOfFile: traditional, encoding: .utf8)) ?? "").contains("probe: ready")
        }
        try #require(started, "rsyslogd did not write the probe: \(peer.output)")
        let probeLine = try String(contentsOfFile: traditional, encoding: .utf8).split(separator: "\n")[0]
        let fromHost = String(probeLine.dropFirst(16).prefix { $0 != " " })

        let before = try lineCount(traditional)
        for m in Self.messages { sender.send(Array(m.utf8)) }
        let written = Peers.waitUntil(seconds: 15) {
            ((try? lineCount(traditional)) ?? 0) >= before + Self.messages.count
        }
        let count = (try? lineCount(traditional)) ?? 0
        try #require(written, "rsyslogd wrote \(count - before) of \(Self.messages.count) lines")
        peer.stop()

        let reception = SyslogReception(receivedAt: .now(), fromHost: fromHost)
        for (file, template) in [
            ("traditional.log", SyslogTemplate.traditionalFileFormat), ("file.log", .fileFormat),
            ("protocol23.log", .syslogProtocol23Format),
        ] {
            let lines = try Data(contentsOf: URL(fileURLWithPath: dir.file(file))).split(separator: 0x0A)
            let theirs = lines.suffix(Self.messages.count).map { String(decoding: $0, as: UTF8.self) + "\n" }
            let ours = Self.messages.map { message in
                template.renderString(SyslogParser.parse(Array(message.utf8), reception: reception))
            }
            for (mine, real) in zip(ours, theirs) {
                #expect(mine == real, "\(template.rawValue)")
            }
        }
    }

    private func lineCount(_ path: String) throws -> Int {
        try Data(contentsOf: URL(fileURLWithPath: path)).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}
