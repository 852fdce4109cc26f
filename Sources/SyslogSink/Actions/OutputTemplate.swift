import SyslogProtocol

/// What an action renders a message with: one of rsyslog's built-in templates (hand-written, fast) or a user
/// template in property-replacer syntax.
enum OutputTemplate {
    case builtin(SyslogTemplate)
    case custom(PropertyTemplate)

    func render(_ message: SyslogMessage, into out: inout [UInt8]) {
        switch self {
        case .builtin(let template): template.render(message, into: &out)
        case .custom(let template): template.render(message, into: &out)
        }
    }

    func render(_ message: SyslogMessage) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.msg.count + 64)
        render(message, into: &out)
        return out
    }
}
