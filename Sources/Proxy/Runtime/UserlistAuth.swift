import NIOHTTP1

/// The configuration's userlists as the HTTP rules use them (`http_auth`, `http_auth_group`): the request's
/// `Authorization: Basic` credentials checked against a list, with the hashes already accepted remembered (see
/// `CredentialCache`).
struct UserlistAuth: Sendable {
    let lists: [String: Userlist]
    let cache = CredentialCache()
    /// Where refused logins go (`http login refused …`), as the stats page's do.
    let audit: AuditTrail?

    /// The user name of a request's `Authorization: Basic` value (whatever its password), for the audit trail.
    static func claimedUser(_ headers: HTTPHeaders) -> String? {
        guard let header = headers["authorization"].first else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Base64.decode(parts[1].trimmingCharacters(in: .whitespaces))
        else { return "" }
        return String(decoding: decoded.prefix { $0 != UInt8(ascii: ":") }, as: UTF8.self)
    }

    /// The user of `list` the request's credentials are, or nil (none sent, not Basic, unknown user, wrong password).
    func user(of list: String, _ headers: HTTPHeaders) -> (name: String, groups: Set<String>)? {
        guard let userlist = lists[list], let header = headers["authorization"].first else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Base64.decode(parts[1].trimmingCharacters(in: .whitespaces))
        else { return nil }
        guard let name = userlist.authenticate(decoded, cache: cache) else { return nil }
        return (name, userlist.users[name]?.groups ?? [])
    }
}
