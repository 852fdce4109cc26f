import Foundation
import TestSupport
import Testing

/// util-linux `logger` sends messages of every size around the limits (1 … 20,000 bytes) over UDP, TCP and a unix
/// socket, the same to rsyslogd and to syslog-sink: the files must be equal, so no message is cut before
/// rsyslogd's `maxMessageSize` (8096) and those beyond it are cut as rsyslogd cuts them.
@Suite("Long messages through the real inputs, beside rsyslogd", .serialized)
struct LongMessageTests {
    static let sizes = [1, 255, 256, 257, 1024, 2048, 4095, 8096, 8097, 20000]

    /// A message of exactly `size` bytes whose start says which it is.
    static func message(_ size: Int, _ transport: String) -> String {
        let head = "\(transport)-\(size)-"
        guard size > head.count else { return String(head.prefix(size)) }
        let body = (0..<(size - head.count)).map { i in Character(UnicodeScalar(UInt8(0x61 + i % 26))) }
        return head + String(body)
    }

    @Test func everySizeOverEveryInputAsRsyslogdFilesIt() throws {
        let dir = try TemporaryDirectory(prefix: "long-messages")
        let out = dir.file("logs")
        let rsyslogd = try Peers.find("rsyslogd")
        let logger = try Peers.find("logger")
        let sinkBinary = try Products.path("syslog-sink")
        let ports = (rs: (udp: try Peers.freePort(udp: true), tcp: try Peers.freePort()),
                     sink: (udp: try Peers.freePort(udp: true), tcp: try Peers.freePort()))
        // The file lines leave out the time: each daemon gets its own run of logger, whose stamps may differ.
        func config(udp: Int, tcp: Int, socket: String) -> String {
            """
            template(name="Body" type="string" string="%hostname% %syslogtag%%msg%\\n")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(udp)")
            module(load="imtcp")
            input(type="imtcp" address="127.0.0.1" port="\(tcp)")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imuxsock" Socket="\(socket)")
            local1.* action(type="omfile" file="\(out)/udp.log" template="Body")
            local2.* action(type="omfile" file="\(out)/tcp.log" template="Body")
            local3.* action(type="omfile" file="\(out)/unix.log" template="Body")

            """
        }
        try config(udp: ports.rs.udp, tcp: ports.rs.tcp, socket: dir.file("rsyslog.sock"))
            .write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        // Under --root the sink's socket /long.sock is dir/sink/long.sock, its files dir/sink/<out>.
        try config(udp: ports.sink.udp, tcp: ports.sink.tcp, socket: "/long.sock")
            .write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let rsyslog = try RunningPeer(
            rsyslogd, ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
            logPath: dir.file("rsyslogd.out"))
        defer { rsyslog.stop() }
        let sink = try RunningPeer(
            sinkBinary, ["-n", "-f", dir.file("sink.conf"), "--root", dir.file("sink")], logPath: dir.file("sink.out"))
        defer { sink.stop() }
        let targets = [
            (ports.rs, dir.file("rsyslog.sock"), out),
            (ports.sink, dir.file("sink/long.sock"), dir.file("sink") + out),
        ]
        for (port, socket, files) in targets {
            try #require(
                Peers.waitUntil(seconds: 15) {
                    Peers.isListening(port: port.tcp) && access(socket, W_OK) == 0
                }, "not listening: \(rsyslog.output) \(sink.output)")
            for size in LongMessageTests.sizes {
                for (transport, flags) in [
                    ("udp", ["-d", "-n", "127.0.0.1", "-P", "\(port.udp)", "-p", "local1.info"]),
                    ("tcp", ["-T", "-n", "127.0.0.1", "-P", "\(port.tcp)", "-p", "local2.info"]),
                    ("unix", ["-u", socket, "-p", "local3.info"]),
                ] {
                    let run = try Peers.run(
                        logger,
                        flags + ["--rfc3164", "--size", "30000", "-t", "long", LongMessageTests.message(size, transport)])
                    #expect(run.status == 0, "logger \(transport) \(size): \(String(decoding: run.stderr, as: UTF8.self))")
                    // Datagrams on one socket keep their order; a pause keeps the three files' lines in send order.
                    usleep(2_000)
                }
            }
            for name in ["udp.log", "tcp.log", "unix.log"] {
                let path = "\(files)/\(name)"
                let complete = Peers.waitUntil(seconds: 15) {
                    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("-20000-")
                }
                #expect(complete, "\(path)")
            }
        }
        rsyslog.stop()
        sink.stop()
        for name in ["udp.log", "tcp.log", "unix.log"] {
            let theirs = try String(contentsOfFile: "\(out)/\(name)", encoding: .utf8)
            let ours = try String(contentsOfFile: dir.file("sink") + "\(out)/\(name)", encoding: .utf8)
            #expect(ours == theirs, "\(name): \(ours.count) bytes against rsyslogd's \(theirs.count)")
            // Every message up to 8096 bytes is there whole (8097 and 20000 are cut at rsyslogd's limit).
            for size in LongMessageTests.sizes where size > 20 && size <= 8000 {
                let transport = String(name.prefix { $0 != "." })
                #expect(ours.contains(LongMessageTests.message(size, transport)), "\(name): \(size) bytes whole")
            }
        }
    }
}
