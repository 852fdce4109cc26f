import CCrypt
import Synchronization

/// A `userlist` section: users with a password (crypt(3) `password HASH`, or `insecure-password TEXT`) and their
/// groups (`group NAME users A,B`, `user NAME … groups G,H`), as HAProxy 2.6 reads them, and the check of a
/// request's Basic credentials against them (`http_auth`, `http_auth_group`).
public struct Userlist: Hashable, Sendable {
    public enum Password: Hashable, Sendable {
        case hashed(String)
        case plain(String)
    }

    public struct User: Hashable, Sendable {
        public var password: Password?
        public var groups: Set<String> = []
    }

    public var name: String
    public var users: [String: User] = [:]
    public var groups: Set<String> = []

    public init(name: String) { self.name = name }

    /// The user whose `user:password` (an `Authorization: Basic` value, decoded) this is; nil when none.
    func authenticate(_ credentials: [UInt8], cache: CredentialCache?) -> String? {
        guard let colon = credentials.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = String(decoding: credentials[..<colon], as: UTF8.self)
        let password = Array(credentials[(colon + 1)...])
        guard let user = users[name], let expected = user.password else { return nil }
        switch expected {
        case .plain(let text):
            return StatsPage.constantTimeEqual(password, Array(text.utf8)) ? name : nil
        case .hashed(let hash):
            if let cache, cache.holds(list: self.name, credentials: credentials) { return name }
            guard !password.contains(0) else { return nil }
            let matched = (String(decoding: password, as: UTF8.self)).withCString { phrase in
                hash.withCString { tollgate_crypt_matches(phrase, $0) == 1 }
            }
            if matched { cache?.remember(list: self.name, credentials: credentials) }
            return matched ? name : nil
        }
    }
}

extension Userlist {
    /// Whether crypt(3) knows the scheme of `hash` (a hash it cannot compute never matches).
    static func cryptAccepts(_ hash: String) -> Bool {
        hash.withCString { tollgate_crypt_knows($0) == 1 }
    }
}

/// Credentials a crypt(3) hash already accepted, so a client sending the same ones on every request does not cost
/// a hash each time (SHA-512 crypt takes milliseconds, by design). Only a keyed 64-bit digest of each is kept
/// (Swift's per-process-seeded hashing), never the password; at most `limit`, forgotten all at once when full.
final class CredentialCache: Sendable {
    private let accepted = Mutex<Set<Int>>([])
    static let limit = 4096

    private func key(_ list: String, _ credentials: [UInt8]) -> Int {
        var hasher = Hasher()
        hasher.combine(list)
        hasher.combine(credentials)
        return hasher.finalize()
    }

    func holds(list: String, credentials: [UInt8]) -> Bool {
        let key = key(list, credentials)
        return accepted.withLock { $0.contains(key) }
    }

    func remember(list: String, credentials: [UInt8]) {
        let key = key(list, credentials)
        accepted.withLock { set in
            if set.count >= Self.limit { set.removeAll() }
            set.insert(key)
        }
    }
}
