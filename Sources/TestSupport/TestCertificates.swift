import Foundation

/// A test CA and certificates signed by it, made with the real `openssl` command in a folder of the test's: what a
/// user of rsyslog's TLS makes by following its guide (PEM files, a CA, one certificate per host).
public struct TestCertificates {
    public let directory: String
    public var caFile: String { "\(directory)/ca.pem" }

    /// Makes the CA (`CN=Tollgate Test CA`).
    public init(in directory: String) throws {
        self.directory = directory
        try Self.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(directory)/ca-key.pem", "-out",
            "\(directory)/ca.pem", "-days", "3650", "-subj", "/CN=Tollgate Test CA",
        ])
    }

    /// A certificate for `commonName` with `dnsNames` as subjectAltName (and 127.0.0.1), signed by the CA (or
    /// self-signed): returns the certificate and key files.
    @discardableResult
    public func issue(
        _ name: String, commonName: String, dnsNames: [String] = [], purposes: String = "serverAuth,clientAuth",
        selfSigned: Bool = false, days: Int = 3650
    ) throws -> (certificate: String, key: String) {
        let cert = "\(directory)/\(name).pem"
        let key = "\(directory)/\(name)-key.pem"
        var extensions = "[ext]\nextendedKeyUsage=\(purposes)\n"
        if !dnsNames.isEmpty {
            extensions += "subjectAltName=" + (dnsNames.map { "DNS:\($0)" } + ["IP:127.0.0.1"]).joined(separator: ",") + "\n"
        }
        let extFile = "\(directory)/\(name).cnf"
        try extensions.write(toFile: extFile, atomically: true, encoding: .utf8)
        try Self.openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", "\(directory)/\(name).csr", "-subj",
            "/CN=\(commonName)",
        ])
        var sign = [
            "x509", "-req", "-in", "\(directory)/\(name).csr", "-out", cert, "-extfile", extFile, "-extensions", "ext",
            "-days", "\(days)",
        ]
        sign += selfSigned ? ["-key", key] : ["-CA", caFile, "-CAkey", "\(directory)/ca-key.pem", "-CAcreateserial"]
        try Self.openssl(sign)
        return (cert, key)
    }

    /// `openssl x509 -fingerprint`'s answer for a certificate, as rsyslog's permitted peers write it (`SHA1:AB:…`).
    public func fingerprint(_ certificate: String, sha256: Bool = false) throws -> String {
        let out = try Self.openssl(["x509", "-in", certificate, "-noout", "-fingerprint", sha256 ? "-sha256" : "-sha1"])
        guard let value = out.split(separator: "=", maxSplits: 1).last else {
            throw PeerFailed(description: "openssl printed no fingerprint: \(out)")
        }
        return (sha256 ? "SHA256:" : "SHA1:") + value.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    static func openssl(_ arguments: [String]) throws -> String {
        let result = try Peers.run(try Peers.find("openssl"), arguments)
        guard result.status == 0 else {
            throw PeerFailed(
                description: "openssl \(arguments.joined(separator: " ")): "
                    + String(decoding: result.stderr, as: UTF8.self))
        }
        return String(decoding: result.stdout, as: UTF8.self)
    }
}
