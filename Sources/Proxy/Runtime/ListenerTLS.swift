import Foundation
import HAProxyLog
import LogCore
import NIOCore
import NIOSSL
import NIOTLS

/// A TLS listener (`bind … ssl crt …`): its certificates loaded once at start, the default one first, the others
/// chosen by the client's SNI as HAProxy chooses them (an exact name, then a wildcard certificate's `*.` for one
/// label; `strict-sni` refuses a name that matches none), and the version range, ciphers and ALPN of the bind.
///
/// `no-tls-tickets`: swift-nio-ssl cannot tell BoringSSL not to issue tickets, so each connection gets a context of
/// its own (from the certificates parsed once), whose ticket key dies with it: no ticket is ever accepted, no
/// session resumes from one, and no long-lived ticket key exists to weaken forward secrecy, which is what the
/// option asks. The cost: no resumption at all (HAProxy still resumes from its session-ID cache), a full handshake
/// each time.
struct ListenerTLS: Sendable {
    struct Certificate: Sendable {
        var names: [String]
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    /// The context every connection shares; nil under `no-tls-tickets`.
    private let shared: NIOSSLContext?
    private let configuration: TLSConfiguration

    /// The context for a new connection.
    func connectionContext() throws -> NIOSSLContext {
        if let shared { return shared }
        return try NIOSSLContext(configuration: configuration)
    }

    init(_ settings: BindTLS) throws {
        var certificates: [Certificate] = []
        for (index, path) in settings.certificates.enumerated() {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            for file in isDirectory.boolValue ? TLSCertificateFiles.inFolder(path) : [path] {
                var certificate = try Self.load(file)
                if let filters = settings.sniFilters[index] { certificate.names = Self.names(certificate.names, filteredBy: filters) }
                certificates.append(certificate)
            }
        }
        guard let first = certificates.first else { throw ListenerTLSError("no certificate to serve") }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: first.chain.map { .certificate($0) }, privateKey: .privateKey(first.key))
        configuration.minimumTLSVersion = Self.version(settings.options.minVersion ?? 10) ?? .tlsv1
        configuration.maximumTLSVersion = settings.options.maxVersion.flatMap(Self.version)
        if let ciphers = settings.options.ciphers { configuration.cipherSuites = ciphers }
        if let curves = settings.options.curves { configuration.curves = curves.map(NIOTLSCurve.init(rawValue:)) }
        configuration.applicationProtocols = settings.alpn
        // Client certificates (`verify optional|required`): asked for with the CA's names, checked against it.
        if settings.clientVerify != .none, settings.caFile != nil || settings.caVerifyFile != nil {
            let files = [settings.caFile, settings.caVerifyFile].compactMap { $0 }
            configuration.trustRoots = .certificates(try files.flatMap { try ServerTLSClient.certificates(at: $0) })
            configuration.sendCANameList = true
            configuration.certificateVerification =
                settings.clientVerify == .required ? .noHostnameVerification : .optionalVerification
        }
        let strict = settings.strictSNI
        if certificates.count > 1 || strict {
            let all = certificates
            configuration.sslContextCallback = { values, promise in
                var override = NIOSSLContextConfigurationOverride()
                if let name = values.serverHostname?.lowercased(), let chosen = Self.choose(name, among: all) {
                    override.certificateChain = chosen.chain.map { .certificate($0) }
                    override.privateKey = .privateKey(chosen.key)
                } else if strict {
                    promise.fail(ListenerTLSError("no certificate for the name the client asked (strict-sni)"))
                    return
                }
                promise.succeed(override)
            }
        }
        self.configuration = configuration
        // Built once here even under no-tls-tickets: a configuration BoringSSL refuses fails at start.
        let built = try NIOSSLContext(configuration: configuration)
        shared = settings.options.noTickets ? nil : built
    }

    /// A `crt-list` line's names: its filters, else the certificate's own; `!name` filters take names away.
    static func names(_ own: [String], filteredBy filters: [String]) -> [String] {
        let positive = filters.filter { !$0.hasPrefix("!") }
        let negative = Set(filters.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) })
        return (positive.isEmpty ? own : positive).filter { !negative.contains($0) }
    }

    /// The certificate for an SNI name: an exact name first, then a wildcard one.
    static func choose(_ name: String, among certificates: [Certificate]) -> Certificate? {
        if let exact = certificates.first(where: { $0.names.contains(name) }) { return exact }
        guard let dot = name.firstIndex(of: ".") else { return nil }
        let wildcard = "*" + name[dot...]
        return certificates.first { $0.names.contains(wildcard) }
    }

    /// A PEM's certificate chain and its key (in the PEM or in FILE.key), and the names it serves (its DNS names,
    /// else its CN), as HAProxy indexes them.
    static func load(_ file: String) throws -> Certificate {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw ListenerTLSError("cannot read the certificates in '\(file)'")
        }
        guard let leaf = chain.first, let keyFile = TLSCertificateFiles.keyFile(for: file) else {
            throw ListenerTLSError("no certificate and key in '\(file)'")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ListenerTLSError("cannot read the private key in '\(keyFile)'")
        }
        return Certificate(names: names(of: leaf), chain: chain, key: key)
    }

    /// A certificate's names as HAProxy reads them: its DNS names, else its CN; lowercased.
    static func names(of leaf: NIOSSLCertificate) -> [String] {
        var names: [String] = []
        for name in leaf._subjectAlternativeNames() where name.nameType == .dnsName {
            names.append(String(decoding: name.contents, as: UTF8.self).lowercased())
        }
        if names.isEmpty {
            names = leaf.subjectName.filter { $0.type == .commonName }.map { $0.value.lowercased() }
        }
        return names
    }

    static func version(_ v: Int) -> TLSVersion? {
        switch v {
        case 10: return .tlsv1
        case 11: return .tlsv11
        case 12: return .tlsv12
        case 13: return .tlsv13
        default: return nil
        }
    }
}

struct ListenerTLSError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Behind the TLS handler of a listener: a handshake that fails is logged as HAProxy logs it (see
/// `Frontend.logHandshakeFailure`), then the error goes on to the session, which logs nothing more for a
/// connection that never carried a request.
final class HandshakeFailureLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let frontend: ProxyRuntime.Frontend
    private let listener: String
    private let info: ClientTLS?
    private let acceptedAt = CivilTime.now()
    private var done = false

    init(frontend: ProxyRuntime.Frontend, listener: String, info: ClientTLS? = nil) {
        self.frontend = frontend
        self.listener = listener
        self.info = info
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            done = true
            // What the handshake agreed, for the session's fetches (`ssl_fc_protocol`, `ssl_c_*`).
            if let info, let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) {
                info.version = tls.tlsVersion
                info.certificate = tls.peerCertificate
            }
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            // The client went away (its EOF before the handshake's end) rather than speaking something else.
            let closed: Bool
            if case NIOSSLError.uncleanShutdown = error {
                closed = true
            } else {
                closed = "\(error)".contains("EOF during handshake")
            }
            // A client certificate the bind's CA does not vouch for: HAProxy's own words for it.
            let untrusted = "\(error)".contains("CERTIFICATE_VERIFY_FAILED")
            frontend.logHandshakeFailure(
                client: context.channel.remoteAddress, at: acceptedAt, listener: listener, closed: closed,
                untrustedCertificate: untrusted)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            frontend.logHandshakeFailure(
                client: context.channel.remoteAddress, at: acceptedAt, listener: listener, closed: true)
        }
        context.fireChannelInactive()
    }
}
