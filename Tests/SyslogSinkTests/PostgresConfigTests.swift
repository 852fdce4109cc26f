import Foundation
import LogCore
import Testing

@testable import SyslogSink
@testable import SyslogProtocol

/// ompgsql's configuration as rsyslog 8.2302 reads it (facts from its plugins/ompgsql/ompgsql.c and template.c;
/// the rows themselves are compared with rsyslogd's in `PostgresOutputTests`).
@Suite("ompgsql: the configuration")
struct PostgresConfigTests {
    static let reception = SyslogReception(
        receivedAt: SyslogTimestamp(year: 2026, month: 11, day: 26, hour: 8, minute: 53, second: 0, fraction: 0, fractionDigits: 6),
        fromHost: Array("gw".utf8), fromHostIP: Array("192.0.2.7".utf8))

    static func actions(_ text: String) throws -> (SinkConfiguration, [SinkAction]) {
        let c = try RsyslogConfigParser.parse(text: text, name: "t.conf")
        return (c, c.rules.flatMap(\.actions))
    }

    @Test func objectAndLegacyFormsWithRsyslogsDefaults() throws {
        let (c, actions) = try Self.actions(
            """
            module(load="ompgsql")
            $template Short,"insert into short (body) values ('%msg%')",stdsql
            local0.* action(type="ompgsql" server="db.example" db="syslog")
            local1.* action(type="ompgsql" conninfo="postgresql://rsyslog@db.example/syslog" template="Short"
                            queue.type="LinkedList" action.resumeRetryCount="-1")
            local2.* :ompgsql:db.example,logs,writer,s3cr3t;Short
            """)
        #expect(c.errors.isEmpty, "\(c.errors)")
        guard actions.count == 3, case .database(.postgres(let a), let ta, let qa) = actions[0],
            case .database(.postgres(let b), let tb, let qb) = actions[1], case .database(.postgres(let l), let tl, _) = actions[2]
        else {
            Issue.record("\(actions)")
            return
        }
        #expect(a.server == "db.example" && a.database == "syslog" && a.port == 5432 && a.user == "postgres" && a.password == "postgres")
        #expect(ta == " StdPgSQLFmt" && qa.kind == .direct)
        #expect(
            a.connectionString.hasPrefix(
                "host='db.example' port=5432 dbname='syslog' user='postgres' password='postgres' options='-c standard_conforming_strings=on'"))
        #expect(b.connectionString == "postgresql://rsyslog@db.example/syslog" && tb == "Short")
        #expect(qb.kind == .linkedList && qb.resumeRetryCount == -1)
        #expect(l.server == "db.example" && l.database == "logs" && l.user == "writer" && l.password == "s3cr3t" && tl == "Short")
        // rsyslog's built-in insert, escaped as standard SQL.
        guard case .success(let std)? = c.templates[" stdpgsqlfmt"]?.compiled else {
            Issue.record("no StdPgSQLFmt")
            return
        }
        let m = SyslogParser.parse(Array("<134>Nov 26 08:00:05 web1 app[7]: it's".utf8), reception: Self.reception)
        let rendered = String(decoding: std.render(m), as: UTF8.self)
        #expect(rendered.hasPrefix("insert into SystemEvents (Message, Facility, FromHost, Priority, DeviceReportedTime, ReceivedAt, InfoUnitID, SysLogTag) values (' it''s', 16, 'web1', 6, '"))
        #expect(rendered.hasSuffix("', 1, 'app[7]:')"), "\(rendered)")
    }

    @Test func whatRsyslogRefusesIsRefused() throws {
        func thrown(_ line: String) -> String? {
            do {
                _ = try RsyslogConfigParser.parse(text: "module(load=\"ompgsql\")\n\(line)\n", name: "t.conf")
                return nil
            } catch {
                return (error as? ConfigDiagnostic)?.message
            }
        }
        #expect(thrown(#"*.* action(type="ompgsql" server="h")"#) == "ompgsql: must provide conninfo or server and dbname")
        #expect(
            thrown(#"*.* action(type="ompgsql" conninfo="host=h dbname=d")"#)
                == "parameter 'conninfo' contains whitespace, which is not permitted")
        #expect(thrown("*.* :ompgsql:h,,u,p") == "Trouble with PgSQL connection properties. -PgSQL logging disabled")
        #expect(thrown(#"*.* action(type="ompgsql" server="h" db="d" port="x")"#) == "ompgsql: 'x' is not a port")

        // Left out, said, and the rest runs: a template without the SQL option (values would go in unescaped),
        // an unknown template, a disk queue, the module not loaded.
        for (text, message) in [
            (
                "$template Plain,\"insert into t values ('%msg%')\"\n*.* action(type=\"ompgsql\" server=\"h\" db=\"d\" template=\"Plain\")",
                "Action disabled. To use this action, you have to specify the SQL or stdSQL option in your template! (template 'Plain')"
            ),
            ("*.* action(type=\"ompgsql\" server=\"h\" db=\"d\" template=\"Nope\")", "Could not find template 'Nope' - action disabled"),
            (
                "*.* action(type=\"ompgsql\" server=\"h\" db=\"d\" queue.type=\"LinkedList\" queue.filename=\"pg\")",
                "ompgsql: queue.filename (a disk-assisted queue) is not in this build for ompgsql: what waits for the database "
                    + "would not be kept across a restart as asked. The action is disabled"
            ),
        ] {
            let c = try RsyslogConfigParser.parse(
                text: "module(load=\"ompgsql\")\n$WorkDirectory /tmp\n\(text)\n*.* /var/log/all.log\n", name: "t.conf")
            #expect(c.errors.map(\.message) == [message])
            #expect(!c.rules.flatMap(\.actions).contains { if case .database = $0 { true } else { false } })
        }
        let unloaded = try RsyslogConfigParser.parse(
            text: "*.* action(type=\"ompgsql\" server=\"h\" db=\"d\")\n*.* /var/log/all.log\n", name: "t.conf")
        #expect(unloaded.errors.count == 1, "\(unloaded.errors)")
    }

    /// ommysql, as rsyslog 8.2302's plugins/ommysql reads it: server, db, uid and pwd required, `StdDBFmt` (option
    /// sql, date-mysql) by default, the legacy line with `$ActionOmmysqlServerPort` and the option file settings.
    @Test func ommysqlsFormsAndDefaults() throws {
        let (c, actions) = try Self.actions(
            """
            module(load="ommysql")
            local0.* action(type="ommysql" server="db.example" db="Syslog" uid="rsyslog" pwd="pw" serverport="3307"
                            socket="/run/mysqld/mysqld.sock" mysqlconfig.file="/etc/mysql/rsyslog.cnf" mysqlconfig.section="logs")
            $ActionOmmysqlServerPort 3308
            $OmMySQLConfigSection writer
            local1.* :ommysql:127.0.0.1,Syslog,rsyslog,pw2
            """)
        #expect(c.errors.isEmpty, "\(c.errors)")
        guard actions.count == 2, case .database(.mysql(let a), let ta, _) = actions[0],
            case .database(.mysql(let l), let tl, _) = actions[1]
        else {
            Issue.record("\(actions)")
            return
        }
        #expect(a.server == "db.example" && a.database == "Syslog" && a.user == "rsyslog" && a.password == "pw" && a.port == 3307)
        #expect(a.socket == "/run/mysqld/mysqld.sock" && a.configFile == "/etc/mysql/rsyslog.cnf" && a.configSection == "logs")
        #expect(ta == " StdDBFmt" && tl == " StdDBFmt")
        #expect(l.server == "127.0.0.1" && l.port == 3308 && l.configSection == "writer" && l.password == "pw2")
        guard case .success(let std)? = c.templates[" stddbfmt"]?.compiled else {
            Issue.record("no StdDBFmt")
            return
        }
        let m = SyslogParser.parse(Array("<134>Nov 26 08:00:05 web1 app[7]: it's \\".utf8), reception: Self.reception)
        let rendered = String(decoding: std.render(m), as: UTF8.self)
        #expect(rendered.contains("values (' it\\'s \\\\', 16, 'web1', 6, '2026"), "\(rendered)")
        #expect(rendered.contains("1126080005'"), "date-mysql: \(rendered)")

        func thrown(_ line: String) -> String? {
            do {
                _ = try RsyslogConfigParser.parse(text: "module(load=\"ommysql\")\n\(line)\n", name: "t.conf")
                return nil
            } catch {
                return (error as? ConfigDiagnostic)?.message
            }
        }
        #expect(thrown(#"*.* action(type="ommysql" server="h" db="d" uid="u")"#) == "parameter 'pwd' required but not specified - fix config")
        #expect(thrown("*.* :ommysql:h,d,,p") == "Trouble with MySQL connection properties. -MySQL logging disabled")
    }

    @Test func sqlTemplatesEscapePropertiesNeverConstants() throws {
        let m = SyslogParser.parse(Array("<13>Nov 26 08:00:05 h app: O'Neil \\ \"x\"".utf8), reception: Self.reception)
        func render(_ option: PropertyTemplate.Option?) throws -> String {
            String(decoding: try PropertyTemplate(parsing: "'%msg%' it's", escapes: .none, option: option).render(m), as: UTF8.self)
        }
        #expect(try render(.stdsql) == "' O''Neil \\ \"x\"' it's")
        #expect(try render(.sql) == "' O\\'Neil \\\\ \"x\"' it's")
        #expect(try render(.json) == "' O'Neil \\\\ \\\"x\\\"' it's")
        let dated = try PropertyTemplate(parsing: "%timereported:::date-pgsql%|%iut%", escapes: .none).render(m)
        #expect(String(decoding: dated, as: UTF8.self).hasSuffix("-11-26 08:00:05|1"))
        let both = #"template(name="t" type="string" string="x" option.sql="on" option.stdsql="on")"#
        #expect(throws: ConfigDiagnostic.self) { try RsyslogConfigParser.parse(text: both + "\n*.* /var/log/all.log\n") }
        do {
            _ = try RsyslogConfigParser.parse(text: both + "\n*.* /var/log/all.log\n")
        } catch {
            #expect((error as? ConfigDiagnostic)?.message == "template 't' has multiple incompatible options of sql, stdsql or json specified")
        }
    }
}
