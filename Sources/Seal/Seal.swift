import Crypto
import Foundation
import LogCore

/// Tamper-evident log files: a file is left exactly as it is written (tail, halog and goaccess read it as before)
/// and a sidecar, `FILE.seal`, records what was written so that an auditor can prove later that it was not edited.
///
/// The sidecar is text, one record per line:
///
///     tollgate-seal 1 ed25519 <public key, hex>        the key that signs (or `hmac-sha256 -`)
///     S <inode> <offset> <line> <previous>             a segment starts at byte <offset>, line <line> (0-based);
///                                                      <previous> is the hash of the last checkpoint before it
///                                                      (of an earlier segment or file), or `-`
///     <8 hex digits>                                   one per line written: a short digest of that line
///     C <lines> <offset> <hash> <signature>            a checkpoint: the file's first <lines> lines, <offset>
///                                                      bytes, and the segment's SHA-256 chain up to there, signed
///
/// A segment's chain is SHA-256 over `tollgate-seal 1 segment <inode> <offset> <previous>\n` then every byte the
/// segment wrote; each checkpoint signs `tollgate-seal 1 <inode> <segment offset> <lines> <offset> <hash>`. The
/// line digests only say *which* line changed; the chain and the signatures say *that* something did.
public enum Seal {
    public static let sidecarSuffix = ".seal"
    static let header = "tollgate-seal 1"

    /// The per-line digest: 32 bits of a multiply–xorshift hash, eight bytes at a time (a locator, not a proof).
    public static func lineDigest(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 32
        return UInt32(truncatingIfNeeded: h)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { ASCII.lowerHex(bytes) }

    static func bytes(hex text: some StringProtocol) -> [UInt8]? { ASCII.bytes(hex: text) }

    /// `hmac:` and at least 32 hex digits: an HMAC-SHA256 secret (signing and verifying keys alike).
    static func hmacSecret(_ text: String, origin: String) throws -> SymmetricKey? {
        guard text.hasPrefix("hmac:") else { return nil }
        guard let secret = bytes(hex: text.dropFirst(5)), secret.count >= 16 else {
            throw SealKey.Failure(description: "\(origin): an HMAC seal key is hmac: and at least 32 hex digits")
        }
        return SymmetricKey(data: secret)
    }

    static func segmentPrefix(inode: UInt64, offset: Int, previous: String) -> String {
        "\(header) segment \(inode) \(offset) \(previous)\n"
    }

    static func signedText(inode: UInt64, segmentOffset: Int, lines: Int, offset: Int, hash: String) -> String {
        "\(header) \(inode) \(segmentOffset) \(lines) \(offset) \(hash)"
    }
}

/// The key a sealed file is signed with: Ed25519 (the verifier needs only the public half) or, as a fallback,
/// an HMAC-SHA256 secret shared with the verifier.
public enum SealKey: Sendable {
    case ed25519(Curve25519.Signing.PrivateKey)
    case hmac(SymmetricKey)
    /// A forward-secure key (`ForwardSecureKey`) and the file it is kept in (rewritten at each evolution).
    case forwardSecure(ForwardSecureKey, file: String)

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a key file: 64 hex digits (an Ed25519 private key, as `logquery seal-key` writes it) or
    /// `hmac:` and the secret in hex.
    public init(file: String) throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Failure(description: "cannot read the seal key \(file)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix(ForwardSecureKey.prefix) {
            guard let key = ForwardSecureKey(text: trimmed) else {
                throw Failure(description: "\(file): a forward-secure seal key is fss1 START INTERVAL EPOCH KEY")
            }
            guard access(file, W_OK) == 0 else {
                throw Failure(description: "\(file): a forward-secure key file must be writable: each new key replaces the last")
            }
            self = .forwardSecure(key, file: file)
            return
        }
        try self.init(text: trimmed, origin: file)
    }

    init(text: String, origin: String) throws {
        if let secret = try Seal.hmacSecret(text, origin: origin) {
            self = .hmac(secret)
            return
        }
        guard let raw = Seal.bytes(hex: text), raw.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else {
            throw Failure(description: "\(origin): a seal key is 64 hex digits (an Ed25519 private key) or hmac:HEX")
        }
        self = .ed25519(key)
    }

    /// A new Ed25519 key: the private key and the public key, each in hex.
    public static func generate() -> (privateKey: String, publicKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        return (Seal.hex(key.rawRepresentation), Seal.hex(key.publicKey.rawRepresentation))
    }

    /// The sidecar's first line names the algorithm and, for Ed25519, the public key.
    var headerLine: String {
        switch self {
        case .ed25519(let key): "\(Seal.header) ed25519 \(Seal.hex(key.publicKey.rawRepresentation))"
        case .hmac: "\(Seal.header) hmac-sha256 -"
        case .forwardSecure(let key, _): key.headerLine
        }
    }

    func sign(_ text: String) -> String {
        switch self {
        case .forwardSecure(let key, _): return key.sign(text)
        case .ed25519(let key):
            return (try? key.signature(for: Data(text.utf8))).map { Seal.hex($0) } ?? "-"
        case .hmac(let secret):
            return Seal.hex(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: secret))
        }
    }
}

/// What verifies checkpoints: an Ed25519 public key, or the HMAC secret.
public enum SealVerificationKey: Sendable {
    case ed25519(Curve25519.Signing.PublicKey)
    case hmac(SymmetricKey)
    /// The first key of a forward-secure chain (`fss1-verify …`).
    case forwardSecure(ForwardSecureVerifier)

    /// `--key`: a file or the text itself — 64 hex digits of an Ed25519 public key, or `hmac:HEX`.
    public init(argument: String) throws {
        let text =
            (FileManager.default.fileExists(atPath: argument)
            ? (try? String(contentsOfFile: argument, encoding: .utf8)) : argument)?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if let secret = try Seal.hmacSecret(text, origin: "--key") {
            self = .hmac(secret)
            return
        }
        if text.hasPrefix(ForwardSecureKey.verifyPrefix) {
            guard let verifier = ForwardSecureVerifier(text: text) else {
                throw SealKey.Failure(description: "a forward-secure verification key is fss1-verify START INTERVAL KEY")
            }
            self = .forwardSecure(verifier)
            return
        }
        guard let raw = Seal.bytes(hex: text), raw.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else {
            throw SealKey.Failure(description: "a public key is 64 hex digits (logquery seal-key writes one)")
        }
        self = .ed25519(key)
    }

    func isValid(_ signature: String, for text: String) -> Bool {
        if case .forwardSecure(let verifier) = self { return verifier.check(signature, for: text)?.valid ?? false }
        guard let bytes = Seal.bytes(hex: signature) else { return false }
        switch self {
        case .ed25519(let key):
            return key.isValidSignature(bytes, for: Data(text.utf8))
        case .hmac(let secret):
            return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Data(text.utf8), using: secret)
        case .forwardSecure:
            return false
        }
    }
}
