import LogCore

/// A `peers NAME` section as HAProxy 2.6 reads it: the proxies that share stick tables over the peers protocol,
/// one of them this process (the peer named as `localpeer`, `-L`, or the host name), and the tables declared in it
/// (`table NAME …`, known elsewhere as `NAME/TABLE`).
public struct PeersSection: Hashable, Sendable {
    public struct Peer: Hashable, Sendable {
        public var name: String
        /// Where it listens (nil: a `server NAME` line without an address, the local peer of a section with `bind`).
        public var host: String?
        public var port: Int?
        /// The local peer: this process (its address is where it listens for the others).
        public var isLocal = false
        public var location: SourceLocation
    }

    public var name: String
    public var location: SourceLocation
    public var peers: [Peer] = []
    /// `bind ADDR:PORT` (with `server` lines): where the local peer listens.
    public var bind: Address?

    public struct Address: Hashable, Sendable {
        /// nil: every address.
        public var host: String?
        public var port: Int
    }
    /// `disabled`: the section is ignored (its tables are not shared).
    public var disabled = false
    /// The `table` lines, named `SECTION/TABLE`.
    public var tables: [StickTableSchema] = []

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }

    /// This process's entry (nil when no peer carries the local name: the section is then removed, as HAProxy
    /// does).
    public var local: Peer? { peers.first { $0.isLocal } }

    /// Where the local peer listens: its `peer` line's address, else the section's `bind`.
    public var listenAddress: (host: String?, port: Int)? {
        if let local, let port = local.port { return (local.host, port) }
        return bind.map { ($0.host, $0.port) }
    }

    /// Whether HAProxy made the section's frontend (a `peer`, `server`, `bind` or `table` line): `haproxy -c`
    /// counts it as a listener.
    public var hasFrontend: Bool { !peers.isEmpty || !tables.isEmpty || bind != nil }

    /// The others, whom this process connects to.
    public var remotes: [Peer] { peers.filter { !$0.isLocal } }
}
