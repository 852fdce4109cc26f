import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// The sink's ommysql beside rsyslogd's (Debian's rsyslog-mysql) on a real MariaDB 10.11: the same configuration,
/// the same messages, the same rows.
@Suite("ommysql beside rsyslogd, into MariaDB", .serialized)
struct MySQLOutputTests {
    /// The MonitorWare schema Debian's rsyslog-mysql ships.
    static let schema = "/usr/share/dbconfig-common/data/rsyslog-mysql/install/mysql"

    static func sql(_ port: Int, _ statement: String, database: String? = nil) throws -> (status: Int32, rows: [String]) {
        let run = try Peers.run(
            try Peers.find("mariadb"),
            ["-h", "127.0.0.1", "-P", "\(port)", "-u", "root", "-N", "-B"] + (database.map { [$0] } ?? []) + ["-e", statement])
        return (run.status, String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test func rowsAsRsyslogdWritesThem() async throws {
        let dir = try TemporaryDirectory(prefix: "ommysql")
        let db = try await blocking { try MariaDBThroughProxyTests.Node(in: dir, name: "db") }
        defer { db.stop() }
        let schema = try String(contentsOfFile: Self.schema, encoding: .utf8)
        for name in ["rs", "sink"] {
            #expect(try Self.sql(db.port, "CREATE DATABASE \(name)").status == 0)
            #expect(try Self.sql(db.port, schema, database: name).status == 0)
            #expect(try Self.sql(db.port, "CREATE TABLE tagged (tag varchar(60), body text, severity int)", database: name).status == 0)
            #expect(try Self.sql(db.port, "CREATE TABLE short (body varchar(10)) ENGINE=InnoDB", database: name).status == 0)
            // Strict mode: a value too long is refused, not cut.
            #expect(try Self.sql(db.port, "SET GLOBAL sql_mode = 'STRICT_ALL_TABLES'").status == 0)
        }
        let ports = try (0..<2).map { _ in try Peers.freePort(udp: true) }
        func config(_ port: Int, _ name: String) -> String {
            """
            module(load="imudp")
            module(load="ommysql")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            template(name="tagged" type="string" option.sql="on"
                     string="insert into tagged (tag, body, severity) values ('%syslogtag%', '%msg%', %syslogseverity%)")
            $template Short,"insert into short (body) values ('%msg%')",SQL
            if $programname == "app" then {
                action(type="ommysql" server="127.0.0.1" serverport="\(db.port)" db="\(name)" uid="root" pwd="x")
                action(type="ommysql" server="127.0.0.1" serverport="\(db.port)" db="\(name)" uid="root" pwd="x" template="tagged")
            }
            $ActionOmmysqlServerPort \(db.port)
            :programname, isequal, "app" :ommysql:127.0.0.1,\(name),root,x;Short
            """
        }
        try config(ports[0], "rs").write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(ports[1], "sink").write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try sqlOutputBesideRsyslogd(dir, ports: ports) { name, pattern in
            (try? Self.sql(db.port, "SELECT count(*) FROM tagged WHERE body LIKE '\(pattern)'", database: name).rows) ?? ["0"]
        }
        defer {
            rsyslog.stop()
            sink.stop()
        }
        for q in [
            "SELECT Message, Facility, FromHost, Priority, DeviceReportedTime, InfoUnitID, SysLogTag FROM SystemEvents WHERE Message NOT LIKE '%probe' ORDER BY ID",
            "SELECT tag, body, severity FROM tagged WHERE body NOT LIKE '%probe' ORDER BY tag, body",
            "SELECT body FROM short WHERE body <> ' probe' ORDER BY body",
        ] {
            let theirs = try Self.sql(db.port, q, database: "rs").rows
            let ours = try Self.sql(db.port, q, database: "sink").rows
            #expect(ours == theirs, "\(q)\n--- sink:\n\(ours.joined(separator: "\n"))\n--- rsyslogd:\n\(theirs.joined(separator: "\n"))")
        }
        #expect(try Self.sql(db.port, "SELECT count(*) FROM SystemEvents WHERE Message LIKE '%line%'", database: "sink").rows == ["12"])
        sink.stop()
        #expect(sink.output.contains("statement refused, message dropped: db error (1406)"), "\(sink.output)")
    }
}
