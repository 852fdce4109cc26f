/// Whether a TLS peer may talk to us, decided as rsyslog 8.2302's drivers decide it once the handshake has checked
/// the chain (value types, no I/O; `TLSTransport` feeds them what the peer's certificate says).
///
/// - `x509/name`, gtls (nsd_gtls.c): every subjectAltName dNSName is tried against the permitted peers, then the
///   subject's first CN, unless `PrioritizeSAN` is on and the certificate has a dNSName. A client with no permitted
///   peers compares the names with the target it connected to, exactly. A server with none permits nobody.
/// - `x509/name`, ossl (nsd_ossl.c): a permitted peer equal to the subject's one-line form (`/C=DE/CN=host`), or a
///   host name the certificate is valid for by OpenSSL's rules (dNSNames if any, else the CN; case-insensitive; a
///   certificate's `*.` covers one label). With no permitted peers it permits nobody.
/// - Permitted peers match as rsyslog's net.c matches them: label by label, the same number of labels, case-sensitive;
///   a label `*` is any one label, `*abc` one ending in abc, `abc*` one beginning with it.
/// - `x509/fingerprint`: the leaf certificate's `SHA1:AA:BB:…` or `SHA256:…` form among the permitted peers, exactly.
/// - `CheckExtendedKeyPurpose`: a certificate that lists purposes must list the one of its role (GnuTLS takes one that
///   lists none as fit for any).
public struct PeerAuthorization: Sendable {
    /// What the peer's leaf certificate says.
    public struct Certificate: Sendable, Equatable {
        public var dnsNames: [String]
        /// The subject's common names, in order.
        public var commonNames: [String]
        /// The subject as OpenSSL's X509_NAME_oneline writes it.
        public var subjectLine: String
        /// `SHA1:…` and `SHA256:…`, upper-case hex pairs joined by colons.
        public var sha1: String
        public var sha256: String
        /// The extended key usages: nil when the certificate has none.
        public var purposes: Set<Purpose>?

        public enum Purpose: Sendable, Hashable { case serverAuth, clientAuth, any }

        public init(
            dnsNames: [String] = [], commonNames: [String] = [], subjectLine: String = "", sha1: String = "",
            sha256: String = "", purposes: Set<Purpose>? = nil
        ) {
            self.dnsNames = dnsNames
            self.commonNames = commonNames
            self.subjectLine = subjectLine
            self.sha1 = sha1
            self.sha256 = sha256
            self.purposes = purposes
        }

        /// rsyslog's list of the names it looked at, for its refusal message (`DNSname: a; CN: b; `).
        var namesForMessage: String {
            dnsNames.map { "DNSname: \($0); " }.joined() + (commonNames.first.map { "CN: \($0); " } ?? "")
        }
    }

    public enum Verdict: Equatable, Sendable {
        case permitted
        /// Refused, with rsyslog's reason.
        case refused(String)
    }

    public let tls: StreamTLS
    public let role: StreamDriverSettings.Role
    /// The host a client connected to (omfwd's target), for gtls's name check without permitted peers.
    public let target: String?
    private let patterns: [PeerPattern]

    public init(_ tls: StreamTLS, role: StreamDriverSettings.Role, target: String? = nil) {
        self.tls = tls
        self.role = role
        self.target = target
        self.patterns = tls.permittedPeers.map(PeerPattern.init)
    }

    /// The decision on a peer that presented `certificate` (nil: none) and whose chain the handshake accepted.
    public func decide(_ certificate: Certificate?) -> Verdict {
        if tls.authMode == .anon { return .permitted }
        guard let certificate else { return .refused("peer did not provide a certificate, not permitted to talk to it") }
        if tls.checkExtendedKeyPurpose, let purposes = certificate.purposes,
            !purposes.contains(.any), !purposes.contains(role == .server ? .clientAuth : .serverAuth)
        {
            return .refused("not permitted to talk to peer, certificate invalid: key purpose OID does not match")
        }
        switch tls.authMode {
        case .anon, .certValid:
            return .permitted
        case .fingerprint:
            if tls.permittedPeers.contains(certificate.sha1) || tls.permittedPeers.contains(certificate.sha256) {
                return .permitted
            }
            return .refused("peer fingerprint '\(certificate.sha1)' unknown - we are not permitted to talk to it")
        case .name:
            if tls.driver == .ossl ? opensslNameMatches(certificate) : gnutlsNameMatches(certificate) {
                return .permitted
            }
            return .refused(
                "peer name not authorized -  not permitted to talk to it. Names: \(certificate.namesForMessage)")
        }
    }

    private func gnutlsNameMatches(_ c: Certificate) -> Bool {
        func matches(_ name: String) -> Bool {
            if patterns.isEmpty { return role == .client && target == name }
            return patterns.contains { $0.matches(name) }
        }
        if c.dnsNames.contains(where: matches) { return true }
        if tls.prioritizeSAN && !c.dnsNames.isEmpty { return false }
        return c.commonNames.first.map(matches) ?? false
    }

    private func opensslNameMatches(_ c: Certificate) -> Bool {
        tls.permittedPeers.contains { peer in
            peer == c.subjectLine || PeerAuthorization.certificate(c, isValidFor: peer)
        }
    }

    /// OpenSSL's X509_check_host with its default flags: the dNSNames when there are any, else the CNs.
    static func certificate(_ c: Certificate, isValidFor host: String) -> Bool {
        let names = c.dnsNames.isEmpty ? c.commonNames : c.dnsNames
        let wanted = host.lowercased()
        return names.contains { name in
            let pattern = name.lowercased()
            if pattern == wanted { return true }
            guard pattern.hasPrefix("*."), pattern.split(separator: ".").count >= 3,
                let dot = wanted.firstIndex(of: "."), dot != wanted.startIndex
            else { return false }
            return wanted[dot...] == pattern.dropFirst()
        }
    }
}

/// One permitted peer, as rsyslog's net.c compiles it.
struct PeerPattern: Sendable {
    enum Label: Sendable {
        case exact(String)
        case any
        case suffix(String)
        case prefix(String)
        /// `a*b`, `*a*`: rsyslog cannot compile it, and such a peer matches nothing.
        case invalid
    }
    let text: String
    let labels: [Label]

    init(_ text: String) {
        self.text = text
        labels = text.split(separator: ".", omittingEmptySubsequences: false).map { part in
            let stars = part.filter { $0 == "*" }.count
            if stars == 0 { return .exact(String(part)) }
            if part == "*" { return .any }
            if stars > 1 { return .invalid }
            if part.hasPrefix("*") { return .suffix(String(part.dropFirst())) }
            if part.hasSuffix("*") { return .prefix(String(part.dropLast())) }
            return .invalid
        }
    }

    func matches(_ name: String) -> Bool {
        if name == text { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == labels.count else { return false }
        for (label, part) in zip(labels, parts) {
            switch label {
            case .exact(let s): if part != s { return false }
            case .any: continue
            case .suffix(let s): if !part.hasSuffix(s) { return false }
            case .prefix(let s): if !part.hasPrefix(s) { return false }
            case .invalid: return false
            }
        }
        return true
    }
}
