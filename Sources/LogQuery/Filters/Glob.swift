/// A shell-style pattern over bytes: `*` any run, `?` one byte, everything else itself. Without wildcards it
/// is an exact match.
public struct Glob: Hashable, Sendable, CustomStringConvertible {
    public let pattern: [UInt8]
    private let literal: Bool

    public init(_ pattern: String) {
        self.pattern = Array(pattern.utf8)
        literal = !self.pattern.contains(0x2A) && !self.pattern.contains(0x3F)
    }

    public var description: String { String(decoding: pattern, as: UTF8.self) }

    public func matches(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        if literal {
            guard text.count == pattern.count else { return false }
            for i in 0..<text.count where text[i] != pattern[i] { return false }
            return true
        }
        // Iterative matching with one backtrack point for the last `*`: linear in practice.
        var p = 0
        var t = 0
        var star = -1
        var mark = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == 0x3F || pattern[p] == text[t]) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == 0x2A {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == 0x2A { p += 1 }
        return p == pattern.count
    }

    public func matches(_ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { matches($0) }
    }
}
