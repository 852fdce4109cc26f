import Testing

@testable import SyslogSink

/// mmutf8fix's repair as rsyslog 8.2302's `doUTF8` and `doCC` make it (the interop test runs rsyslogd beside it).
@Suite struct UTF8FixTests {
    func fixed(_ bytes: [UInt8], _ replacement: UInt8 = 0x20) -> [UInt8] {
        var b = bytes
        UTF8Fix.utf8(&b, replacement: replacement)
        return b
    }

    @Test func validSequencesStay() {
        let text = Array("café ☕ 😀 plain".utf8)
        #expect(fixed(text) == text)
    }

    @Test func eachByteOfAnInvalidSequenceIsReplaced() {
        // A stray continuation byte, a 5-byte lead.
        #expect(fixed([0x61, 0x80, 0x62, 0xF8, 0x63]) == [0x61, 0x20, 0x62, 0x20, 0x63])
        // A lead whose continuation does not come: the lead goes, the next byte starts anew.
        #expect(fixed([0xC3, 0x28]) == [0x20, 0x28])
        #expect(fixed([0xE2, 0x82, 0x41]) == [0x20, 0x20, 0x41])
        // Overlong forms, a surrogate, beyond U+10FFFF.
        #expect(fixed([0xC0, 0xAF]) == [0x20, 0x20])
        #expect(fixed([0xE0, 0x80, 0xAF]) == [0x20, 0x20, 0x20])
        #expect(fixed([0xED, 0xA0, 0x80]) == [0x20, 0x20, 0x20])
        #expect(fixed([0xF4, 0x90, 0x80, 0x80]) == [0x20, 0x20, 0x20, 0x20])
        // Cut at the end.
        #expect(fixed([0x41, 0xF0, 0x9F, 0x98], UInt8(ascii: "?")) == Array("A???".utf8))
    }

    @Test func controlCharactersModeKeepsOnlyPrintableASCII() {
        var b: [UInt8] = [0x09, 0x41, 0x7F, 0xC3, 0xA9, 0x7E, 0x20]
        UTF8Fix.controlCharacters(&b, replacement: UInt8(ascii: "_"))
        #expect(b == Array("_A___~ ".utf8))
    }
}
