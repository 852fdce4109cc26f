#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading a configuration file whole, for the programs' parsers.
public enum TextFile {
    /// The file's text (invalid UTF-8 repaired), or nil when it cannot be opened (`errno` says why).
    public static func read(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The file's bytes, or nil when it cannot be opened (`errno` says why).
    public static func bytes(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        return bytes
    }
}

/// This machine's name (gethostname).
public enum HostName {
    /// The full name, or the part before the first dot with `short`; `localhost` when the system has none.
    public static func current(short: Bool = false) -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        var bytes = name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        if short, let dot = bytes.firstIndex(of: 0x2E) { bytes = Array(bytes[..<dot]) }
        return bytes.isEmpty ? "localhost" : String(decoding: bytes, as: UTF8.self)
    }
}
