/// rsyslog 8.2302's mmutf8fix, byte for byte (its `doUTF8` and `doCC`): a value type's two functions, no I/O.
enum UTF8Fix {
    /// `mode="controlcharacters"`: every byte below 32 or above 126 becomes `replacement`.
    static func controlCharacters(_ bytes: inout [UInt8], replacement: UInt8) {
        for i in bytes.indices where bytes[i] < 32 || bytes[i] > 126 { bytes[i] = replacement }
    }

    /// `mode="utf-8"`: each byte of an invalid sequence (a stray continuation byte, a 5- or 6-byte lead, a sequence
    /// cut short, overlong, a UTF-16 surrogate, above U+10FFFF) becomes `replacement`; valid sequences stay.
    static func utf8(_ bytes: inout [UInt8], replacement: UInt8) {
        var left = 0
        var codepoint: UInt32 = 0
        var start = 0
        func invalidate(_ from: Int, _ count: Int) {
            for i in from..<min(from + count, bytes.count) { bytes[i] = replacement }
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if left > 0 {
                if c & 0xC0 != 0x80 {
                    // Not a continuation: the sequence so far is invalid, and this byte starts anew.
                    invalidate(start, i - start)
                    left = 0
                    continue
                }
                codepoint = codepoint << 6 | UInt32(c & 0x3F)
                left -= 1
                if left == 0 {
                    let length = i - start + 1
                    let overlong =
                        (length == 2 && codepoint < 0x80) || (length == 3 && codepoint < 0x800)
                        || (length == 4 && codepoint < 0x10000)
                    if overlong || (0xD800...0xDFFF).contains(codepoint) || codepoint > 0x10FFFF {
                        invalidate(start, length)
                    }
                }
            } else if c & 0x80 == 0 {
                // ASCII.
            } else if c & 0xE0 == 0xC0 {
                (start, left, codepoint) = (i, 1, UInt32(c & 0x1F))
            } else if c & 0xF0 == 0xE0 {
                (start, left, codepoint) = (i, 2, UInt32(c & 0x0F))
            } else if c & 0xF8 == 0xF0 {
                (start, left, codepoint) = (i, 3, UInt32(c & 0x07))
            } else {
                bytes[i] = replacement
            }
            i += 1
        }
        if left > 0 { invalidate(start, bytes.count - start) }
    }
}
