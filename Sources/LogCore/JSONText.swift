/// JSON string literals, for the tools' JSON outputs (logquery's reports, the runtime API's `json` forms, the
/// sink's json-c-shaped state files).
public enum JSONText {
    /// `text` as a JSON string: quotes, backslashes and control characters escaped (`\n`, `\r`, `\t`, else
    /// `\u00XX`), and `/` too when `escapingSlash` (json-c does).
    public static func quoted(_ text: String, escapingSlash: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where escapingSlash: out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
