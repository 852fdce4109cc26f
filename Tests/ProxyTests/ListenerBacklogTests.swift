import Foundation
import Testing
import TestSupport

@testable import Proxy

/// `bind … backlog N`: the listening socket's queue, as the kernel reports it (`ss`), and read as HAProxy 2.6 reads
/// the number (checked beside `haproxy -c`: `abc` is 0, the default; below 0 is an alert).
@Suite("bind backlog")
struct ListenerBacklogTests {
    static func config(_ port: Int, _ backlog: String) -> String {
        """
        defaults
            mode tcp
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen db
            bind 127.0.0.1:\(port) backlog \(backlog)
            server a 127.0.0.1:1
        """
    }

    @Test func theListeningSocketGetsTheBacklog() async throws {
        let port = try Peers.freePort()
        let runtime = try ProxyRuntime(configuration: try HAProxyConfigParser.parse(text: Self.config(port, "77")), threads: 1)
        _ = try await runtime.start()
        // For a listening socket, ss's Send-Q column is its backlog.
        let ss = try Peers.run(try Peers.find("ss"), ["-Hltn", "sport = :\(port)"])
        let columns = String(decoding: ss.stdout, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        try await runtime.stop()
        #expect(columns.count >= 3 && columns[2] == "77", "ss: \(columns)")
    }

    @Test func readAsHAProxyReadsIt() throws {
        #expect(try HAProxyConfigParser.parse(text: Self.config(8080, "2048")).proxies[0].binds[0].backlog == 2048)
        #expect(try HAProxyConfigParser.parse(text: Self.config(8080, "abc")).proxies[0].binds[0].backlog == nil)
        #expect(try HAProxyConfigParser.parse(text: Self.config(8080, "0")).proxies[0].binds[0].backlog == nil)
        #expect {
            try HAProxyConfigParser.parse(text: Self.config(8080, "-5"))
        } throws: { error in
            "\(error)".contains("'backlog' : invalid value -5, must be > 0")
        }
    }
}
