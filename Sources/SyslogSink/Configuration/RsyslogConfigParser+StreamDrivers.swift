import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// The stream-driver settings (TLS) of rsyslog.conf: `global(DefaultNetstreamDriver…)` and `$DefaultNetstreamDriver…`
/// for the whole file, imtcp's module settings and `$InputTCPServerStreamDriver…` for every listener, an input's
/// own `streamDriver.*`, and omfwd's `StreamDriver*` / `$ActionSendStreamDriver…` for the forwards after them.
extension RsyslogConfigParser {
    /// `global()` parameters and `$Directives` that set the defaults (lower case).
    static let netstreamDefaultKeys: [String] = [
        "defaultnetstreamdriver", "defaultnetstreamdrivercafile", "defaultnetstreamdrivercertfile",
        "defaultnetstreamdriverkeyfile",
    ]

    /// Sets one default (`global()` parameter or `$Directive`); a file rsyslogd could not read is an error, as its
    /// "could not be accessed" is.
    mutating func setNetstreamDefault(_ key: String, _ value: String, _ written: String, _ location: SourceLocation) {
        if key != "defaultnetstreamdriver" && access(value, R_OK) != 0 {
            notHonoured(location, "\(written) '\(value)' could not be accessed: TLS cannot start without it")
            return
        }
        switch key {
        case "defaultnetstreamdriver": configuration.netstream.driver = value
        case "defaultnetstreamdrivercafile": configuration.netstream.caFile = value
        case "defaultnetstreamdrivercertfile": configuration.netstream.certFile = value
        case "defaultnetstreamdriverkeyfile": configuration.netstream.keyFile = value
        default: break
        }
    }

    /// imtcp's module settings: `module(load="imtcp" StreamDriver.*=… PermittedPeer=…)`.
    mutating func tcpModuleDriver(_ p: [String: String], _ location: SourceLocation) {
        let own = streamDriverParameters(p, peersKey: "permittedpeer", location)
        state.tcpDriver = own.over(state.tcpDriver)
    }

    /// `$InputTCPServerStreamDriver…` and `$ActionSendStreamDriver…`; false when `name` is neither.
    mutating func streamDriverDirective(_ name: String, _ value: String, _ location: SourceLocation) -> Bool {
        switch name {
        case "inputtcpserverstreamdrivermode": state.tcpDriverLegacy.mode = value
        case "inputtcpserverstreamdriverauthmode": state.tcpDriverLegacy.authMode = value
        case "inputtcpserverstreamdriverpermittedpeer":
            state.tcpDriverLegacy.permittedPeers = (state.tcpDriverLegacy.permittedPeers ?? []) + [value]
        case "actionsendstreamdriver": state.forwardDriver.name = value
        case "actionsendstreamdrivermode": state.forwardDriver.mode = value
        case "actionsendstreamdriverauthmode": state.forwardDriver.authMode = value
        case "actionsendstreamdriverpermittedpeer":
            state.forwardDriver.permittedPeers = (state.forwardDriver.permittedPeers ?? []) + [value]
        // The forwarder sends again what the collector had not acknowledged when a connection breaks, the last
        // message among them: what this asks, whatever its value.
        case "actionsendresendlastmsgonreconnect": break
        default: return false
        }
        return true
    }

    /// An object's own stream-driver parameters (`streamDriver.name`, `StreamDriverMode`…: both spellings).
    func streamDriverParameters(_ p: [String: String], peersKey: String, _ location: SourceLocation)
        -> StreamDriverSettings
    {
        var s = StreamDriverSettings()
        s.name = p["streamdriver.name"] ?? p["streamdriver"]
        s.mode = p["streamdriver.mode"] ?? p["streamdrivermode"]
        s.authMode = p["streamdriver.authmode"] ?? p["streamdriverauthmode"]
        if let peers = p[peersKey] {
            // An array (`["a", "b"]`, read as "a, b") or omfwd's comma-separated list.
            s.permittedPeers = peers.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        s.caFile = p["streamdriver.cafile"]
        s.certFile = p["streamdriver.certfile"]
        s.keyFile = p["streamdriver.keyfile"]
        func flag(_ key: String) -> Bool? { p[key].map { ["on", "yes", "1"].contains($0.lowercased()) } }
        s.checkExtendedKeyPurpose = flag("streamdriver.checkextendedkeypurpose")
        s.prioritizeSAN = flag("streamdriver.prioritizesan")
        return s
    }

    /// At the end of the file: every TCP listener gets its TLS (its own settings over imtcp's module settings over
    /// the legacy directives, with the global defaults), and every forward's settings are checked. What rsyslogd
    /// would not run is an error naming the object's line, and a listener that cannot run as asked is left out
    /// rather than run in clear text.
    /// Returns the indexes of the listeners to leave out (removed by the caller once the inputs' rulesets are
    /// checked, which goes by index).
    mutating func resolveStreamDrivers() -> [Int] {
        let module = state.tcpDriver.over(state.tcpDriverLegacy)
        var leftOut: [Int] = []
        for (index, input) in configuration.inputs.enumerated() {
            guard case .tcp(let address, let port, let sessions, let ruleset, _) = input else { continue }
            let location = configuration.inputOrigins[input]
            let own = tcpInputDrivers[input] ?? StreamDriverSettings()
            switch own.over(module).resolve(configuration.netstream, role: .server) {
            case .success(let tls):
                let resolved = SinkInput.tcp(
                    address: address, port: port, maxSessions: sessions, ruleset: ruleset, tls: tls)
                configuration.inputs[index] = resolved
                if resolved != input {
                    configuration.inputOrigins[resolved] = configuration.inputOrigins.removeValue(forKey: input)
                    configuration.inputNames[resolved] = configuration.inputNames.removeValue(forKey: input)
                }
            case .failure(let error):
                leftOut.append(index)
                notHonoured(
                    location ?? SourceLocation(file: configuration.files.first ?? "rsyslog.conf", line: 0),
                    "imtcp \(address ?? "*"):\(port): \(error): the listener is not started")
            }
        }
        for (settings, location) in forwardDrivers {
            if case .failure(let error) = settings.resolve(configuration.netstream, role: .client) {
                notHonoured(location, "omfwd: \(error): the action is disabled")
            }
        }
        return leftOut
    }

    /// A UDP forward whose settings ask for TLS: rsyslogd sends it in clear text; the sink refuses it (an error, the
    /// action left out) rather than send what the user meant to protect.
    mutating func asksForTLS(_ settings: StreamDriverSettings, _ location: SourceLocation) -> Bool {
        guard let mode = settings.mode, mode.trimmingSpaces() != "0" else { return false }
        notHonoured(
            location,
            "omfwd: StreamDriverMode=\"\(mode)\" asks for TLS, which a forward has only with protocol=\"tcp\" (@@): "
                + "over UDP the messages would travel in clear text. The action is left out")
        return true
    }

    /// librelp's TLS (`tls="on"` with `tls.caCert`, `tls.myCert`, `tls.myPrivKey`, `tls.authMode`,
    /// `tls.permittedPeer`) for an imrelp input or an omrelp action: `.success(nil)` without TLS. As librelp 1.11
    /// with GnuTLS: no `tls.authMode` with a certificate is fingerprint mode, `name` and `fingerprint` with no
    /// permitted peer let nobody in. Anonymous TLS (no `tls.myCert`) is not in this build; `certvalid` checks the
    /// chain (librelp 1.11's GnuTLS path checked nothing, a bug fixed after it).
    func relpTLS(_ p: [String: String]) -> Result<StreamTLS?, StreamDriverError> {
        guard let on = p["tls"], ["on", "yes", "1"].contains(on.lowercased()) else { return .success(nil) }
        guard let cert = p["tls.mycert"], let key = p["tls.myprivkey"] else {
            return .failure(
                StreamDriverError(
                    "tls=\"on\" without tls.myCert and tls.myPrivKey is anonymous TLS, which is not in this build"))
        }
        let mode: StreamTLS.AuthMode
        switch p["tls.authmode"]?.lowercased() {
        case nil, "fingerprint": mode = .fingerprint
        case "name": mode = .name
        case "certvalid": mode = .certValid
        case let other?:
            return .failure(StreamDriverError("tls.authMode '\(other)' is not fingerprint, name or certvalid"))
        }
        if mode != .fingerprint && p["tls.cacert"] == nil {
            return .failure(StreamDriverError("tls.authMode '\(mode.rawValue.dropFirst(5))' checks certificates against tls.caCert, which is not set"))
        }
        for file in [p["tls.cacert"], cert, key].compactMap({ $0 }) where access(file, R_OK) != 0 {
            return .failure(StreamDriverError("'\(file)' could not be accessed"))
        }
        let peers = (p["tls.permittedpeer"] ?? "").split(separator: ",").map { String($0).trimmingSpaces() }
            .filter { !$0.isEmpty }
        return .success(
            StreamTLS(
                driver: .gtls, authMode: mode, permittedPeers: mode == .certValid ? [] : peers, caFile: p["tls.cacert"],
                certFile: cert, keyFile: key))
    }
}
