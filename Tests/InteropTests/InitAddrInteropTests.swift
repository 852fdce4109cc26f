import Foundation
import TestSupport
import Testing

/// `init-addr` beside HAProxy 2.6: a name nothing resolves is refused unless `none` allows it (the server then
/// starts in `MAINT (resolution)`), `last,libc` resolves `localhost`, an address given as a method is taken;
/// compared through `show servers state` and `show stat` on the stats socket, and `-c`'s verdicts.
@Suite("init-addr beside HAProxy", .serialized)
struct InitAddrInteropTests {
    static let defaults = """
        defaults
            mode tcp
            timeout connect 1s
            timeout client 1s
            timeout server 1s
        """

    @Test func serversStartWithTheAddressesHAProxyGivesThem() async throws {
        let dir = try TemporaryDirectory(prefix: "init-addr")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            global
                stats socket \(dir.file("addr.sock")) level admin
            \(Self.defaults)
            listen a
                bind 127.0.0.1:\(ports[0])
                default-server init-addr last,libc,none
                server s nonexistent.invalid:80
                server t localhost:81
                server u nonexistent.invalid:82 init-addr 10.1.2.3
                server v 127.0.0.1:83 init-addr none

            """
        } _: { _, _ in
            // The seconds since the last change differ between the runs.
            let state = try RuntimeAPIInteropTests.socat(dir.file("addr.sock"), "show servers state\n")
                .split(separator: "\n").map { line in
                    var fields = line.split(separator: " ").map(String.init)
                    if fields.count == 25 { fields[9] = "T" }
                    return fields.joined(separator: " ")
                }
            let stat = try RuntimeAPIInteropTests.socat(dir.file("addr.sock"), "show stat\n")
                .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(19).suffix(2).joined(separator: ",") }
            return state + stat
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains("MAINT (resolution),1") == true, "\(results)")
        // Without `none`, a name nothing resolves stops the start, on both sides.
        let refused = dir.file("refused.cfg")
        try """
            \(Self.defaults)
            listen a
                bind 127.0.0.1:1
                server s nonexistent.invalid:80

            """.write(toFile: refused, atomically: true, encoding: .utf8)
        let theirs = try Peers.run(try Peers.find("haproxy"), ["-c", "-f", refused])
        let ours = try Peers.run(try Products.path("proxy"), ["-c", "-f", refused])
        #expect(theirs.status != 0 && ours.status != 0)
        let said = String(decoding: ours.stderr + ours.stdout, as: UTF8.self)
        #expect(said.contains("'server a/s' : could not resolve address 'nonexistent.invalid'."), "\(said)")
    }
}
