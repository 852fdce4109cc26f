import Foundation
import LogCore

/// `bind … ssl crt …` and its TLS options, as HAProxy 2.6 reads them, and the certificate files checked as it checks
/// them when it reads the configuration (a missing file, a certificate without its key are alerts).
extension HAProxyConfigParser {
    /// One TLS option of a `bind` line at `args[i]` (moving `i` past its value); false when it is not one.
    mutating func bindTLSOption(
        _ args: [String], _ i: inout Int, _ tls: inout BindTLS, _ ssl: inout Bool, _ at: SourceLocation
    ) -> Bool {
        let word = args[i]
        func value() -> String? {
            guard i + 1 < args.count else {
                alert(at, "'bind \(args[0])' : '\(word)' : missing value.")
                return nil
            }
            i += 1
            return args[i]
        }
        switch word {
        case "ssl":
            ssl = true
        case "crt":
            tls.crtGiven = true
            guard let path = value() else { return true }
            let full = path.hasPrefix("/") ? path : (configuration.global.crtBase.map { $0 + "/" } ?? "") + path
            if checkCertificatePath(full, bind: args[0], at) { tls.certificates.append(full) }
        case "crt-list":
            tls.crtGiven = true
            guard let path = value() else { return true }
            crtList(path, bind: args[0], into: &tls, at)
        case "alpn":
            guard let list = value() else { return true }
            // h2 is not served here: advertise only what is (HTTP/1.1, HTTP/1.0).
            tls.alpn = list.split(separator: ",").map(String.init).filter { $0 != "h2" }
        case "strict-sni":
            tls.strictSNI = true
        case "ciphers":
            guard let list = value() else { return true }
            tls.options.ciphers = list
        case "ciphersuites":
            guard let list = value() else { return true }
            checkTLS13Suites(list, word, at)
        case "curves", "ecdhe":
            guard let list = value() else { return true }
            if let curves = curveList(list, word, at) { tls.options.curves = curves }
        case "no-tls-tickets":
            tls.options.noTickets = true
        case "prefer-client-ciphers":
            break  // BoringSSL takes the client's order among the allowed ciphers: what this option asks
        case "ca-file", "crl-file", "ca-verify-file":
            guard let path = value() else { return true }
            let full = path.hasPrefix("/") ? path : (configuration.global.caBase.map { $0 + "/" } ?? "") + path
            if !FileManager.default.isReadableFile(atPath: full) {
                alert(at, "Couldn't open the \(word) '\(full)' (No such file or directory).")
            }
            switch word {
            case "ca-file": tls.caFile = full
            case "ca-verify-file": tls.caVerifyFile = full
            default: tls.crlFile = full
            }
        case "verify":
            guard let mode = value() else { return true }
            guard let verify = BindTLS.ClientVerify(rawValue: mode) else {
                alert(
                    at,
                    "'bind \(args[0])' : 'verify' : unknown verify method '\(mode)', only 'none', 'optional' and "
                        + "'required' are supported.")
                return true
            }
            tls.clientVerify = verify
        default:
            return tlsVersionOption(args, &i, into: &tls.options, at)
        }
        return true
    }

    /// `ssl-min-ver`, `ssl-max-ver`, `no-sslv3`, `no-tlsv10`…`no-tlsv13`, `force-tlsv12`…: the version range.
    mutating func tlsVersionOption(
        _ args: [String], _ i: inout Int, into options: inout BindTLSOptions, _ at: SourceLocation
    ) -> Bool {
        let versions = ["SSLv3": 3, "TLSv1.0": 10, "TLSv1.1": 11, "TLSv1.2": 12, "TLSv1.3": 13]
        let word = args[i]
        switch word {
        case "ssl-min-ver", "ssl-max-ver":
            guard i + 1 < args.count, let v = versions[args[i + 1]] else {
                alert(at, "'\(word)' : expects one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3.")
                i += 1
                return true
            }
            i += 1
            if word == "ssl-min-ver" { options.minVersion = v } else { options.maxVersion = v }
        case "no-sslv3":
            break  // never offered here
        case "no-tlsv10", "no-tlsv11", "no-tlsv12":
            let v = word == "no-tlsv10" ? 10 : word == "no-tlsv11" ? 11 : 12
            // Versions below the first one still allowed are off.
            if options.minVersion ?? 10 <= v { options.minVersion = v + 1 }
        case "no-tlsv13":
            options.maxVersion = min(options.maxVersion ?? 13, 12)
        case "force-tlsv12", "force-tlsv13":
            let v = word == "force-tlsv12" ? 12 : 13
            options.minVersion = v
            options.maxVersion = v
        default:
            return false
        }
        return true
    }

    /// TLS 1.3's cipher suites: BoringSSL offers always the same three, so a list is honoured when it allows all of
    /// them (a longer list's others are simply not offered); one that leaves one out is refused.
    mutating func checkTLS13Suites(_ list: String, _ keyword: String, _ at: SourceLocation) {
        let offered: Set<String> = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
        let allowed = Set(list.split(separator: ":").map(String.init))
        guard offered.isSubset(of: allowed) else {
            alert(
                at,
                "'\(keyword)' : this build's TLS (BoringSSL) always offers TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 "
                    + "and TLS_CHACHA20_POLY1305_SHA256; a list without all three cannot be honoured.")
            return
        }
    }

    /// `curves` (`X25519:P-256`…) as TLS code points; nil (and an alert) for a group this build does not offer.
    mutating func curveList(_ list: String, _ keyword: String, _ at: SourceLocation) -> [UInt16]? {
        let codes: [String: UInt16] = [
            "x25519": 0x1D, "p-256": 0x17, "prime256v1": 0x17, "secp256r1": 0x17, "p-384": 0x18, "secp384r1": 0x18,
            "p-521": 0x19, "secp521r1": 0x19,
        ]
        var result: [UInt16] = []
        for name in list.split(separator: ":") {
            guard let code = codes[name.lowercased()] else {
                alert(at, "'\(keyword)' : '\(name)' is not a group this build offers (X25519, P-256, P-384, P-521).")
                return nil
            }
            result.append(code)
        }
        return result
    }

    /// HAProxy's load-time checks of a `crt` argument: the file or folder exists, and each certificate has its key
    /// (in the PEM, or in FILE.key).
    /// `crt-list FILE`: one certificate a line (its path under `crt-base`), then the SNI names it serves (`*.`
    /// wildcards; `!name` takes a name of the certificate's own away; none: the certificate's own names), `#`
    /// comments and blank lines skipped; the first line's certificate is the default. A line's `[options]` (ALPN,
    /// ciphers, verify… per certificate) are refused: the certificate would be served otherwise than it asks.
    mutating func crtList(_ path: String, bind: String, into tls: inout BindTLS, _ at: SourceLocation) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return alert(
                at,
                "'bind \(bind)' in section 'frontend' : 'crt-list' : cannot open file '\(path)' : No such file or "
                    + "directory")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // HAProxy's check for a list cut short: a last line (not a comment) without its LF.
        if let last = lines.last, !last.isEmpty, !last.hasPrefix("#"), !last.hasPrefix("\r") {
            return alert(
                at,
                "'bind \(bind)' in section 'frontend' : 'crt-list' : parsing [\(path):\(lines.count)]: Missing LF on "
                    + "last line, file might have been truncated at position \(last.utf8.count).")
        }
        for (n, raw) in lines.enumerated() {
            let line = raw.prefix { $0 != "#" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let file = words.first else { continue }
            if words.dropFirst().contains(where: { $0.hasPrefix("[") }) {
                alert(
                    at,
                    "'bind \(bind)' : 'crt-list' : the options in brackets on line \(n + 1) of '\(path)' are HAProxy's, "
                        + "not in this build (TLS): refused, because the certificate would be served otherwise than "
                        + "they ask. See docs/not-in-this-build.md.")
                continue
            }
            let full = file.hasPrefix("/") ? file : (configuration.global.crtBase.map { $0 + "/" } ?? "") + file
            guard FileManager.default.fileExists(atPath: full) else {
                alert(
                    at,
                    "'bind \(bind)' in section 'frontend' : 'crt-list' : unable to stat SSL certificate from file "
                        + "'\(full)' : No such file or directory.")
                continue
            }
            guard checkCertificatePath(full, bind: bind, at) else { continue }
            tls.certificates.append(full)
            let filters = words.dropFirst().map { $0.lowercased() }
            if !filters.isEmpty { tls.sniFilters[tls.certificates.count - 1] = filters }
        }
    }

    mutating func checkCertificatePath(_ path: String, bind: String, _ at: SourceLocation) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            alert(
                at,
                "'bind \(bind)' in section 'frontend' : unable to stat SSL certificate from file '\(path)' : No such "
                    + "file or directory.")
            return false
        }
        let files = isDirectory.boolValue ? TLSCertificateFiles.inFolder(path) : [path]
        for file in files where TLSCertificateFiles.keyFile(for: file) == nil {
            alert(at, "'bind \(bind)' in section 'frontend' : No Private Key found in '\(file).key'.")
            return false
        }
        return true
    }
}

/// Where HAProxy finds certificates and keys: a `crt` folder's files (not `.key`, `.ocsp`, `.issuer`, `.sctl`,
/// `.dh`), and a certificate's key in its own PEM or beside it in FILE.key.
public enum TLSCertificateFiles {
    public static func inFolder(_ folder: String) -> [String] {
        let skipped = [".key", ".ocsp", ".issuer", ".sctl", ".dh"]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().filter { name in !name.hasPrefix(".") && !skipped.contains { name.hasSuffix($0) } }
            .map { folder + "/" + $0 }
    }

    /// The file that holds the key of `certificate`: the PEM itself, or FILE.key; nil when neither does.
    public static func keyFile(for certificate: String) -> String? {
        for candidate in [certificate, certificate + ".key"] {
            if let text = try? String(contentsOfFile: candidate, encoding: .utf8), text.contains("PRIVATE KEY-----") {
                return candidate
            }
        }
        return nil
    }
}
