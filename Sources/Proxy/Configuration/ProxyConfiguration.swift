import LogCore
import SyslogProtocol

/// A duration as haproxy.cfg writes it (`5000ms`, `50s`, `2m`; a bare number is milliseconds), kept in
/// microseconds.
public struct ConfigTime: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var microseconds: Int64
    public init(microseconds: Int64) { self.microseconds = microseconds }
    public static func milliseconds(_ ms: Int64) -> ConfigTime { ConfigTime(microseconds: ms * 1000) }
    public var milliseconds: Int64 { microseconds / 1000 }
    public static func < (a: ConfigTime, b: ConfigTime) -> Bool { a.microseconds < b.microseconds }
    public var description: String {
        microseconds % 1000 == 0 ? "\(microseconds / 1000)ms" : "\(microseconds)us"
    }

    /// `123`, `123ms`, `1.5s` is not accepted by HAProxy (integers only); units us, ms, s, m, h, d.
    public init?(_ text: some StringProtocol) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let factor: Int64
        switch text.dropFirst(digits.count) {
        case "", "ms": factor = 1000
        case "us": factor = 1
        case "s": factor = 1_000_000
        case "m": factor = 60_000_000
        case "h": factor = 3_600_000_000
        case "d": factor = 86_400_000_000
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        microseconds = product
    }
}

/// One `log` target: `log 127.0.0.1 local0 info`, `log /dev/log len 2048 format rfc5424 daemon notice err`.
public struct LogTarget: Hashable, Sendable {
    public enum Address: Hashable, Sendable {
        case udp(host: String, port: Int)
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// `stdout`, `stderr`: one line per message on the descriptor (containers log this way).
        case stream(descriptor: Int32)
    }
    public var address: Address
    public var maxLength: Int
    public var format: HAProxyLogHeaderFormat?
    public var facility: Facility
    /// Lines above this severity (less severe) are not sent.
    public var maxLevel: Severity
    /// Lines below this severity (more severe) are sent at it.
    public var minLevel: Severity
}

/// How the proxy forwards: layer 4 or HTTP.
public enum ProxyMode: String, Hashable, Sendable { case tcp, http }

/// `balance …`.
public enum BalanceAlgorithm: String, Hashable, Sendable {
    case roundrobin, staticRoundRobin = "static-rr", leastconn, source, first, random
    /// `uri`, `url_param NAME`, `hdr(NAME)`: a request's part hashed (see `HashInput`).
    case uri, urlParameter = "url_param", header = "hdr"

    /// Whether the server is chosen by a hash (of the client's address or of the request).
    public var hashes: Bool { self == .source || self == .uri || self == .urlParameter || self == .header }
}

/// The timeouts a proxy may set.
public struct Timeouts: Hashable, Sendable {
    public var connect: ConfigTime?
    public var client: ConfigTime?
    public var server: ConfigTime?
    public var queue: ConfigTime?
    public var check: ConfigTime?
    public var tunnel: ConfigTime?
    public var httpRequest: ConfigTime?
    public var httpKeepAlive: ConfigTime?
    /// `timeout client-fin` / `server-fin`: a side's inactivity timeout once the proxy has shut its output to it
    /// (the connection half-closed), instead of `timeout client` / `server`.
    public var clientFin: ConfigTime?
    public var serverFin: ConfigTime?
    /// `timeout tarpit`: how long `http-request tarpit` holds a request before its answer.
    public var tarpit: ConfigTime?
}

/// What a `defaults` section sets and the proxies after it inherit (and may override).
/// A `log-format` line: its text and where it was written.
public struct LogFormatText: Hashable, Sendable {
    public let text: String
    public let location: SourceLocation
}

public struct ProxySettings: Hashable, Sendable {
    public var mode: ProxyMode = .tcp
    /// `default_backend` in a `defaults` section: the frontends and listens after it start with it.
    public var defaultBackend: String?
    /// `http-reuse never`: a server connection serves one client connection only (kept for its next request,
    /// never given to another client's), as HAProxy keeps it in the session.
    public var httpReuseNever = false
    /// `errorfile CODE FILE`: the response sent instead of HAProxy's page for CODE, as the file holds it (a
    /// whole HTTP response: status line, headers, body), read when the configuration is.
    public var errorFiles: [Int: [UInt8]] = [:]
    /// The `errorfile` and `errorfiles` lines in order (those of `defaults` first), which `errorFiles` comes from
    /// once the `http-errors` sections they name are known.
    public var errorFileSources: [ErrorFileSource] = []
    /// `option forwardfor [except NETWORK] [header NAME] [if-none]`.
    public var forwardFor: ForwardFor?
    /// `option originalto [except NETWORK] [header NAME]` (its header `x-original-to` unless named; no `if-none`).
    public var originalTo: ForwardFor?
    /// `monitor-uri URI`: a request for exactly this URI is answered 200 by the proxy and not logged.
    public var monitorURI: String?
    /// `log global` (the global targets) and the proxy's own `log` lines.
    public var logGlobal = false
    public var logs: [LogTarget] = []
    /// `option NAME` / `no option NAME`, the last one read wins (a name this build does not carry out is refused
    /// when the file is read: it never reaches here).
    public var options: [ProxyOption: Bool] = [:]
    /// `option httplog clf`.
    public var httplogCLF = false
    /// `log-format TEXT` as written and where (nil: `option tcplog`/`httplog` chose the format; the last of them
    /// wins), compiled for the proxy's mode with its samples once the file is read (`customLogFormat`).
    public var logFormat: LogFormatText?
    public var customLogFormat: CompiledLogFormat?
    /// `unique-id-format` (compiled into `uniqueID` once the file is read) and `unique-id-header NAME`.
    public var uniqueIDFormat: LogFormatText?
    public var uniqueID: CompiledLogFormat?
    public var uniqueIDHeader: String?
    /// `option httpchk [METHOD] [URI] [VERSION]` as written (HAProxy's escapes applied).
    public var httpCheck: HTTPCheck?
    public var httpCheckExpect: HTTPCheckExpect?
    /// `http-check disable-on-404`: a server UP that answers its check 404 stops taking new sessions (NOLB).
    public var httpCheckDisableOn404 = false
    public var httpCheckSend: HTTPCheckSend?
    /// `cookie …` (HTTP mode).
    public var cookie: PersistenceCookie?
    /// How many `http-check` rules this section wrote itself.
    public var httpCheckRulesHere = 0
    /// Whether this section wrote `option httpchk` or an `http-check` rule: its first one replaces the request and
    /// rules of `defaults`.
    public var httpCheckOwn = false
    public var retries = 3
    /// `retry-on …`: what a retry answers (by default a failed connection only).
    public var retryOn = RetryOn()
    public var maxconn: Int?
    /// `rate-limit sessions N`: new sessions a second the frontend takes at most (the others wait unaccepted).
    public var sessionRateLimit: Int?
    public var timeouts = Timeouts()
    /// `tcp-request inspect-delay`: how long a TCP frontend waits for what its content rules read (the ClientHello).
    public var inspectDelay: ConfigTime?
    public var balance: BalanceAlgorithm = .roundrobin
    /// `balance random(N)`: how many servers are drawn (the least loaded is taken; HAProxy's default, 2).
    public var randomDraws = 2
    /// `fullconn`: the backend load at which its servers' `minconn` limits reach their `maxconn` (when not written,
    /// a tenth of the `maxconn`s of the frontends that route to it, as HAProxy computes it).
    public var fullconn: Int?
    /// `compression algo|type|offload` (nil: none written).
    public var compression: CompressionSettings?
    /// `balance uri|url_param|hdr`'s arguments, and `hash-type`.
    public var hashInput: HashInput?
    public var hashType = HashType()
    /// `default-server OPTIONS…`: the options every `server` line after it starts from.
    public var defaultServer: ServerLine?
    /// `option tcp-check|mysql-check|redis-check`, and the `tcp-check` rules with their comments (a `comment`
    /// line waits for the rule after it).
    public var checkProtocol: CheckProtocol?
    /// `external-check command CMD` and `external-check path PATH` (the `PATH` the command is looked up in and
    /// gets).
    public var externalCheckCommand: String?
    public var externalCheckPath: String?
    public var tcpCheckRules: [TCPCheck.Rule] = []
    public var tcpCheckComments: [String?] = []
    public var tcpCheckPendingComment: String?
    /// `load-server-state-from-file global|local|none` (and where it is written), `server-state-file-name`.
    public var serverState: ServerStateSource?
    public var serverStateLocation: SourceLocation?
    public var serverStateFileName: String?

    public func option(_ option: ProxyOption) -> Bool { options[option] ?? false }
}

/// The `option` words this build carries out, typed when the file is read (HAProxy 2.6's names).
public enum ProxyOption: String, Hashable, Sendable, CaseIterable {
    case tcplog, httplog, tcpka, clitcpka, srvtcpka, dontlognull
    case dontlogNormal = "dontlog-normal"
    case logSeparateErrors = "log-separate-errors"
    case redispatch, httpchk, allbackups, forwardfor, originalto
    case httpServerClose = "http-server-close"
    case httpclose
    case httpKeepAlive = "http-keep-alive"
    /// With `http-server-close` or `httpclose`, no `Connection: close` on the requests to the servers (the
    /// connection is still closed after the response).
    case httpPretendKeepalive = "http-pretend-keepalive"
    /// A request still in a queue when its client shuts its side is dropped (`CQ`), not kept for the server.
    case abortOnClose = "abortonclose"
    /// The `tcp-check` rules (a connect alone without any).
    case tcpCheck = "tcp-check"
    /// A line for each check result that moves a server's health (HAProxy's `Health check for server …`).
    case logHealthChecks = "log-health-checks"
    /// A session's line as soon as its server is reached (TCP) or has sent its response's head (HTTP), its total
    /// time and bytes so far marked `+`.
    case logasap
    /// HTTP keep-alive: a request goes to the server whose connection the client's connection holds (a private one:
    /// `http-reuse never`, or with a PROXY header), when the balance is not a hash and that server is usable.
    case preferLastServer = "prefer-last-server"
    /// A request's body is received whole (or a buffer's worth, 16 kB) before the rules run and a server is
    /// chosen: a slow client's upload does not hold a server connection.
    case httpBufferRequest = "http-buffer-request"
}

/// `retry-on KEYWORD…`: the failures after which a request is tried again (up to `retries`), as HAProxy 2.6 reads
/// them: a connection that failed (`conn-failure`, the default), and in HTTP mode, once the request went out whole,
/// a close without a response (`empty-response`), an invalid one (`junk-response`), `timeout server` before one
/// (`response-timeout`), or one of these statuses.
public struct RetryOn: Hashable, Sendable {
    public var connectionFailure = true
    public var emptyResponse = false
    public var junkResponse = false
    public var responseTimeout = false
    public var statuses: Set<Int> = []

    public init() {}

    /// Whether anything but a failed connection is retried (the request is then kept to be sent again).
    public var layer7: Bool { emptyResponse || junkResponse || responseTimeout || !statuses.isEmpty }

    /// The statuses `retry-on` takes.
    public static let retryableStatuses: Set<Int> = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504]

    /// The keywords, or HAProxy's words for what is wrong with them.
    public static func parse(_ words: [String]) -> Result<RetryOn, VariableNameError> {
        guard !words.isEmpty else {
            return .failure(VariableNameError(message: "'retry-on' needs at least one keyword to specify when to retry"))
        }
        var r = RetryOn()
        r.connectionFailure = false
        for (i, word) in words.enumerated() {
            switch word {
            case "conn-failure": r.connectionFailure = true
            case "empty-response": r.emptyResponse = true
            case "junk-response": r.junkResponse = true
            case "response-timeout": r.responseTimeout = true
            // TLS early data is never accepted by this build: no request is refused for it.
            case "0rtt-rejected": break
            case "all-retryable-errors":
                r.connectionFailure = true
                r.emptyResponse = true
                r.junkResponse = true
                r.responseTimeout = true
                r.statuses.formUnion([500, 502, 503, 504])
            case "none":
                guard i == 0, words.count == 1 else {
                    return .failure(VariableNameError(message: "'retry-on' 'none' keyworld only usable alone"))
                }
            default:
                guard let status = Int(word), retryableStatuses.contains(status) else {
                    return .failure(VariableNameError(message: "'retry-on': unknown keyword '\(word)'"))
                }
                r.statuses.insert(status)
            }
        }
        return .success(r)
    }
}

/// `option forwardfor`: the client's address in a header to the server, unless the client is in `except`, or the
/// request has the header already and `ifNone`.
public struct ForwardFor: Hashable, Sendable {
    public var except = AddressSet()
    /// In lower case.
    public var header = "x-forwarded-for"
    public var ifNone = false
}

/// `option httpchk`: the request a check sends.
public struct HTTPCheck: Hashable, Sendable {
    public var method = "OPTIONS"
    public var uri = "/"
    /// The version string, and anything written after it (the seed's `HTTP/1.1\r\nHost:\ www`), sent as is.
    public var version = "HTTP/1.0"
    /// False when the section's own `http-check` rules replaced those of `defaults` (its `option httpchk` request
    /// with them) and none of its own sends: HAProxy 2.6 then sends nothing and waits for an answer.
    public var sends = true
}

/// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body TEXT]`: what it names replaces the request line
/// parts of `option httpchk`; its headers and body replace the ones hidden after `option httpchk`'s version.
public struct HTTPCheckSend: Hashable, Sendable {
    public var method: String?
    public var uri: String?
    public var version: String?
    public var headers: [(name: String, value: String)] = []
    public var body: String?

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.method == b.method && a.uri == b.uri && a.version == b.version && a.body == b.body
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(uri)
        hasher.combine(version)
        hasher.combine(body)
        for h in headers {
            hasher.combine(h.name)
            hasher.combine(h.value)
        }
    }
}

/// `http-check expect [!] status|string|rstatus|rstring PATTERN`.
public struct HTTPCheckExpect: Hashable, Sendable {
    public var negated: Bool
    public var kind: String
    public var pattern: String
}

/// `bind [ADDRESS]:PORT[-PORT][,…]`.
public struct BindAddress: Hashable, Sendable {
    /// nil: every address.
    public var host: String?
    public var port: Int
    /// `ssl crt …`: the listener terminates TLS (nil: plain TCP).
    public var tls: BindTLS? = nil
    /// `name`: the listener's name in logs (nil: its number in the frontend).
    public var name: String? = nil
    /// `accept-proxy`: each connection starts with a PROXY protocol header (v1 or v2) giving the client's address.
    public var acceptProxy = false
    /// `v6only` (true) / `v4v6` (false) on an IPv6 address: IPV6_V6ONLY set or cleared (nil: the system's default).
    public var v6Only: Bool?
    /// `interface NAME`: the listener takes only connections arriving on that network interface (SO_BINDTODEVICE).
    public var interface: String?
    /// `transparent`: the address may be one this host does not hold (IP_TRANSPARENT: a virtual IP that moves
    /// between hosts).
    public var transparent = false
    /// `backlog N`: the length of the socket's queue of connections not yet accepted (nil or 0: 1024).
    public var backlog: Int?
    /// A listener on a local socket (`unix@PATH`, `/PATH`, `abns@NAME`; `port` is then 0), and its file's `mode`
    /// and owner (`uid`/`user`, `gid`/`group`; else `unix-bind`'s).
    public var localSocket: LocalSocket?
    public var ownership = UnixBind()
}

/// A TLS listener's settings (`bind … ssl crt FILE|DIR alpn … ssl-min-ver …`), with the global
/// `ssl-default-bind-*` applied.
public struct BindTLS: Hashable, Sendable {
    /// The `crt` arguments: PEM files (certificate, chain and key, or the key in FILE.key) or folders of them, in
    /// order; the first certificate is the default, the others are chosen by SNI.
    public var certificates: [String] = []
    /// A `crt-list` line's SNI filters, by index into `certificates`: the names it serves instead of its own
    /// (`!name`: one of its own taken away).
    public var sniFilters: [Int: [String]] = [:]
    /// `alpn`: the protocols offered, without `h2`, which is not served.
    public var alpn: [String] = []
    public var options = BindTLSOptions()
    /// `strict-sni`: a client whose SNI names no certificate is refused.
    public var strictSNI = false
    /// Whether a `crt` was written (one that could not be read is an alert of its own).
    public var crtGiven = false
    /// `verify none|optional|required`: whether client certificates are asked for, and needed; verified against
    /// `ca-file` (a certificate that fails ends the handshake, as HAProxy without `ca-ignore-err`/`crt-ignore-err`).
    public enum ClientVerify: String, Hashable, Sendable { case none, optional, required }
    public var clientVerify = ClientVerify.none
    public var caFile: String?
    /// `ca-verify-file`: more CAs to verify client certificates against (HAProxy leaves their names out of the
    /// list it sends; BoringSSL through swift-nio-ssl sends every trusted CA's name).
    public var caVerifyFile: String?
    public var crlFile: String?
    public init() {}
}

/// The version and cipher options `bind` and `ssl-default-bind-options` share.
public struct BindTLSOptions: Hashable, Sendable {
    /// `ssl-min-ver`, `ssl-max-ver` (`TLSv1.0`…`TLSv1.3`, as 10…13), and what `no-tlsv1x`/`force-tlsv1x` leave.
    public var minVersion: Int?
    public var maxVersion: Int?
    /// `ciphers` / `ssl-default-bind-ciphers`: the TLS 1.2 cipher list, OpenSSL's syntax.
    public var ciphers: String?
    /// `curves` / `ssl-default-bind-curves` (and `ecdhe`): the key-exchange groups offered, as TLS code points.
    public var curves: [UInt16]?
    /// `no-tls-tickets`: no session resumes from a ticket (each connection's ticket key is its own).
    public var noTickets = false
    public init() {}
}

/// Where a proxy's error files come from, in the order its lines give them.
public enum ErrorFileSource: Hashable, Sendable {
    /// `errorfile CODE FILE`.
    case file(code: Int, bytes: [UInt8])
    /// `errorfiles NAME [CODE…]`: the files of an `http-errors` section (all of them, or those codes).
    case section(name: String, codes: [Int]?, location: SourceLocation)
}

/// An `http-errors NAME` section: `errorfile CODE FILE` lines that proxies take with `errorfiles NAME`.
public struct HTTPErrorsSection: Hashable, Sendable {
    public var name: String
    public var location: SourceLocation
    public var files: [Int: [UInt8]] = [:]
}

/// A server or a listener on a local socket: `unix@/path` or `/path` (a file), `abns@name` (Linux's abstract
/// namespace, the name padded with zeros to the whole address as HAProxy makes it).
public enum LocalSocket: Hashable, Sendable {
    case path(String)
    case abstract(String)

    /// `unix@PATH`, `/PATH`, `abns@NAME`; nil for another address.
    public init?(_ text: String) {
        if text.hasPrefix("unix@") {
            self = .path(String(text.dropFirst(5)))
        } else if text.hasPrefix("/") {
            self = .path(text)
        } else if text.hasPrefix("abns@") {
            self = .abstract(String(text.dropFirst(5)))
        } else {
            return nil
        }
    }

    /// The socket's address as the kernel takes it: a path's bytes, or a zero then the name's.
    public var sunPath: String {
        switch self {
        case .path(let path): path
        case .abstract(let name): "\u{0}" + name
        }
    }
}

/// One `server` line.
public struct ServerLine: Hashable, Sendable {
    public var name: String
    public var host: String
    /// A server on a local socket (`host` then holds the address as written, and `port` is nil).
    public var localSocket: LocalSocket?
    /// nil: the port the client connected to (HAProxy's "no port" form).
    public var port: Int?
    public var check = false
    public var checkPort: Int?
    public var checkAddress: String?
    public var inter: ConfigTime = .milliseconds(2000)
    public var fastinter: ConfigTime?
    public var downinter: ConfigTime?
    public var rise = 2
    public var fall = 3
    public var weight = 1
    public var backup = false
    public var maxconn: Int?
    /// `minconn`: with `maxconn`, the server's limit grows from it to `maxconn` as the backend's load reaches its
    /// `fullconn` (HAProxy's dynamic limit).
    public var minconn: Int?
    public var disabled = false
    /// `init-addr last|libc|none|IP,…`: how the server's name becomes an address at start, in order (empty:
    /// HAProxy's default, `last,libc`).
    public var initAddr: [InitAddr] = []
    /// The address its name resolved to when the file was read (nil: `host` is one, or `noAddress`).
    public var resolvedIP: String?
    /// `init-addr … none` and nothing resolved: the server starts in maintenance (`MAINT (resolution)`).
    public var noAddress = false
    /// `send-proxy` / `send-proxy-v2`: each connection to the server starts with a PROXY protocol header.
    public var sendProxy: ProxyProtocol.Version?
    /// `on-marked-down shutdown-sessions`: its sessions end when its checks take it down.
    public var shutdownSessionsOnDown = false
    /// `slowstart`: after coming UP, the weight ramps up over this long.
    public var slowStart: ConfigTime?
    /// `maxqueue`: at most this many sessions wait in this server's own queue (0: no limit).
    public var maxQueue: Int?
    /// `cookie VALUE`: the value of the backend's persistence cookie that names this server.
    public var cookie: String?
    /// `ssl`, `verify`, `ca-file`, `sni`, `check-ssl`…: TLS to this server.
    public var tls = ServerTLS()
    /// `resolvers`, `resolve-prefer`, `resolve-opts`, `resolve-net`: its name resolved at run time.
    public var resolve = ServerResolution()
    /// `server-template … _service._proto.name`: the SRV record whose targets its servers take, in order (nil: an
    /// address or a host name).
    public var srvRecord: String?
    /// `server-template`: the template's prefix, which its servers share (nil: a `server` line).
    public var templatePrefix: String?
    public var location: SourceLocation
}

/// TLS to a server (`server … ssl verify required ca-file … sni …`), as HAProxy 2.6 reads it.
/// One method of `init-addr`.
public enum InitAddr: Hashable, Sendable {
    /// The address the server-state file gives it.
    case last
    /// The system's resolver (getaddrinfo).
    case libc
    /// No address: the server starts in maintenance.
    case none
    /// This address.
    case address(String)
}

public struct ServerTLS: Hashable, Sendable {
    /// `ssl` (`no-ssl`): the traffic to the server is TLS.
    public var enabled = false
    /// `check-ssl` / `no-check-ssl`; nil: checks use TLS when the traffic does and go to the same address and port.
    public var checkSSL: Bool?
    /// `verify required` (true) / `verify none` (false); nil: the global `ssl-server-verify` (required unless said).
    public var verify: Bool?
    /// `ca-file`: the CAs the server's certificate must chain to (a PEM file or a folder of them; nil with
    /// `systemCA` for `@system-ca`).
    public var caFile: String?
    public var systemCA = false
    /// `crt`: a client certificate (and its key) sent when the server asks for one.
    public var certificate: String?
    /// `sni`: the name sent in the TLS SNI extension (and checked against the certificate under `verify required`).
    public var sni: ServerSNI?
    /// `check-sni`: the SNI of health checks.
    public var checkSNI: String?
    /// `verifyhost`: the name checked against the certificate when no SNI is sent; `no-verifyhost` clears it.
    public var verifyHost: String?
    /// `alpn`: the protocols offered to the server (HTTP/1.1 only is spoken to servers).
    public var alpn: [String] = []
    /// `ssl-min-ver`, `ssl-max-ver`, `no-tlsv1x`, `ciphers`… (from `ssl-default-server-options` and
    /// `ssl-default-server-ciphers` first).
    public var options = BindTLSOptions()
    public init() {}

    /// Whether `verify required` holds, given the global `ssl-server-verify`.
    public func verifies(globalRequired: Bool) -> Bool { verify ?? globalRequired }
}

/// What a server's `sni` expression names.
public enum ServerSNI: Hashable, Sendable {
    /// `str(NAME)`: always this name.
    case fixed(String)
    /// `req.hdr(NAME)` / `hdr(NAME)` (HTTP): the request's header, its last value.
    case requestHeader(String)
    /// `ssl_fc_sni` (HTTP): the name the client asked a TLS listener for (bridged HTTPS).
    case clientSNI
}

/// `cookie NAME [insert] [indirect] [nocache] [postonly] [httponly] [secure] [domain D]… [attr A]…`: cookie-based
/// persistence as HAProxy 2.6 does it in its insert mode and its passive one (without `insert`: the servers set
/// the cookie themselves).
public struct PersistenceCookie: Hashable, Sendable {
    public var name: String
    public var insert = false
    public var indirect = false
    public var nocache = false
    public var postOnly = false
    public var httpOnly = false
    public var secure = false
    public var domains: [String] = []
    public var attributes: [String] = []

    public init(name: String) { self.name = name }
}

/// A `frontend`, `backend` or `listen` section.
public struct ProxySection: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case frontend, backend, listen }
    public var kind: Kind
    public var name: String
    public var settings: ProxySettings
    public var binds: [BindAddress] = []
    public var servers: [ServerLine] = []
    public var defaultBackend: String?
    public var stats = StatsSettings()
    /// `acl`, `use_backend`, `http-request`, `capture`.
    public var rules = HTTPRules()
    /// `stick-table …`: the section's table (named after the section).
    public var stickTable: StickTableSchema?
    /// `stick on|match|store-request …`, in order.
    public var stickRules: [StickRule] = []
    public var location: SourceLocation

    public var isFrontend: Bool { kind != .backend }
    public var isBackend: Bool { kind != .frontend }
}

/// `stats …` in a proxy.
public struct StatsSettings: Hashable, Sendable {
    public var enabled = false
    public var uri = "/haproxy?stats"
    public var credentials: [(user: String, password: String)] = []
    public var realm: String?
    public var refresh: ConfigTime?
    public var hideVersion = false
    /// `stats scope NAME|.`: the proxies the page shows (`.`: the one serving it); empty: every one.
    public var scopes: [String] = []
    /// `stats admin if|unless COND`: the conditions under which the page lets its user change servers' states (the
    /// first that holds grants it).
    public var adminRules: [RuleCondition] = []
    /// `stats http-request allow|deny|auth … [if|unless COND]`: on requests for the page, after the section's
    /// `http-request` rules (an `auth` without a realm asks for "HAProxy Statistics").
    public var requestRules: [HTTPRequestRule] = []
    /// Where the first `stats http-request` rule is (for the conflict with `stats auth`/`realm`).
    public var requestRulesAt: SourceLocation?
    /// Given by a `defaults` section (not written in the proxy): in a `mode tcp` proxy it is dropped with HAProxy's
    /// warning, where one written there is refused.
    public var inherited = false

    public static func == (a: StatsSettings, b: StatsSettings) -> Bool {
        a.enabled == b.enabled && a.uri == b.uri && a.realm == b.realm && a.refresh == b.refresh
            && a.hideVersion == b.hideVersion && a.adminRules == b.adminRules && a.requestRules == b.requestRules
            && a.scopes == b.scopes
            && a.credentials.map(\.user) == b.credentials.map(\.user)
            && a.credentials.map(\.password) == b.credentials.map(\.password)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(enabled)
        hasher.combine(uri)
        hasher.combine(scopes)
        for c in credentials {
            hasher.combine(c.user)
            hasher.combine(c.password)
        }
    }
}

/// The `global` section.
public struct GlobalSettings: Hashable, Sendable {
    /// `tune.comp.maxlevel`: zlib's compression level for `compression` (HAProxy's default, 1).
    public var compressionLevel = 1
    /// `external-check`: external checks may run; `insecure-fork-wanted`: their programs may be started (without
    /// it HAProxy 2.6 cannot fork, and such a check fails).
    public var externalCheck = false
    public var insecureForkWanted = false
    public var logs: [LogTarget] = []
    /// `log-send-hostname [NAME]`: nil when absent; the machine's name when given without one.
    public var logSendHostname: String?
    public var logTag = "haproxy"
    public var maxconn: Int?
    public var daemon = false
    public var pidfile: String?
    public var chroot: String?
    public var user: String?
    public var group: String?
    public var nbthread: Int?
    /// `zero-warning` (or `-dW`): a warning is as fatal as an alert.
    public var zeroWarning = false
    public var node: String?
    public var description: String?
    /// `crt-base`: where relative `crt` paths are.
    public var crtBase: String?
    /// `ssl-default-bind-options` and `ssl-default-bind-ciphers`: what every TLS bind starts from.
    public var defaultBindTLS = BindTLSOptions()
    /// `ssl-default-server-options` and `ssl-default-server-ciphers`: what every server's TLS starts from.
    public var defaultServerTLS = BindTLSOptions()
    /// `ssl-server-verify none|required`: the servers' `verify` when they do not say (required by default).
    public var serverVerifyRequired = true
    /// `ca-base`: where relative `ca-file` paths are.
    public var caBase: String?
    /// `master-worker` (or `-W`): a master process keeps the worker and reloads it.
    public var masterWorker = false
    /// `stats socket`: where the runtime API listens (several may).
    public var statsSockets: [StatsSocket] = []
    /// `unix-bind [prefix P] [mode M] [uid|user U] [gid|group G]`: the defaults of the UNIX-socket `bind` lines of
    /// proxies (HAProxy 2.6 does not apply them to `stats socket`); this build takes no such bind.
    public var unixBind = UnixBind()
    /// `stats timeout`: how long a runtime API connection may stay idle (HAProxy's default, 10 s).
    public var statsTimeout = ConfigTime.milliseconds(10_000)
    /// `stats maxconn`: runtime API connections at once (HAProxy's default, 10).
    public var statsMaxconn = 10
    /// `server-state-base DIR` and `server-state-file FILE` (where the `server-state-file` line is, for its
    /// warnings).
    public var serverStateBase: String?
    public var serverStateFile: String?
    public var serverStateFileLocation: SourceLocation?
}

/// One `stats socket` line: the runtime API's address and who may do what through it.
public struct UnixBind: Hashable, Sendable {
    public var prefix: String?
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public init() {}
}

public struct StatsSocket: Hashable, Sendable {
    public enum Address: Hashable, Sendable, CustomStringConvertible {
        /// A UNIX stream socket (a path, or `unix@path`).
        case unix(String)
        /// `ipv4@ADDR:PORT`, `ipv6@ADDR:PORT`, or `ADDR:PORT`.
        case tcp(host: String, port: Int)

        public var description: String {
            switch self {
            case .unix(let path): path
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            }
        }
    }

    public var address: Address
    /// What the socket's clients may do: `user` reads non-sensitive figures, `operator` (HAProxy's default) reads
    /// everything and clears max counters, `admin` changes servers, frontends and limits.
    public var level: RuntimeLevel = .operator
    /// `mode` (octal), `uid`/`user`, `gid`/`group` of a UNIX socket's file.
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    /// `expose-fd listeners`: a new process may take the listening sockets through this one (`-x`).
    public var exposeListeners = false

    public init(address: Address) { self.address = address }
}

/// A runtime API access level, in order.
public enum RuntimeLevel: Int, Hashable, Sendable, Comparable, CustomStringConvertible, CaseIterable {
    case user, `operator`, admin

    public init?(_ word: String) {
        guard let level = RuntimeLevel.allCases.first(where: { $0.description == word }) else { return nil }
        self = level
    }

    public var description: String {
        switch self {
        case .user: "user"
        case .operator: "operator"
        case .admin: "admin"
        }
    }

    public static func < (a: RuntimeLevel, b: RuntimeLevel) -> Bool { a.rawValue < b.rawValue }
}

/// A haproxy.cfg read into values.
public struct ProxyConfiguration: Sendable {
    public var global = GlobalSettings()
    public var proxies: [ProxySection] = []
    /// Whether any frontend or listen section accepts connections (HAProxy will not start without one).
    public var hasListener: Bool { proxies.contains { $0.isFrontend && !$0.binds.isEmpty } }
    public var warnings: [ConfigDiagnostic] = []
    public var files: [String] = []
    /// The servers' previous states read from the server-state files, by backend and server name.
    public var serverStates: [String: [String: ServerStateLine]] = [:]
    /// The `userlist` sections, by name.
    public var userlists: [String: Userlist] = [:]
    /// The `peers` sections, in the order they are declared.
    public var peers: [PeersSection] = []
    /// The `http-errors` sections, by name.
    public var httpErrors: [String: HTTPErrorsSection] = [:]
    /// The `resolvers` sections, in the order they are declared (HAProxy's implicit `default`, from
    /// /etc/resolv.conf, last).
    public var resolvers: [ResolversSection] = []
    /// This process's name in them (`-L`, `localpeer`, else the host name).
    public var localPeer = ""
    /// `global`'s `set-var proc.NAME EXPR`: the process's variables as the file sets them, by name (without
    /// `proc.`); and every `proc.` name a rule sets (HAProxy creates them as it reads the file).
    public var processVariables: [String: VariableValue] = [:]
    public var processVariableNames: Set<String> = []

    public init() {}

    public func proxy(named name: String) -> ProxySection? { proxies.first { $0.name == name } }

    /// The stick tables, by name (their sections', `PEERS/TABLE` for those a `peers` section declares).
    public var stickTables: [String: StickTableSchema] {
        var tables: [String: StickTableSchema] = [:]
        for table in stickTableList { tables[table.name] = table }
        return tables
    }

    /// The stick tables in the order HAProxy lists them: the proxies', then those of the `peers` sections.
    public var stickTableList: [StickTableSchema] {
        proxies.compactMap(\.stickTable) + peers.flatMap(\.tables)
    }
}

/// One ACL test (`acl NAME CRITERION [-i] VALUE…`, or written inline between `{ }`): HTTP criteria on the request
/// line and headers, typed when the file is read (nothing is decided from the criterion's words per request).
public struct ACLTest: Hashable, Sendable {
    /// What the test reads from the request.
    public enum Sample: Hashable, Sendable {
        /// `path*`: the path, without the query.
        case path
        case method
        /// `hdr*(NAME)`: every value of the header (its name in lower case).
        case header(String)
        /// `hdr_val(NAME)`: the header's last value read as an integer (HAProxy's `strl2ic`), against `ranges`.
        case headerValue(String)
        /// `hdr_cnt(NAME)`, `req.hdr_cnt(NAME)`: how many values the header has (each line's comma-separated parts),
        /// against `ranges` (on a response, the response's header).
        case headerCount(String)
        /// `src`: the client's address, against `addresses`.
        case source
        /// `ssl_fc`: the client's connection is TLS (never, in this build: a `bind … ssl` is refused).
        case tlsConnection
        /// `nbsrv(BACKEND)`: how many servers serve the backend now, against `ranges`.
        case usableServers(String)
        /// `req.ssl_sni` (`req_ssl_sni`): the SNI of the ClientHello a TCP frontend holds (see `ClientHelloPeek`).
        case clientHelloSNI
        /// `req.ssl_hello_type` (`req_ssl_hello_type`): its handshake message's type, against `ranges`.
        case clientHelloType
        /// `ssl_fc_sni` (`_end`, `_reg`): the SNI a TLS listener's client asked for.
        case tlsSNI
        /// `ssl_c_used`, `ssl_fc_has_crt`: the client presented a certificate (a boolean, like `ssl_fc`).
        case clientCertificate
        /// `ssl_c_verify`: the client certificate's verification result (0: verified), against `ranges`.
        case clientCertificateVerify
        /// `http_auth(USERLIST)`: the request's Basic credentials are a user's of the list.
        case httpAuth(String)
        /// `http_auth_group(USERLIST) GROUP…`: and that user is in one of `values`' groups.
        case httpAuthGroup(String)
        /// `sc*_…`, `src_…`: a stick table's counter, against `ranges` (see `StickCounterFetch`).
        case counter(StickCounterFetch)
        /// `dst_port`: the port the client connected to (the PROXY header's when one came), against `ranges`.
        case frontendPort
        /// `var(NAME)`: a variable's value (not set: no match), as text or (`-m int`) against `ranges`.
        case variable(VariableName)
        /// `status`: a response's status, against `ranges`; `res.hdr(NAME)`, `shdr(NAME)`: every value of a response
        /// header. Known on a response only (a request's rule never matches them, as in HAProxy).
        case status
        case responseHeader(String)
        /// `urlp(NAME[,DELIM])`, `url_param(…)` and the `urlp_*` forms: every value of the URL parameter (see
        /// `URLParameters`); `urlp_val(…)`: read as an integer against `ranges`.
        case urlParameter(String, delimiter: Character?, integer: Bool)

        /// Whether a response's rule can read it (HAProxy's "compatible with http-response"): what the response
        /// carries, and what is known of the connection, the session and the process.
        public var knownOnResponse: Bool {
            switch self {
            case .path, .method, .httpAuth, .httpAuthGroup, .clientHelloSNI, .clientHelloType, .urlParameter: false
            default: true
            }
        }

        /// Whether it is an integer or a boolean, which the converters of integers take (`IntegerConverter`).
        public var isInteger: Bool {
            switch self {
            case .counter, .tlsConnection, .clientCertificate, .usableServers, .frontendPort, .headerValue, .headerCount:
                true
            default: false
            }
        }

        /// Whether a TCP frontend evaluates it (on the connection and what the client sent first).
        public var isLayer4: Bool {
            switch self {
            case .source, .usableServers, .clientHelloSNI, .clientHelloType, .counter, .frontendPort: true
            // Set by `http-request` rules only, in this build.
            case .variable, .status, .responseHeader, .urlParameter: false
            // Known after the TLS handshake, which a TCP session does not wait for before choosing.
            case .path, .method, .header, .headerValue, .headerCount, .tlsConnection, .tlsSNI, .clientCertificate,
                .clientCertificateVerify, .httpAuth, .httpAuthGroup:
                false
            }
        }

        /// Whether it reads what the client sent (a rule then waits for it, up to `tcp-request inspect-delay`).
        public var readsPayload: Bool { self == .clientHelloSNI || self == .clientHelloType }

        /// The fetch as a configuration names it (in messages).
        public var name: String {
            switch self {
            case .path: "path"
            case .method: "method"
            case .header(let h): "hdr(\(h))"
            case .headerValue(let h): "hdr_val(\(h))"
            case .headerCount(let h): "hdr_cnt(\(h))"
            case .source: "src"
            case .tlsConnection: "ssl_fc"
            case .usableServers(let b): "nbsrv(\(b))"
            case .clientHelloSNI: "req.ssl_sni"
            case .clientHelloType: "req.ssl_hello_type"
            case .tlsSNI: "ssl_fc_sni"
            case .clientCertificate: "ssl_c_used"
            case .clientCertificateVerify: "ssl_c_verify"
            case .httpAuth(let list): "http_auth(\(list))"
            case .httpAuthGroup(let list): "http_auth_group(\(list))"
            case .counter(let fetch): fetch.name
            case .frontendPort: "dst_port"
            case .variable(let name): "var(\(name))"
            case .status: "status"
            case .responseHeader(let h): "res.hdr(\(h))"
            case .urlParameter(let name, _, let integer): integer ? "urlp_val(\(name))" : "urlp(\(name))"
            }
        }
    }
    /// How a value is compared: whole, or (HAProxy's `_beg`, `_end`, `_sub`) at the start, at the end, anywhere.
    /// How a value is compared (HAProxy's `-m` methods and criterion suffixes): whole (`str`), at the start
    /// (`beg`), at the end (`end`), anywhere (`sub`), as whole `/`-delimited (`dir`) or `.`-delimited (`dom`)
    /// components, or whether the sample exists at all (`found`, no value).
    public enum Match: Hashable, Sendable {
        case exact, prefix, suffix, substring, directory, domain, found
        /// `-m int`: the sample read as an integer, against `ranges`.
        case integer
        /// `_reg`, `-m reg`: a regular expression found anywhere in the sample (see `PatternRegexes`).
        case regex
        /// `-m bool` (a variable's): the sample cast to a boolean as HAProxy casts it, true when not 0 (no value).
        case boolean
    }

    public var sample: Sample
    public var match: Match
    /// The criterion as the file names it, without its arguments (`path_beg`, `hdr`), for messages.
    public var keyword = ""
    public var caseInsensitive: Bool
    /// In lower case when `caseInsensitive`.
    public var values: [String]
    /// `src`'s networks (its values and the lines of its `-f` files).
    public var addresses = AddressSet()
    /// The values compiled, for `regex`.
    public var regexes = PatternRegexes()
    /// An integer criterion's values (`nbsrv`): HAProxy's `N`, `N:M`, `:M`, `N:`, and `lt|le|gt|ge|eq N`.
    public var ranges: [ClosedRange<Int>] = []
    /// `FETCH,CONV…`: the converters a string sample goes through before it is matched (`hdr(host),lower,
    /// map_str(FILE) -m found`); one without a result leaves no sample (no match).
    public var converters: [LogFormatValue.Converter] = []
    /// `sc0_http_req_rate,sub(txn.limit)`: the converters a counter goes through before it is matched (an operand's
    /// variable without an integer leaves no sample: no match).
    public var integerConverters: [IntegerConverter] = []

    /// The criteria this build carries out: `path`, `path_beg`, `path_end`, `path_sub`, `method`, `hdr`,
    /// `hdr_beg`, `hdr_end`, `hdr_sub`, `src`.
    public static let criteria: Set<String> = [
        "path", "path_beg", "path_end", "path_sub", "path_dir", "path_dom", "path_reg", "method", "hdr", "hdr_beg",
        "hdr_end", "hdr_sub", "hdr_dir", "hdr_dom", "hdr_reg", "src", "ssl_fc", "nbsrv", "req.ssl_sni", "req_ssl_sni",
        "ssl_fc_sni", "ssl_fc_sni_end", "ssl_fc_sni_reg", "ssl_c_used", "ssl_fc_has_crt",
    ]

    /// HAProxy's integer patterns: `N`, `N:M`, `:M`, `N:`, and an operator (`eq`, `lt`, `le`, `gt`, `ge`) that
    /// applies to the next value; nil for a value that is none of these.
    public static func integerRanges(_ words: [String]) -> [ClosedRange<Int>]? {
        var ranges: [ClosedRange<Int>] = []
        var op = "eq"
        for word in words {
            if ["eq", "lt", "le", "gt", "ge"].contains(word) {
                op = word
                continue
            }
            // HAProxy's `parse_acl_expr`: a value with ':' or '-' is a range whatever the operator, and '-' is a
            // separator there too (`-13` is `:13`, at most 13: a negative number cannot be written).
            if op == "eq" || word.contains(":") || word.contains("-") {
                guard let range = Self.patternRange(word) else { return nil }
                ranges.append(range)
                continue
            }
            guard let n = Self.digits(Substring(word)) else { return nil }
            switch op {
            case "lt": ranges.append(Int.min...(n - 1))
            case "le": ranges.append(Int.min...n)
            case "gt": ranges.append((n == Int.max ? n : n + 1)...Int.max)
            default: ranges.append(n...Int.max)
            }
        }
        return ranges
    }

    /// HAProxy 2.6's `pat_parse_int`: `N`, `N:M`, `:M`, `N:`, with '-' as a separator as well as ':'.
    static func patternRange(_ word: String) -> ClosedRange<Int>? {
        guard let separator = word.firstIndex(where: { $0 == ":" || $0 == "-" }) else {
            return Self.digits(Substring(word)).map { $0...$0 }
        }
        let low = word[..<separator]
        let high = word[word.index(after: separator)...]
        if low.isEmpty && !high.isEmpty { return Self.digits(high).map { Int.min...$0 } }
        if high.isEmpty { return Self.digits(low).map { $0...Int.max } }
        guard let min = Self.digits(low), let max = Self.digits(high), min <= max else { return nil }
        return min...max
    }

    /// `strl2llrc` on what reaches it here: digits only (a '-' was taken as a separator before), no overflow.
    static func digits(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int(text)
    }

    /// HAProxy 2.6's predefined ACLs that this build carries out (a section's own ACL of the same name comes first).
    /// `FALSE` has no test, so it never holds; `METH_GET` is GET and HEAD, as in HAProxy.
    public static let predefined: [String: [ACLTest]] = {
        let always = ACLTest(sample: .method, match: .found, caseInsensitive: false, values: [])
        func method(_ names: String...) -> [ACLTest] {
            [ACLTest(sample: .method, match: .exact, caseInsensitive: false, values: names)]
        }
        var localhost = ACLTest(sample: .source, match: .exact, caseInsensitive: false, values: [])
        if case .success(let set) = AddressSet.parse(["127.0.0.1/8", "::1"]) { localhost.addresses = set }
        return [
            "TRUE": [always], "FALSE": [], "HTTP": [always], "LOCALHOST": [localhost],
            "METH_CONNECT": method("CONNECT"), "METH_DELETE": method("DELETE"), "METH_GET": method("GET", "HEAD"),
            "METH_HEAD": method("HEAD"), "METH_OPTIONS": method("OPTIONS"), "METH_POST": method("POST"),
            "METH_PUT": method("PUT"), "METH_TRACE": method("TRACE"),
        ]
    }()

    /// HAProxy 2.6's other predefined ACLs (refused by name).
    public static let otherPredefined: Set<String> = [
        "HTTP_1.0", "HTTP_1.1", "HTTP_2.0", "HTTP_CONTENT", "HTTP_URL_ABS", "HTTP_URL_SLASH", "HTTP_URL_STAR",
        "RDP_COOKIE", "REQ_CONTENT", "WAIT_END",
    ]

    /// The `-m` methods this build carries out, and the match each is.
    public static let methods: [String: Match] = [
        "str": .exact, "beg": .prefix, "end": .suffix, "sub": .substring, "dir": .directory, "dom": .domain,
        "found": .found, "reg": .regex, "int": .integer,
    ]

    /// A criterion of `criteria`, typed (`header`: the `hdr*` criteria's argument).
    public static func typed(_ criterion: String, header: String?) -> (Sample, Match)? {
        guard criteria.contains(criterion) else { return nil }
        let match: Match =
            switch criterion.split(separator: "_").dropFirst().first {
            case "beg": .prefix
            case "end": .suffix
            case "sub": .substring
            case "dir": .directory
            case "dom": .domain
            case "reg": .regex
            default: .exact
            }
        if criterion == "method" { return (.method, match) }
        if criterion == "src" { return (.source, .exact) }
        if criterion == "ssl_fc" { return (.tlsConnection, .exact) }
        if criterion == "req.ssl_sni" || criterion == "req_ssl_sni" { return (.clientHelloSNI, .exact) }
        if criterion.hasPrefix("ssl_fc_sni") {
            return (.tlsSNI, criterion.hasSuffix("_end") ? .suffix : criterion.hasSuffix("_reg") ? .regex : .exact)
        }
        if criterion.hasPrefix("path") { return (.path, match) }
        guard let header else { return nil }
        return (.header(header), match)
    }
}

/// `if|unless A B or !C { path_beg /x }`: alternatives (`or`) of terms that must all hold.
public struct RuleCondition: Hashable, Sendable {
    public struct Term: Hashable, Sendable {
        public var negated: Bool
        /// The tests of a named ACL (any may match) or the one inline test.
        public var tests: [ACLTest]
        /// The ACL's name (nil: an inline one).
        public var name: String? = nil
    }
    public var unless: Bool
    public var alternatives: [[Term]]

    /// Every test of the condition.
    public var tests: [ACLTest] { alternatives.flatMap { $0.flatMap(\.tests) } }

    /// The stick-table counters it tests (`sc_http_req_rate(0)`…): a rule with any is a limit, audited when it blocks.
    public var limits: [String] {
        tests.compactMap { if case .counter(let fetch) = $0.sample { fetch.name } else { nil } }
    }
}

/// `ignore-persist if|unless COND` (the request's persistence cookie is not used, and its response gets none) and
/// `force-persist if|unless COND` (the cookie's server takes the request even when it is down).
public struct PersistRule: Hashable, Sendable {
    public var force: Bool
    public var condition: RuleCondition
}

/// `use_backend NAME [if|unless …]`.
public struct BackendRule: Hashable, Sendable {
    public var backend: String
    public var condition: RuleCondition?
    public var location: SourceLocation
    /// `use_backend %[…]`: the name made per request (a name no backend has sends the request to the
    /// `default_backend`, as HAProxy does); nil: `backend` as written.
    public var dynamic: LogFormatValue?
}

/// `tcp-request connection|session|content ACTION [if|unless …]`, on the client's address, its counters and (content)
/// what a TCP frontend's client sent first.
public struct TCPRequestRule: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        /// Ends the evaluation: the connection goes on, or is closed.
        case accept, reject
        /// `track-scN KEY [table T]`: tracked from here on (the next rules see it).
        case track(StickTracking)
        /// `sc-inc-gpc0|1(N)`, `sc-set-gpt0(N) VALUE`.
        case incrementGPC(counter: Int, which: Int)
        case setGPT0(counter: Int, value: Int64)
        /// `silent-drop`: the connection ends without a byte, not even a FIN or a reset when the system allows
        /// (TCP_REPAIR; else a reset that dies at the first router).
        case silentDrop
        /// `expect-proxy layer4` (`tcp-request connection` only): this connection starts with a PROXY protocol
        /// header, as on an `accept-proxy` bind.
        case expectProxy
    }
    public var action: Action
    public var condition: RuleCondition?

    public init(action: Action, condition: RuleCondition?) {
        self.action = action
        self.condition = condition
    }

    public init(accept: Bool, condition: RuleCondition?) {
        self.init(action: accept ? .accept : .reject, condition: condition)
    }
}

/// The answer of a `return` or `deny` rule (`http-request`, `http-response`), HAProxy 2.6's "http reply": built
/// from the rule's words (the status and its reason, the `hdr` fields, then `content-length` and `content-type`
/// when a payload is given), or a whole response from a file, or the status's error page.
public struct ReturnReply: Hashable, Sendable {
    public struct Header: Hashable, Sendable {
        public var name: String
        public var value: LogFormatValue
    }
    public enum Payload: Hashable, Sendable {
        case none
        /// `string` / `file`: fixed bytes.
        case bytes([UInt8])
        /// `lf-string` / `lf-file`: log-format, evaluated per request.
        case format(LogFormatValue)
        /// `errorfile FILE` (read with the configuration), or `errorfiles NAME` once resolved: a whole response, sent
        /// as written (the rule's status is the one logged).
        case response([UInt8])
        /// `errorfiles NAME`: the `http-errors` section's file for the status, until the whole configuration is read.
        case errorFiles(String)
        /// `default-errorfiles`, and a `deny` without a reply of its own: the proxy's `errorfile` for the status, or
        /// HAProxy's page.
        case page
    }
    public var status = 200
    public var contentType: String?
    public var payload = Payload.none
    public var headers: [Header] = []
    public init() {}
    public init(status: Int, payload: Payload) {
        self.status = status
        self.payload = payload
    }
}

/// `set-log-level LEVEL|silent` (`http-request`, `http-response`): the severity a request's line is sent at instead
/// of `info` (or `err` with `log-separate-errors`), or no line at all; the log targets' own level still filters it.
public enum LogLevelOverride: Hashable, Sendable {
    case silent
    case severity(Severity)

    /// HAProxy's words: its eight level names (no alias), or `silent`.
    public init?(_ word: String) {
        if word == "silent" {
            self = .silent
            return
        }
        guard ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"].contains(word),
            let severity = Severity(name: word)
        else { return nil }
        self = .severity(severity)
    }
}

/// `redirect location|prefix|scheme TARGET [code N] [drop-query]` (and `http-request redirect …`).
public struct Redirect: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case location, prefix, scheme }
    public var kind: Kind
    public var target: String
    public var code: Int
    public var dropQuery: Bool
    /// `append-slash`: a `prefix` or `scheme` redirect's location gets a `/` at its end when it has none (after the
    /// query too, when it is kept: HAProxy's reading).
    public var appendSlash = false
    /// `http-request redirect`'s target when it is a log-format with samples (made per request; nil: `target`).
    public var format: LogFormatValue?
    /// `ignore-empty`: a `location` whose log-format makes nothing is no redirect (the rules go on).
    public var ignoreEmpty = false

    /// The codes HAProxy 2.6 takes, with their reasons.
    public static let reasons: [Int: String] = [
        301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
        308: "Permanent Redirect",
    ]
}

/// A `redirect` rule and its condition.
public struct RedirectRule: Hashable, Sendable {
    public var redirect: Redirect
    public var condition: RuleCondition?
}

/// `http-request set-header|add-header|del-header|deny|redirect …  [if|unless …]`.
public struct HTTPRequestRule: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        case setHeader(String, LogFormatValue)
        case addHeader(String, LogFormatValue)
        case delHeader(String)
        /// `deny [deny_status N] [errorfile FILE | errorfiles NAME | the words of a return…]`: the status's page,
        /// the file given, or the reply the words build (logged `PR--`, counted as a denied request).
        case deny(ReturnReply)
        case redirect(Redirect)
        /// `set-src hdr(NAME)`: the client's address becomes the header's last value when that is an IP address
        /// (the port is kept), for this request: its log line, its later rules, `forwardfor`, `balance source`.
        case setSource(header: String)
        /// `auth [realm REALM]`: HAProxy's 401 asking for Basic credentials (the realm: the section's name when
        /// none is given).
        case auth(realm: String)
        /// `return [status N] [content-type T] [string|lf-string|file|lf-file …] [hdr NAME FMT]…`: the proxy's own
        /// answer.
        case returnReply(ReturnReply)
        /// `track-scN KEY [table T]`: the request tracks the key's entry (and counts as one of its requests).
        case track(StickTracking)
        /// `sc-inc-gpc0|1(N)`, `sc-set-gpt0(N) VALUE`: on counter N's entry.
        case incrementGPC(counter: Int, which: Int)
        case setGPT0(counter: Int, value: Int64)
        /// `silent-drop`: the connection ends without a byte (see `TCPRequestRule.Action.silentDrop`).
        case silentDrop
        /// `tarpit [deny_status N]`: the request is held `timeout tarpit`, then answered with the status's page
        /// (500 by default), logged `PT--`.
        case tarpit(status: Int)
        /// `allow`: the section's later `http-request` rules are skipped (the request goes on).
        case allow
        /// `set-path|set-query|set-uri FMT`, `replace-path|replace-uri REGEX FMT`: the target the server gets (the
        /// log keeps the request line as the client sent it, as HAProxy's does).
        case rewriteTarget(TargetRewrite)
        /// `replace-header|replace-value NAME REGEX FMT`.
        case rewriteHeader(HeaderRewrite)
        /// `use-service prometheus-exporter`: the stats in the text format of HAProxy's built-in exporter.
        case prometheusExporter
        /// `set-var(NAME[,COND…]) EXPR`, `set-var-fmt(NAME[,COND…]) FMT`, `unset-var(NAME)` (see `VariableAction`).
        case variable(VariableAction)
        /// `capture SAMPLE len N`: the sample's text, cut to N bytes, in capture slot `slot` (the log's `{…}`).
        case capture(slot: Int, LogFormatValue, length: Int)
        /// `set-log-level LEVEL|silent`: the request's line is sent at that severity, or not at all.
        case setLogLevel(LogLevelOverride)
    }
    public var action: Action
    public var condition: RuleCondition?
}

/// `http-response set-header|add-header|del-header|replace-header|replace-value|set-var|unset-var|deny|return …
/// [if|unless …]` on the responses a server sends: values in log-format (`%[var(txn.id)]`, `%[res.hdr(NAME)]`),
/// conditions on what is known then (the status, the response's headers, variables, the client's address; request
/// fetches never match there, as in HAProxy).
public struct HTTPResponseRule: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        case setHeader(String, LogFormatValue)
        case addHeader(String, LogFormatValue)
        case delHeader(String)
        /// `replace-header|replace-value NAME REGEX REPLACEMENT` (a replacement without samples).
        case rewriteHeader(HeaderRewrite)
        /// `set-var(…)`, `set-var-fmt(…)`, `unset-var(…)`.
        case variable(VariableAction)
        /// `deny [deny_status N] …` (502 by default): the server's response is dropped and its connection closed,
        /// the reply sent instead, logged `PH--`; the later rules are not applied.
        case deny(ReturnReply)
        /// `return …`: the same, logged `LH--`.
        case returnReply(ReturnReply)
        /// `set-log-level LEVEL|silent`.
        case setLogLevel(LogLevelOverride)
        /// `set-status CODE [reason TEXT]`: the client gets that status (and reason: HAProxy's for the code when none
        /// is given); the line logs it, the server's stats count what it answered, `%B` counts the head as it came.
        case setStatus(Int, reason: String?)
    }
    public var action: Action
    public var condition: RuleCondition? = nil

    /// Whether the rule is the same on every response (no condition, no sample, no variable): then its edits are
    /// made once, when the configuration is read.
    public var isStatic: Bool {
        guard condition == nil else { return false }
        switch action {
        case .setHeader(_, let value), .addHeader(_, let value): return value.isLiteral
        case .delHeader, .rewriteHeader, .setStatus: return true
        case .variable, .deny, .returnReply, .setLogLevel: return false
        }
    }
}

/// `capture request|response header NAME len N`.
public struct HeaderCapture: Hashable, Sendable {
    public var name: String
    public var length: Int
    /// `http-request capture SAMPLE len N`: the slot is filled by that rule, when it runs (nil: the header `name`).
    public var sample: LogFormatValue? = nil
}

/// The HTTP rules of a frontend or listen section.
public struct HTTPRules: Hashable, Sendable {
    public var acls: [String: [ACLTest]] = [:]
    /// `tcp-request connection …` (before anything, on the connection's own address) and `tcp-request content …`
    /// (as the session starts, or enters this backend).
    public var tcpConnectionRules: [TCPRequestRule] = []
    /// `tcp-request session …`: once per connection, after its handshakes, before the content rules.
    public var tcpSessionRules: [TCPRequestRule] = []
    public var tcpContentRules: [TCPRequestRule] = []
    public var backendRules: [BackendRule] = []
    public var requestRules: [HTTPRequestRule] = []
    /// A frontend's and a backend's alike (a backend's apply first, as in HAProxy).
    public var responseRules: [HTTPResponseRule] = []
    /// `http-after-response set-header|add-header|del-header … [if|unless …]`: on every response, the server's (after
    /// the `http-response` rules) and the proxy's own (pages, redirects, replies); a backend's first.
    public var afterResponseRules: [HTTPResponseRule] = []
    /// `redirect` rules: after every `http-request` rule, before `use_backend`, as HAProxy orders them.
    public var redirects: [RedirectRule] = []
    /// `monitor fail if|unless …`: a request for `monitor-uri` is answered 503 when one holds.
    public var monitorFail: [RuleCondition] = []
    /// `ignore-persist|force-persist if|unless …` (a backend's): the first that holds decides.
    public var persistRules: [PersistRule] = []
    public var requestCaptures: [HeaderCapture] = []
    public var responseCaptures: [HeaderCapture] = []
}
