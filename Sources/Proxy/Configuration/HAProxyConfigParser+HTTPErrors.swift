import LogCore

/// `http-errors` sections and what takes their files (`errorfiles NAME [CODE…]` in proxies, `deny`/`return` rules' `…
/// errorfiles NAME`), as HAProxy 2.6 reads them.
extension HAProxyConfigParser {
    /// `http-errors NAME`: its name.
    mutating func httpErrorsSection(_ args: [String], _ at: SourceLocation) -> String? {
        guard let name = args.first, !name.isEmpty else {
            alert(at, "missing name for http-errors section.")
            return nil
        }
        if let bad = name.first(where: { !Self.isNameCharacter($0) }) {
            alert(at, "character '\(bad)' is not permitted in 'http-errors' name '\(name)'.")
            return nil
        }
        if let other = configuration.httpErrors[name] {
            alert(
                at, "http-errors section '\(name)' already exists (declared at "
                    + "\(other.location.file):\(other.location.line)).")
            return nil
        }
        configuration.httpErrors[name] = HTTPErrorsSection(name: name, location: at)
        return name
    }

    /// Each proxy's error files from its `errorfile` and `errorfiles` lines in order (a later line wins), and the
    /// `deny` and `return` rules' sections' files; a section nobody declared is an alert, a code a section lacks a warning.
    mutating func checkHTTPErrors() {
        for p in configuration.proxies.indices {
            let proxy = configuration.proxies[p]
            let sources = proxy.settings.errorFileSources
            if sources.contains(where: { if case .section = $0 { true } else { false } }) {
                var files: [Int: [UInt8]] = [:]
                for source in sources {
                    switch source {
                    case .file(let code, let bytes):
                        files[code] = bytes
                    case .section(let name, let codes, let at):
                        guard let section = configuration.httpErrors[name] else {
                            alert(
                                at,
                                "proxy '\(proxy.name)': unknown http-errors section '\(name)' (at \(at.file):\(at.line)).")
                            continue
                        }
                        for code in codes ?? Array(section.files.keys) {
                            if let bytes = section.files[code] {
                                files[code] = bytes
                            } else {
                                warn(
                                    at,
                                    "config: proxy '\(proxy.name)' : status '\(code)' not declared in http-errors "
                                        + "section '\(name)' (at \(at.file):\(at.line)).")
                            }
                        }
                    }
                }
                configuration.proxies[p].settings.errorFiles = files
            }
            // The `errorfiles NAME` of `deny` and `return` rules: the section's file for the status.
            func resolved(_ reply: ReturnReply) -> ReturnReply {
                guard case .errorFiles(let name) = reply.payload else { return reply }
                guard let section = configuration.httpErrors[name] else {
                    alert(
                        proxy.location,
                        "proxy '\(proxy.name)': unknown http-errors section '\(name)' referenced by an http reply.")
                    return reply
                }
                let status = reply.status
                // A code the section lacks: an empty reply of that status, with HAProxy's warning (as HAProxy 2.6).
                if section.files[status] == nil {
                    warn(
                        proxy.location,
                        "Proxy '\(proxy.name)': status '\(status)' referenced by an http reply not declared in "
                            + "http-errors section '\(name)'.")
                }
                let empty = Array("HTTP/1.1 \(status) \(HTTPReasons.phrase(status))\r\ncontent-length: 0\r\n\r\n".utf8)
                return ReturnReply(status: status, payload: .response(section.files[status] ?? empty))
            }
            var rules = proxy.rules
            for r in rules.requestRules.indices { rules.requestRules[r].action.resolveReply(resolved) }
            for r in rules.responseRules.indices { rules.responseRules[r].action.resolveReply(resolved) }
            configuration.proxies[p].rules.requestRules = rules.requestRules
            configuration.proxies[p].rules.responseRules = rules.responseRules
        }
    }
}

extension HTTPRequestRule.Action {
    /// A `deny` or `return` rule's reply as `resolve` makes it (the others as they are).
    mutating func resolveReply(_ resolve: (ReturnReply) -> ReturnReply) {
        switch self {
        case .deny(let reply): self = .deny(resolve(reply))
        case .returnReply(let reply): self = .returnReply(resolve(reply))
        default: break
        }
    }
}

extension HTTPResponseRule.Action {
    /// A `deny` or `return` rule's reply as `resolve` makes it (the others as they are).
    mutating func resolveReply(_ resolve: (ReturnReply) -> ReturnReply) {
        switch self {
        case .deny(let reply): self = .deny(resolve(reply))
        case .returnReply(let reply): self = .returnReply(resolve(reply))
        default: break
        }
    }
}
