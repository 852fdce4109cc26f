import LogCore

/// `option tcp-check` with its `tcp-check` rules, `option mysql-check` and `option redis-check`, read as HAProxy
/// 2.6 reads them (its messages); what the rules could ask and this build does not run is refused.
extension HAProxyConfigParser {
    /// `option mysql-check|redis-check …`; false when `name` is neither.
    mutating func protocolCheckOption(
        _ name: String, _ args: [String], negated: Bool, _ at: SourceLocation, _ s: inout ProxySettings
    ) -> Bool {
        switch name {
        case "mysql-check":
            guard !negated else {
                s.checkProtocol = nil
                return true
            }
            var user: String?
            var post41 = true
            if let first = args.first {
                guard first == "user" else {
                    alert(at, "'option mysql-check' only supports optional values: 'user' (got '\(first)').")
                    return true
                }
                guard args.count > 1, !args[1].isEmpty else {
                    alert(at, "'option mysql-check user' expects <username> as argument.")
                    return true
                }
                user = args[1]
                if args.count > 2 {
                    guard args[2] == "post-41" || args[2] == "pre-41" else {
                        alert(at, "keyword 'user' only supports 'post-41' and 'pre-41' (got '\(args[2])').")
                        return true
                    }
                    post41 = args[2] == "post-41"
                }
                if args.count > 3 {
                    alert(at, "'option mysql-check' cannot handle unexpected argument '\(args[3])'.")
                    return true
                }
            }
            s.checkProtocol = .mysql(user: user, post41: post41)
            s.httpCheck = nil
        case "pgsql-check":
            guard !negated else {
                s.checkProtocol = nil
                return true
            }
            guard args.count >= 2, args[0] == "user", !args[1].isEmpty else {
                alert(at, "'option pgsql-check' expects 'user <username>' as argument.")
                return true
            }
            if args.count > 2 {
                alert(at, "'option pgsql-check' cannot handle unexpected argument '\(args[2])'.")
                return true
            }
            s.checkProtocol = .pgsql(user: args[1])
            s.httpCheck = nil
        case "ssl-hello-chk":
            guard !negated else {
                s.checkProtocol = nil
                return true
            }
            if let extra = args.first {
                alert(at, "'option ssl-hello-chk' cannot handle unexpected argument '\(extra)'.")
                return true
            }
            s.checkProtocol = .sslHello
            s.httpCheck = nil
        case "external-check":
            guard !negated else {
                if s.checkProtocol == .external { s.checkProtocol = nil }
                return true
            }
            if let extra = args.first {
                alert(at, "'option external-check' cannot handle unexpected argument '\(extra)'.")
                return true
            }
            s.checkProtocol = .external
            s.httpCheck = nil
        case "redis-check":
            guard !negated else {
                s.checkProtocol = nil
                return true
            }
            if let extra = args.first {
                alert(at, "'option redis-check' cannot handle unexpected argument '\(extra)'.")
                return true
            }
            s.checkProtocol = .redis
            s.httpCheck = nil
        default:
            return false
        }
        return true
    }

    /// One `tcp-check` line.
    mutating func tcpCheckRule(_ args: [String], _ at: SourceLocation, _ s: inout ProxySettings) {
        guard let verb = args.first else {
            return alert(at, "'tcp-check' expects 'comment', 'connect', 'send', 'send-binary' or 'expect'.")
        }
        var words = Array(args.dropFirst())
        // `comment TEXT` at the end of a rule, or on its own line for the next rule.
        var comment: String?
        if verb != "comment", let i = words.firstIndex(of: "comment") {
            guard i + 1 < words.count else { return alert(at, "'tcp-check \(verb)' : 'comment' expects a string.") }
            comment = words[i + 1]
            words.removeSubrange(i...(i + 1))
        }
        func refuse(_ what: String) { refuseCheck(verb, what, at) }
        let rule: TCPCheck.Rule
        switch verb {
        case "comment":
            guard let text = words.first else { return alert(at, "'tcp-check comment' expects a string.") }
            s.tcpCheckPendingComment = text
            return
        case "connect":
            guard s.tcpCheckRules.isEmpty else {
                return refuse("connect")  // a second connection in one check
            }
            var port: Int?
            var i = 0
            while i < words.count {
                switch words[i] {
                case "port":
                    guard i + 1 < words.count, let p = Int(words[i + 1]), (1...65535).contains(p) else {
                        return alert(at, "'tcp-check connect' : 'port' expects a port number.")
                    }
                    port = p
                    i += 1
                case "default", "linger":
                    break
                default:
                    return refuse(words[i])
                }
                i += 1
            }
            rule = .connect(port: port, implicit: false)
        case "send", "send-binary":
            guard words.count == 1 else {
                return alert(at, "'tcp-check \(verb)' expects a \(verb == "send" ? "string" : "hexa string") as argument.")
            }
            if verb == "send" {
                rule = .send(Array(words[0].utf8))
            } else {
                guard let bytes = TCPCheck.bytes(hex: words[0]) else {
                    return alert(at, "'tcp-check send-binary' : invalid hexa string '\(words[0])'.")
                }
                rule = .send(bytes)
            }
        case "expect":
            guard let expect = tcpCheckExpect(words, at) else { return }
            var e = expect
            e.comment = comment ?? s.tcpCheckPendingComment
            rule = .expect(e)
        case "send-lf", "send-binary-lf", "set-var", "unset-var":
            return refuse(verb)
        default:
            return alert(
                at,
                "'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', 'expect', 'send-lf', "
                    + "'send-binary-lf', 'set-var' and 'unset-var' (got '\(verb)').")
        }
        s.tcpCheckRules.append(rule)
        s.tcpCheckComments.append(comment ?? s.tcpCheckPendingComment)
        s.tcpCheckPendingComment = nil
    }

    private mutating func refuseCheck(_ verb: String, _ what: String, _ at: SourceLocation) {
        alert(
            at,
            "'tcp-check \(verb)' : '\(what)' is HAProxy's, not in this build (health checks): refused, because "
                + "\(BuildSupport.Family.healthChecks.consequence).")
    }

    private mutating func tcpCheckExpect(_ words: [String], _ at: SourceLocation) -> TCPCheck.Expect? {
        func refuse(_ what: String) { refuseCheck("expect", what, at) }
        var i = 0
        var inverse = false
        var errorStatus: TCPCheck.CheckStatus?
        var pattern: TCPCheck.Expect.Pattern?
        while i < words.count {
            let word = words[i]
            func value() -> String? {
                guard i + 1 < words.count else {
                    alert(at, "'tcp-check expect' : '\(word)' expects an argument.")
                    return nil
                }
                i += 1
                return words[i]
            }
            switch word {
            case "!":
                inverse = true
            case "min-recv":
                guard value() != nil else { return nil }
                refuse(word)
                return nil
            case "string", "binary", "rstring", "rbinary":
                guard pattern == nil else {
                    alert(at, "'tcp-check expect' : only one pattern expected.")
                    return nil
                }
                guard let text = value() else { return nil }
                switch word {
                case "string": pattern = .string(Array(text.utf8))
                case "binary":
                    guard let bytes = TCPCheck.bytes(hex: text) else {
                        alert(at, "'tcp-check expect binary' : invalid hexa string '\(text)'.")
                        return nil
                    }
                    pattern = .binary(bytes)
                default:
                    switch PatternRegexes.compile([text], ignoringCase: false) {
                    case .success(let r): pattern = word == "rstring" ? .regex(r) : .binaryRegex(r)
                    case .failure:
                        alert(at, "'tcp-check expect \(word)' : regex '\(text)' does not compile.")
                        return nil
                    }
                }
            case "error-status":
                guard let v = value() else { return nil }
                switch v {
                case "L7RSP": errorStatus = .l7response
                case "L7STS": errorStatus = .l7status
                case "L4CON": errorStatus = .l4connection
                default:
                    refuse("error-status \(v)")
                    return nil
                }
            case "ok-status", "tout-status", "on-success", "on-error", "status-code":
                _ = value()
                refuse(word)
                return nil
            case "string-lf", "binary-lf", "custom":
                refuse(word)
                return nil
            default:
                alert(
                    at,
                    "'tcp-check expect' only supports inverter '!' followed by one of 'string', 'rstring', 'binary', "
                        + "'rbinary' (got '\(word)').")
                return nil
            }
            i += 1
        }
        guard let pattern else {
            alert(at, "'tcp-check expect' expects a pattern ('string', 'rstring', 'binary' or 'rbinary').")
            return nil
        }
        var e = TCPCheck.Expect(pattern, inverse: inverse)
        e.errorStatus = errorStatus
        return e
    }
}

/// The check a backend's servers get when `check` is on, beyond a connect and `option httpchk`.
public enum CheckProtocol: Hashable, Sendable {
    /// `option tcp-check`: the `tcp-check` rules (a connect alone without any).
    case tcpCheck
    case mysql(user: String?, post41: Bool)
    case pgsql(user: String)
    case redis
    /// `option ssl-hello-chk`.
    case sslHello
    /// `option external-check`: `external-check command` run for each check (see `ExternalCheck`).
    case external
}

extension ProxySettings {
    /// The tcp-check the section's servers run, if its check is one.
    public var tcpCheck: TCPCheck? {
        switch checkProtocol {
        case .tcpCheck?: TCPCheck(kind: .generic, rules: tcpCheckRules, comments: tcpCheckComments)
        case .mysql(let user, let post41)?: TCPCheck.mysql(user: user, post41: post41)
        case .pgsql(let user)?: TCPCheck.pgsql(user: user)
        case .redis?: TCPCheck.redis
        case .sslHello?: TCPCheck.sslHello
        case .external?, nil: nil
        }
    }
}
