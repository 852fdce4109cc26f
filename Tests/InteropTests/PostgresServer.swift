import Foundation
import TestSupport

/// A PostgreSQL server (Debian's) on loopback with its own data folder, run as the `postgres` user when the tests are
/// root: for pgsql-check beside HAProxy and the sink's ompgsql beside rsyslogd's.
final class PostgresServer: @unchecked Sendable {
    let port: Int
    let dir: String
    private let logPath: String
    private var server: RunningPeer?

    /// A new cluster (`initdb`, trust authentication, the role `nobody` turned away by pg_hba.conf), started.
    init(in root: TemporaryDirectory) throws {
        port = try Peers.freePort()
        dir = root.file("pg")
        logPath = root.file("pg.log")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if getuid() == 0 {
            _ = try Peers.run("/bin/chown", ["-R", "postgres", root.path])
            _ = try Peers.run("/bin/chmod", ["755", root.path])
        }
        let made = try Self.run(try Peers.find("initdb"), ["-D", dir, "-A", "trust", "-U", "postgres"])
        guard made.status == 0 else {
            throw PeerFailed(description: "initdb: \(String(decoding: made.stderr, as: UTF8.self))")
        }
        let hba = dir + "/pg_hba.conf"
        let rules = try String(contentsOfFile: hba, encoding: .utf8)
        try ("host all nobody 127.0.0.1/32 reject\n" + rules).write(toFile: hba, atomically: false, encoding: .utf8)
        try start()
    }

    /// Starts the server (again, after `stopFast`), waiting until it listens.
    func start() throws {
        let (program, arguments) = Self.asPostgres(
            try Peers.find("postgres"), ["-D", dir, "-p", "\(port)", "-k", dir, "-c", "listen_addresses=127.0.0.1"])
        server = try RunningPeer(program, arguments, logPath: logPath)
        guard Peers.waitUntil(seconds: 30, { Peers.isListening(port: port) }) else {
            throw PeerFailed(description: "postgres did not start on \(port)")
        }
    }

    /// A fast shutdown (`pg_ctl stop -m fast`): the clients' sessions are ended at once.
    func stopFast() throws {
        _ = try Self.run(try Peers.find("pg_ctl"), ["-D", dir, "-m", "fast", "-w", "stop"])
        server?.stop()
        server = nil
    }

    static func asPostgres(_ program: String, _ arguments: [String]) -> (String, [String]) {
        getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments) : (program, arguments)
    }

    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let (p, a) = asPostgres(program, arguments)
        return try Peers.run(p, a, timeout: 120)
    }

    /// Runs `statement` (psql -c) in `database`; psql's exit status.
    func sql(_ statement: String, database: String = "postgres") throws -> Int32 {
        try Self.run(
            try Peers.find("psql"),
            ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", statement]
        ).status
    }

    /// Runs a file of statements (psql -f).
    func sql(file: String, database: String) throws -> Int32 {
        try Self.run(
            try Peers.find("psql"),
            ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-f", file]
        ).status
    }

    /// The rows `query` returns, one line each, columns separated by `|` (psql -At).
    func rows(_ query: String, database: String) throws -> [String] {
        let out = try Self.run(
            try Peers.find("psql"), ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database, "-At", "-c", query])
        return String(decoding: out.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func stop() { server?.stop() }
}
