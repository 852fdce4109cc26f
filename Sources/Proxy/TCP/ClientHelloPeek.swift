/// What the first bytes a client sent say about a TLS ClientHello, read as HAProxy 2.6's `req.ssl_hello_type` and
/// `req.ssl_sni` read them (src/payload.c): without decrypting or consuming anything, so a TCP frontend can route a
/// TLS connection it passes through by the name the client asks for, and a TLS listener can know the SNI
/// (`ssl_fc_sni`) before its handshake. A fetch either has a value, has none (not TLS, no SNI, malformed), or needs
/// more bytes (HAProxy's "may change": a rule waits for them until `tcp-request inspect-delay` ends).
struct ClientHelloPeek: Equatable, Sendable {
    enum Fetch<Value: Equatable & Sendable>: Equatable, Sendable {
        case value(Value)
        case absent
        case needMore
    }

    /// `req.ssl_hello_type`: the first handshake message's type (1, ClientHello), once the whole message is there.
    let helloType: Fetch<Int>
    /// `req.ssl_sni`: the host name of the ClientHello's server_name extension, once the whole hello is there.
    let sni: Fetch<String>

    init(_ bytes: [UInt8]) {
        helloType = Self.helloType(bytes)
        sni = Self.serverName(bytes)
    }

    private static func helloType(_ data: [UInt8]) -> Fetch<Int> {
        guard let first = data.first else { return .needMore }
        // An SSLv3-or-later record (change_cipher_spec…application_data, or 0xFF as HAProxy lets through).
        guard (0x14...0x17).contains(first) || first == 0xFF else { return .absent }
        guard data.count >= 9 else { return .needMore }
        guard data[1] >= 3 else { return .absent }
        guard Int(data[3]) << 8 | Int(data[4]) >= 4 else { return .absent }
        let length = Int(data[6]) << 16 | Int(data[7]) << 8 | Int(data[8])
        guard data.count >= 9 + length else { return .needMore }
        return .value(Int(data[5]))
    }

    private static func serverName(_ data: [UInt8]) -> Fetch<String> {
        guard let first = data.first else { return .needMore }
        guard first == 0x16 else { return .absent }
        guard data.count >= 3 else { return .needMore }
        guard data[1] >= 3 else { return .absent }
        guard data.count >= 5 else { return .needMore }
        // Long enough to hold a hello with an extension: type, length, version, random, session id length, one
        // cipher, one compression method, the extensions' length.
        guard Int(data[3]) << 8 | Int(data[4]) >= 49 else { return .absent }
        guard data.count >= 6 else { return .needMore }
        guard data[5] == 0x01 else { return .absent }
        guard data.count >= 9 else { return .needMore }
        var left = Int(data[6]) << 16 | Int(data[7]) << 8 | Int(data[8])
        guard left >= 45 else { return .absent }
        // The whole hello (HAProxy does not reassemble a hello spread over several records, nor does this).
        guard data.count >= 9 + left else { return .needMore }
        var at = 9
        guard data[at] >= 3, data[at + 1] >= 1 else { return .absent }
        let sessionID = Int(data[at + 34])
        guard sessionID <= 32, sessionID <= left - 35 else { return .absent }
        left -= 35 + sessionID
        at += 35 + sessionID
        guard left >= 4 else { return .absent }
        let ciphers = Int(data[at]) << 8 | Int(data[at + 1])
        guard ciphers >= 2, ciphers <= left else { return .absent }
        left -= 2 + ciphers
        at += 2 + ciphers
        guard left >= 2 else { return .absent }
        let methods = Int(data[at])
        guard methods >= 1, methods <= left else { return .absent }
        left -= 1 + methods
        at += 1 + methods
        guard left >= 2 else { return .absent }
        let extensions = Int(data[at]) << 8 | Int(data[at + 1])
        guard extensions <= left - 2 else { return .absent }
        left = extensions
        at += 2
        while left >= 4 {
            let type = Int(data[at]) << 8 | Int(data[at + 1])
            let length = Int(data[at + 2]) << 8 | Int(data[at + 3])
            guard length <= left - 4 else { return .absent }
            if type == 0 {
                guard length >= 2 else { return .absent }
                let list = Int(data[at + 4]) << 8 | Int(data[at + 5])
                guard list >= 4, list <= left - 6, length >= 5 else { return .absent }
                if data[at + 6] == 0 {
                    // A host name, within its extension (HAProxy trusts the length; here it must fit).
                    let nameLength = Int(data[at + 7]) << 8 | Int(data[at + 8])
                    guard 9 + nameLength <= 4 + length else { return .absent }
                    return .value(String(decoding: data[(at + 9)..<(at + 9 + nameLength)], as: UTF8.self))
                }
            }
            left -= 4 + length
            at += 4 + length
        }
        return .absent
    }
}
