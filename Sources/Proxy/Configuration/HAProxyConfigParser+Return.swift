import Foundation
import LogCore

/// The replies of `return` and `deny` rules (HAProxy 2.6's "http reply"), read as HAProxy 2.6 reads them: its
/// words, checks and warnings.
extension HAProxyConfigParser {
    /// `return …`'s reply (`rule`: "http-request return", "http-response return") and the words after it (a
    /// condition), or nil after an alert.
    mutating func returnReply(_ args: [String], _ at: SourceLocation, section: String, rule: String = "http-request return")
        -> (ReturnReply, [String])?
    {
        httpReply(args, at, section: section, rule: rule, defaultStatus: 200, response: rule.hasPrefix("http-response"))
    }

    /// `deny …`'s reply (403 for a request, 502 for a response by default): the status's error page when nothing
    /// or only `deny_status N` is given, else the reply its words build, as `return`'s.
    mutating func denyReply(
        _ args: [String], _ at: SourceLocation, section: String, rule: String, defaultStatus: Int
    ) -> (ReturnReply, [String])? {
        func ends(_ i: Int) -> Bool { i >= args.count || args[i] == "if" || args[i] == "unless" }
        var words = args
        if ends(0) {
            return checkedPage(ReturnReply(status: defaultStatus, payload: .page), words, at, rule: rule)
        }
        if words[0] == "deny_status" {
            guard words.count >= 2, let status = Int(words[1]), (200...599).contains(status) else {
                alert(at, "error detected in '\(section)' while parsing '\(rule)' rule : Unexpected status code '\(words.count >= 2 ? words[1] : "")'.")
                return nil
            }
            if ends(2) {
                return checkedPage(ReturnReply(status: status, payload: .page), Array(words.dropFirst(2)), at, rule: rule)
            }
            words[0] = "status"
        }
        return httpReply(
            words, at, section: section, rule: rule, defaultStatus: defaultStatus, response: rule.hasPrefix("http-response"))
    }

    /// A reply that is the status's error page: only for the statuses this build has a page for.
    private mutating func checkedPage(_ reply: ReturnReply, _ rest: [String], _ at: SourceLocation, rule: String)
        -> (ReturnReply, [String])?
    {
        guard HTTPErrorPages.denyStatuses.contains(reply.status) else {
            alert(
                at,
                "'\(rule)': status code '\(reply.status)' has no error page in this build (header, URL and response "
                    + "rewriting): refused, because clients would get another answer than the configuration asks.")
            return nil
        }
        return (reply, rest)
    }

    /// `response`: the reply replaces a server's response, whose fetches (`status`, `res.hdr()`) its values read.
    private mutating func httpReply(
        _ args: [String], _ at: SourceLocation, section: String, rule: String, defaultStatus: Int, response: Bool
    ) -> (ReturnReply, [String])? {
        func fail(_ text: String) -> (ReturnReply, [String])? {
            alert(at, "error detected in '\(section)' while parsing '\(rule)' rule : \(text)")
            return nil
        }
        var reply = ReturnReply(status: defaultStatus, payload: .none)
        var i = 0
        // The payload's keyword, once one is given (HAProxy takes one only).
        var payloadWord: String?
        var payloadEmpty = true
        while i < args.count, args[i] != "if", args[i] != "unless" {
            let word = args[i]
            if ["errorfiles", "default-errorfiles", "errorfile", "file", "lf-file", "string", "lf-string"].contains(word) {
                if let given = payloadWord { return fail("unexpected '\(word)' argument, '\(given)' already defined") }
                payloadWord = word
            }
            if word == "default-errorfiles" {
                reply.payload = .page
                i += 1
                continue
            }
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
                payloadEmpty = value.isEmpty
            case "file", "lf-file":
                guard let data = FileManager.default.contents(atPath: value) else {
                    return fail("error opening file '\(value)'.")
                }
                payloadEmpty = data.isEmpty
                if word == "file" {
                    reply.payload = .bytes(Array(data))
                } else {
                    switch LogFormatValue.parse(String(decoding: data, as: UTF8.self), response: response) {
                    case .success(let format): reply.payload = .format(format)
                    case .failure(let part):
                        return fail("'\(value)' uses '\(part.text)', which this build cannot evaluate.")
                    }
                }
            case "lf-string":
                switch LogFormatValue.parse(value, response: response) {
                case .success(let format): reply.payload = .format(format)
                case .failure(let part): return fail("'lf-string' uses '\(part.text)', which this build cannot evaluate.")
                }
                payloadEmpty = value.isEmpty
            case "errorfile":
                guard let bytes = readResponseFile(value, at, keyword: "\(rule) errorfile") else { return nil }
                reply.payload = .response(bytes)
            case "errorfiles":
                reply.payload = .errorFiles(value)
            case "hdr":
                guard i + 2 < args.count else { return fail("'hdr' expects <name> and <value> as arguments") }
                let name = value.lowercased()
                switch LogFormatValue.parse(args[i + 2], response: response) {
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
            default:
                return fail("unexpected keyword '\(word)'.")
            }
            i += 2
        }
        switch reply.payload {
        case .none:
            if let type = reply.contentType {
                warn(at, "content-type '\(type)' ignored by the http reply because neither errorfile nor payload defined.")
                reply.contentType = nil
            }
        case .page, .errorFiles, .response:
            if case .response = reply.payload {
            } else if !HAProxyConfigParser.errorFileCodes.contains(reply.status) {
                return fail("status code '\(reply.status)' not handled by default with '\(payloadWord ?? "")' argument.")
            } else if case .page = reply.payload, !HTTPErrorPages.denyStatuses.contains(reply.status) {
                return checkedPage(reply, [], at, rule: rule)
            }
            // HAProxy's warnings (its spelling): the file is the whole response.
            if let type = reply.contentType {
                warn(at, "content-type '\(type)' ignored by the http reply when used with an erorrfile.")
                reply.contentType = nil
            }
            if !reply.headers.isEmpty {
                warn(at, "hdr parameters ignored by the http reply when used with an erorrfile.")
                reply.headers = []
            }
        case .bytes, .format:
            if payloadWord == "lf-string" || payloadWord == "lf-file" {
                if reply.status == 204 || reply.status == 304 { return fail("No body expected for \(reply.status) responses") }
                if reply.contentType == nil { return fail("a content type must be defined with a log-format payload") }
            } else {
                if (reply.status == 204 || reply.status == 304) && !payloadEmpty {
                    return fail("No body expected for \(reply.status) responses")
                }
                if reply.contentType == nil && !payloadEmpty {
                    return fail("a content type must be defined when non-empty payload is configured")
                }
                if let type = reply.contentType, payloadEmpty {
                    warn(at, "content-type '\(type)' ignored by the http reply when used with an empty payload.")
                    reply.contentType = nil
                }
            }
        }
        return (reply, Array(args[i...]))
    }
}
