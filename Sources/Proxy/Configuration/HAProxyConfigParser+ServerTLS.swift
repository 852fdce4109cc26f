import CTLSCheck
import Foundation
import LogCore

/// TLS to servers (`server … ssl verify required ca-file … sni …`, `check-ssl`, and the global
/// `ssl-server-verify`, `ssl-default-server-*`), read as HAProxy 2.6 reads them, with its load-time checks (a
/// `ca-file` or `crt` that cannot be read, `verify required` without a CA).
extension HAProxyConfigParser {
    /// One TLS option of a `server` or `default-server` line at `args[i]` (moving `i` past its value); false when it
    /// is not one.
    mutating func serverTLSOption(
        _ args: [String], _ i: inout Int, _ tls: inout ServerTLS, server: String, _ at: SourceLocation
    ) -> Bool {
        let word = args[i]
        func value() -> String? {
            guard i + 1 < args.count else {
                alert(at, "'server \(server)' : '\(word)' expects an argument.")
                return nil
            }
            i += 1
            return args[i]
        }
        switch word {
        case "ssl": tls.enabled = true
        case "no-ssl": tls.enabled = false
        case "check-ssl": tls.checkSSL = true
        case "no-check-ssl": tls.checkSSL = false
        case "verify":
            guard let mode = value() else { return true }
            switch mode {
            case "none": tls.verify = false
            case "required": tls.verify = true
            default:
                alert(
                    at,
                    "'server \(server)' : 'verify' : unknown verify method '\(mode)', only 'none' and 'required' are "
                        + "supported.")
            }
        case "ca-file":
            guard let path = value() else { return true }
            if path == "@system-ca" {
                tls.systemCA = true
                tls.caFile = nil
            } else {
                let full = path.hasPrefix("/") ? path : (configuration.global.caBase.map { $0 + "/" } ?? "") + path
                tls.caFile = full
                tls.systemCA = false
                if !FileManager.default.isReadableFile(atPath: full) {
                    alert(at, "'server \(server)' : Couldn't open the ca-file '\(full)' (No such file or directory).")
                }
            }
        case "crt":
            guard let path = value() else { return true }
            let full = path.hasPrefix("/") ? path : (configuration.global.crtBase.map { $0 + "/" } ?? "") + path
            if !FileManager.default.fileExists(atPath: full) {
                alert(
                    at,
                    "'server \(server)' : unable to stat SSL certificate from file '\(full)' : No such file or "
                        + "directory.")
            } else if TLSCertificateFiles.keyFile(for: full) == nil {
                alert(at, "'server \(server)' : No Private Key found in '\(full).key'.")
            } else {
                tls.certificate = full
            }
        case "sni":
            guard let expression = value() else { return true }
            if let sni = Self.serverSNI(expression) {
                tls.sni = sni
            } else {
                alert(
                    at,
                    "'server \(server)' : 'sni \(expression)' is an expression this build cannot evaluate (it takes "
                        + "str(NAME), req.hdr(NAME), hdr(NAME) and ssl_fc_sni): refused, because the server would be "
                        + "sent another name than the configuration asks.")
            }
        case "check-sni": if let name = value() { tls.checkSNI = name }
        case "verifyhost": if let name = value() { tls.verifyHost = name }
        case "alpn":
            guard let list = value() else { return true }
            // Servers are spoken to in HTTP/1.1 only: h2 is not offered (as on binds), so none can choose it.
            tls.alpn = list.split(separator: ",").map(String.init).filter { $0 != "h2" }
        case "check-alpn":
            guard let list = value() else { return true }
            alert(
                at,
                "'server \(server)' : 'check-alpn \(list)' is not carried out by this build (its checks offer the "
                    + "traffic's 'alpn'): refused, because servers would be judged by another test than the "
                    + "configuration asks.")
        case "ciphers":
            if let list = value() { tls.options.ciphers = list }
        case "ciphersuites":
            if let list = value() { checkTLS13Suites(list, word, at) }
        case "no-tls-tickets": tls.options.noTickets = true
        case "tls-tickets": tls.options.noTickets = false
        case "ssl-reuse", "no-ssl-reuse":
            // Sessions to servers are not resumed in this build: `no-ssl-reuse` holds, `ssl-reuse` (the default)
            // is an optimisation whose absence only costs handshakes.
            break
        default:
            return tlsVersionOption(args, &i, into: &tls.options, at)
        }
        return true
    }

    /// What in a version range or ALPN list no TLS connection could be made with, as HAProxy says it: a minimum
    /// above the maximum, a protocol name longer than ALPN's 255 bytes (or empty); nil when none.
    static func tlsSettingsProblem(_ options: BindTLSOptions, alpn: [String]) -> String? {
        if let low = options.minVersion, let high = options.maxVersion, low > high {
            return "all SSL/TLS versions are disabled"
        }
        if let bad = alpn.first(where: { $0.utf8.isEmpty || $0.utf8.count > 255 }) {
            return "ALPN protocol name '\(bad.prefix(32))\(bad.utf8.count > 32 ? "…" : "")' is empty or longer than 255 bytes"
        }
        return nil
    }

    /// Whether BoringSSL takes `list` (OpenSSL's cipher syntax) with at least one cipher it knows: swift-nio-ssl
    /// would stop the process on one it refuses (RHEL's `PROFILE=SYSTEM`, a list of DHE ciphers only).
    static func cipherListAccepted(_ list: String) -> Bool {
        list.withCString { tollgate_cipher_list_accepted($0) == 1 }
    }

    /// OpenSSL's reading of a cipher list where BoringSSL's is stricter: a rule with a character no cipher rule
    /// has, after the first character of a name (`DH+AE$`: a list cut short), is skipped by OpenSSL, and HAProxy
    /// runs with the rest; a rule that starts with such a character makes OpenSSL refuse the list too. Returns the
    /// list without the skipped rules and what was skipped; nil when nothing is skipped or OpenSSL refuses it too.
    static func cipherListAsOpenSSLReadsIt(_ list: String) -> (list: String, skipped: [String])? {
        func nameCharacter(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || "-.=".contains(c)) }
        var kept: [Substring] = []
        var skipped: [String] = []
        for rule in list.split(whereSeparator: { ":, ".contains($0) }) {
            if rule.allSatisfy({ nameCharacter($0) || "+!@".contains($0) }) {
                kept.append(rule)
                continue
            }
            let name = "+-!@".contains(rule.first ?? " ") ? rule.dropFirst() : rule[...]
            guard let first = name.first, nameCharacter(first) else { return nil }
            skipped.append(String(rule))
        }
        guard !skipped.isEmpty, !kept.isEmpty else { return nil }
        return (kept.joined(separator: ":"), skipped)
    }

    /// Why BoringSSL refuses `list`, in the words of an alert: the first rule it cannot read (OpenSSL may skip a
    /// malformed rule where BoringSSL refuses the whole list), or that it knows none of its ciphers.
    static func cipherListRefusal(_ list: String) -> String {
        let rules = list.split(whereSeparator: { ":, ".contains($0) })
        let known = rules.filter { cipherListAccepted(String($0)) }
        let malformed = rules.first {
            !$0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-!@=._".contains($0)) }
        }
        if let malformed, !known.isEmpty {
            return "this build's TLS, BoringSSL, refuses the whole list for its rule '\(malformed)'"
        }
        return "this build's TLS, BoringSSL, knows none of its ciphers"
    }

    /// A server's `sni` expression, when it is one this build evaluates.
    static func serverSNI(_ expression: String) -> ServerSNI? {
        let lower = expression.lowercased()
        if lower == "ssl_fc_sni" { return .clientSNI }
        guard expression.hasSuffix(")"), let open = expression.firstIndex(of: "(") else { return nil }
        let fetch = lower[..<open]
        let argument = String(expression[expression.index(after: open)..<expression.index(before: expression.endIndex)])
        guard !argument.isEmpty, !argument.contains(","), !argument.contains(")") else { return nil }
        switch fetch {
        case "str": return .fixed(argument)
        case "req.hdr", "hdr", "req.fhdr": return .requestHeader(argument.lowercased())
        default: return nil
        }
    }

    /// `ssl-default-server-options`, applied to `options`.
    mutating func defaultServerOptions(_ args: [String], into options: inout BindTLSOptions, _ at: SourceLocation) {
        var i = 0
        while i < args.count {
            switch args[i] {
            case "no-tls-tickets": options.noTickets = true
            case "ssl-reuse", "no-ssl-reuse": break  // see serverTLSOption
            default:
                if !tlsVersionOption(args, &i, into: &options, at) {
                    alert(at, "'ssl-default-server-options' : '\(args[i])' is not a TLS option this build carries out.")
                }
            }
            i += 1
        }
    }

    /// What only the whole configuration tells: `verify required` (said, or the default) needs a CA.
    mutating func checkServerTLS() {
        let required = configuration.global.serverVerifyRequired
        for (proxyIndex, p) in configuration.proxies.enumerated() {
            for server in p.servers where server.tls.sni == .clientSNI && p.settings.mode != .http {
                alert(
                    server.location,
                    "'server \(p.name)/\(server.name)' : 'sni ssl_fc_sni' is carried out in mode http only (a TCP "
                        + "session reaches its server before the client's handshake ends): refused, because the "
                        + "server would be sent another name than the configuration asks.")
            }
            for (index, server) in p.servers.enumerated() where server.tls.enabled || server.tls.checkSSL == true {
                let tls = server.tls
                if let problem = Self.tlsSettingsProblem(tls.options, alpn: tls.alpn) {
                    alert(server.location, "Proxy '\(p.name)', server '\(server.name)': \(problem).")
                }
                if let ciphers = tls.options.ciphers, !Self.cipherListAccepted(ciphers) {
                    if let reading = Self.cipherListAsOpenSSLReadsIt(ciphers), Self.cipherListAccepted(reading.list) {
                        configuration.proxies[proxyIndex].servers[index].tls.options.ciphers = reading.list
                        warnSkippedCipherRules(reading.skipped, "Proxy '\(p.name)', server '\(server.name)'", server.location)
                    } else {
                        alert(
                            server.location,
                            "Proxy '\(p.name)', server '\(server.name)': unable to set SSL cipher list to '\(ciphers)' "
                                + "(\(Self.cipherListRefusal(ciphers))).")
                    }
                }
                let checksOverTLS =
                    tls.checkSSL ?? (tls.enabled && server.checkPort == nil && server.checkAddress == nil)
                if server.check && checksOverTLS && p.settings.tcpCheck != nil {
                    alert(
                        server.location,
                        "'server \(p.name)/\(server.name)' : checks over TLS run the connect check and 'option "
                            + "httpchk' in this build, not tcp-check rules (mysql-check, redis-check…): refused, "
                            + "because the server would be judged by another test than the configuration asks. Add "
                            + "'no-check-ssl' with a 'port' to check it in clear.")
                }
                guard tls.verifies(globalRequired: required), tls.caFile == nil, !tls.systemCA else { continue }
                alert(
                    server.location,
                    "'server \(p.name)/\(server.name)' : verify is enabled by default but no CA file specified. If "
                        + "you're running on a LAN where you're certain to trust the server's certificate, please set "
                        + "an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in "
                        + "the global section to disable server-side verifications by default.")
            }
        }
    }

    /// The rules of a cipher list OpenSSL skips (see `cipherListAsOpenSSLReadsIt`), said once.
    mutating func warnSkippedCipherRules(_ rules: [String], _ owner: String, _ at: SourceLocation) {
        warn(
            at,
            "\(owner): the cipher rule\(rules.count == 1 ? "" : "s") \(rules.map { "'\($0)'" }.joined(separator: ", ")) "
                + "\(rules.count == 1 ? "is" : "are") not well formed; OpenSSL (and so HAProxy) skips "
                + "\(rules.count == 1 ? "it" : "them") and uses the rest of the list, as this build does.")
    }
}
