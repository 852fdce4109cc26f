import Testing

@testable import Proxy

/// `http-response set-header|add-header|del-header` as HAProxy carries them out, in the rules' order (the same
/// rules are seen beside HAProxy in `HTTPVersusHAProxyTests`, responses compared byte for byte).
@Suite("http-response header rules")
struct ResponseHeaderEditsTests {
    func edits(_ rules: [HTTPResponseRule.Action]) -> ResponseHeaderEdits {
        ResponseHeaderEdits(rules.map { HTTPResponseRule(action: $0) })
    }

    func names(_ edits: ResponseHeaderEdits) -> [String] {
        edits.added.map { String(decoding: $0.name, as: UTF8.self) + ": " + String(decoding: $0.value, as: UTF8.self) }
    }

    @Test func setReplacesAddAppendsDelRemovesWhatCameBefore() {
        let e = edits([
            .addHeader("X-Frame-Options", .init(literal: "DENY")), .setHeader("Strict-Transport-Security", .init(literal: "max-age=1")),
            .delHeader("x-frame-options"), .addHeader("X-Frame-Options", .init(literal: "SAMEORIGIN")), .delHeader("Server"),
        ])
        #expect(names(e) == ["strict-transport-security: max-age=1", "x-frame-options: SAMEORIGIN"])
        #expect(e.removed.map { String(decoding: $0, as: UTF8.self) } == ["strict-transport-security", "x-frame-options", "server"])
    }

    @Test func aBackendsRulesComeFirstThenTheFrontends() {
        let backend = edits([.setHeader("X-A", .init(literal: "backend")), .addHeader("X-B", .init(literal: "1"))])
        let frontend = edits([.setHeader("x-a", .init(literal: "frontend"))])
        #expect(names(backend.then(frontend)) == ["x-b: 1", "x-a: frontend"])
        #expect(backend.then(ResponseHeaderEdits()) == backend && ResponseHeaderEdits().then(frontend) == frontend)
        #expect(ResponseHeaderEdits().isEmpty && !frontend.isEmpty)
    }

    @Test func aServersFieldIsRemovedWhateverItsCase() {
        let e = edits([.delHeader("Server")])
        let head = Array("SERVER".utf8)
        head.withUnsafeBytes { raw in
            #expect(e.removes(raw, 0..<6))
            #expect(!e.removes(raw, 0..<5))
        }
    }
}
