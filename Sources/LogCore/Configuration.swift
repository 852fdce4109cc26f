/// A place in a configuration file, for messages that name it (haproxy.cfg and rsyslog.conf alike).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(file):\(line)" }
}

/// A warning or error about a configuration, with its place, worded for the person who wrote the file as the
/// program it was written for words its own: HAProxy's `[ALERT] parsing [haproxy.cfg:7] : message` (`haproxy -c`)
/// for the proxy, `rsyslog.conf:7: error: message` for the sink.
public struct ConfigDiagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case warning, error }
    public enum Wording: Hashable, Sendable {
        /// `[ALERT] parsing [file:line] : message` / `[WARNING] …`.
        case haproxy
        /// `file:line: error: message` / `… warning: …`.
        case plain
    }
    public var severity: Severity
    public var location: SourceLocation
    public var message: String
    public var wording: Wording

    public init(severity: Severity, location: SourceLocation, message: String, wording: Wording = .plain) {
        self.severity = severity
        self.location = location
        self.message = message
        self.wording = wording
    }

    public var description: String {
        switch wording {
        case .haproxy: "[\(severity == .error ? "ALERT" : "WARNING")] parsing [\(location)] : \(message)"
        case .plain: "\(location): \(severity.rawValue): \(message)"
        }
    }
}

/// `HOST:PORT` as a configuration or a command line writes it, read one way for the whole package: `HOST`,
/// `HOST:PORT`, `[V6]` and `[V6]:PORT`, `V6:PORT` (the last colon starts the port, as HAProxy reads it), and
/// `:PORT` or `*:PORT` (no host: every address, or the caller's default). Each caller then applies its own
/// defaults and checks (a port required, 1…65535, a valid name).
public struct HostPort: Hashable, Sendable {
    /// nil: none written (or `*`).
    public var host: String?
    public var port: Int?

    /// What text without a colon is: a host (haproxy.cfg's `server s1 db1`, rsyslog's `@loghost`) or a port
    /// (`--metrics 9514`).
    public enum Bare: Sendable { case host, port }

    /// nil when malformed: an unclosed `[`, text after `]` other than `:PORT`, a port that is not a number in
    /// 0…65535.
    public init?(_ text: some StringProtocol, bare: Bare = .host) {
        var hostText: Substring
        var portText: Substring?
        let text = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostText = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                return nil
            }
        } else if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else if bare == .port {
            hostText = ""
            portText = text
        } else {
            hostText = text
        }
        if let portText {
            guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), port <= 65535 else {
                return nil
            }
            self.port = port
        }
        host = hostText.isEmpty || hostText == "*" ? nil : String(hostText)
    }
}

/// `--root DIR` (tests and the demo): every path the configuration names, placed under DIR; the path itself
/// without a root. A relative path is taken from the root too.
public func underRoot(_ path: String, _ root: String?) -> String {
    guard let root, !root.isEmpty else { return path }
    let base = root.hasSuffix("/") ? String(root.dropLast()) : root
    return base + (path.hasPrefix("/") ? path : "/" + path)
}
