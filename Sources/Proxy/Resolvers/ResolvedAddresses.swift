/// The addresses a name resolved to, as a `resolvers` section keeps them between answers, and how HAProxy 2.6
/// hands them to the servers that resolve that name (`resolv_get_ip_from_response`). Value types, no I/O.
public struct ResolvedAddresses: Hashable, Sendable {
    /// One address: 4 bytes (IPv4) or 16 (IPv6) in network order, the XXH32 key HAProxy's tree orders it by, and
    /// when an answer last had it (milliseconds, monotonic).
    public struct Item: Hashable, Sendable {
        public var bytes: [UInt8]
        public var key: UInt32
        public var lastSeen: Int64
    }

    /// In HAProxy's tree order: by key (XXH32 of the bytes, seeded with the record type), then as they came.
    public private(set) var items: [Item] = []

    public init() {}

    /// A valid answer's addresses at `now`: those already kept are seen again, new ones join in key order, and those
    /// the answer left out go once unseen for longer than `obsolete` milliseconds (`hold obsolete`; 0: at once).
    public mutating func update(with addresses: [[UInt8]], now: Int64, obsolete: Int64) {
        for bytes in addresses {
            if let i = items.firstIndex(where: { $0.bytes == bytes }) {
                items[i].lastSeen = now
                continue
            }
            let key = XXH32.hash(bytes, seed: bytes.count == 4 ? 1 : 28)
            let item = Item(bytes: bytes, key: key, lastSeen: now)
            let at = items.firstIndex(where: { $0.key > key }) ?? items.count
            items.insert(item, at: at)
        }
        items.removeAll { now - $0.lastSeen > obsolete }
    }

    /// What a server asks of the addresses.
    public struct Wish: Hashable, Sendable {
        /// `resolve-prefer ipv4` (else IPv6 is preferred, HAProxy's default).
        public var preferIPv4: Bool
        /// `resolve-net`: the networks whose addresses are preferred.
        public var networks: AddressSet
        /// `resolve-opts allow-dup-ip`.
        public var allowDuplicates: Bool
        /// `resolve-opts ignore-weight`: an SRV record's weight is not the server's.
        public var ignoresWeight: Bool

        public init(
            preferIPv4: Bool, networks: AddressSet = AddressSet(), allowDuplicates: Bool = false,
            ignoresWeight: Bool = false
        ) {
            self.preferIPv4 = preferIPv4
            self.networks = networks
            self.allowDuplicates = allowDuplicates
            self.ignoresWeight = ignoresWeight
        }
    }

    /// The address for a server that has `current` (nil: none), when `taken` are the addresses other servers of its
    /// backend resolving the same name have: its own if still there; else the best by HAProxy's score (preferred
    /// family 8, a `resolve-net` network 4, not taken 2, its own 1; the first of equals in key order), an address
    /// taken by another server being left out unless duplicates are allowed. nil: none is left for it.
    public func choose(for wish: Wish, current: [UInt8]?, taken: Set<[UInt8]>) -> [UInt8]? {
        if let current, items.contains(where: { $0.bytes == current }) { return current }
        var best: (score: Int, bytes: [UInt8])?
        for item in items {
            var score = 0
            if (item.bytes.count == 4) == wish.preferIPv4 { score += 8 }
            if AddressSet.address(bytes: item.bytes).map(wish.networks.contains) == true { score += 4 }
            if taken.contains(item.bytes) {
                guard wish.allowDuplicates else { continue }
            } else {
                score += 2
            }
            if item.bytes == current { score += 1 }
            if score > (best?.score ?? -1) { best = (score, item.bytes) }
        }
        return best?.bytes
    }
}
