import LogCore

/// `peers` sections as HAProxy 2.6 reads them: `peer NAME ADDR:PORT` lines (or `bind` with `server` lines), `table`
/// declarations, `disabled`/`enabled`; and what only the whole file tells (a table's `peers` section exists and
/// holds this process).
extension HAProxyConfigParser {
    /// `peers NAME`: the section's place in `configuration.peers`, nil after an alert.
    mutating func peersSection(_ args: [String], _ at: SourceLocation) -> Int? {
        guard let name = args.first, !name.isEmpty else {
            alert(at, "missing name for peers section.")
            return nil
        }
        if args.count > 1 {
            alert(at, "'peers' cannot handle unexpected argument '\(args[1])'.")
            return nil
        }
        if let bad = name.first(where: { !Self.isNameCharacter($0) }) {
            alert(at, "character '\(bad)' is not permitted in 'peers' name '\(name)'.")
            return nil
        }
        if let other = configuration.peers.first(where: { $0.name == name }) {
            alert(
                at, "peers section '\(name)' has the same name as another peers section declared at "
                    + "\(other.location.file):\(other.location.line).")
        }
        configuration.peers.append(PeersSection(name: name, location: at))
        return configuration.peers.count - 1
    }

    /// HAProxy's `invalid_char`: names take letters, digits, `.`, `-`, `_` and `:`.
    static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-" || c == "_" || c == ":")
    }

    /// One line of a `peers` section.
    mutating func peersKeyword(_ keyword: String, _ args: [String], _ at: SourceLocation, _ s: inout PeersSection) {
        switch keyword {
        case "peer", "server":
            peerLine(keyword, args, at, &s)
        case "bind":
            if peerLines.contains(s.name) { return alert(at, "mixing \"peer\" and \"bind\" line is forbidden") }
            guard let text = args.first else { return alert(at, "'bind' expects [addr1]:port1[-end1] as argument.") }
            if s.bind != nil {
                return alert(
                    at, "One listener per \"peers\" section is authorized but another is already configured.")
            }
            guard let (host, port) = hostAndPort(Self.withoutFamily(Self.environmentExpanded(text))), let port else {
                return alert(at, "'bind \(text)' : invalid address: '\(text)' (expected [address]:port)")
            }
            if let option = args.dropFirst().first {
                return peerOptionRefused(option, at, line: "bind")
            }
            s.bind = PeersSection.Address(host: host, port: port)
            bindLines.insert(s.name)
            if !s.peers.contains(where: \.isLocal) {
                // The local peer is named by its `server` line; until then it has only this address.
                pendingLocalBind[s.name] = at
            }
        case "default-bind", "default-server":
            if let option = args.first { return peerOptionRefused(option, at, line: keyword) }
        case "table":
            guard let name = args.first else { return alert(at, "'table' expects a name as argument.") }
            let full = s.name + "/" + name
            let others = configuration.stickTableList
            if let other = others.first(where: { $0.name == full || $0.name == name }) {
                return alert(
                    at, "stick-table name '\(name)' conflicts with table declared in peers '\(s.name)' at "
                        + "\(other.location.file):\(other.location.line).")
            }
            guard var table = parseStickTable(Array(args.dropFirst()), at, name: full) else { return }
            if let named = table.peers, named != s.name {
                return alert(at, "'table \(name)': a table of peers section '\(s.name)' cannot be shared through '\(named)'.")
            }
            table.peers = s.name
            s.tables.append(table)
        case "disabled":
            s.disabled = true
        case "enabled":
            s.disabled = false
        case "log":
            // The peers section's own log targets: HAProxy logs nothing of the peers' sessions through them.
            guard !args.isEmpty else { return alert(at, "'log' expects either <address[:port]> and <facility> or 'global' as arguments.") }
        default:
            alert(at, "unknown keyword '\(keyword)' in 'peers' section")
        }
    }

    /// `peer NAME ADDR:PORT` or `server NAME [ADDR:PORT]`.
    private mutating func peerLine(_ keyword: String, _ args: [String], _ at: SourceLocation, _ s: inout PeersSection) {
        guard let name = args.first else { return alert(at, "'\(keyword)' expects <name> and <addr>[:<port>] as arguments.") }
        if keyword == "peer" {
            if bindLines.contains(s.name) {
                pendingLocalBind[s.name] = nil
                return alert(at, "mixing \"peer\" and \"bind\" line is forbidden")
            }
            peerLines.insert(s.name)
        }
        let isLocal = name == localPeer
        if isLocal, let earlier = s.local {
            return alert(
                at, "'\(keyword) \(name)' : local peer name already referenced at "
                    + "\(earlier.location.file):\(earlier.location.line). \(earlier.name)")
        }
        if let other = s.peers.first(where: { $0.name == name }) {
            return alert(
                at, "'\(keyword) \(name)' : peer name already referenced at \(other.location.file):\(other.location.line).")
        }
        var peer = PeersSection.Peer(name: name, isLocal: isLocal, location: at)
        var rest = Array(args.dropFirst())
        // A `server` line of the local peer has no address (the section's `bind` is its address).
        let needsAddress = keyword == "peer" || !isLocal
        if needsAddress || (rest.first.map { !$0.hasPrefix("-") && Self.looksLikeAddress($0) } ?? false) {
            guard let text = rest.first else {
                return alert(at, "'\(keyword) \(name)' : invalid address: '' in ''")
            }
            guard let (host, port) = hostAndPort(Self.withoutFamily(Self.environmentExpanded(text))), let host, let port else {
                return alert(at, "'\(keyword) \(name)' : invalid address: '\(text)' (expected address:port)")
            }
            peer.host = host
            peer.port = port
            rest.removeFirst()
        }
        var i = 0
        while i < rest.count {
            let option = rest[i]
            switch option {
            case "check", "no-check", "init-addr", "resolvers", "agent-check":
                // HAProxy ignores them for peers, with this warning.
                warn(at, "'\(keyword) \(name)' : init_addr, resolvers, check and agent are ignored for peers.")
                i += option == "check" || option == "no-check" || option == "agent-check" ? 1 : 2
            default:
                return peerOptionRefused(option, at, line: "\(keyword) \(name)")
            }
        }
        s.peers.append(peer)
        pendingLocalBind[s.name] = nil
    }

    /// Options on peers' lines (`ssl`, `crt`, `send-proxy`…): the peers connections of this build are plain TCP.
    private mutating func peerOptionRefused(_ option: String, _ at: SourceLocation, line: String) {
        alert(
            at, "'\(line)': the option '\(option)' is not carried out on peers connections by this build (they are "
                + "plain TCP, without TLS or PROXY headers): refused, because the tables would be shared in another "
                + "way than the file asks. See docs/not-in-this-build.md.")
    }

    private static func withoutFamily(_ text: String) -> String {
        for prefix in ["ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"] where text.hasPrefix(prefix) {
            return String(text.dropFirst(prefix.count))
        }
        return text
    }

    private static func looksLikeAddress(_ text: String) -> Bool {
        text.contains(":") || text.first?.isNumber == true
    }

    /// An address literal that routes on the Internet (a host name is not judged: it is resolved when connecting).
    static func isPublicAddress(_ host: String) -> Bool {
        guard let a = AddressSet.address(host) else { return false }
        if a >> 32 == 0xFFFF {
            let v4 = UInt32(truncatingIfNeeded: a)
            let privateRanges: [(UInt32, Int)] = [
                (0x0A00_0000, 8), (0xAC10_0000, 12), (0xC0A8_0000, 16), (0x7F00_0000, 8), (0xA9FE_0000, 16),
                (0x6440_0000, 10), (0xC000_0200, 24), (0xC633_6400, 24), (0xCB00_7100, 24), (0, 32),
            ]
            return !privateRanges.contains { net, bits in v4 >> (32 - bits) == net >> (32 - bits) }
        }
        let top = UInt16(truncatingIfNeeded: a >> 112)
        if a == 1 || a == 0 { return false }
        if top & 0xFE00 == 0xFC00 || top & 0xFFC0 == 0xFE80 { return false }
        if top == 0x2001 && UInt16(truncatingIfNeeded: a >> 96) == 0x0DB8 { return false }
        return true
    }

    /// `localpeer NAME` in global (`-L` wins; after a `peers` section it comes too late, as HAProxy warns).
    mutating func localPeerKeyword(_ args: [String], _ at: SourceLocation) {
        guard let name = args.first, !name.isEmpty else { return alert(at, "'localpeer' expects a name as an argument.") }
        if args.count > 1 { return alert(at, "'localpeer' cannot handle unexpected argument '\(args[1])'.") }
        if localPeerFromCommandLine {
            return warn(at, "'localpeer' ignored since it is already set by using the '-L' command line argument.")
        }
        if !configuration.peers.isEmpty {
            return warn(at, "'localpeer' ignored since it is used after 'peers' section.")
        }
        localPeer = name
    }

    /// What only the whole file tells: each table's `peers` section exists and holds this process; a section
    /// without it is removed (as HAProxy warns), a disabled one shares nothing.
    mutating func checkPeers() {
        configuration.localPeer = localPeer
        for (name, at) in pendingLocalBind {
            alert(at, "peers section '\(name)': 'bind' without a 'server' line naming the local peer '\(localPeer)'.")
        }
        for i in configuration.proxies.indices {
            guard let table = configuration.proxies[i].stickTable, let name = table.peers else { continue }
            let proxy = configuration.proxies[i].name
            guard let section = configuration.peers.first(where: { $0.name == name }) else {
                alert(table.location, "Proxy '\(proxy)': unable to find sync peers '\(name)'.")
                continue
            }
            if section.disabled {
                configuration.proxies[i].stickTable?.peers = nil
            } else if section.local == nil {
                // HAProxy warns and runs the table unshared; a limit meant for the fleet would apply per proxy.
                alert(
                    table.location,
                    "Proxy '\(proxy)': unable to find local peer '\(localPeer)' in peers section '\(name)' (its table "
                        + "would not be shared: name this process with 'localpeer' or -L).")
            }
        }
        for i in configuration.peers.indices {
            let section = configuration.peers[i]
            if section.disabled {
                for t in section.tables.indices { configuration.peers[i].tables[t].peers = nil }
            } else if section.local == nil
                && tableReferences.contains(where: { $0.table.hasPrefix(section.name + "/") })
            {
                // HAProxy removes the section and keeps its tables, unshared: a rule using one would count per proxy.
                alert(
                    section.location,
                    "peers section '\(section.name)': no peer named '\(localPeer)', so its tables would not be shared: "
                        + "name this process with 'localpeer' or -L.")
            } else if section.local == nil {
                warn(section.location, "Removing incomplete section 'peers \(section.name)' (no peer named '\(localPeer)').")
            } else if let open = section.peers.first(where: { $0.host.map(Self.isPublicAddress) == true }) {
                alert(
                    open.location,
                    "peers section '\(section.name)': peer '\(open.name)' is at \(open.host ?? ""), a public address: the "
                        + "peers protocol has neither authentication nor encryption, so its traffic is kept to private "
                        + "networks (loopback, RFC 1918, RFC 6598, link-local, unique-local IPv6, documentation "
                        + "ranges). Put the peers on a private network or a tunnel.")
            } else if section.listenAddress == nil {
                alert(section.location, "peers section '\(section.name)': the local peer '\(localPeer)' has no address to listen on.")
            }
        }
    }
}
