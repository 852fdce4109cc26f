import Foundation
import NIOCore
import NIOSSL
import NIOTLS

/// TLS to one server (`server … ssl …`, `check-ssl`): its context made once at start from the line's options, and
/// per connection the handlers that carry it out, as HAProxy 2.6 does. The TLS handshake is part of the connect
/// (a failed one is a failed connect: `SC` with `Tc` -1, a retry, a 503), and under `verify required` the
/// certificate must chain to `ca-file` and, when a name is known (the SNI sent, else `verifyhost`), carry that
/// name (a DNS name, else the CN when it has none; `*.` matches one label). No session is resumed across
/// connections (`no-ssl-reuse` holds; `ssl-reuse` only costs handshakes).
struct ServerTLSClient: Sendable {
    private let context: NIOSSLContext
    private let verifies: Bool
    private let sni: ServerSNI?
    private let verifyHost: String?
    private let checkSNI: String?
    /// Whether the traffic is TLS (`ssl`), and whether checks are.
    let traffic: Bool
    let checks: Bool

    /// nil when neither the traffic nor the checks of `server` are TLS.
    init?(_ server: ServerLine, globalVerifyRequired: Bool) throws {
        let tls = server.tls
        // Checks inherit `ssl` when they go to the traffic's own address and port (HAProxy's rule).
        let checks = tls.checkSSL ?? (tls.enabled && server.checkPort == nil && server.checkAddress == nil)
        guard tls.enabled || checks else { return nil }
        traffic = tls.enabled
        self.checks = checks
        verifies = tls.verifies(globalRequired: globalVerifyRequired)
        sni = tls.sni
        verifyHost = tls.verifyHost
        checkSNI = tls.checkSNI
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = ListenerTLS.version(tls.options.minVersion ?? 10) ?? .tlsv1
        configuration.maximumTLSVersion = tls.options.maxVersion.flatMap(ListenerTLS.version)
        if let ciphers = tls.options.ciphers { configuration.cipherSuites = ciphers }
        configuration.applicationProtocols = tls.alpn
        if verifies {
            // The chain here, the name after the handshake (see ServerHandshake): HAProxy checks the SNI sent, or
            // `verifyhost` when none is, which BoringSSL's own check (on the SNI only) cannot express.
            configuration.certificateVerification = .noHostnameVerification
            if tls.systemCA {
                configuration.trustRoots = .default
            } else if let file = tls.caFile {
                configuration.trustRoots = .certificates(try Self.certificates(at: file))
            }
        } else {
            configuration.certificateVerification = .none
        }
        if let file = tls.certificate {
            let loaded = try ListenerTLS.load(file)
            configuration.certificateChain = loaded.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(loaded.key)
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ListenerTLSError("server '\(server.name)': its TLS settings were refused by the TLS library (\(error))")
        }
    }

    /// The CA certificates of a PEM file, or of every PEM file of a folder (HAProxy loads a folder's .pem, .crt,
    /// .cer files).
    static func certificates(at path: String) throws -> [NIOSSLCertificate] {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let files =
            isDirectory.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                .filter { file in !file.hasPrefix(".") && [".pem", ".crt", ".cer"].contains { file.hasSuffix($0) } }
                .map { path + "/" + $0 }
            : [path]
        var all: [NIOSSLCertificate] = []
        for file in files {
            do {
                all += try NIOSSLCertificate.fromPEMFile(file)
            } catch {
                throw ListenerTLSError("cannot read the CA certificates in '\(file)'")
            }
        }
        return all
    }

    /// The SNI for a connection of the traffic: `sni`'s value, given the request's headers for `req.hdr()` and the
    /// client's own SNI for `ssl_fc_sni`.
    func trafficName(clientSNI: String? = nil, header: (String) -> String?) -> String? {
        switch sni {
        case .fixed(let name): return name
        case .requestHeader(let name): return header(name)
        case .clientSNI: return clientSNI
        case nil: return nil
        }
    }

    /// Adds TLS to a new connection's pipeline, first: `prefix` (a PROXY protocol header) goes in clear before the
    /// handshake; `handshake` completes when the handshake and the name check pass, and fails otherwise (the
    /// channel is then closed). For checks, `sni` is `check-sni`.
    func addHandlers(
        to channel: any Channel, sni: String?, prefix: [UInt8]?, handshake: EventLoopPromise<Void>
    ) throws {
        let sent = sni.flatMap(Self.usableSNI)
        let operations = channel.pipeline.syncOperations
        let tls = try NIOSSLClientHandler(context: context, serverHostname: sent)
        let check = ServerHandshake(expectedName: verifies ? (sent ?? verifyHost) : nil, promise: handshake)
        try operations.addHandler(check, position: .first)
        try operations.addHandler(tls, position: .first)
        if let prefix { try operations.addHandler(ClearPrefix(prefix), position: .first) }
    }

    /// The SNI of a health check.
    var checkName: String? { checkSNI }

    /// A name BoringSSL accepts as SNI (not an IP address, not empty); others are not sent.
    static func usableSNI(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !trimmed.utf8.contains(0), trimmed.utf8.count < 256 else { return nil }
        if trimmed.first == "[" || trimmed.allSatisfy({ $0.isNumber || $0 == "." }) || trimmed.contains(":") {
            return nil
        }
        return trimmed
    }

    /// Whether `name` is one of a certificate's: its DNS names, or its CN when it has none; a `*.` name matches one
    /// leftmost label.
    static func certificate(_ certificate: NIOSSLCertificate, matches name: String) -> Bool {
        let wanted = name.lowercased()
        return ListenerTLS.names(of: certificate).contains { pattern in
            if pattern == wanted { return true }
            guard pattern.hasPrefix("*."), let dot = wanted.firstIndex(of: ".") else { return false }
            return wanted[wanted.startIndex..<dot].isEmpty == false && pattern.dropFirst() == wanted[dot...]
        }
    }
}

/// Holds back what the session would see of a server connection until its TLS handshake is done: the handshake's
/// outcome (and the name check under `verify required`) completes a promise, and an error before it is not passed
/// on (the connect failed; the caller says so). After it, a close without close_notify is a close.
final class ServerHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let expectedName: String?
    private let promise: EventLoopPromise<Void>
    private var done = false

    init(expectedName: String?, promise: EventLoopPromise<Void>) {
        self.expectedName = expectedName
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event, !done else {
            return context.fireUserInboundEventTriggered(event)
        }
        done = true
        if let name = expectedName {
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                .peerCertificate
            guard let certificate, ServerTLSClient.certificate(certificate, matches: name) else {
                promise.fail(ServerTLSFailure(description: "the server's certificate is not for '\(name)'"))
                context.close(promise: nil)
                return
            }
        }
        promise.succeed(())
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if done {
            // A server that closes without TLS's close_notify has closed, as HAProxy (and OpenSSL) read it: not
            // an error of the session's.
            if case NIOSSLError.uncleanShutdown = error { return }
            return context.fireErrorCaught(error)
        }
        done = true
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(ServerTLSFailure(description: "the server closed the connection during the TLS handshake"))
        }
        context.fireChannelInactive()
    }
}

/// Writes bytes in clear when the connection opens, before the handlers after it (TLS) start: a PROXY protocol
/// header to a TLS server.
final class ClearPrefix: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = ByteBuffer
    private let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

struct ServerTLSFailure: Error, CustomStringConvertible {
    var description: String
}
