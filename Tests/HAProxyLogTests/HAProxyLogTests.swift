import Foundation
import LogCore
import Testing

@testable import HAProxyLog

/// The log line of a captured datagram: what follows `tag[pid]: `.
func body(_ datagram: String) -> String {
    guard let range = datagram.range(of: "]: ") else { return datagram }
    return String(datagram[range.upperBound...])
}

@Suite("HAProxy 2.6 traffic lines")
struct HAProxyLogTests {
    @Test("captured lines parse and format back byte for byte", arguments: capturedTrafficDatagrams)
    func capturedRoundTrip(_ datagram: String) throws {
        let line = body(datagram)
        let record = try #require(HAProxyLogParser.record(line))
        let format: HAProxyLogFormat = line.contains(" - - [") ? .clf : .default(for: record)
        #expect(format.formatString(record) == line)
        // The whole datagram parses to the same record (the <PRI> and header are recognised).
        #expect(HAProxyLogParser.record(datagram) == record)
    }

    @Test func fieldsOfATCPLine() throws {
        let r = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[0])))
        #expect(r.mode == .tcp)
        #expect(r.clientIP == "127.0.0.1")
        #expect(r.clientPort == 37748)
        #expect(
            r.date == CivilTime(year: 2026, month: 11, day: 26, hour: 8, minute: 51, second: 5, microsecond: 487_000))
        #expect(r.frontend == "fe_tcp")
        #expect(r.backend == "be_tcp")
        #expect(r.server == "t1")
        #expect((r.queueTime, r.connectTime, r.totalTime) == (1, 0, 1))
        #expect(r.bytesRead == 190)
        #expect(r.terminationState.sessionState == "--")
        #expect((r.activeConnections, r.frontendConnections, r.backendConnections, r.serverConnections) == (1, 1, 0, 0))
        #expect(!r.isError)
    }

    @Test func fieldsOfAnHTTPLineWithCaptures() throws {
        let r = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[1])))
        #expect(r.mode == .http)
        #expect(r.status == 200)
        #expect(r.requestHeaders == ["127.0.0.1:8080", "Mozilla/5.0 \"x\" {y}|z"])
        #expect(r.responseHeaders == ["text/html"])
        #expect(r.requestLine == "GET /index.html?a=1 HTTP/1.1")
        #expect(r.requestCookie == "")
        #expect(r.terminationState.description == "----")
    }

    @Test func errorsAndSpecialServers() throws {
        let failed = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[2])))
        #expect(failed.terminationState.sessionState == "SC")
        #expect(failed.retries == 3)
        #expect((failed.connectTime, failed.responseTime, failed.totalTime) == (-1, -1, 3003))
        #expect(failed.isError)
        let denied = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[3])))
        #expect(denied.server == HAProxyLogRecord.noServer)
        #expect(denied.backend == "fe_tag")
        #expect(denied.isError, "PR is a proxy-side cause")
        let stats = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[5])))
        #expect(stats.server == HAProxyLogRecord.statsServer)
        #expect(!stats.isError, "L is handled locally, not an error")
        let bad = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[6])))
        #expect(bad.requestLine == HAProxyLogRecord.badRequest)
        #expect(bad.requestTime == -1)
        let asap = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[8])))
        #expect(asap.logASAP)
        #expect(asap.bytesRead == 179)
        #expect(asap.totalTime == 3)
    }

    @Test func clfLine() throws {
        let r = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[9])))
        #expect(r.clientPort == 42232)
        #expect(r.date.microsecond == 461_000)
        #expect(r.frontend == "fe_clf")
        #expect(r.server == "s1")
        #expect(r.totalTime == 1)
        #expect(r.requestLine == "GET / HTTP/1.1")
        // CLF prints GMT: a record stamped in another zone comes out converted.
        var east = r
        east.date = CivilTime(
            year: 2026, month: 11, day: 26, hour: 9, minute: 51, second: 2, microsecond: 461_000, utcOffsetSeconds: 3600
        )
        #expect(HAProxyLogFormat.clf.formatString(east) == body(capturedTrafficDatagrams[9]))
        // With captures, CLF lists them quoted after the cookies.
        var captured = r
        captured.requestHeaders = ["host", "a \"b\""]
        let line = HAProxyLogFormat.clf.formatString(captured)
        #expect(line.hasSuffix("\"\" \"\" \"host\" \"a #22b#22\" "))
        #expect(HAProxyLogParser.record(line) == captured)
    }

    @Test func syslogPrefixes() throws {
        let tcp = body(capturedTrafficDatagrams[0])
        let lines = [
            "Nov 26 08:51:05 localhost haproxy[6296]: \(tcp)",
            "Nov  6 08:51:05 lb-01.example.net haproxy[6296]: \(tcp)",
            "2026-11-26T08:51:05.123456+01:00 localhost haproxy[6296]: \(tcp)",
            "<134>Nov 26 08:51:05 haproxy[6296]: \(tcp)",
            "<134>1 2026-11-26T08:51:05.123456+00:00 myhost haproxy 6296 - - \(tcp)",
            "Nov 26 08:51:05 localhost haproxy: \(tcp)",
            tcp,
        ]
        let expected = try #require(HAProxyLogParser.record(tcp))
        for line in lines {
            var copy = line
            let (record, program, pid) = copy.withUTF8 { buffer -> (HAProxyLogRecord?, String, Int) in
                guard case .traffic(let parsed) = HAProxyLogParser.parse(buffer) else { return (nil, "", -2) }
                return (parsed.record(in: buffer), parsed.text(parsed.program, in: buffer), parsed.pid)
            }
            #expect(record == expected, "\(line)")
            if line != tcp {
                #expect(program == "haproxy", "\(line)")
                #expect(pid == (line.contains("haproxy:") ? -1 : 6296), "\(line)")
            }
        }
        var stored = "Nov 26 08:51:05 lb-01.example.net haproxy[6296]: \(tcp)"
        stored.withUTF8 { buffer in
            guard case .traffic(let parsed) = HAProxyLogParser.parse(buffer) else {
                Issue.record("not traffic")
                return
            }
            #expect(parsed.text(parsed.host, in: buffer) == "lb-01.example.net")
            #expect(parsed.text(parsed.syslogTimestamp, in: buffer) == "Nov 26 08:51:05")
            #expect(parsed.text(parsed.method, in: buffer) == "")
        }
    }

    @Test func requestLineParts() {
        var line = body(capturedTrafficDatagrams[1])
        line.withUTF8 { buffer in
            guard case .traffic(let p) = HAProxyLogParser.parse(buffer) else {
                Issue.record("not traffic")
                return
            }
            #expect(p.text(p.method, in: buffer) == "GET")
            #expect(p.text(p.uri, in: buffer) == "/index.html?a=1")
            #expect(p.text(p.httpVersion, in: buffer) == "HTTP/1.1")
        }
        // A URI cut short by tune.http.logurilen loses the version and the closing quote: still readable.
        let cut =
            "127.0.0.1:1 [26/Nov/2026:08:51:02.451] fe be/s 0/0/0/0/0 200 1 - - ---- 1/1/0/0/0 0/0 \"GET /aaaaaaaa"
        let r = HAProxyLogParser.record(cut)
        #expect(r?.requestLine == "GET /aaaaaaaa")
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        let line: String
        let reason: String
        var testDescription: String { reason }
    }

    static let malformed: [Malformed] = [
        Malformed(
            line: "127.0.0.1 [26/Nov/2026:08:51:05.487] fe be/s 1/0/1 190 -- 1/1/0/0/0 0/0",
            reason: "client address is not ip:port"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05] fe be/s 1/0/1 190 -- 1/1/0/0/0 0/0",
            reason: "date is not [dd/Mon/yyyy:HH:MM:SS.mmm]"),
        Malformed(
            line: "127.0.0.1:1 [26/Foo/2026:08:51:05.487] fe be/s 1/0/1 190 -- 1/1/0/0/0 0/0",
            reason: "date is not [dd/Mon/yyyy:HH:MM:SS.mmm]"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe bes 1/0/1 190 -- 1/1/0/0/0 0/0",
            reason: "backend/server missing"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 1/x/1 190 -- 1/1/0/0/0 0/0",
            reason: "timer is not a number"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 1/0/1/4 190 -- 1/1/0/0/0 0/0",
            reason: "expected 3 or 5 timers"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 1/0/99999999999 190 -- 1/1/0/0/0 0/0",
            reason: "timer out of range"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 1/0/1 many -- 1/1/0/0/0 0/0",
            reason: "byte count is not a number"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 1/0/1 190 --- 1/1/0/0/0 0/0",
            reason: "termination state is not 2 characters"),
        Malformed(
            line: "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 1/0/1 190 -- 1/1/0/0 0/0",
            reason: "connection counts malformed"),
        Malformed(
            line:
                "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 0/0/0/0/0 2OO 1 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"",
            reason: "status is not a number"),
        Malformed(
            line:
                "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 0/0/0/0/0 200 1 - - -- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"",
            reason: "termination state is not 4 characters"),
        Malformed(
            line:
                "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 0/0/0/0/0 200 1 - - ---- 1/1/0/0/0 0/0 {open \"GET / HTTP/1.1\"",
            reason: "capture block not closed"),
        Malformed(
            line:
                "127.0.0.1:1 [26/Nov/2026:08:51:05.487] fe be/s 0/0/0/0/0 200 1 - - ---- 1/1/0/0/0 0/0 GET / HTTP/1.1",
            reason: "request line is not quoted"),
        Malformed(line: "127.0.0.1:1 [26/Nov/2026:08:51:0", reason: "date is not [dd/Mon/yyyy:HH:MM:SS.mmm]"),
    ]

    @Test("broken lines say why", arguments: malformed)
    func malformedLines(_ m: Malformed) {
        guard case .malformed(let error) = HAProxyLogParser.parse(m.line) else {
            Issue.record("parsed: \(m.line)")
            return
        }
        #expect(error.reason == m.reason)
    }

    @Test func otherLinesAreNotErrors() {
        for line in [
            "", "Nov 26 08:51:05 localhost sshd[1]: Accepted publickey for root",
            "Nov 26 08:51:05 localhost haproxy[1]: Connect from 127.0.0.1:39588 to 127.0.0.1:8082 (fe_plain/HTTP)",
            "just text", "<134>", "Nov 26 08:51:05 ",
        ] {
            guard case .other = HAProxyLogParser.parse(line) else {
                Issue.record("not other: \(line)")
                continue
            }
        }
    }

    @Test func ipv6AndUnixClients() throws {
        var r = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[0])))
        for (ip, port) in [("::1", 5555), ("2001:db8::17", 1), ("unix", 1)] {
            r.clientIP = ip
            r.clientPort = port
            let line = HAProxyLogFormat.tcplog.formatString(r)
            #expect(HAProxyLogParser.record(line) == r, "\(line)")
        }
        r.frontendTLS = true
        #expect(HAProxyLogFormat.tcplog.formatString(r).contains(" fe_tcp~ "))
        #expect(HAProxyLogParser.record(HAProxyLogFormat.tcplog.formatString(r)) == r)
    }

    @Test func bigNumbersAndRedispatch() throws {
        var r = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[2])))
        r.bytesRead = 5_000_000_000
        r.redispatched = true
        r.retries = 2
        let line = HAProxyLogFormat.httplog.formatString(r)
        #expect(line.contains(" 503 5000000000 "))
        #expect(line.contains(" 1/1/0/0/+2 "))
        #expect(HAProxyLogParser.record(line) == r)
    }

    @Test func everyTerminationState() throws {
        let causes = Array("-LcCsSPRIDKU".utf8)
        let phases = Array("-RCHDLQT".utf8)
        let tcp = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[0])))
        let http = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[1])))
        for c in causes {
            for p in phases {
                for cookies in [("-", "-"), ("N", "I"), ("V", "U"), ("D", "P")] {
                    var r = http
                    r.terminationState = TerminationState(
                        cause: c, phase: p, clientCookie: cookies.0.utf8.first ?? 0,
                        serverCookie: cookies.1.utf8.first ?? 0)
                    #expect(HAProxyLogParser.record(HAProxyLogFormat.httplog.formatString(r)) == r)
                    // CLF lists all captures in one run, which reads back as request captures.
                    var clf = r
                    clf.requestHeaders = (r.requestHeaders ?? []) + (r.responseHeaders ?? [])
                    clf.responseHeaders = nil
                    #expect(HAProxyLogParser.record(HAProxyLogFormat.clf.formatString(clf)) == clf)
                }
                var t = tcp
                t.terminationState = TerminationState(cause: c, phase: p)
                #expect(HAProxyLogParser.record(HAProxyLogFormat.tcplog.formatString(t)) == t)
            }
        }
    }

    /// The named causes and phases are the letters of HAProxy's manual ("Session state at disconnection"), each
    /// once: the proxy writes `TerminationState(.clientTimeout, .data)` where the log shows `cD`.
    @Test func namedTerminationStatesAreHAProxysLetters() throws {
        let causes: [(TerminationState.Cause, Character)] = [
            (.normal, "-"), (.clientAbort, "C"), (.serverAbort, "S"), (.proxy, "P"), (.local, "L"), (.resource, "R"),
            (.internalError, "I"), (.serverDown, "D"), (.backupUp, "U"), (.killed, "K"), (.clientTimeout, "c"),
            (.serverTimeout, "s"),
        ]
        let phases: [(TerminationState.Phase, Character)] = [
            (.normal, "-"), (.request, "R"), (.queue, "Q"), (.connect, "C"), (.headers, "H"), (.data, "D"),
            (.lastData, "L"), (.tarpit, "T"),
        ]
        #expect(causes.count == TerminationState.Cause.allCases.count)
        #expect(phases.count == TerminationState.Phase.allCases.count)
        for (cause, c) in causes {
            for (phase, p) in phases {
                let state = TerminationState(cause, phase)
                #expect(state == TerminationState("\(c)\(p)"))
                #expect(state.description == "\(c)\(p)--")
                #expect(state.endedBy(cause))
            }
        }
        #expect(TerminationState(.normal, .normal) == .normal)
        #expect(!TerminationState(.clientAbort, .data).endedBy(.serverAbort))
    }

    @Test func timerShapes() throws {
        let http = try #require(HAProxyLogParser.record(body(capturedTrafficDatagrams[1])))
        let shapes: [(Int, Int, Int, Int, Int)] = [
            (-1, -1, -1, -1, 0), (0, -1, -1, -1, 0), (3, 0, -1, -1, 3003), (1, 2, 3, -1, 50003), (5, 0, 1, 2, 10),
            (0, 0, 0, 0, 0), (99999, 88888, 77777, 66666, 999_999_999),
        ]
        for s in shapes {
            for asap in [false, true] {
                var r = http
                (r.requestTime, r.queueTime, r.connectTime, r.responseTime, r.totalTime) = s
                r.logASAP = asap
                let line = HAProxyLogFormat.httplog.formatString(r)
                #expect(HAProxyLogParser.record(line) == r, "\(line)")
            }
        }
    }
}

@Suite("Server-state and lifecycle messages")
struct HAProxyEventTests {
    @Test("captured messages parse and format back", arguments: capturedEventDatagrams)
    func capturedEvents(_ datagram: String) throws {
        let text = body(datagram)
        let event = try #require(HAProxyEvent(message: text))
        #expect(event.message == text)
        // The level HAProxy sent it at is the one the event says.
        let pri = Int(datagram.dropFirst().prefix { $0 != ">" }) ?? -1
        #expect(pri & 7 == event.level)
        // A stored line carrying it is classified as an event.
        var stored = "Nov 26 08:52:24 localhost haproxy[9031]: \(text)"
        stored.withUTF8 { buffer in
            guard case .event(let line) = HAProxyLogParser.parse(buffer) else {
                Issue.record("not an event")
                return
            }
            #expect(line.event(in: buffer) == event)
        }
    }

    @Test func fields() throws {
        let down = try #require(HAProxyEvent(message: body(capturedEventDatagrams[0])))
        guard case .serverDown(let change) = down else {
            Issue.record("not DOWN")
            return
        }
        #expect(change.backend == "be_http")
        #expect(change.server == "s2")
        #expect(
            change.reason
                == CheckReason(
                    description: "Layer4 connection problem", info: "Connection refused", durationMilliseconds: 0))
        #expect(change.activeServers == 1)
        #expect(down.backendAndServer?.server == "s2")
    }

    @Test func otherShapes() throws {
        let events: [HAProxyEvent] = [
            .serverDown(
                ServerStateChange(
                    backend: "b", server: "s", backup: true, activeServers: 0, backupServers: 1, runningOnBackup: true,
                    sessionsActive: 3, requeued: 2, queued: 1)),
            .serverUp(
                ServerStateChange(
                    backend: "b", server: "s", backup: true,
                    reason: CheckReason(description: "Layer7 check passed", code: 200, durationMilliseconds: 5),
                    activeServers: 0, backupServers: 1, runningOnBackup: true, requeued: 4, queued: 9)),
            .healthCheck(
                HealthCheckReport(
                    backend: "b", server: "s", backup: true, succeeded: true, conditionally: true,
                    reason: CheckReason(
                        description: "Layer7 check conditionally passed", code: 404, info: "a \"quoted\" \\ text",
                        durationMilliseconds: 3), health: 1, threshold: 2, state: "DRAIN")),
            .noServerAvailable(kind: .proxy, name: "mycat_servers"),
            .noServerAvailable(kind: .frontend, name: "fe"),
            .proxyStarted(name: "admin_stats"),
            .serverLeavesMaintenance(backend: "b", server: "s", backup: false, state: "DOWN/READY"),
        ]
        for e in events {
            #expect(HAProxyEvent(message: e.message) == e, "\(e.message)")
        }
        #expect(HAProxyEvent(message: "Server b/s is SIDEWAYS.") == nil)
        #expect(HAProxyEvent(message: "Proxy x started") == nil)
    }
}

@Suite("The scanning fast path")
struct FastPathTests {
    @Test func reusingOneLineValueGivesWhatFreshParsesGive() {
        // The scanner parses every line into the same value: nothing from one line may leak into the next.
        let lines =
            capturedTrafficDatagrams + capturedEventDatagrams + [
                "garbage", "127.0.0.1:1 [26/Nov/2026:08:51:0", "",
                "Nov 26 08:51:05 localhost haproxy[1]: " + body(capturedTrafficDatagrams[1]),
            ]
        var reused = HAProxyLogLine()
        for order in [lines, lines.reversed(), lines.shuffled()] {
            for line in order {
                var copy = line
                copy.withUTF8 { buffer in
                    let status = HAProxyLogParser.parse(buffer, into: &reused)
                    let fresh = HAProxyLogParser.parse(buffer)
                    switch (status, fresh) {
                    case (.traffic, .traffic(let f)), (.event, .event(let f)), (.other, .other(let f)):
                        #expect(reused == f, "\(line)")
                    case (.malformed(let a), .malformed(let b)):
                        #expect(a == b)
                    default:
                        Issue.record("different outcomes for \(line)")
                    }
                }
            }
        }
    }
}
