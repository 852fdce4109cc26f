/// One line sent to the runtime API, cut as HAProxy 2.6's CLI cuts it: commands separated by `;`, words by spaces
/// or tabs, a backslash taking the next character as it is (`\;`, `\ `, `\\`). At most 64 words a command, as
/// HAProxy (the rest are dropped with it).
enum CLICommandLine {
    static let maximumWords = 64

    /// The commands of `line` (without its line end), each as its words; an empty command is an empty array.
    static func commands(_ line: some StringProtocol) -> [[String]] {
        var commands: [[String]] = []
        var words: [String] = []
        var word = ""
        var inWord = false
        var escaped = false
        func endWord() {
            if inWord && words.count < maximumWords { words.append(word) }
            word = ""
            inWord = false
        }
        for c in line {
            if escaped {
                word.append(c)
                inWord = true
                escaped = false
                continue
            }
            switch c {
            case "\\":
                escaped = true
            case " ", "\t":
                endWord()
            case ";":
                endWord()
                commands.append(words)
                words = []
            case "\r":
                continue
            default:
                word.append(c)
                inWord = true
            }
        }
        endWord()
        commands.append(words)
        return commands
    }
}
