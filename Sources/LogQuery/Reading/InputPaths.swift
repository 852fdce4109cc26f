#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns the paths a user gave into the files to read, in the order to read them.
public enum InputPaths {
    /// Expands patterns the shell left alone (`'/var/log/haproxy.log*'`), then puts rotated sets in time order:
    /// `haproxy.log.2.gz haproxy.log.1 haproxy.log`, oldest first, whatever order they were named in.
    public static func resolve(_ paths: [String]) -> [String] {
        var expanded: [String] = []
        for path in paths {
            if path != "-" && path.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) && access(path, F_OK) != 0 {
                let matches = expand(path)
                expanded += matches.isEmpty ? [path] : matches
            } else {
                expanded.append(path)
            }
        }
        return inRotationOrder(expanded)
    }

    /// `name`, `name.N`, `name.N.gz` → (name, N), N = 0 for the live file.
    static func rotation(_ path: String) -> (base: String, generation: Int) {
        var p = Substring(path)
        if p.hasSuffix(".gz") { p = p.dropLast(3) }
        if let dot = p.lastIndex(of: "."), let n = Int(p[p.index(after: dot)...]), n >= 0 {
            return (String(p[..<dot]), n)
        }
        return (String(p), 0)
    }

    /// Stable: files of one rotated set are ordered oldest (highest generation) first; the sets keep the order
    /// in which their first file was named.
    static func inRotationOrder(_ paths: [String]) -> [String] {
        var order: [String] = []
        var sets: [String: [(String, Int)]] = [:]
        for path in paths {
            let (base, generation) = rotation(path)
            if sets[base] == nil { order.append(base) }
            sets[base, default: []].append((path, generation))
        }
        return order.flatMap { base in
            (sets[base] ?? []).enumerated().sorted { a, b in
                a.element.1 != b.element.1 ? a.element.1 > b.element.1 : a.offset < b.offset
            }.map(\.element.0)
        }
    }

    static func expand(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { i in
            result.gl_pathv[i].map {
                String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self)
            }
        }
    }
}
