import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import SwiftASN1
import X509

/// TLS syslog (RFC 5425) with BoringSSL through swift-nio-ssl: the contexts a listener and a forward use, what a peer's
/// certificate says, the listener's check of each peer, and the forward's connection.
///
/// BoringSSL checks the chain (CA, dates) during the handshake; `PeerAuthorization` then decides on the names or the
/// fingerprint, as rsyslog's drivers do after theirs. In `x509/fingerprint` the gtls driver checks no chain, so
/// neither does this one (the ossl driver does).
enum TLSContexts {
    /// The context of a TLS listener (imtcp with `StreamDriver.Mode="1"`).
    static func server(_ tls: StreamTLS) throws -> NIOSSLContext {
        guard let certFile = tls.certFile, let keyFile = tls.keyFile else {
            throw StreamDriverError("a TLS listener needs a certificate and a key")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try loadCertificates(certFile).map { .certificate($0) },
            privateKey: .privateKey(try loadKey(keyFile)))
        try verification(tls, into: &configuration)
        return try NIOSSLContext(configuration: configuration)
    }

    /// The context of a TLS forward (omfwd with `StreamDriverMode="1"`).
    static func client(_ tls: StreamTLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let certFile = tls.certFile, let keyFile = tls.keyFile {
            configuration.certificateChain = try loadCertificates(certFile).map { .certificate($0) }
            configuration.privateKey = .privateKey(try loadKey(keyFile))
        }
        try verification(tls, into: &configuration)
        return try NIOSSLContext(configuration: configuration)
    }

    /// Whether the handshake checks the peer's chain itself, and against which CA.
    private static func verification(_ tls: StreamTLS, into configuration: inout TLSConfiguration) throws {
        switch tls.authMode {
        case .anon:
            configuration.certificateVerification = .none
        case .certValid, .name, .fingerprint:
            configuration.certificateVerification = .noHostnameVerification
            if let caFile = tls.caFile {
                configuration.trustRoots = .certificates(try loadCertificates(caFile))
            } else {
                configuration.trustRoots = .certificates([])
            }
        }
        configuration.minimumTLSVersion = .tlsv12
    }

    /// Whether the handshake takes any certificate and leaves the decision to `PeerAuthorization` (gtls's
    /// fingerprint mode checks no chain).
    static func acceptsAnyChain(_ tls: StreamTLS) -> Bool { tls.authMode == .fingerprint && tls.driver == .gtls }

    static func loadCertificates(_ path: String) throws -> [NIOSSLCertificate] {
        do {
            let certificates = try NIOSSLCertificate.fromPEMFile(path)
            guard !certificates.isEmpty else { throw StreamDriverError("\(path) holds no PEM certificate") }
            return certificates
        } catch let error as StreamDriverError {
            throw error
        } catch {
            throw StreamDriverError("cannot read the certificate file \(path): \(readableReason(path))")
        }
    }

    static func loadKey(_ path: String) throws -> NIOSSLPrivateKey {
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw StreamDriverError("cannot read the key file \(path): \(readableReason(path))")
        }
    }

    private static func readableReason(_ path: String) -> String {
        FileManager.default.isReadableFile(atPath: path) ? "not a PEM file this build reads" : "missing or unreadable"
    }

    /// Why a handshake failed, in words (BoringSSL's reason, without NIO's wrapping or source paths).
    static func reason(_ error: any Error) -> String {
        if let error = error as? StreamDriverError { return error.description }
        guard let ssl = error as? NIOSSLError else { return "TLS: \(SinkServer.reason(error))" }
        switch ssl {
        case .handshakeFailed(let inner): return handshakeReason("\(inner)")
        case .uncleanShutdown: return "the peer closed the connection during the TLS handshake"
        default: return "TLS: \(ssl)"
        }
    }

    /// BoringSSL's reason code (`…:OPENSSL_internal:REASON at file:line`) as rsyslog words it where it has words.
    static func handshakeReason(_ text: String) -> String {
        var code = text
        if text.contains("EOF during handshake") { return "the peer closed the connection during the TLS handshake" }
        if let r = text.range(of: "OPENSSL_internal:") {
            code = String(text[r.upperBound...].prefix { $0 != " " && $0 != "]" && $0 != ")" })
        }
        switch code {
        case "PEER_DID_NOT_RETURN_A_CERTIFICATE":
            return "peer did not provide a certificate, not permitted to talk to it"
        case "CERTIFICATE_VERIFY_FAILED":
            return "not permitted to talk to peer, certificate invalid (not issued by the CA, expired or not yet valid)"
        case "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_DECRYPT_ERROR":
            return "the peer refused our certificate (TLS alert \(code))"
        case "WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNEXPECTED_RECORD":
            return "the peer does not speak TLS"
        default:
            return "TLS handshake failed: \(code)"
        }
    }
}

extension PeerAuthorization.Certificate {
    /// What `certificate` says, read with swift-certificates.
    init(_ certificate: NIOSSLCertificate) throws {
        let der = try certificate.toDERBytes()
        let parsed = try X509.Certificate(derEncoded: der)
        var dnsNames: [String] = []
        if let names = try parsed.extensions.subjectAlternativeNames {
            for name in names { if case .dnsName(let n) = name { dnsNames.append(n) } }
        }
        var commonNames: [String] = []
        var line = ""
        for rdn in parsed.subject {
            for attribute in rdn {
                let value = String(attribute.value) ?? attribute.value.description
                if attribute.type == .RDNAttributeType.commonName { commonNames.append(value) }
                let key = attribute.description.split(separator: "=", maxSplits: 1).first.map(String.init) ?? "?"
                line += "/\(key)=\(value)"
            }
        }
        var purposes: Set<Purpose>?
        if let usage = try parsed.extensions.extendedKeyUsage {
            var set = Set<Purpose>()
            if usage.contains(.serverAuth) { set.insert(.serverAuth) }
            if usage.contains(.clientAuth) { set.insert(.clientAuth) }
            if usage.contains(.any) { set.insert(.any) }
            purposes = set
        }
        self.init(
            dnsNames: dnsNames, commonNames: commonNames, subjectLine: line,
            sha1: Self.fingerprint("SHA1", Insecure.SHA1.hash(data: der)),
            sha256: Self.fingerprint("SHA256", SHA256.hash(data: der)), purposes: purposes)
    }

    static func fingerprint<D: Sequence>(_ kind: String, _ digest: D) -> String where D.Element == UInt8 {
        let hex = Array("0123456789ABCDEF")
        return kind + digest.map { ":" + String(hex[Int($0 >> 4)]) + String(hex[Int($0 & 15)]) }.joined()
    }
}

/// A TLS listener's parts: the context, made once at start (a bad certificate or key stops the input there), and
/// what each connection's pipeline gets in front of the input's own handlers.
struct TLSListener: Sendable {
    let context: NIOSSLContext
    let authorization: PeerAuthorization
    let anyChain: Bool

    init(_ tls: StreamTLS) throws {
        context = try TLSContexts.server(tls)
        authorization = PeerAuthorization(tls, role: .server)
        anyChain = TLSContexts.acceptsAnyChain(tls)
    }

    /// The TLS handler and the peer check, counting refusals into the input's `tls-refused`.
    func add(to channel: any Channel, name: String, ruleset: NIOLoopBound<Ruleset>) throws {
        try channel.pipeline.syncOperations.addHandler(
            anyChain
                ? NIOSSLServerHandler(
                    context: context, customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) })
                : NIOSSLServerHandler(context: context))
        try channel.pipeline.syncOperations.addHandler(
            TLSPeerCheckHandler(authorization: authorization, name: name) {
                ruleset.value.counters(for: name).tlsRefused += 1
            })
    }
}

/// The listener's check of a TLS peer, just behind the TLS handler: once the handshake is done it asks
/// `PeerAuthorization`; a refused peer is logged with rsyslog's reason, counted, and its connection closed before a
/// byte of it reaches the rules. A failed handshake is logged and counted the same way.
final class TLSPeerCheckHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let authorization: PeerAuthorization
    private let refused: () -> Void
    private let name: String
    private enum State { case handshaking, permitted, refused }
    private var state = State.handshaking

    init(authorization: PeerAuthorization, name: String, refused: @escaping () -> Void) {
        self.authorization = authorization
        self.name = name
        self.refused = refused
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let peer = context.channel.remoteAddress?.ipAddress ?? "?"
        let certificate: PeerAuthorization.Certificate?
        do {
            certificate = try context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
                .map(PeerAuthorization.Certificate.init)
        } catch {
            refuse(context, "\(name): TLS peer \(peer): its certificate cannot be read: \(error)")
            return
        }
        switch authorization.decide(certificate) {
        case .permitted:
            state = .permitted
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .refused(let reason):
            refuse(context, "\(name): TLS peer \(peer): \(reason)")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing passes before the decision (TLS delivers none before the handshake's end, which decides).
        if state == .permitted { context.fireChannelRead(data) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard state == .handshaking else {
            context.fireErrorCaught(error)
            return
        }
        let peer = context.channel.remoteAddress?.ipAddress ?? "?"
        refuse(context, "\(name): TLS peer \(peer): \(TLSContexts.reason(error))")
    }

    private func refuse(_ context: ChannelHandlerContext, _ message: String) {
        guard state == .handshaking else { return }
        state = .refused
        refused()
        sinkLog(message)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TLSPeerCheckHandler: Sendable {}

/// A forward's TLS connection, driven from the forward's own thread: a TCP connection it made itself, handed to NIO
/// with the TLS handler, the peer checked before the first message is written. It counts the bytes TLS puts on the
/// wire, so that the forward can still tell from the kernel's send queue what the collector has acknowledged.
final class TLSClientStream: @unchecked Sendable {
    let channel: any Channel
    private let counter: WireCounter

    private init(channel: any Channel, counter: WireCounter, inbound: Inbound) {
        self.channel = channel
        self.counter = counter
        self.inbound = inbound
    }

    /// What the collector sent since the last read (RELP's answers), and whether it closed.
    final class Inbound: Sendable {
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
    }
    private let inbound: Inbound

    /// What the collector sent, waiting up to `wait` for something; nil once the connection is closed and read.
    func read(wait: Duration) -> [UInt8]? {
        let deadline = ContinuousClock.now + wait
        while true {
            let (bytes, closed) = inbound.state.withLock { state -> ([UInt8], Bool) in
                defer { state.bytes.removeAll(keepingCapacity: true) }
                return (state.bytes, state.closed)
            }
            if !bytes.isEmpty { return bytes }
            if closed || !channel.isActive { return nil }
            if ContinuousClock.now >= deadline { return [] }
            usleep(2_000)
        }
    }

    /// Bytes handed to the kernel on this connection (handshake and records).
    var wireBytes: UInt64 { counter.total.withLock { $0 } }
    var isOpen: Bool { channel.isActive }

    /// Runs TLS over the connected `descriptor` (owned by the stream from here on, closed on failure) and checks the
    /// collector as `authorization` says; fails with the reason when the handshake or the check fails.
    static func open(
        descriptor: Int32, context: NIOSSLContext, tls: StreamTLS, host: String, timeout: Duration
    ) -> Result<TLSClientStream, ForwardError> {
        let counter = WireCounter()
        let inbound = Inbound()
        // The watcher is made here, not looked up in the pipeline later: a handshake that fails at once removes it.
        let watcher = ClientHandshakeWatcher(
            MultiThreadedEventLoopGroup.singleton.any().makePromise(of: NIOSSLCertificate?.self), inbound: inbound)
        let authorization = PeerAuthorization(tls, role: .client, target: host)
        // gtls names the collector (SNI) unless the target is an address.
        let serverName = tls.driver == .gtls && !host.isAddressLiteral ? host : nil
        let anyChain = TLSContexts.acceptsAnyChain(tls)
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WireCountingHandler(counter))
                    let handler =
                        anyChain
                        ? try NIOSSLClientHandler(
                            context: context, serverHostname: serverName,
                            customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) })
                        : try NIOSSLClientHandler(context: context, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.withConnectedSocket(descriptor).wait()
        } catch {
            Glibc.close(descriptor)
            return .failure(ForwardError(message: "TLS: \(SinkServer.reason(error))"))
        }
        do {
            let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
                watcher.fail(StreamDriverError("the TLS handshake took longer than \(timeout)"))
            }
            defer { deadline.cancel() }
            let certificate = try watcher.handshake.wait()
            let facts = try certificate.map(PeerAuthorization.Certificate.init)
            if case .refused(let reason) = authorization.decide(facts) {
                channel.close(promise: nil)
                return .failure(ForwardError(message: reason))
            }
        } catch {
            channel.close(promise: nil)
            return .failure(ForwardError(message: TLSContexts.reason(error)))
        }
        return .success(TLSClientStream(channel: channel, counter: counter, inbound: inbound))
    }

    /// Writes `bytes` as TLS records and waits until the kernel took them; false when the connection failed, or
    /// made no progress for `timeout`, or `giveUp` says so while waiting.
    func write(_ bytes: [UInt8], timeout: Duration, giveUp: () -> Bool) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Bool?>(nil)
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(buffer).whenComplete { outcome in
            result.withLock { $0 = (try? outcome.get()) != nil }
            done.signal()
        }
        let started = ContinuousClock.now
        var lastWire = wireBytes
        var lastProgress = started
        while done.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            let wire = wireBytes
            if wire != lastWire {
                lastWire = wire
                lastProgress = .now
            }
            if ContinuousClock.now - lastProgress > timeout || giveUp() && ContinuousClock.now - lastProgress > .seconds(1) {
                channel.close(promise: nil)
                done.wait()
                return false
            }
        }
        return result.withLock { $0 } ?? false
    }

    func close() {
        try? channel.close().wait()
    }
}

extension String {
    /// An IPv4 or IPv6 address rather than a name.
    var isAddressLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}

/// Counts the bytes written to the socket (the first handler of the pipeline, so it sees TLS's records).
final class WireCounter: Sendable {
    let total = Mutex<UInt64>(0)
}

private final class WireCountingHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let counter: WireCounter
    init(_ counter: WireCounter) { self.counter = counter }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let n = UInt64(unwrapOutboundIn(data).readableBytes)
        counter.total.withLock { $0 += n }
        context.write(data, promise: promise)
    }
}

/// Reports the end of a forward's handshake with the collector's certificate, or its failure.
private final class ClientHandshakeWatcher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var promise: EventLoopPromise<NIOSSLCertificate?>?
    private(set) var handshake: EventLoopFuture<NIOSSLCertificate?>

    private let inbound: TLSClientStream.Inbound

    /// Its promise may be of any loop; the watcher is used on the channel's loop only.
    init(_ promise: EventLoopPromise<NIOSSLCertificate?>, inbound: TLSClientStream.Inbound) {
        self.promise = promise
        self.inbound = inbound
        handshake = promise.futureResult
    }

    func fail(_ error: any Error) {
        promise?.fail(error)
        promise = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            promise?.succeed(certificate ?? nil)
            promise = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A syslog collector says nothing; a RELP one answers, and the forward's thread reads it.
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        inbound.state.withLock { $0.bytes.append(contentsOf: bytes) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbound.state.withLock { $0.closed = true }
        promise?.fail(StreamDriverError("the collector closed the connection during the TLS handshake"))
        promise = nil
        context.fireChannelInactive()
    }
}

#if canImport(Glibc)
    import Glibc
#endif
