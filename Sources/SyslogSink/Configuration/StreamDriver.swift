/// rsyslog's network stream drivers (`ptcp`, plain TCP; `gtls` and `ossl`, TLS as RFC 5425) as one imtcp listener or
/// one omfwd action configures them: what the object itself says, laid over the module's settings (imtcp) and the
/// `global()` / `$DefaultNetstreamDriver…` defaults, which rsyslogd reads for the whole file (the last one wins).
///
/// The facts, from rsyslog 8.2302's runtime (nsd_gtls.c, nsd_ossl.c, net.c):
/// - mode 0 is plain TCP whatever the driver; mode 1 is TLS, which `ptcp` does not do; other modes are errors;
/// - the authentication modes are `anon`, `x509/certvalid`, `x509/name` (the default when none is given, on both
///   sides) and `x509/fingerprint`, in any case; permitted peers in `anon` or `x509/certvalid` are an error;
/// - the CA, certificate and key files come from the object (`streamDriver.CAFile`…) or the global defaults.
public struct StreamDriverSettings: Hashable, Sendable {
    /// `StreamDriver.Name` / `StreamDriver` / `$ActionSendStreamDriver` (nil: the global default driver).
    public var name: String?
    /// `StreamDriver.Mode` (nil: 0).
    public var mode: String?
    /// `StreamDriver.AuthMode` (nil: x509/name).
    public var authMode: String?
    /// `PermittedPeer` / `StreamDriverPermittedPeers` / `$…PermittedPeer` (nil: none given).
    public var permittedPeers: [String]?
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// `StreamDriver.CheckExtendedKeyPurpose`.
    public var checkExtendedKeyPurpose: Bool?
    /// `StreamDriver.PrioritizeSAN`.
    public var prioritizeSAN: Bool?

    public init() {}

    /// Whether the object said anything about its stream driver.
    public var isEmpty: Bool { self == StreamDriverSettings() }

    /// These settings, with what they leave unsaid taken from `base` (an input's over its module's).
    public func over(_ base: StreamDriverSettings) -> StreamDriverSettings {
        var s = self
        s.name = name ?? base.name
        s.mode = mode ?? base.mode
        s.authMode = authMode ?? base.authMode
        s.permittedPeers = permittedPeers ?? base.permittedPeers
        s.caFile = caFile ?? base.caFile
        s.certFile = certFile ?? base.certFile
        s.keyFile = keyFile ?? base.keyFile
        s.checkExtendedKeyPurpose = checkExtendedKeyPurpose ?? base.checkExtendedKeyPurpose
        s.prioritizeSAN = prioritizeSAN ?? base.prioritizeSAN
        return s
    }

    /// Which side of the connection the object is.
    public enum Role: Sendable { case server, client }

    /// The TLS these settings ask for (nil: plain TCP), or why rsyslogd would not run them, in its words.
    public func resolve(_ defaults: NetstreamDefaults, role: Role) -> Result<StreamTLS?, StreamDriverError> {
        let driver = (name ?? defaults.driver ?? "ptcp").lowercased()
        guard ["ptcp", "gtls", "ossl"].contains(driver) else {
            return .failure(StreamDriverError("netstream driver '\(driver)' is not known (ptcp, gtls or ossl)"))
        }
        let modeText = (mode ?? "0").trimmingSpaces()
        guard let modeNumber = Int(modeText) else {
            return .failure(StreamDriverError("driver mode '\(modeText)' is not a number"))
        }
        guard modeNumber == 0 || modeNumber == 1 && driver != "ptcp" else {
            return .failure(StreamDriverError("driver mode \(modeNumber) not supported by \(driver) netstream driver"))
        }
        guard modeNumber == 1 else { return .success(nil) }
        let authText = (authMode ?? "x509/name").lowercased()
        guard let auth = StreamTLS.AuthMode(rawValue: authText) else {
            return .failure(
                StreamDriverError(
                    "authentication mode '\(authMode ?? "")' not supported by \(driver) netstream driver "
                        + "(anon, x509/certvalid, x509/name or x509/fingerprint)"))
        }
        let peers = permittedPeers ?? []
        if !peers.isEmpty && (auth == .anon || auth == .certValid) {
            return .failure(
                StreamDriverError(
                    "permitted peers are not used in the '\(authText)' authentication mode of the \(driver) "
                        + "netstream driver: rsyslogd does not start this object either (x509/name or "
                        + "x509/fingerprint check them)"))
        }
        var tls = StreamTLS(
            driver: driver == "ossl" ? .ossl : .gtls, authMode: auth, permittedPeers: peers,
            caFile: caFile ?? defaults.caFile, certFile: certFile ?? defaults.certFile,
            keyFile: keyFile ?? defaults.keyFile)
        tls.checkExtendedKeyPurpose = checkExtendedKeyPurpose ?? false
        tls.prioritizeSAN = prioritizeSAN ?? false
        if tls.driver == .ossl && (tls.checkExtendedKeyPurpose || tls.prioritizeSAN) {
            return .failure(
                StreamDriverError("CheckExtendedKeyPurpose and PrioritizeSAN are not supported by the ossl netstream driver"))
        }
        if (tls.certFile == nil) != (tls.keyFile == nil) {
            return .failure(
                StreamDriverError("a certificate needs its key file and a key its certificate (the other is not set)"))
        }
        if role == .server && tls.certFile == nil {
            return .failure(
                StreamDriverError(
                    "a TLS listener needs a certificate and key (DefaultNetstreamDriverCertFile/KeyFile or "
                        + "streamDriver.CertFile/KeyFile); anonymous TLS is not in this build"))
        }
        if auth != .anon && auth != .fingerprint && tls.caFile == nil {
            return .failure(
                StreamDriverError(
                    "the '\(authText)' authentication mode checks certificates against a CA: set "
                        + "DefaultNetstreamDriverCAFile (or streamDriver.CAFile)"))
        }
        return .success(tls)
    }
}

/// `global(DefaultNetstreamDriver… )` and `$DefaultNetstreamDriver…`: what every stream object uses unless it says
/// otherwise.
public struct NetstreamDefaults: Hashable, Sendable {
    public var driver: String?
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public init() {}
}

public struct StreamDriverError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// TLS as one listener or one forward runs it (resolved `StreamDriverSettings`).
public struct StreamTLS: Hashable, Sendable {
    public enum Driver: String, Hashable, Sendable { case gtls, ossl }
    public enum AuthMode: String, Hashable, Sendable {
        case anon
        case certValid = "x509/certvalid"
        case name = "x509/name"
        case fingerprint = "x509/fingerprint"
    }
    public var driver: Driver
    public var authMode: AuthMode
    public var permittedPeers: [String]
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var checkExtendedKeyPurpose = false
    public var prioritizeSAN = false

    public init(
        driver: Driver, authMode: AuthMode, permittedPeers: [String] = [], caFile: String? = nil,
        certFile: String? = nil, keyFile: String? = nil
    ) {
        self.driver = driver
        self.authMode = authMode
        self.permittedPeers = permittedPeers
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}
