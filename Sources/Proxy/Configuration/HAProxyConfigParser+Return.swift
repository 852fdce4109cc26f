import Foundation
import LogCore

/// `http-request return`, read as HAProxy 2.6 reads it (its checks and words).
extension HAProxyConfigParser {
    /// The reply and the words after it (a condition), or nil after an alert.
    mutating func returnReply(_ args: [String], _ at: SourceLocation, section: String)
        -> (ReturnReply, [String])?
    {
        func fail(_ text: String) -> (ReturnReply, [String])? {
            alert(at, "error detected in '\(section)' while parsing 'http-request return' rule : \(text)")
            return nil
        }
        var reply = ReturnReply()
        var i = 0
        var payloadGiven = false
        while i < args.count, args[i] != "if", args[i] != "unless" {
            let word = args[i]
            guard i + 1 < args.count else { return fail("'\(word)' expects an argument.") }
            let value = args[i + 1]
            switch word {
            case "status":
                guard let code = Int(value), (200...599).contains(code) else {
                    return fail("Unexpected status code '\(value)'.")
                }
                reply.status = code
            case "content-type": reply.contentType = value
            case "string":
                reply.payload = .bytes(Array(value.utf8))
                payloadGiven = true
            case "file", "lf-file":
                guard let data = FileManager.default.contents(atPath: value) else {
                    return fail("'\(value)': unable to open file.")
                }
                if word == "file" {
                    reply.payload = .bytes(Array(data))
                } else {
                    switch LogFormatValue.parse(String(decoding: data, as: UTF8.self)) {
                    case .success(let format): reply.payload = .format(format)
                    case .failure(let part):
                        return fail("'\(value)' uses '\(part.text)', which this build cannot evaluate.")
                    }
                }
                payloadGiven = true
            case "lf-string":
                switch LogFormatValue.parse(value) {
                case .success(let format): reply.payload = .format(format)
                case .failure(let part): return fail("'lf-string' uses '\(part.text)', which this build cannot evaluate.")
                }
                payloadGiven = true
            case "hdr":
                guard i + 2 < args.count else { return fail("'hdr' expects a name and a value.") }
                let name = value.lowercased()
                switch LogFormatValue.parse(args[i + 2]) {
                case .success(let format):
                    // As HAProxy: the reply's own length and type are its.
                    if ["content-length", "content-type", "transfer-encoding"].contains(name) {
                        warn(at, "header '\(value)' always ignored by the http reply.")
                    } else {
                        reply.headers.append(ReturnReply.Header(name: name, value: format))
                    }
                case .failure(let part):
                    return fail("'hdr \(value)' uses '\(part.text)', which this build cannot evaluate.")
                }
                i += 1
            case "errorfile", "errorfiles", "default-errorfiles":
                alert(
                    at,
                    "'http-request return \(word)' is HAProxy's, not in this build (header, URL and response rewriting): "
                        + "refused, because clients would get another answer than the configuration asks.")
                return nil
            default:
                return fail("unexpected keyword '\(word)'.")
            }
            i += 2
        }
        if payloadGiven && reply.contentType == nil {
            return fail("a content type must be defined when non-empty payload is configured.")
        }
        if payloadGiven && (reply.status == 204 || reply.status == 304) {
            return fail("No body expected for \(reply.status) responses.")
        }
        return (reply, Array(args[i...]))
    }
}
