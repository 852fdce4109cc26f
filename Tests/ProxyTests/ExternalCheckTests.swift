import Testing

@testable import Proxy

/// What an external check runs, as HAProxy 2.6's extcheck.c makes it (the interop test runs HAProxy beside it).
@Suite struct ExternalCheckTests {
    let target = ExternalCheck.Target(name: "db1", id: 2, address: "10.0.0.5", port: 3306, maxconn: 50, connections: 3)

    @Test func aBackendsCheckSaysNotUsedForItsListener() {
        let check = ExternalCheck(command: "/usr/local/bin/clustercheck", path: "", proxyName: "galera", proxyID: 4, listener: nil, proto: "tcp")
        #expect(check.arguments(target) == ["NOT_USED", "NOT_USED", "10.0.0.5", "3306"])
        let env = check.environment(target)
        #expect(env["HAPROXY_PROXY_ADDR"] == "" && env["HAPROXY_PROXY_PORT"] == "")
        #expect(env["HAPROXY_SERVER_NAME"] == "db1" && env["HAPROXY_SERVER_ID"] == "2" && env["HAPROXY_SERVER_MAXCONN"] == "50")
        #expect(env["HAPROXY_SERVER_CURCONN"] == "3" && env["HAPROXY_SERVER_PROTO"] == "tcp" && env["PATH"] == "")
        #expect(env.count == 13, "PATH and the twelve HAPROXY_ variables, nothing else")
    }

    @Test func aListensCheckNamesItsFirstListener() {
        let check = ExternalCheck(command: "check", path: "/opt/checks", proxyName: "web", proxyID: 1, listener: ("0.0.0.0", 80), proto: "h1")
        #expect(check.arguments(target) == ["0.0.0.0", "80", "10.0.0.5", "3306"])
        #expect(check.environment(target)["HAPROXY_PROXY_PORT"] == "80")
        #expect(check.executable() == nil, "not found in its path")
    }

    @Test func theExitStatusDecides() {
        let ok = ExternalCheck.result(exitStatus: 0, signalled: false)
        #expect(ok.passed && ok.description == "External check passed" && ok.code == 0)
        let failed = ExternalCheck.result(exitStatus: 3, signalled: false)
        #expect(!failed.passed && failed.description == "External check error" && failed.code == 3)
        let killed = ExternalCheck.result(exitStatus: 9, signalled: true)
        #expect(!killed.passed && killed.code == -1)
    }
}
