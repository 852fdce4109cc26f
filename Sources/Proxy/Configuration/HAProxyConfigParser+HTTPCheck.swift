import LogCore

/// `http-check send`, read as HAProxy 2.6 reads it.
extension HAProxyConfigParser {
    /// A section's first `option httpchk` or `http-check` rule: what it had from `defaults` (the request, its
    /// headers, the expectation) no longer applies. A rule (not the option) keeps the check an HTTP one, with a
    /// request that sends nothing until a `send` of this section gives it one.
    func ownHTTPCheck(_ s: inout ProxySettings, option: Bool) {
        guard !s.httpCheckOwn else { return }
        s.httpCheckOwn = true
        s.httpCheckSend = nil
        s.httpCheckExpect = nil
        s.httpCheckRulesHere = 0
        if !option, s.httpCheck != nil {
            var reset = HTTPCheck()
            reset.sends = false
            s.httpCheck = reset
        }
    }

    mutating func httpCheckSend(_ words: [String], _ at: SourceLocation, _ s: inout ProxySettings) {
        func refuse(_ what: String) {
            alert(
                at,
                "'http-check send' : '\(what)' is HAProxy's, not in this build (health checks): refused, because "
                    + "\(BuildSupport.Family.healthChecks.consequence).")
        }
        // Without `http-check connect` (not in this build), one request per check: HAProxy's own refusal.
        guard s.httpCheckSend == nil && s.httpCheckRulesHere == 0 else {
            return alert(
                at,
                "'http-check send' : unable to add http-check send rule at step \(s.httpCheckRulesHere + 1) "
                    + "(missing connect rule).")
        }
        var send = HTTPCheckSend()
        var i = 0
        func value(_ keyword: String, _ what: String) -> String? {
            guard i + 1 < words.count else {
                alert(at, "'http-check send' : '\(keyword)' expects \(what) as argument.")
                return nil
            }
            i += 1
            return words[i]
        }
        while i < words.count {
            let keyword = words[i]
            switch keyword {
            case "meth":
                guard let m = value(keyword, "a method") else { return }
                send.method = m
            case "uri":
                guard let u = value(keyword, "a URI") else { return }
                send.uri = u
            case "ver":
                guard let v = value(keyword, "a version") else { return }
                send.version = v
            case "hdr":
                guard let name = value(keyword, "a header name"), let text = value(keyword, "a header value") else {
                    return
                }
                // Values are log-format strings: a `%` expression would be sent as written here.
                guard !text.contains("%") else { return refuse("hdr \(name) \(text)") }
                // HAProxy sets these itself from the body; the written ones are left out.
                let lower = name.lowercased()
                if lower == "host", let earlier = send.headers.first(where: { $0.name == "host" }) {
                    return alert(
                        at, "'http-check send' : '\(name)' header already defined (previous value is '\(earlier.value)').")
                }
                if lower != "content-length" && lower != "transfer-encoding" {
                    send.headers.append((lower, text))
                }
            case "body":
                guard let b = value(keyword, "a string") else { return }
                send.body = b
            case "comment":
                // The text a failed rule reports; a send rule does not fail on its own.
                guard value(keyword, "a string") != nil else { return }
            case "uri-lf", "body-lf":
                return refuse(keyword)
            default:
                return alert(
                    at,
                    "'http-check send' expects 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body', 'body-lf' or 'comment' "
                        + "but got '\(keyword)' as argument.")
            }
            i += 1
        }
        s.httpCheckSend = send
        s.httpCheckRulesHere += 1
    }
}
