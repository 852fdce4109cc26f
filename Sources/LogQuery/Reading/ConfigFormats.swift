import HAProxyLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The custom `log-format`s of a haproxy.cfg (`logquery --config`): each one set in `defaults`, `frontend` or
/// `listen` sections (a backend's is ignored by HAProxy, and here), in file order, each once.
public enum ConfigFormats {
    /// Why a configuration's formats could not be read: the file, the line, the problem.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func read(path: String) throws(Failure) -> [LogFormatReader] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = block.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes.append(contentsOf: block[..<n])
        }
        return try read(text: String(decoding: bytes, as: UTF8.self), file: path)
    }

    public static func read(text: String, file: String) throws(Failure) -> [LogFormatReader] {
        var formats: [LogFormatReader] = []
        var seen: Set<String> = []
        var section = ""
        var sectionName = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let words: [String]
            do {
                words = try HAProxyConfigWords.split(String(raw), at: .init(file: file, line: line, section: sectionName))
            } catch {
                throw Failure(description: "\(file):\(line): \(error.message)")
            }
            guard let keyword = words.first else { continue }
            switch keyword {
            case _ where HAProxyConfigWords.sectionKeywords.contains(keyword):
                section = keyword
                sectionName = words.count > 1 ? words[1] : keyword
            case "log-format" where ["defaults", "frontend", "listen"].contains(section):
                guard words.count == 2 else {
                    throw Failure(description: "\(file):\(line): log-format expects one argument (spaces escaped or quoted)")
                }
                do {
                    // Read as HTTP whatever the mode: a defaults section's format serves the HTTP proxies after it.
                    let format = try CustomLogFormat.parse(words[1], http: true)
                    if seen.insert(words[1]).inserted { formats.append(LogFormatReader(format)) }
                } catch {
                    throw Failure(description: "\(file):\(line): log-format: \(error.description)")
                }
            default:
                continue
            }
        }
        return formats
    }
}
