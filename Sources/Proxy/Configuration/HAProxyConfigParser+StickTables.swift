import LogCore

/// Stick tables as HAProxy 2.6 reads them: `stick-table`, the `track-sc` and `sc-*` actions, the counter criteria
/// (`sc*_…`, `src_…`), and `stick on|match|store-request`.
extension HAProxyConfigParser {
    /// `stick-table type T [len N] size N [expire T] [nopurge] [store D,…]…`.
    mutating func stickTable(_ args: [String], _ at: SourceLocation, _ p: inout ProxySection) {
        if let earlier = p.stickTable {
            return alert(
                at, "stick-table name '\(p.name)' conflicts with table declared in \(p.kind.rawValue) '\(p.name)' at "
                    + "\(earlier.location.file):\(earlier.location.line).")
        }
        if let other = configuration.proxies.first(where: { $0.name == p.name && $0.stickTable != nil }),
            let earlier = other.stickTable
        {
            return alert(
                at, "stick-table name '\(p.name)' conflicts with table declared in \(other.kind.rawValue) "
                    + "'\(other.name)' at \(earlier.location.file):\(earlier.location.line).")
        }
        if let table = parseStickTable(args, at, name: p.name) { p.stickTable = table }
    }

    /// A `stick-table` line's words (a proxy's, or a `peers` section's `table` line after its name): nil after an
    /// alert.
    mutating func parseStickTable(_ args: [String], _ at: SourceLocation, name: String) -> StickTableSchema? {
        var type: StickTableSchema.KeyType?
        var explicitLength = false
        var length: Int?
        var size: Int?
        var expire: UInt32?
        var noPurge = false
        var stored: [StickData: UInt32] = [:]
        var peers: String?
        var i = 0
        func value() -> String? { i + 1 < args.count ? args[i + 1] : nil }
        while i < args.count {
            let word = args[i]
            switch word {
            case "type":
                guard let name = value() else { return alerted(at, "stick-table: missing type.") }
                guard let kind = StickTableSchema.KeyType(rawValue: name) else {
                    return alerted(at, "stick-table: unknown type '\(name)'.")
                }
                type = kind
                i += 2
                if (kind == .string || kind == .binary), args.dropFirst(i).first == "len" {
                    guard let text = value(), let n = Int(text), n > 0 else {
                        return alerted(at, "stick-table: missing length for key type '\(name)'.")
                    }
                    length = n
                    explicitLength = true
                    i += 2
                }
                continue
            case "size":
                guard let text = value(), let n = Self.sizeValue(text) else {
                    return alerted(at, "stick-table: invalid size '\(value() ?? "")'.")
                }
                size = n
            case "expire":
                guard let text = value(), let time = ConfigTime(text) else {
                    let bad = value()?.first { !$0.isNumber } ?? " "
                    return alerted(at, "stick-table: unexpected character '\(bad)' in argument of 'expire'.")
                }
                guard time.milliseconds <= Int64(Int32.max) else {
                    return alerted(at, "stick-table: timer overflow in argument '\(text)' to 'expire' (maximum value is 2147483647 ms or ~24.8 days)")
                }
                expire = UInt32(time.milliseconds)
            case "nopurge":
                noPurge = true
                i += 1
                continue
            case "store":
                guard let list = value() else { return alerted(at, "stick-table: missing data type list for 'store'.") }
                for item in list.split(separator: ",") {
                    var name = String(item)
                    var period: UInt32 = 0
                    if let open = name.firstIndex(of: "("), name.hasSuffix(")") {
                        let inside = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
                        name = String(name[..<open])
                        guard let time = ConfigTime(inside), time.milliseconds > 0 else {
                            return alerted(at, "stick-table: invalid period '\(inside)' for data type '\(name)'.")
                        }
                        period = UInt32(clamping: time.milliseconds)
                    }
                    guard let data = StickData.byName[name] else {
                        if Self.otherStickData.contains(name) {
                            return alerted(
                                at, "stick-table: the data type '\(name)' is HAProxy's, not in this build (stick "
                                    + "tables, trackers and rate limits): refused, because "
                                    + "\(BuildSupport.Family.stickTables.consequence). See docs/not-in-this-build.md.")
                        }
                        return alerted(at, "stick-table: unknown store option '\(name)'.")
                    }
                    guard data.isRate == (period > 0) else {
                        return alerted(
                            at, data.isRate
                                ? "stick-table: missing argument for data type '\(name)'."
                                : "stick-table: data type '\(name)' takes no argument.")
                    }
                    stored[data] = period
                }
            case "peers":
                guard let section = value() else { return alerted(at, "stick-table: missing name for 'peers'.") }
                peers = section
            case "srvkey", "write-to", "recv-only":
                return alerted(
                    at, "stick-table: '\(word)' is HAProxy's, not in this build (stick tables, trackers and rate "
                        + "limits): refused, because \(BuildSupport.Family.stickTables.consequence). See "
                        + "docs/not-in-this-build.md.")
            default:
                return alerted(
                    at, "stick-table: unknown argument '\(word)' (expects 'type', 'size', 'expire', 'nopurge', "
                        + "'peers' or 'store').")
            }
            i += 2
        }
        guard let type else {
            alert(at, "stick-table: missing type.")
            return nil
        }
        guard let size else {
            alert(at, "stick-table: missing size.")
            return nil
        }
        var schema = StickTableSchema(name: name, keyType: type, size: size, location: at)
        if let length { schema.keyLength = length }
        schema.explicitLength = explicitLength
        schema.expire = expire
        schema.noPurge = noPurge
        schema.stored = stored
        schema.peers = peers
        return schema
    }

    /// `alert`, for a function that answers nil after one.
    mutating func alerted<T>(_ at: SourceLocation, _ message: String) -> T? {
        alert(at, message)
        return nil
    }

    /// HAProxy's data types this build does not keep (the arrays of 2.5, the server's key).
    static let otherStickData: Set<String> = ["gpt", "gpc", "gpc_rate", "server_key", "server_name"]

    /// A size with HAProxy's `k`, `m`, `g` suffixes (powers of 1024).
    static func sizeValue(_ text: String) -> Int? {
        let units: [Character: Int] = ["k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30]
        if let last = text.last, let unit = units[last] {
            return Int(text.dropLast()).flatMap { $0 > 0 ? $0 * unit : nil }
        }
        return Int(text).flatMap { $0 > 0 ? $0 : nil }
    }

    /// `track-scN KEY [table NAME]` after its verb (`args[0]`); the words after it (a condition). `layer4`: only
    /// what a connection has before any byte (`tcp-request connection`). Nil after an alert.
    mutating func stickTracking(
        _ rule: String, _ args: [String], _ at: SourceLocation, layer4: Bool
    ) -> (StickTracking, [String])? {
        let verb = args[0]
        guard let n = Int(verb.dropFirst("track-sc".count)), (0...2).contains(n) else {
            alert(at, "'\(rule) \(verb)' : \(verb.dropFirst("track-sc".count)) track-sc number exceeding 2 (MAX_SESS_STKCTR-1) value")
            return nil
        }
        guard args.count >= 2 else {
            alert(at, "'\(rule) \(verb)' : missing fetch method.")
            return nil
        }
        let expression = args[1]
        guard let key = StickKeyFetch.parse(expression) else {
            alert(
                at, "'\(rule) \(verb) \(expression)' : this build tracks src, dst, src_port, dst_port, req.hdr(NAME), "
                    + "hdr(NAME), req.fhdr(NAME), path, url, base, query, base32, url32, base32+src, url32+src and "
                    + "ssl_fc_sni, without converters: refused, because "
                    + "\(BuildSupport.Family.stickTables.consequence).")
            return nil
        }
        if layer4 && !key.isLayer4 {
            alert(
                at, "'\(rule) \(verb)' : fetch method '\(expression)' extracts information from 'HTTP request "
                    + "headers,HTTP response headers', none of which is available here")
            return nil
        }
        var rest = Array(args.dropFirst(2))
        var table = currentProxyName
        if rest.first == "table" {
            guard rest.count >= 2 else {
                alert(at, "'\(rule) \(verb)' : missing table name after 'table'.")
                return nil
            }
            table = rest[1]
            rest.removeFirst(2)
        }
        tableReferences.append(
            (table, at, "Proxy '\(currentProxyName)': unable to find table '\(table)' referenced by \(verb)."))
        return (StickTracking(counter: n, key: key, table: table), rest)
    }

    /// `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE`: the counter, which one, the value, and the words
    /// after; nil after an alert.
    mutating func counterAction(_ rule: String, _ args: [String], _ at: SourceLocation)
        -> (counter: Int, gpc: Int?, value: Int64?, rest: [String])?
    {
        let verb = args[0]
        for (prefix, gpc) in [("sc-inc-gpc0", 0), ("sc-inc-gpc1", 1), ("sc-set-gpt0", -1)] where verb.hasPrefix(prefix) {
            let inside = verb.dropFirst(prefix.count)
            guard inside.hasPrefix("("), inside.hasSuffix(")"), let n = Int(inside.dropFirst().dropLast()), (0...2).contains(n)
            else {
                alert(at, "'\(rule) \(prefix)' expects a counter number between 0 and 2 in parentheses: \(prefix)(0).")
                return nil
            }
            if gpc >= 0 { return (n, gpc, nil, Array(args.dropFirst())) }
            guard args.count >= 2, let value = Int64(args[1]) else {
                alert(
                    at, "'\(rule) \(prefix)(\(n))' expects an integer value (this build takes no sample expression "
                        + "there).")
                return nil
            }
            return (n, nil, value, Array(args.dropFirst(2)))
        }
        return nil
    }

    /// A counter criterion (`sc_http_req_rate(0) gt 20`, `src_conn_cur ge 10`, `sc0_inc_gpc0 gt 0`): nil when the
    /// word is none (the caller goes on), `.some(nil)` after an alert.
    mutating func counterTest(_ words: [String], _ at: SourceLocation) -> ACLTest?? {
        guard let first = words.first, let parsed = StickCounterFetch.parse(first) else { return nil }
        if let close = first.firstIndex(of: ")"), first.index(after: close) != first.endIndex {
            alert(
                at, "ACL criterion '\(first)' : the converters after '\(first[...close])' are HAProxy's, not in this "
                    + "build (stick tables, trackers and rate limits): refused, because "
                    + "\(BuildSupport.Family.stickTables.consequence).")
            return .some(nil)
        }
        var arguments = parsed.arguments
        let source: StickCounterFetch.Source
        if let known = parsed.source {
            source = known
        } else {
            guard let number = arguments.first.flatMap({ Int($0) }) else {
                alert(
                    at, "fetch method '\(parsed.name)' : expected type 'integer' at position 1, but got "
                        + "\(arguments.first.map { "'\($0)'" } ?? "nothing") in ACL expression '\(parsed.name)'.")
                return .some(nil)
            }
            arguments.removeFirst()
            source = .tracked(number)
        }
        if case .tracked(let n) = source, !(0...2).contains(n) {
            alert(at, "ACL criterion '\(first)' : counter \(n) exceeds 2 (MAX_SESS_STKCTR-1).")
            return .some(nil)
        }
        guard arguments.count <= 1 else {
            alert(at, "ACL criterion '\(first)' : too many arguments.")
            return .some(nil)
        }
        var table = arguments.first.flatMap { $0.isEmpty ? nil : $0 }
        if source == .client && table == nil { table = currentProxyName }
        if let table {
            tableReferences.append(
                (
                    table, at,
                    "unable to find table '\(table)' referenced in arg \(parsed.source == nil ? 2 : 1) of ACL keyword "
                        + "'\(parsed.name)' in proxy '\(currentProxyName)'."
                ))
        }
        let fetch = StickCounterFetch(source: source, value: parsed.value, table: table, name: parsed.name)
        var values = Array(words.dropFirst())
        if values.first == "-m", values.count >= 2, values[1] == "int" || values[1] == "bool" { values.removeFirst(2) }
        var test = ACLTest(sample: .counter(fetch), match: .exact, caseInsensitive: false, values: [])
        if values.isEmpty {
            // A boolean use (`{ sc0_tracked }`, `{ src_inc_gpc0 }`): any value but 0 holds.
            test.ranges = [Int.min...(-1), 1...Int.max]
            return .some(test)
        }
        guard let ranges = ACLTest.integerRanges(values) else {
            alert(at, "ACL criterion '\(first)' expects integers, ranges (N:M) or 'lt|le|gt|ge|eq N'.")
            return .some(nil)
        }
        test.ranges = ranges
        return .some(test)
    }

    /// `stick on|match|store-request KEY [table NAME] [if|unless …]`.
    mutating func stickRule(_ args: [String], _ at: SourceLocation, _ p: inout ProxySection) {
        guard let kindWord = args.first else { return alert(at, "'stick' expects 'on', 'match', 'store-request' or 'store-response'.") }
        guard let kind = StickRule.Kind(rawValue: kindWord) else {
            if kindWord == "store-response" {
                return alert(
                    at, "'stick store-response' is HAProxy's, not in this build (stick tables, trackers and rate "
                        + "limits): refused, because \(BuildSupport.Family.stickTables.consequence). See "
                        + "docs/not-in-this-build.md.")
            }
            return alert(at, "'stick' : unknown keyword '\(kindWord)'; expects 'on', 'match', 'store-request' or 'store-response'.")
        }
        guard p.isBackend else {
            return warn(at, "'stick' ignored because frontend '\(p.name)' has no backend capability.")
        }
        guard args.count >= 2 else { return alert(at, "'stick \(kindWord)' : missing fetch method.") }
        guard let key = StickKeyFetch.parse(args[1]) else {
            return alert(
                at, "'stick \(kindWord) \(args[1])' : this build keys persistence on src, dst, src_port, dst_port, "
                    + "req.hdr(NAME), hdr(NAME), req.fhdr(NAME), path, url, base, query, base32, url32 and ssl_fc_sni, "
                    + "without converters: refused, because \(BuildSupport.Family.stickTables.consequence).")
        }
        if p.settings.mode != .http && !key.isLayer4 {
            return alert(
                at, "'stick \(kindWord)' : fetch method '\(args[1])' extracts information from 'HTTP request "
                    + "headers', which a 'mode tcp' \(p.kind.rawValue) does not read.")
        }
        var rest = Array(args.dropFirst(2))
        var table = p.name
        if rest.first == "table" {
            guard rest.count >= 2 else { return alert(at, "'stick \(kindWord)' : missing table name after 'table'.") }
            table = rest[1]
            rest.removeFirst(2)
        }
        guard let condition = ruleCondition(rest, at, p.rules) else { return }
        tableReferences.append(
            (table, at, "Proxy '\(p.name)': unable to find stick-table '\(table)'."))
        p.stickRules.append(StickRule(kind: kind, key: key, table: table, condition: condition.value))
    }

    /// Every table named exists; a table used for persistence stores `server_id` (as HAProxy adds it).
    mutating func checkStickTables() {
        let tables = configuration.stickTables
        for reference in tableReferences where tables[reference.table] == nil {
            alert(reference.at, reference.missing)
        }
        for i in configuration.proxies.indices {
            for rule in configuration.proxies[i].stickRules {
                guard let owner = configuration.proxies.firstIndex(where: { $0.stickTable?.name == rule.table }) else {
                    continue
                }
                configuration.proxies[owner].stickTable?.stored[.serverID] = 0
                configuration.proxies[owner].stickTable?.storesServerKey = true
            }
        }
    }
}
