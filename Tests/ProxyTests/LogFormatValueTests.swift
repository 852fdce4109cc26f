import Testing

@testable import Proxy

/// Header values in HAProxy's log-format, compiled when the file is read: text, `%%`, the samples this build
/// fetches, and the first part it cannot evaluate named.
@Suite("Log-format header values")
struct LogFormatValueTests {
    @Test func textSamplesAndPercentSigns() throws {
        let value = try LogFormatValue.parse("for=%[src]:%cp; host=%[req.hdr(Host)] 100%%").get()
        #expect(
            value.pieces == [
                .literal("for="), .sample(.clientAddress), .literal(":"), .sample(.clientPort), .literal("; host="),
                .sample(.header("host")), .literal(" 100%"),
            ])
        #expect(!value.isLiteral)
        let text = try LogFormatValue.parse("max-age=1; 100%% sure").get()
        #expect(text.isLiteral && text.text == "max-age=1; 100% sure")
        #expect(try LogFormatValue.parse("").get().text == "")
    }

    @Test func whatCannotBeEvaluatedIsNamed() {
        for (value, part) in [
            ("%[src,crc32(1)]", "%[src,crc32(1)]"), ("%{+E}ci", "%{+E}"), ("%[sc0_conn_rate]", "%[sc0_conn_rate]"),
            ("a %T b", "%T b"), ("%[src", "%[src"), ("50%", "%"),
        ] {
            #expect(throws: LogFormatValue.UnknownPart(text: part)) { try LogFormatValue.parse(value).get() }
        }
    }
}
