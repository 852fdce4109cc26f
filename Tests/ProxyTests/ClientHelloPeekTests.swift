import Foundation
import TestSupport
import Testing

@testable import Proxy

/// `req.ssl_sni` and `req.ssl_hello_type` as HAProxy reads them, on ClientHellos sent by the real openssl s_client
/// (TLS 1.3 and 1.2, with and without SNI): the name once the whole hello is there, "need more" for every shorter
/// prefix, nothing for what is not a TLS handshake; and the three-valued rules built on them.
@Suite("The ClientHello a TCP frontend peeks at")
struct ClientHelloPeekTests {
    /// The rules from the first, as a session's first look at them.
    func decide(_ rules: [TCPRequestRule], _ input: Layer4Input) -> TCPRequestRule.Decision {
        var next = 0
        return TCPRequestRule.decide(rules, input, from: &next)
    }
    @Test(arguments: [["-tls1_3"], ["-tls1_2"], []])
    func realHellosGiveTheirNameOnlyWhenWhole(_ version: [String]) throws {
        let hello = try ClientHelloCapture.openssl(serverName: "git.example.test", extra: version)
        #expect(ClientHelloPeek(hello).sni == .value("git.example.test"))
        #expect(ClientHelloPeek(hello).helloType == .value(1))
        for cut in stride(from: 0, to: hello.count, by: 7) {
            let peek = ClientHelloPeek(Array(hello.prefix(cut)))
            #expect(peek.sni == .needMore && peek.helloType == .needMore, "cut at \(cut) of \(hello.count)")
        }
        // Bytes after the hello (a client that sent more) change nothing.
        #expect(ClientHelloPeek(hello + [0x17, 0x03, 0x03]).sni == .value("git.example.test"))
    }

    @Test func aHelloWithoutSNIHasNone() throws {
        let hello = try ClientHelloCapture.openssl(serverName: nil)
        #expect(ClientHelloPeek(hello).sni == .absent)
        #expect(ClientHelloPeek(hello).helloType == .value(1))
    }

    @Test func whatIsNotATLSHandshakeHasNoValue() {
        for bytes in [Array("GET / HTTP/1.1\r\n".utf8), [0x16, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], [0x80]] {
            let peek = ClientHelloPeek(bytes)
            #expect(peek.sni == .absent, "\(bytes)")
        }
        #expect(ClientHelloPeek(Array("GET / HTTP/1.1\r\n".utf8)).helloType == .absent)
        #expect(ClientHelloPeek([]).sni == .needMore)
    }

    @Test func malformedLengthsNeverReadOutside() throws {
        let hello = try ClientHelloCapture.openssl(serverName: "a.example.test")
        // Every single byte changed to 0x00 and 0xFF in turn: a value, none, or "need more", never a crash.
        for i in hello.indices {
            for value: UInt8 in [0x00, 0xFF] {
                var broken = hello
                broken[i] = value
                _ = ClientHelloPeek(broken)
            }
        }
    }

    @Test func rulesWaitOnlyWhileTheyCannotDecide() throws {
        func test(_ sni: [String], negated: Bool = false) -> RuleCondition.Term {
            RuleCondition.Term(
                negated: negated,
                tests: [ACLTest(sample: .clientHelloSNI, match: .exact, caseInsensitive: true, values: sni)])
        }
        var helloType = ACLTest(sample: .clientHelloType, match: .exact, caseInsensitive: false, values: [])
        helloType.ranges = [1...1]
        let acceptHello = TCPRequestRule(
            accept: true,
            condition: RuleCondition(unless: false, alternatives: [[.init(negated: false, tests: [helloType])]]))
        let rejectBlocked = TCPRequestRule(
            accept: false, condition: RuleCondition(unless: false, alternatives: [[test(["blocked.example.test"])]]))
        let hello = try ClientHelloCapture.openssl(serverName: "blocked.example.test")
        let part = Layer4Input(client: nil, hello: ClientHelloPeek(Array(hello.prefix(40))), final: false)
        var whole = Layer4Input(client: nil, hello: ClientHelloPeek(hello), final: false)
        #expect(decide([rejectBlocked, acceptHello], part) == .wait)
        #expect(decide([rejectBlocked, acceptHello], whole) == .reject)
        #expect(decide([acceptHello, rejectBlocked], whole) == .accept)
        // Once the delay is over, what is missing is no match: the rules fall through to accept.
        var expired = part
        expired.final = true
        #expect(decide([rejectBlocked], expired) == .accept)
        // `or` decides as soon as one side holds; `!` of an unknown stays unknown.
        let either = RuleCondition(
            unless: false,
            alternatives: [[test(["x.example.test"])], [.init(negated: false, tests: [helloType])]])
        #expect(either.layer4(whole) == .yes)
        #expect(either.layer4(part) == .unknown)
        let not = RuleCondition(unless: false, alternatives: [[test(["blocked.example.test"], negated: true)]])
        #expect(not.layer4(part) == .unknown && not.layer4(whole) == .no)
        whole.final = true
        #expect(not.layer4(whole) == .no)
    }
}
