import LogCore

/// A `resolvers` section, as HAProxy 2.6 reads it: the DNS servers asked for the addresses of the servers that
/// name it (`server … resolvers NAME`), and how often and how patiently.
public struct ResolversSection: Hashable, Sendable {
    public var name: String
    public var location: SourceLocation
    /// `nameserver NAME ADDR:PORT` (UDP), and those `parse-resolv-conf` read from /etc/resolv.conf.
    public var nameservers: [Nameserver] = []
    /// `accepted_payload_size` (12…65535; announced in an EDNS0 record, and the largest answer read).
    public var payloadSize = 512
    /// `resolve_retries`: how many times a question is sent before the resolution gives up.
    public var retries = 3
    /// `timeout resolve`: the time between the end of one resolution and the next.
    public var resolveInterval = ConfigTime.milliseconds(1000)
    /// `timeout retry`: how long a question waits for its answer before it is sent again.
    public var retryInterval = ConfigTime.milliseconds(1000)
    /// `hold STATUS TIME`: how long after the last valid answer a server keeps its address when its name gets
    /// this status; `obsolete`, how long an address missing from the answers is kept.
    public var hold: [HoldStatus: ConfigTime] = [
        .nx: .milliseconds(30000), .other: .milliseconds(30000), .refused: .milliseconds(30000),
        .timeout: .milliseconds(30000), .valid: .milliseconds(10000), .obsolete: .milliseconds(0),
    ]

    public enum HoldStatus: String, Hashable, Sendable, CaseIterable {
        case nx, other, refused, timeout, valid, obsolete
    }

    public struct Nameserver: Hashable, Sendable {
        public var name: String
        public var host: String
        public var port: Int
        public var location: SourceLocation
    }

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }

    /// The `nameserver` lines of a resolv.conf text, as HAProxy's `parse-resolv-conf` takes them: UDP on port 53,
    /// each named after its address; what is not an address is left out (with the reason, by line).
    static func resolvConfNameservers(_ text: String, file: String) -> (found: [Nameserver], skipped: [(Int, String)]) {
        var found: [Nameserver] = []
        var skipped: [(Int, String)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.first == "nameserver" else { continue }
            guard words.count > 1 else {
                skipped.append((n + 1, "nameserver line is missing address."))
                continue
            }
            let address = String(words[1])
            guard AddressSet.address(address) != nil else {
                skipped.append((n + 1, "address '\(address)' could not be recognized, nameserver will be excluded."))
                continue
            }
            guard !found.contains(where: { $0.host == address }) else { continue }
            found.append(
                Nameserver(name: address, host: address, port: 53, location: SourceLocation(file: file, line: n + 1)))
        }
        return (found, skipped)
    }
}

/// What a server asks its resolvers (`server … resolvers NAME resolve-prefer … resolve-opts … resolve-net …`).
public struct ServerResolution: Hashable, Sendable {
    /// The `resolvers` section's name (nil: the server's address is not resolved at run time).
    public var resolvers: String?
    /// `resolve-prefer`: the family asked first and scored first (HAProxy's default, IPv6).
    public var preferIPv4 = false
    /// `resolve-net`: networks whose addresses are preferred, in order.
    public var networks: [String] = []
    /// `resolve-opts allow-dup-ip`: a server may take an address another server of its backend, resolving the same
    /// name, has.
    public var allowDuplicateIP = false
    /// `resolve-opts ignore-weight`: an SRV record's weight is not the server's.
    public var ignoreWeight = false

    public init() {}
}
