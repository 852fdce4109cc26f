import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// The sink's ompgsql beside rsyslogd's (Debian's rsyslog-pgsql) on a real PostgreSQL 15: the same configuration,
/// the same messages, the same rows; and a database outage that loses nothing with the action's queue.
@Suite("ompgsql beside rsyslogd, into PostgreSQL", .serialized)
struct PostgresOutputTests {
    /// The MonitorWare schema Debian's rsyslog-pgsql ships (the table rsyslog's StdPgSQLFmt inserts into).
    static let schema = "/usr/share/dbconfig-common/data/rsyslog-pgsql/install/pgsql"

    static func database(_ pg: PostgresServer, _ name: String) throws {
        #expect(try pg.sql("CREATE DATABASE \(name)") == 0)
        #expect(try pg.sql(file: schema, database: name) == 0)
        // A table of our own for a user template, with a column too short for one message (a refused statement).
        #expect(try pg.sql("CREATE TABLE tagged (tag varchar(60), body text, severity int)", database: name) == 0)
        #expect(try pg.sql("CREATE TABLE short (body varchar(10))", database: name) == 0)
    }

    @Test func rowsAsRsyslogdWritesThem() throws {
        let dir = try TemporaryDirectory(prefix: "ompgsql")
        let pg = try PostgresServer(in: dir)
        defer { pg.stop() }
        try Self.database(pg, "rs")
        try Self.database(pg, "sink")
        let ports = try Peers.freePorts(2).map { _ in try Peers.freePort(udp: true) }
        func config(_ port: Int, _ db: String) -> String {
            """
            module(load="imudp")
            module(load="ompgsql")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            template(name="tagged" type="string" option.stdsql="on"
                     string="insert into tagged (tag, body, severity) values ('%syslogtag%', '%msg%', %syslogseverity%)")
            $template Short,"insert into short (body) values ('%msg%')",stdsql
            if $programname == "app" then {
                action(type="ompgsql" server="127.0.0.1" port="\(pg.port)" db="\(db)" user="postgres" pass="unused")
                action(type="ompgsql" conninfo="postgresql://postgres@127.0.0.1:\(pg.port)/\(db)" template="tagged")
                action(type="ompgsql" server="127.0.0.1" port="\(pg.port)" db="\(db)" template="Short")
                :ompgsql:127.0.0.1,\(db),postgres,unused;Short
            }
            """
        }
        try config(ports[0], "rs").write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(ports[1], "sink").write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        // The legacy form takes no port: both daemons reach 5432 there, so that line is checked by -N1 only.
        let (rsyslog, sink) = try sqlOutputBesideRsyslogd(dir, ports: ports) { db, pattern in
            (try? pg.rows("SELECT count(*) FROM tagged WHERE body LIKE '\(pattern)'", database: db)) ?? ["0"]
        }
        defer {
            rsyslog.stop()
            sink.stop()
        }
        let queries = [
            "SELECT message, facility, fromhost, priority, devicereportedtime, infounitid, syslogtag FROM systemevents WHERE message NOT LIKE '%probe' ORDER BY id",
            "SELECT tag, body, severity FROM tagged WHERE body NOT LIKE '%probe' ORDER BY tag, body",
            "SELECT body FROM short WHERE body <> ' probe' ORDER BY body",
        ]
        for q in queries {
            let theirs = try pg.rows(q, database: "rs")
            let ours = try pg.rows(q, database: "sink")
            #expect(ours == theirs, "\(q)\n--- sink:\n\(ours.joined(separator: "\n"))\n--- rsyslogd:\n\(theirs.joined(separator: "\n"))")
        }
        #expect(try pg.rows("SELECT count(*) FROM systemevents WHERE message LIKE '%line%'", database: "sink") == ["12"])
        // Only the probes fit in varchar(10): the other statements were refused, each dropped and said.
        sink.stop()
        #expect(sink.output.contains("statement refused, message dropped: ERROR:  value too long"), "\(sink.output)")
        // Each refused once, counted once (the stats at stop: one line per action).
        let short = sink.output.split(separator: "\n").first { $0.contains("ompgsql PostgreSQL sink@127.0.0.1:\(pg.port)") && $0.contains("failed=12") }
        #expect(short != nil, "\(sink.output)")
    }

    /// The database stopped for a while under traffic (a fast shutdown: the sink's session is cut): with a
    /// LinkedList queue and action.resumeRetryCount -1, every message arrives once the server is back, none twice.
    @Test func anOutageLosesNothingWithTheQueue() throws {
        let dir = try TemporaryDirectory(prefix: "ompgsql-outage")
        let pg = try PostgresServer(in: dir)
        defer { pg.stop() }
        try Self.database(pg, "logs")
        let port = try Peers.freePort(udp: true)
        try """
            module(load="imudp")
            module(load="ompgsql")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            template(name="tagged" type="string" option.stdsql="on"
                     string="insert into tagged (tag, body, severity) values ('%syslogtag%', '%msg%', %syslogseverity%)")
            action(type="ompgsql" server="127.0.0.1" port="\(pg.port)" db="logs" template="tagged"
                   queue.type="LinkedList" queue.size="10000" action.resumeRetryCount="-1" action.resumeInterval="1")
            """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let sink = try RunningPeer(try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf")], logPath: dir.file("sink.out"))
        defer { sink.stop() }
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        func count() -> Int { Int((try? pg.rows("SELECT count(*) FROM tagged", database: "logs"))?.first ?? "") ?? -1 }
        #expect(Peers.waitUntil(seconds: 20) {
            sender.send(Array("<134>Nov 26 08:00:00 h app: m0".utf8))
            return count() > 0
        }, "\(sink.output)")
        let before = count()
        var sent = 0
        func send(_ n: Int) {
            for _ in 0..<n {
                sent += 1
                sender.send(Array("<134>Nov 26 08:00:00 h app: m\(sent)".utf8))
                if sent % 50 == 0 { usleep(2_000) }
            }
        }
        send(200)
        try pg.stopFast()
        send(300)
        usleep(1_500_000)
        try pg.start()
        send(200)
        #expect(Peers.waitUntil(seconds: 30) { count() >= before + sent }, "\(count()) of \(before + sent): \(sink.output)")
        usleep(500_000)
        let distinct = try pg.rows("SELECT count(DISTINCT body), count(*) FROM tagged WHERE body <> ' m0'", database: "logs")
        #expect(distinct == ["\(sent)|\(sent)"], "\(distinct) \(sink.output)")
        #expect(sink.output.contains("suspended") && sink.output.contains("resumed"), "\(sink.output)")
    }
}

/// An SQL output beside rsyslogd's: `dir/rsyslog.conf` and `dir/sink.conf` checked with `-N1`, both daemons started,
/// and the same 12 messages (quotes, backslashes, four facilities) sent to each on its UDP port (rsyslogd's first)
/// once a probe has reached its database (`rs`, `sink`); `count(database, LIKE pattern)` reads the rows of the
/// `tagged` table. The running daemons.
func sqlOutputBesideRsyslogd(
    _ dir: TemporaryDirectory, ports: [Int], count: @escaping (String, String) -> [String]
) throws -> (rsyslog: RunningPeer, sink: RunningPeer) {
    for (who, program, file) in [
        ("rsyslogd", try Peers.find("rsyslogd"), "rsyslog.conf"), ("sink", try Products.path("syslog-sink"), "sink.conf"),
    ] {
        let check = try Peers.run(program, ["-N1", "-f", dir.file(file)])
        #expect(check.status == 0, "\(who): \(String(decoding: check.stderr, as: UTF8.self))")
    }
    let rsyslog = try RunningPeer(
        try Peers.find("rsyslogd"), ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
        logPath: dir.file("rsyslogd.out"))
    let sink = try RunningPeer(try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf")], logPath: dir.file("sink.out"))
    let messages = (1...12).map { n in
        "<\(8 * (16 + n % 4) + n % 8)>Nov 26 08:00:\(String(format: "%02d", n)) web\(n % 3) app[\(100 + n)]: line \(n) it's \"quoted\" \\ and 'again'"
    }
    for (port, db) in [(ports[0], "rs"), (ports[1], "sink")] {
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        // The daemon is ready when a probe reaches the database.
        #expect(
            Peers.waitUntil(seconds: 20) {
                sender.send(Array("<134>Nov 26 08:00:00 probe app: probe".utf8))
                return count(db, " probe") != ["0"]
            }, "\(rsyslog.output) \(sink.output)")
        for m in messages { sender.send(Array(m.utf8)) }
        #expect(Peers.waitUntil(seconds: 20) { count(db, "%line 12 %") == ["1"] }, "\(db): \(rsyslog.output) \(sink.output)")
    }
    usleep(500_000)
    return (rsyslog, sink)
}
