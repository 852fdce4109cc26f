/// An ACL's regular expressions (`path_reg`, `hdr_reg`, `-m reg`), compiled once when the file is read. HAProxy
/// reads them with PCRE; Swift's regular expressions take the same syntax for what configurations write (classes,
/// anchors, alternations, repetitions, groups). A match is a search anywhere in the sample unless the expression
/// anchors itself, as in HAProxy. Equal when written the same.
public struct PatternRegexes: Hashable, @unchecked Sendable {
    // Read-only once made (a Regex is a value; it is shared between threads without change).
    private let compiled: [Regex<AnyRegexOutput>]
    private let patterns: [String]

    public init() {
        compiled = []
        patterns = []
    }

    /// The expressions of `patterns` (`-i`: ignoring case), or the first that does not compile.
    public static func compile(_ patterns: [String], ignoringCase: Bool) -> Result<PatternRegexes, PatternError> {
        var compiled: [Regex<AnyRegexOutput>] = []
        for pattern in patterns {
            guard let regex = try? Regex(pattern) else { return .failure(PatternError(pattern: pattern)) }
            compiled.append(ignoringCase ? regex.ignoresCase() : regex)
        }
        return .success(PatternRegexes(compiled: compiled, patterns: patterns))
    }

    private init(compiled: [Regex<AnyRegexOutput>], patterns: [String]) {
        self.compiled = compiled
        self.patterns = patterns
    }

    public struct PatternError: Error, Equatable {
        public let pattern: String
    }

    /// An expression written in this build's code (not read from a file): compiled once; one that did not compile
    /// would match nothing.
    static func constant(_ pattern: String) -> PatternRegexes {
        (try? compile([pattern], ignoringCase: false).get()) ?? PatternRegexes()
    }

    /// Whether any expression is found in `sample`.
    public func matches(_ sample: some StringProtocol) -> Bool {
        let text = Substring(sample)
        return compiled.contains { (try? $0.firstMatch(in: text)) != nil }
    }

    public static func == (a: PatternRegexes, b: PatternRegexes) -> Bool { a.patterns == b.patterns }
    public func hash(into hasher: inout Hasher) { hasher.combine(patterns) }
}
