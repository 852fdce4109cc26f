import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// `resolvers` sections, the server keywords that use them (`resolvers`, `resolve-prefer`, `resolve-opts`,
/// `resolve-net`) and `server-template`, as HAProxy 2.6 reads them.
extension HAProxyConfigParser {
    /// `resolvers NAME`: the section's place in `configuration.resolvers`.
    mutating func resolversSection(_ args: [String], _ at: SourceLocation) -> Int? {
        guard let name = args.first, !name.isEmpty else {
            alert(at, "missing name for resolvers section.")
            return nil
        }
        if let bad = name.first(where: { !Self.isNameCharacter($0) }) {
            alert(at, "character '\(bad)' is not permitted in 'resolvers' name '\(name)'.")
            return nil
        }
        if let other = configuration.resolvers.first(where: { $0.name == name }) {
            alert(
                at, "resolvers '\(name)' has same name as another resolvers (declared at "
                    + "\(other.location.file):\(other.location.line)).")
            return nil
        }
        configuration.resolvers.append(ResolversSection(name: name, location: at))
        return configuration.resolvers.count - 1
    }

    /// One line of a `resolvers` section.
    mutating func resolversKeyword(_ keyword: String, _ args: [String], _ at: SourceLocation, _ s: inout ResolversSection) {
        switch keyword {
        case "nameserver":
            guard args.count >= 2 else {
                return alert(at, "'nameserver' expects <name> and <addr>[:<port>] as arguments.")
            }
            let name = args[0]
            if let bad = name.first(where: { !Self.isNameCharacter($0) }) {
                return alert(at, "character '\(bad)' is not permitted in server name '\(name)'.")
            }
            if let other = s.nameservers.first(where: { $0.name == name }) {
                return alert(
                    at, "nameserver '\(name)' has same name as another nameserver (declared at "
                        + "\(other.location.file):\(other.location.line)).")
            }
            var text = Self.environmentExpanded(args[1])
            if text.hasPrefix("tcp@") {
                return alert(
                    at,
                    "'nameserver \(name)' : a nameserver over TCP ('\(args[1])') is HAProxy's, not in this build "
                        + "(\(BuildSupport.Family.routing.rawValue)): refused, because "
                        + "\(BuildSupport.Family.routing.consequence).")
            }
            for prefix in ["udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"] where text.hasPrefix(prefix) {
                text.removeFirst(prefix.count)
            }
            guard let (hostOrNil, port) = hostAndPort(text), let host = hostOrNil else {
                return alert(at, "'nameserver \(name)' : invalid address: '\(args[1])'")
            }
            guard let port else { return alert(at, "'nameserver \(name)' : missing port specification in '\(args[1])'") }
            var address = host
            if AddressSet.address(host) == nil {
                guard let resolved = Self.resolve(host) else {
                    return alert(at, "'nameserver \(name)' : invalid address: '\(host)' in '\(args[1])'")
                }
                address = resolved
            }
            s.nameservers.append(.init(name: name, host: address, port: port, location: at))
        case "parse-resolv-conf":
            let file = "/etc/resolv.conf"
            guard let text = TextFile.read(file) else { return alert(at, "failed to open \(file).") }
            let (found, skipped) = ResolversSection.resolvConfNameservers(text, file: file)
            for (line, problem) in skipped { warn(at, "\(file):\(line): \(problem)") }
            for server in found where !s.nameservers.contains(where: { $0.name == server.name }) {
                s.nameservers.append(server)
            }
        case "accepted_payload_size":
            guard let text = args.first else { return alert(at, "'accepted_payload_size' expects <nb> as argument.") }
            guard let n = Int(text), (12...65535).contains(n) else {
                return alert(at, "'accepted_payload_size' must be between 12 and 65535 inclusive (was \(text)).")
            }
            s.payloadSize = n
        case "resolve_retries":
            guard let text = args.first else { return alert(at, "'resolve_retries' expects <nb> as argument.") }
            // HAProxy reads it with atoi: what is not a number is 0, which sends each question once.
            s.retries = max(0, Int(text.prefix { $0.isNumber }) ?? 0)
        case "timeout":
            guard let event = args.first else {
                return alert(at, "'timeout' expects 'retry' or 'resolve' and <time> as arguments.")
            }
            guard event == "retry" || event == "resolve" else {
                return alert(at, "'timeout' expects 'retry' or 'resolve' and <time> as arguments got '\(event)'.")
            }
            guard args.count > 1 else { return alert(at, "'timeout \(event)' expects <time> as argument.") }
            guard let t = resolverTime(args[1], "timeout \(event)", at) else { return }
            if event == "retry" { s.retryInterval = t } else { s.resolveInterval = t }
        case "hold":
            guard args.count > 1 else {
                alert(at, "'hold' expects an <event> and a <time> as arguments.")
                return alert(at, "<event> can be either 'valid', 'nx', 'refused', 'timeout', or 'other'")
            }
            guard let t = resolverTime(args[1], "hold", at) else { return }
            guard let status = ResolversSection.HoldStatus(rawValue: args[0]) else {
                return alert(
                    at,
                    "'hold' unknown <event>: '\(args[0])', expects either 'nx', 'timeout', 'valid', 'obsolete' or 'other'.")
            }
            s.hold[status] = t
        case "resolution_pool_size":
            alert(at, "'resolution_pool_size' directive is not supported anymore (it never appeared in a stable release).")
        default:
            alert(at, "unknown keyword '\(keyword)' in 'resolvers' section")
        }
    }

    /// A time in a `resolvers` section (HAProxy's wording when it is not one).
    private mutating func resolverTime(_ text: String, _ keyword: String, _ at: SourceLocation) -> ConfigTime? {
        guard let t = ConfigTime(text) else {
            let bad = text.first(where: { !$0.isNumber }) ?? " "
            alert(at, "unexpected character '\(bad)' in argument to <\(keyword)>.")
            return nil
        }
        guard t.milliseconds <= Int64(Int32.max) else {
            alert(
                at,
                "timer overflow in argument <\(text)> to <\(keyword)>, maximum value is 2147483647 ms (~24.8 days).")
            return nil
        }
        return t
    }

    /// `server-template PREFIX NUM|LOW-HIGH FQDN[:PORT] [options]`: the servers PREFIXLOW…PREFIXHIGH, each a copy
    /// of the line.
    mutating func serverTemplate(_ args: [String], _ at: SourceLocation, _ p: inout ProxySection) {
        guard args.count >= 3 else {
            return alert(at, "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.")
        }
        let range = args[1].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let low: Int?
        let high: Int?
        if range.count == 2 {
            (low, high) = (Int(range[0]), Int(range[1]))
        } else {
            (low, high) = (Int(args[1]).map { _ in 1 }, Int(args[1]))
        }
        guard let low, let high, low >= 0, high >= max(low, 1) else {
            return alert(at, "Wrong server-template number or range arg '\(args[1])'.")
        }
        guard high - low < 65536 else { return alert(at, "Wrong server-template number or range arg '\(args[1])'.") }
        let prefix = args[0]
        for n in low...high {
            var line = args
            line.removeFirst(2)
            line[0] = Self.environmentExpanded(line[0])
            line.insert("\(prefix)\(n)", at: 0)
            guard var server = serverLine(line, at, template: p.settings.defaultServer) else { return }
            server.templatePrefix = prefix
            if p.servers.contains(where: { $0.name == server.name }) {
                return alert(at, "'server' : another server named '\(server.name)' was already defined in the proxy.")
            }
            p.servers.append(server)
        }
    }

    /// The server keywords of name resolution; false when `word` is none of them.
    mutating func resolveOption(_ args: [String], _ i: inout Int, _ server: inout ServerLine, _ at: SourceLocation)
        -> Bool
    {
        let word = args[i]
        guard ["resolvers", "resolve-prefer", "resolve-opts", "resolve-net"].contains(word) else { return false }
        guard i + 1 < args.count else {
            alert(at, "'server \(server.name)' : '\(word)' expects an argument..")
            return true
        }
        i += 1
        let value = args[i]
        switch word {
        case "resolvers":
            server.resolve.resolvers = value
        case "resolve-prefer":
            guard value == "ipv4" || value == "ipv6" else {
                alert(at, "'server \(server.name)' : 'resolve-prefer' expects either ipv4 or ipv6 as argument..")
                return true
            }
            server.resolve.preferIPv4 = value == "ipv4"
        case "resolve-opts":
            for option in value.split(separator: ",") {
                switch option {
                case "allow-dup-ip": server.resolve.allowDuplicateIP = true
                case "prevent-dup-ip": server.resolve.allowDuplicateIP = false
                case "ignore-weight": server.resolve.ignoreWeight = true
                default:
                    alert(
                        at,
                        "'server \(server.name)' : 'resolve-opts' : unknown resolve-opts option '\(option)', supported "
                            + "methods are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'..")
                    return true
                }
            }
        default:  // resolve-net
            var networks: [String] = []
            for network in value.split(separator: ",").map(String.init) {
                guard case .success = AddressSet.parse([network]) else {
                    alert(at, "'server \(server.name)' : 'resolve-net' invalid network '\(network)'..")
                    return true
                }
                networks.append(network)
            }
            guard !networks.isEmpty else {
                alert(at, "'server \(server.name)' : 'resolve-net' expects a list of networks.")
                return true
            }
            server.resolve.networks = networks
        }
        return true
    }

    /// What only the whole file tells: the sections servers name exist (HAProxy's implicit `default`, from
    /// /etc/resolv.conf, made when none is declared), a section has nameservers.
    mutating func checkResolvers() {
        if !configuration.resolvers.contains(where: { $0.name == "default" }),
            let text = TextFile.read("/etc/resolv.conf")
        {
            let found = ResolversSection.resolvConfNameservers(text, file: "/etc/resolv.conf").found
            if !found.isEmpty {
                var section = ResolversSection(name: "default", location: SourceLocation(file: "<internal>", line: 0))
                section.nameservers = found
                configuration.resolvers.append(section)
            }
        }
        for section in configuration.resolvers where section.nameservers.isEmpty && section.name != "default" {
            warn(
                section.location,
                "resolvers '\(section.name)' [\(section.location.file):\(section.location.line)] has no nameservers "
                    + "configured!")
        }
        for p in configuration.proxies where p.isBackend {
            for server in p.servers {
                if let name = server.resolve.resolvers, !configuration.resolvers.contains(where: { $0.name == name }) {
                    alert(
                        server.location,
                        "\(p.kind.rawValue) '\(p.name)', server '\(server.name)': unable to find required resolvers "
                            + "'\(name)'")
                }
                if server.srvRecord != nil && server.resolve.resolvers == nil {
                    alert(
                        server.location,
                        "'server \(p.name)/\(server.name)' : no method found to resolve address '\(server.host)'.")
                }
            }
        }
    }
}
