import NIOCore
import NIOSSL

/// What a client's connection to a TLS listener carried, for HAProxy's `ssl_fc_*` and `ssl_c_*` fetches: the SNI
/// it asked for (read from its ClientHello on the way in, see `ClientHelloSNIReader`), the protocol agreed and the
/// certificate it presented (see `HandshakeFailureLogger`). Written on the connection's event loop before its
/// session reads it, and only there.
final class ClientTLS: @unchecked Sendable {
    /// `ssl_fc_sni`.
    var sni: String?
    var version: TLSVersion?
    /// The client's certificate (`ssl_c_used`, `ssl_fc_has_crt`, `ssl_c_s_dn`, `ssl_c_i_dn`), verified against
    /// the bind's `ca-file` (a certificate that fails ends the handshake, so `ssl_c_verify` is 0).
    var certificate: NIOSSLCertificate?

    /// `ssl_fc_protocol`: `TLSv1.2`, `TLSv1.3`…
    var protocolName: String {
        switch version {
        case .tlsv1?: "TLSv1"
        case .tlsv11?: "TLSv1.1"
        case .tlsv12?: "TLSv1.2"
        case .tlsv13?: "TLSv1.3"
        default: ""
        }
    }

    /// `ssl_c_s_dn` / `ssl_c_i_dn`: OpenSSL's one-line form HAProxy gives (`/C=FR/O=Example/CN=name`).
    static func oneLine(_ names: [SSLCertificateName]) -> String {
        let short: [(SSLCertificateNameType, String)] = [
            (.country, "C"), (.state, "ST"), (.city, "L"), (.organization, "O"), (.organizationalUnit, "OU"),
            (.commonName, "CN"), (.emailAddress, "emailAddress"), (.userId, "UID"),
        ]
        return names.map { name in
            let key = short.first { $0.0 == name.type }?.1 ?? "?"
            return "/\(key)=\(name.value)"
        }.joined()
    }

    var subjectDN: String { certificate.map { Self.oneLine($0.subjectName) } ?? "" }
    var issuerDN: String { certificate.map { Self.oneLine($0.issuerName) } ?? "" }
}

/// First in a TLS listener's pipeline (after a PROXY protocol header's reader): reads the SNI of the ClientHello
/// going by (see `ClientHelloPeek`) into the connection's `ClientTLS`, passes every byte on untouched, and leaves
/// once the hello is read (or is none, or 16 kB went by).
final class ClientHelloSNIReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let info: ClientTLS
    private var seen: [UInt8] = []
    private var done = false

    init(_ info: ClientTLS) { self.info = info }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            seen += unwrapInboundIn(data).readableBytesView
            switch ClientHelloPeek(seen).sni {
            case .value(let name):
                info.sni = name
                done = true
            case .absent:
                done = true
            case .needMore:
                done = seen.count >= ProxyRuntime.bufferSize
            }
            if done { seen = [] }
        }
        context.fireChannelRead(data)
        if done { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}
