import Testing

@testable import Proxy

/// The tcp-check engine as HAProxy 2.6 runs it: the actions each event leads to, and its statuses and messages
/// (the words compared with HAProxy's own lines in the interop tests).
@Suite("tcp-check")
struct TCPCheckTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func generic(_ rules: [TCPCheck.Rule]) -> TCPCheck { TCPCheck(kind: .generic, rules: rules) }

    @Test func sendExpectSendExpect() {
        let check = Self.generic([
            .send(Self.bytes("PING\r\n")), .expect(.init(.string(Self.bytes("+PONG")))),
            .send(Self.bytes("PING\r\n")), .expect(.init(.string(Self.bytes("+PONG")))),
        ])
        var run = TCPCheckRun(check)
        #expect(run.start() == [.connect(port: nil)])
        #expect(run.connectionOpened() == [.send(Self.bytes("PING\r\n")), .wait])
        #expect(run.received(Self.bytes("+PO")) == [.wait])
        #expect(run.received(Self.bytes("NG\r\n")) == [.send(Self.bytes("PING\r\n")), .wait])
        // The server closes without answering the second PING: HAProxy's step 4 (rules counted from 1, the
        // implicit connect being step 0).
        #expect(
            run.connectionClosed() == [
                .done(.init(status: .l7response, code: nil, info: "TCPCHK got an empty response at step 4"))
            ])
    }

    @Test func mismatchesAndInverses() {
        var run = TCPCheckRun(Self.generic([.send(Self.bytes("x")), .expect(.init(.string(Self.bytes("+PONG"))))]))
        _ = run.start()
        _ = run.connectionOpened()
        // A shorter answer waits for more; the end of the connection decides.
        #expect(run.received(Self.bytes("-ERR")) == [.wait])
        #expect(
            run.connectionClosed() == [
                .done(.init(status: .l7response, code: nil, info: "TCPCHK did not match content '+PONG' at step 2"))
            ])
        var inverse = TCPCheckRun(Self.generic([.expect(.init(.string(Self.bytes("ERR")), inverse: true))]))
        _ = inverse.start()
        _ = inverse.connectionOpened()
        #expect(
            inverse.received(Self.bytes("-ERR\r\n")) == [
                .done(.init(status: .l7response, code: nil, info: "TCPCHK matched unwanted content 'ERR' at step 1"))
            ])
    }

    @Test func successMessages() {
        var run = TCPCheckRun(Self.generic([.expect(.init(.binary([0x2B, 0x4F])))]))
        _ = run.start()
        _ = run.connectionOpened()
        #expect(run.received([0x2B, 0x4F, 0x4B]) == [.done(.init(status: .l7ok, code: 0, info: "(tcp-check)"))])
        var connectOnly = TCPCheckRun(Self.generic([.connect(port: 9, implicit: false)]))
        #expect(connectOnly.start() == [.connect(port: 9)])
        #expect(connectOnly.connectionOpened() == [.done(.init(status: .l4ok, code: nil, info: "(tcp-check)"))])
    }

    @Test func connectionErrorsSayTheStep() {
        let implicit = TCPCheckRun(Self.generic([.send([1])]))
        #expect(
            implicit.connectFailed("Connection refused")
                == .init(
                    status: .l4connection, code: nil,
                    info: "Connection refused at initial connection step of tcp-check"))
        var explicit = TCPCheckRun(Self.generic([.connect(port: 6379, implicit: false), .expect(.init(.string([0x2B])))]))
        _ = explicit.start()
        #expect(
            explicit.connectFailed("Connection refused").info
                == "Connection refused at step 1 of tcp-check (connect port 6379)")
        _ = explicit.connectionOpened()
        #expect(
            explicit.timedOut()
                == .init(status: .l7timeout, code: nil, info: " at step 2 of tcp-check (expect string '+')"))
        // A protocol check's messages do not name steps.
        #expect(TCPCheckRun(.redis).connectFailed("Connection refused").info == "Connection refused")
    }

    @Test func redis() {
        var run = TCPCheckRun(.redis)
        #expect(run.start() == [.connect(port: nil)])
        #expect(run.connectionOpened() == [.send(Self.bytes("*1\r\n$4\r\nPING\r\n")), .wait])
        #expect(run.received(Self.bytes("+PONG\r\n")) == [.done(.init(status: .l7ok, code: 0, info: "Redis server is ok"))])
        var failing = TCPCheckRun(.redis)
        _ = failing.start()
        _ = failing.connectionOpened()
        #expect(failing.received(Self.bytes("-ERR unknown command\r\n")) == [.wait])
        #expect(
            failing.connectionClosed() == [
                .done(.init(status: .l7status, code: nil, info: "-ERR unknown command"))
            ])
    }

    /// MariaDB 10.11's handshake, then its answers to HAProxy's authentication packet.
    static let handshake: [UInt8] =
        [0x0A + 0x36, 0x00, 0x00, 0x00, 0x0A] + Array("5.5.5-10.11.19-MariaDB-0+deb12u1".utf8) + [0x00]
        + Array(repeating: 0x01, count: 0x40 - 0x22)

    @Test func mysql() throws {
        var run = TCPCheckRun(.mysql(user: "haproxy"))
        #expect(run.start() == [.connect(port: nil)])
        let opened = run.connectionOpened()
        guard case .send(let packet) = opened.first else {
            Issue.record("no authentication packet: \(opened)")
            return
        }
        // HAProxy's post-4.1 packet: length (user + 34), sequence 1, capabilities, max packet, UTF-8, 23 zeros,
        // the user and its NUL, the filler, then COM_QUIT.
        #expect(Array(packet.prefix(4)) == [UInt8(7 + 34), 0, 0, 1])
        #expect(packet.count == 4 + 7 + 34 + 5)
        #expect(Array(packet.suffix(14)) == Self.bytes("haproxy") + [0, 0, 1, 0, 0, 0, 1])
        let length = Self.handshake.count - 4
        var handshake = Self.handshake
        handshake[0] = UInt8(length)
        #expect(run.received(handshake) == [.wait])
        #expect(
            run.received([0x07, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]) == [
                .done(.init(status: .l7ok, code: 0, info: "5.5.5-10.11.19-MariaDB-0+deb12u1"))
            ])
        var denied = TCPCheckRun(.mysql(user: "nobody"))
        _ = denied.start()
        _ = denied.connectionOpened()
        let error = Array("#28000Access denied".utf8)
        let packetLength = 3 + error.count
        _ = denied.received(handshake)
        #expect(
            denied.received([UInt8(packetLength), 0, 0, 2, 0xFF, 0x15, 0x04] + error) == [
                .done(.init(status: .l7status, code: 1045, info: "#28000Access denied"))
            ])
    }

    /// HAProxy's startup packet, then PostgreSQL's answers: an authentication request it knows, an error.
    @Test func pgsql() {
        var run = TCPCheckRun(.pgsql(user: "haproxy"))
        #expect(run.start() == [.connect(port: nil)])
        let opened = run.connectionOpened()
        #expect(
            opened.first
                == .send([0, 0, 0, 22, 0, 3, 0, 0] + Self.bytes("user") + [0] + Self.bytes("haproxy") + [0, 0]))
        // AuthenticationOk, then more the check does not read.
        #expect(
            run.received([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x53]) == [
                .done(.init(status: .l7ok, code: 0, info: "PostgreSQL server is ok"))
            ])
        var refused = TCPCheckRun(.pgsql(user: "nobody"))
        _ = refused.start()
        _ = refused.connectionOpened()
        let error = [0x45, 0, 0, 0, 0x40, 0x53] + Self.bytes("FATAL") + [0, 0x56] + Self.bytes("FATAL") + [0]
        #expect(refused.received(error) == [.done(.init(status: .l7response, code: nil, info: "FATAL"))])
        // SCRAM (10) is not one HAProxy 2.6 knows: "unknown error".
        var scram = TCPCheckRun(.pgsql(user: "haproxy"))
        _ = scram.start()
        _ = scram.connectionOpened()
        #expect(
            scram.received([0x52, 0, 0, 0, 0x17, 0, 0, 0, 0x0A] + Self.bytes("SCRAM-SHA-256") + [0, 0]) == [
                .done(.init(status: .l7status, code: nil, info: "PostgreSQL unknown error"))
            ])
    }

    /// HAProxy 2.6's SSLv3 hello (src/tcpcheck.c): 126 bytes, the record and handshake lengths, the date of the check
    /// at byte 11, then a TLS record (handshake 0x16 or alert 0x15) of at least 5 bytes passes at Layer 6.
    @Test func sslHello() {
        var run = TCPCheckRun(TCPCheck.sslHello, startedAt: 0x6575_ABCD)
        #expect(run.start() == [.connect(port: nil)])
        let sent = run.connectionOpened()
        guard case .send(let hello) = sent.first else {
            Issue.record("\(sent)")
            return
        }
        #expect(hello.count == 126 && hello[0..<5] == [0x16, 0x03, 0x00, 0x00, 0x79] && hello[5..<9] == [0x01, 0x00, 0x00, 0x75])
        #expect(hello[11..<15] == [0x65, 0x75, 0xAB, 0xCD])
        #expect(String(decoding: hello[15..<43], as: UTF8.self) == "HAPROXYSSLCHK\nHAPROXYSSLCHK\n")
        #expect(hello[43..<46] == [0x00, 0x00, 0x4E] && hello.suffix(2) == [0x01, 0x00])
        #expect(sent.last == .wait)
        #expect(run.received([0x15, 0x03]) == [.wait], "fewer than 5 bytes: wait")
        #expect(run.received([0x00, 0x00, 0x02]).last == .done(TCPCheckRun.Verdict(status: .l6ok, code: nil, info: nil)))
        var http = TCPCheckRun(TCPCheck.sslHello)
        _ = http.start()
        _ = http.connectionOpened()
        #expect(http.received(Array("HTTP/1.1 400 Bad".utf8)).last == .done(TCPCheckRun.Verdict(status: .l6response, code: nil, info: nil)))
        #expect(http.timedOut().status == .l6timeout)
    }

    @Test func hexadecimalPatterns() {
        #expect(TCPCheck.bytes(hex: "50494e470d0a") == Self.bytes("PING\r\n"))
        #expect(TCPCheck.bytes(hex: "5") == nil)
        #expect(TCPCheck.bytes(hex: "zz") == nil)
        #expect(TCPCheck.hex([0x2B, 0xAF]) == "2BAF")
    }
}
