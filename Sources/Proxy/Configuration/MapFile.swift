import LogCore

/// A map file of HAProxy's `map*` converters (`map(FILE[,DEFAULT])`, `map_beg`, `map_dom`…), read when the
/// configuration is: one `KEY VALUE` a line (the value is the rest of the line), blank lines and `#` comments
/// skipped. A key is looked up as the converter's match says: whole (`map`, `map_str`), at the start (`map_beg`),
/// at the end (`map_end`), anywhere (`map_sub`), as `.`-delimited components (`map_dom`), or as a regular expression
/// (`map_reg`): an exact key by hashing, a prefix the longest (HAProxy's tree), the others in the file's order (the
/// first that matches), as HAProxy 2.6 looks them up.
public struct MapFile: Hashable, Sendable {
    public enum Match: String, Hashable, Sendable, CaseIterable {
        case str, beg, end, sub, dom, reg
    }

    public let path: String
    public let match: Match
    private let entries: [(key: String, value: String)]
    private let exact: [String: String]
    private let regexes: [RewriteRegex]

    /// The map in `text` (the file's content), or the first line whose key is not a regular expression (`map_reg`).
    public static func parse(_ text: String, path: String, match: Match) -> Result<MapFile, BadKey> {
        var entries: [(String, String)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard !trimmed.isEmpty, trimmed.first != "#" else { continue }
            let key = trimmed.prefix { $0 != " " && $0 != "\t" }
            let value = trimmed.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }
            let end = value.lastIndex { $0 != " " && $0 != "\t" && $0 != "\r" }.map { value.index(after: $0) }
            entries.append((String(key), String(value[..<(end ?? value.startIndex)])))
        }
        var regexes: [RewriteRegex] = []
        if match == .reg {
            for (key, _) in entries {
                guard let regex = RewriteRegex(key) else { return .failure(BadKey(key: key)) }
                regexes.append(regex)
            }
        }
        return .success(MapFile(path: path, match: match, entries: entries, regexes: regexes))
    }

    public struct BadKey: Error, Equatable {
        public let key: String
    }

    private init(path: String, match: Match, entries: [(key: String, value: String)], regexes: [RewriteRegex]) {
        self.path = path
        self.match = match
        self.entries = entries
        self.regexes = regexes
        var exact: [String: String] = [:]
        if match == .str {
            for (key, value) in entries where exact[key] == nil { exact[key] = value }
        }
        self.exact = exact
    }

    /// The value for `sample`, or nil when no key matches.
    public func lookup(_ sample: String) -> String? {
        switch match {
        case .str: return exact[sample]
        case .beg:
            // HAProxy keeps prefixes in a tree: the longest key that starts the sample (the first of equals).
            var best: (key: String, value: String)?
            for entry in entries where sample.hasPrefix(entry.key) && entry.key.count > (best?.key.count ?? -1) {
                best = entry
            }
            return best?.value
        case .end: return entries.first { sample.hasSuffix($0.key) }?.value
        case .sub: return entries.first { $0.key.isEmpty || sample.contains($0.key) }?.value
        case .dom:
            return entries.first {
                ACLTest.containsWord(Array(sample.utf8), Array($0.key.utf8), delimiter: UInt8(ascii: ".")) { a, b in
                    a.elementsEqual(b)
                }
            }?.value
        case .reg:
            for (i, regex) in regexes.enumerated() where regex.rewrite(Substring(sample), with: "") != nil {
                return entries[i].value
            }
            return nil
        }
    }

    public static func == (a: MapFile, b: MapFile) -> Bool {
        a.path == b.path && a.match == b.match && a.entries.elementsEqual(b.entries) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(path)
        hasher.combine(match)
        hasher.combine(entries.count)
    }
}
