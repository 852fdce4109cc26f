import HAProxyLog
import LogCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads haproxy.cfg as HAProxy 2.6 does for what Tollgate supports: the sections `global`, `defaults` (each
/// applying to the proxies after it), `frontend`, `backend`, `listen`; HAProxy's word splitting (quotes,
/// backslash escapes, `${VAR}` in double quotes); times with units. A keyword Tollgate does not carry out is a
/// warning naming file, line and keyword; a real mistake (unknown section, bad address, bad number, a keyword in
/// the wrong section) is an alert, and the file is refused, as `haproxy -c` refuses it.
public struct HAProxyConfigParser {
    var configuration = ProxyConfiguration()
    var alerts: [ConfigDiagnostic] = []
    /// Each `nbsrv(BACKEND)` read, to check that the backend exists once every section is read.
    var usableServerTests: [(String, SourceLocation)] = []
    /// Each userlist an ACL names (`http_auth(L)`), to check it exists; where each userlist was declared.
    var userlistTests: [(String, SourceLocation)] = []
    var userlistOrder: [String: SourceLocation] = [:]
    /// Each stick table a rule or a criterion names, with HAProxy's message when it does not exist.
    var tableReferences: [(table: String, at: SourceLocation, missing: String)] = []
    /// `peers` sections with `peer` lines, with `bind` lines (HAProxy forbids mixing them), and those whose `bind`
    /// still waits for the `server` line naming the local peer.
    var peerLines: Set<String> = []
    var bindLines: Set<String> = []
    var pendingLocalBind: [String: SourceLocation] = [:]

    /// The frontend, backend or listen section being read.
    var currentProxyName: String {
        if case .proxy(let i) = section { return configuration.proxies[i].name }
        return ""
    }

    private enum Section {
        case none
        case global
        case defaults
        case proxy(Int)
        /// A section Tollgate does not read (peers, resolvers…): its lines are skipped.
        case ignored
        /// A `userlist` section, by name.
        case userlist(String)
        /// A `peers` section, by its place in `configuration.peers`.
        case peers(Int)
        /// A `resolvers` section, by its place in `configuration.resolvers`.
        case resolvers(Int)
        /// An `http-errors` section, by name.
        case httpErrors(String)
    }
    private var section = Section.none
    private var defaults = ProxySettings()
    /// The current `defaults` section's `stats` keywords (`enable`, `uri`, `auth`, `realm`, `refresh`,
    /// `hide-version`): every proxy after it starts with them, as in HAProxy.
    private var defaultsStats = StatsSettings()

    /// The name of this process in `peers` sections: `-L`, else `localpeer` in global, else the host name.
    var localPeer: String

    public init(localPeer: String? = nil) {
        self.localPeer = localPeer ?? HostName.current()
        localPeerFromCommandLine = localPeer != nil
    }

    /// `-L` was given (it wins over `localpeer`, as in HAProxy).
    let localPeerFromCommandLine: Bool

    /// Reads `paths` in order (HAProxy reads several `-f` files as one; a directory stands for its `*.cfg` files in
    /// name order). Throws the alerts, all of them.
    public static func parse(files paths: [String], localPeer: String? = nil) throws(ConfigProblems) -> ProxyConfiguration {
        var parser = HAProxyConfigParser(localPeer: localPeer)
        for path in paths.flatMap(configurationFiles) {
            guard let text = TextFile.read(path) else {
                parser.alerts.append(
                    ConfigDiagnostic(
                        severity: .error, location: SourceLocation(file: path, line: 0),
                        message: "cannot open configuration file '\(path)' : \(String(cString: strerror(errno)))",
                        wording: .haproxy))
                continue
            }
            parser.configuration.files.append(path)
            parser.parse(text, file: path)
            // HAProxy refuses a file whose last line has no LF: it may have been cut while written.
            let bytes = text.utf8
            if let end = bytes.last, end != 0x0A {
                let lastLine = bytes.count - (bytes.lastIndex(of: 0x0A).map { bytes.distance(from: bytes.startIndex, to: $0) + 1 } ?? 0)
                let line = bytes.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
                parser.alert(
                    SourceLocation(file: path, line: line),
                    "Missing LF on last line, file might have been truncated at position \(lastLine + 1).")
            }
        }
        return try parser.finish()
    }

    /// A `-f` argument's files: the file itself, or a directory's regular `*.cfg` files sorted by name (HAProxy's
    /// rule; other files, hidden ones and subdirectories are left out).
    static func configurationFiles(_ path: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".cfg"), !name.hasPrefix(".") else { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var fileInfo = stat()
            if stat(full, &fileInfo) == 0 && fileInfo.st_mode & S_IFMT == S_IFREG { names.append(full) }
        }
        return names.sorted()
    }

    /// Reads configuration text (tests); `name` stands for its file in messages.
    public static func parse(
        text: String, name: String = "haproxy.cfg", localPeer: String? = nil
    ) throws(ConfigProblems) -> ProxyConfiguration {
        var parser = HAProxyConfigParser(localPeer: localPeer)
        parser.parse(text, file: name)
        return try parser.finish()
    }

    mutating func finish() throws(ConfigProblems) -> ProxyConfiguration {
        checkReferences()
        guard alerts.isEmpty else { throw ConfigProblems(alerts: alerts, warnings: configuration.warnings) }
        loadServerStates()
        resolveServerAddresses()
        guard alerts.isEmpty else { throw ConfigProblems(alerts: alerts, warnings: configuration.warnings) }
        return configuration
    }

    // MARK: Lines

    mutating func parse(_ text: String, file: String) {
        section = .none
        // `.if` blocks, one set per file (HAProxy's).
        var conditions = ConfigConditions()
        let environment: (String) -> Bool = { getenv($0) != nil }
        var lastLine = 0
        var place = HAProxyConfigWords.Place(file: file)
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let location = SourceLocation(file: file, line: index + 1)
            lastLine = index + 1
            place.line = index + 1
            var words: [String]
            do {
                words = try HAProxyConfigWords.split(String(raw), at: place)
            } catch {
                if conditions.taking { alert(location, error.message) }
                continue
            }
            // HAProxy's keywords read their arguments up to the first empty one (`""`, or a variable that is not
            // set): what follows it is not read. The same here, said aloud when something is left unread.
            if let empty = words.firstIndex(of: "") {
                let unread = words[empty...].filter { !$0.isEmpty }
                words.removeSubrange(empty...)
                if !unread.isEmpty && conditions.taking && !words.isEmpty {
                    warn(
                        location,
                        "'\(words[0])' : the words after an empty argument are not read, as HAProxy does not read them: "
                            + "'\(unread.joined(separator: " "))'.")
                }
            }
            guard let keyword = words.first else { continue }
            switch keyword {
            case ".if", ".elif", ".else", ".endif":
                if let problem = conditions.directive(keyword, words.dropFirst().joined(separator: " "), environment: environment) {
                    alert(location, problem)
                }
                continue
            case ".alert", ".warning", ".notice", ".diag":
                // `.notice` and `.diag` print in HAProxy only (its -dD mode for the latter): nothing to carry out.
                guard conditions.taking else { continue }
                let message = words.dropFirst().joined(separator: " ")
                if keyword == ".alert" { alert(location, message) }
                if keyword == ".warning" { warn(location, message) }
                continue
            default:
                guard conditions.taking else { continue }
            }
            if HAProxyConfigWords.sectionKeywords.contains(keyword) { place.section = words.count > 1 ? words[1] : keyword }
            line(keyword, Array(words.dropFirst()), location)
        }
        if conditions.unterminated {
            alert(SourceLocation(file: file, line: lastLine), "non-terminated '.if' block.")
        }
    }

    private mutating func line(_ keyword: String, _ args: [String], _ at: SourceLocation) {
        switch keyword {
        case "global":
            section = .global
            return
        case "defaults":
            defaults = ProxySettings()
            defaultsStats = StatsSettings()
            section = .defaults
            return
        case "frontend", "backend", "listen":
            guard let name = args.first else {
                alert(at, "'\(keyword)' cannot handle unexpected argument ''.")
                return
            }
            guard let kind = ProxySection.Kind(rawValue: keyword) else { return }
            if let other = configuration.proxies.first(where: {
                $0.name == name && ($0.isFrontend && kind != .backend || $0.isBackend && kind != .frontend)
            }) {
                alert(
                    at,
                    "\(keyword) '\(name)' has the same name as \(other.kind.rawValue) '\(name)' declared at "
                        + "\(other.location).")
            }
            var settings = defaults
            settings.httpCheckRulesHere = 0
            settings.httpCheckOwn = false
            var proxy = ProxySection(kind: kind, name: name, settings: settings, location: at)
            proxy.stats = defaultsStats
            proxy.stats.inherited = defaultsStats != StatsSettings()
            // A `defaults` section's `default_backend` (HAProxy's `defbe`): a listen uses it too, instead of itself.
            if kind != .backend { proxy.defaultBackend = settings.defaultBackend }
            configuration.proxies.append(proxy)
            section = .proxy(configuration.proxies.count - 1)
            return
        case "userlist":
            guard let name = args.first else {
                alert(at, "'userlist' expects <name> as arguments.")
                section = .ignored
                return
            }
            if configuration.userlists[name] != nil { alert(at, "userlist '\(name)' already declared.") }
            configuration.userlists[name] = Userlist(name: name)
            userlistOrder[name] = at
            section = .userlist(name)
            return
        case "peers":
            section = peersSection(args, at).map { .peers($0) } ?? .ignored
            return
        case "resolvers":
            section = resolversSection(args, at).map { .resolvers($0) } ?? .ignored
            return
        case "http-errors":
            section = httpErrorsSection(args, at).map { .httpErrors($0) } ?? .ignored
            return
        case _ where BuildSupport.isKnown(.section, keyword):
            // A section this build does not read: those that only define what other keywords use (each of which is
            // refused) are skipped with a warning; one that acts by itself (program, log-forward) is refused.
            notCarriedOut(.section, keyword, at, section: keyword)
            section = .ignored
            return
        default:
            break
        }
        switch section {
        case .none:
            alert(at, "unknown keyword '\(keyword)' out of section.")
        case .ignored:
            break
        case .peers(let i):
            var peers = configuration.peers[i]
            peersKeyword(keyword, args, at, &peers)
            configuration.peers[i] = peers
        case .resolvers(let i):
            var resolvers = configuration.resolvers[i]
            resolversKeyword(keyword, args, at, &resolvers)
            configuration.resolvers[i] = resolvers
        case .httpErrors(let name):
            guard keyword == "errorfile" else {
                return alert(at, "unknown keyword '\(keyword)' in 'http-errors' section")
            }
            if let (code, bytes) = readErrorFile(args, at) { configuration.httpErrors[name]?.files[code] = bytes }
        case .userlist(let name):
            if var list = configuration.userlists[name] {
                userlistKeyword(keyword, args, at, &list)
                configuration.userlists[name] = list
            }
        case .global:
            globalKeyword(keyword, args, at)
        case .defaults:
            if keyword == "default_backend" {
                defaults.defaultBackend = required(args, at, keyword)
                return
            }
            if keyword == "stats", let what = args.first, what != "http-request", what != "admin" {
                // `stats admin|http-request` take conditions, which a defaults section has no ACLs for: refused
                // below with the other proxy-only keywords.
                var given = defaultsStats
                stats(args, at, &given)
                defaultsStats = given
                return
            }
            var settings = defaults
            _ =
                settingsKeyword(keyword, args, at, &settings, sectionName: "defaults")
                || notInDefaults(keyword, at)
            defaults = settings
        case .proxy(let i):
            var proxy = configuration.proxies[i]
            proxyKeyword(keyword, args, at, &proxy)
            configuration.proxies[i] = proxy
        }
    }

    // MARK: global

    private mutating func globalKeyword(_ keyword: String, _ args: [String], _ at: SourceLocation) {
        var g = configuration.global
        defer { configuration.global = g }
        switch keyword {
        case "log":
            if let target = logTarget(args, at) { g.logs.append(target) }
        case "log-send-hostname":
            g.logSendHostname = args.first ?? HostName.current()
        case "log-tag":
            guard let tag = args.first else { return alert(at, "'log-tag' expects a tag for use in syslog.") }
            g.logTag = tag
        case "maxconn":
            g.maxconn = number(args, at, keyword, range: 1...Int(Int32.max))
        case "daemon": g.daemon = true
        case "tune.comp.maxlevel":
            if let level = number(args, at, keyword, range: 1...9) { g.compressionLevel = level }
        case "pidfile": g.pidfile = required(args, at, keyword)
        case "chroot": g.chroot = required(args, at, keyword)
        case "user", "uid": g.user = required(args, at, keyword)
        case "group", "gid": g.group = required(args, at, keyword)
        case "nbthread": g.nbthread = number(args, at, keyword, range: 1...4096)
        case "node": g.node = args.first
        case "localpeer": localPeerKeyword(args, at)
        case "description": g.description = args.joined(separator: " ")
        case "zero-warning": g.zeroWarning = true
        case "stats": globalStats(args, at, &g)
        case "external-check":
            guard args.isEmpty else { return alert(at, "'external-check' cannot handle unexpected argument '\(args[0])'.") }
            g.externalCheck = true
        case "setenv", "presetenv":
            // The process's environment, from this line on (`${NAME}` in later lines, `env(NAME)`, external checks).
            guard args.count <= 2 else {
                return alert(at, "'\(keyword)' cannot handle unexpected argument '\(args[2])'.")
            }
            guard args.count == 2, !args[1].isEmpty else { return alert(at, "'\(keyword)' expects a name and a value.") }
            if setenv(args[0], args[1], keyword == "setenv" ? 1 : 0) != 0 {
                alert(at, "'\(keyword)' failed on variable '\(args[0])' : \(String(cString: strerror(errno))).")
            }
        case "unsetenv":
            guard !args.isEmpty else { return alert(at, "'unsetenv' expects at least one variable name.") }
            for name in args where unsetenv(name) != 0 {
                return alert(at, "'unsetenv' failed on variable '\(name)' : \(String(cString: strerror(errno))).")
            }
        case "resetenv":
            // Every variable goes but those named.
            var names: [String] = []
            var entry = environ
            while let pointer = entry.pointee {
                let text = String(cString: pointer)
                if let equals = text.firstIndex(of: "="), !args.contains(String(text[..<equals])) {
                    names.append(String(text[..<equals]))
                }
                entry += 1
            }
            for name in names { unsetenv(name) }
        case "insecure-fork-wanted":
            g.insecureForkWanted = true
        case "set-var", "set-var-fmt":
            configuration.global = g
            globalVariable(keyword, args, at)
            g = configuration.global
        case "unix-bind": unixBind(args, at, &g)
        case "no":
            // `no strict-limits` and the like: the keyword's own verdict (this build carries none of them out
            // differently when negated).
            guard let negated = args.first else { return alert(at, "'no' expects a keyword.") }
            if negated == "insecure-fork-wanted" { return g.insecureForkWanted = false }
            notCarriedOut(.global, negated, at, section: "global")
        case "master-worker":
            if let extra = args.first, extra != "no-exit-on-failure" {
                return alert(at, "'master-worker' only supports 'no-exit-on-failure' (got '\(extra)').")
            }
            if args.first == "no-exit-on-failure" {
                return alert(
                    at,
                    "'master-worker no-exit-on-failure' is not carried out by this build: the master ends with its "
                        + "worker.")
            }
            g.masterWorker = true
        case "server-state-base":
            guard args.count == 1 else { return alert(at, "'server-state-base' expects one argument: a directory path.") }
            g.serverStateBase = args[0]
        case "server-state-file":
            guard let file = args.first else {
                return alert(at, "'server-state-file' expect one argument: a file path.")
            }
            g.serverStateFile = file
            g.serverStateFileLocation = at
        case "crt-base": g.crtBase = required(args, at, keyword)
        case "ca-base": g.caBase = required(args, at, keyword)
        case "ssl-server-verify":
            switch args.first {
            case "none": g.serverVerifyRequired = false
            case "required": g.serverVerifyRequired = true
            default: alert(at, "'ssl-server-verify' expects 'none' or 'required' as argument.")
            }
        case "ssl-default-server-options": defaultServerOptions(args, into: &g.defaultServerTLS, at)
        case "ssl-default-server-ciphers": g.defaultServerTLS.ciphers = required(args, at, keyword)
        case "ssl-default-server-ciphersuites":
            if let list = required(args, at, keyword) { checkTLS13Suites(list, keyword, at) }
        case "ssl-default-bind-options":
            var i = 0
            while i < args.count {
                if args[i] == "no-tls-tickets" {
                    g.defaultBindTLS.noTickets = true
                } else if args[i] == "prefer-client-ciphers" {
                    // Carried out: BoringSSL takes the client's order among the allowed ciphers.
                } else if !tlsVersionOption(args, &i, into: &g.defaultBindTLS, at) {
                    alert(at, "'ssl-default-bind-options' : '\(args[i])' is not a TLS option this build carries out.")
                }
                i += 1
            }
        case "ssl-default-bind-ciphers": g.defaultBindTLS.ciphers = required(args, at, keyword)
        case "ssl-default-bind-ciphersuites":
            if let list = required(args, at, keyword) { checkTLS13Suites(list, keyword, at) }
        case "ssl-default-bind-curves":
            if let list = required(args, at, keyword), let curves = curveList(list, keyword, at) {
                g.defaultBindTLS.curves = curves
            }
        default:
            notCarriedOut(.global, keyword, at, section: "global")
        }
    }

    // MARK: proxies

    /// The keywords `defaults` shares with the proxies; false when `keyword` is not one of them.
    private mutating func settingsKeyword(
        _ keyword: String, _ args: [String], _ at: SourceLocation, _ s: inout ProxySettings, sectionName: String
    ) -> Bool {
        switch keyword {
        case "bind-process":
            // One process: HAProxy 2.6 takes 1 (or all, odd) and refuses any other, with these words.
            if let word = args.first(where: { !["all", "odd", "1", "1-1"].contains($0) }) {
                alert(at, "bind-process : '\(word)' is not a valid number/range. It supports numbers from 1 to 1.")
                return true
            }
            warn(at, "'bind-process' has no effect in this build (removed with nbproc); it is ignored.")
        case "errorfile":
            errorFile(args, at, &s)
        case "errorloc", "errorloc302", "errorloc303":
            // HAProxy's redirect in place of the error page: made into the error file it is in HAProxy 2.6.
            guard args.count >= 2, !args[0].isEmpty, !args[1].isEmpty else {
                alert(at, "\(keyword) : expects <status_code> and <url> as arguments.")
                return true
            }
            let code = Self.leadingInteger(args[0])
            guard HAProxyConfigParser.errorFileCodes.contains(code) else {
                alert(at, "\(keyword) : status code '\(code)' not handled.")
                return true
            }
            let bytes = Array(
                (keyword == "errorloc303" ? "HTTP/1.1 303 See Other\r\n" : "HTTP/1.1 302 Found\r\n")
                    .appending("Cache-Control: no-cache\r\nContent-length: 0\r\nLocation: \(args[1])\r\n\r\n").utf8)
            s.errorFiles[code] = bytes
            s.errorFileSources.append(.file(code: code, bytes: bytes))
        case "errorfiles":
            guard let name = args.first else {
                alert(at, "errorfiles : expects <name> as argument.")
                return true
            }
            var codes: [Int]?
            for word in args.dropFirst() {
                let code = Int(word.prefix { $0.isNumber }) ?? 0
                guard HAProxyConfigParser.errorFileCodes.contains(code) else {
                    alert(at, "errorfiles : status code '\(code)' not handled.")
                    return true
                }
                codes = (codes ?? []) + [code]
            }
            s.errorFileSources.append(.section(name: name, codes: codes, location: at))
        case "monitor-uri":
            if args.count == 1 {
                s.monitorURI = args[0]
            } else {
                alert(at, "'monitor-uri' expects an URI.")
            }
        case "mode":
            guard let value = args.first, let mode = ProxyMode(rawValue: value) else {
                alert(at, "unknown proxy mode '\(args.first ?? "")'.")
                return true
            }
            s.mode = mode
        case "log-format":
            guard let text = formatArgument(keyword, args, at) else { return true }
            overridingLogFormat("log-format", at, s, sectionName)
            s.logFormat = LogFormatText(text: text, location: at)
            s.options[.httplog] = false
            s.options[.tcplog] = false
            s.httplogCLF = false
            if sectionName == "backend" {
                warn(at, "'log-format' directive is ignored in backends.")
            }
        case "unique-id-format", "unique-id-header":
            guard let text = formatArgument(keyword, args, at) else { return true }
            if sectionName == "backend" {
                warn(at, "'\(keyword)' ignored because backend has no frontend capability.")
            } else if keyword == "unique-id-format" {
                s.uniqueIDFormat = LogFormatText(text: text, location: at)
            } else {
                s.uniqueIDHeader = text
            }
        case "log":
            if args.first == "global" {
                s.logGlobal = true
            } else if let target = logTarget(args, at) {
                s.logs.append(target)
            }
        case "option", "no":
            let negated = keyword == "no"
            var words = args
            if negated {
                if words == ["log"] {
                    // `no log`: none of the log targets this proxy had (from its defaults' `log global` or `log`).
                    s.logs = []
                    s.logGlobal = false
                    return true
                }
                guard words.first == "option" else {
                    alert(
                        at,
                        words.first == "log"
                            ? "'no log' does not expect arguments." : "'no' only applies to 'option' and 'log' here.")
                    return true
                }
                words.removeFirst()
            }
            guard let name = words.first else {
                alert(at, "'option' expects an option name.")
                return true
            }
            option(name, Array(words.dropFirst()), negated: negated, at, &s, sectionName)
        case "default-server":
            let start =
                s.defaultServer
                ?? ServerLine(name: "default-server", host: "", port: nil, tls: defaultServerTLS, location: at)
            if let server = serverOptions(start, args, from: 0, at) { s.defaultServer = server }
        case "load-server-state-from-file":
            guard let source = args.first.flatMap(ServerStateSource.init(rawValue:)) else {
                alert(at, "'load-server-state-from-file' expects 'global', 'local' or 'none'. Got '\(args.first ?? "")'")
                return true
            }
            s.serverState = source
            s.serverStateLocation = at
        case "server-state-file-name":
            guard args.count <= 1 else {
                alert(at, "'server-state-file-name' cannot handle unexpected argument '\(args[1])'.")
                return true
            }
            s.serverStateFileName = args.first == "use-backend-name" ? nil : args.first
        case "cookie":
            persistenceCookie(args, at, &s)
        case "http-reuse":
            guard let mode = args.first, ["never", "safe", "aggressive", "always"].contains(mode), args.count == 1 else {
                alert(at, "'http-reuse' expects one of 'never', 'safe', 'aggressive', 'always'.")
                return true
            }
            // `never` is carried out (a server connection serves one client connection); the others tune how idle
            // connections are shared, which this build does its own way (the first request of a client may reuse).
            s.httpReuseNever = mode == "never"
            if mode != "never" {
                warn(at, "'http-reuse \(mode)' has no effect in this build (server connection reuse tuning); it is ignored.")
            }
        case "retries":
            if let n = number(args, at, keyword, range: 0...Int(Int32.max)) { s.retries = n }
        case "external-check":
            // `external-check command CMD` / `external-check path PATH` (the option chooses the check).
            guard args.count == 2, args[0] == "command" || args[0] == "path" else {
                alert(at, "'external-check' expects 'command <command>' or 'path <path>'.")
                return true
            }
            if args[0] == "command" { s.externalCheckCommand = args[1] } else { s.externalCheckPath = args[1] }
        case "retry-on":
            switch RetryOn.parse(args) {
            case .success(let retryOn): s.retryOn = retryOn
            case .failure(let error): alert(at, error.message + ".")
            }
        case "maxconn":
            if let n = number(args, at, keyword, range: 0...Int(Int32.max)) { s.maxconn = n }
        case "fullconn":
            if let n = number(args, at, keyword, range: 0...Int(Int32.max)) { s.fullconn = n }
        case "rate-limit":
            guard args.first == "sessions" else {
                alert(at, "'rate-limit' expects 'sessions' followed by a number of sessions per second.")
                return true
            }
            if let n = number(Array(args.dropFirst()), at, "rate-limit sessions", range: 0...Int(Int32.max)) {
                s.sessionRateLimit = n == 0 ? nil : n
            }
        case "timeout":
            timeout(args, at, &s.timeouts)
        case "contimeout", "clitimeout", "srvtimeout":
            alert(at, "the '\(keyword)' directive is not supported anymore since HAProxy 2.1. Use 'timeout'.")
        case "balance":
            // `random(N)`: N servers drawn, the least loaded taken.
            if let word = args.first, word.hasPrefix("random(") && word.hasSuffix(")") {
                guard let draws = Int(word.dropFirst(7).dropLast()), draws >= 1 else {
                    alert(at, "'balance random(N)' expects a positive number of draws, not '\(word)'.")
                    return true
                }
                var rest = args
                rest[0] = "random"
                s.randomDraws = draws
                return settingsKeyword("balance", rest, at, &s, sectionName: sectionName)
            }
            if let name = args.first, ["uri", "url_param"].contains(name) || name.hasPrefix("hdr(") {
                guard let input = hashInput(args, at) else { return true }
                s.balance = name == "uri" ? .uri : name == "url_param" ? .urlParameter : .header
                s.hashInput = input
                return true
            }
            guard let name = args.first, let algorithm = BalanceAlgorithm(rawValue: name) else {
                let name = args.first ?? ""
                let base = name.split(separator: "(").first.map(String.init) ?? name
                if HAProxyConfigParser.otherBalanceAlgorithms.contains(base) {
                    alert(
                        at,
                        "'balance \(name)' is HAProxy's, not in this build (routing, persistence and balancing): "
                            + "refused, because traffic would reach other servers than the configuration asks.")
                } else {
                    alert(at, "'balance' : unknown balancing algorithm '\(name)'.")
                }
                return true
            }
            if args.count > 1 {
                alert(
                    at,
                    "'balance \(name)' arguments ('\(args.dropFirst().joined(separator: " "))') are HAProxy's, not in "
                        + "this build (routing, persistence and balancing): refused, because traffic would reach "
                        + "other servers than the configuration asks.")
                return true
            }
            s.balance = algorithm
            s.hashInput = nil
        case "hash-type":
            hashType(args, at, &s)
        case "compression":
            compression(args, at, &s, inDefaults: sectionName == "defaults")
        case "tcp-check":
            tcpCheckRule(args, at, &s)
        case "http-check":
            // A section's own rules replace the ones it would take from `defaults`, the request of its `option
            // httpchk` with them.
            if ["send", "expect", "connect"].contains(args.first ?? "") { ownHTTPCheck(&s, option: false) }
            if args.first == "disable-on-404" {
                if args.count > 1 {
                    alert(at, "'http-check' cannot handle unexpected argument '\(args[1])'.")
                    return true
                }
                s.httpCheckDisableOn404 = true
            } else if args.first == "send" {
                httpCheckSend(Array(args.dropFirst()), at, &s)
            } else if args.first == "expect" {
                guard s.httpCheckExpect == nil else {
                    alert(
                        at,
                        "'http-check expect' : a second expectation on one response is HAProxy's, not in this build "
                            + "(health checks): refused, because \(BuildSupport.Family.healthChecks.consequence).")
                    return true
                }
                s.httpCheckRulesHere += 1
                var rest = Array(args.dropFirst())
                let negated = rest.first == "!"
                if negated { rest.removeFirst() }
                guard rest.count >= 2, ["status", "string", "rstatus", "rstring"].contains(rest[0]) else {
                    alert(at, "'http-check expect' expects 'status', 'string', 'rstatus' or 'rstring' and a pattern.")
                    return true
                }
                s.httpCheckExpect = HTTPCheckExpect(
                    negated: negated, kind: rest[0], pattern: rest.dropFirst().joined(separator: " "))
            } else {
                alert(
                    at,
                    "'http-check \(args.first ?? "")' is HAProxy's, not in this build (health checks): refused, "
                        + "because \(BuildSupport.Family.healthChecks.consequence).")
            }
        default:
            return false
        }
        return true
    }

    private mutating func notInDefaults(_ keyword: String, _ at: SourceLocation) -> Bool {
        let proxyOnly = [
            "bind", "server", "use_backend", "stats", "acl", "capture", "http-request",
            "http-response",
        ]
        if proxyOnly.contains(keyword) {
            alert(at, "'\(keyword)' not allowed in 'defaults' section.")
        } else {
            notCarriedOut(.proxy, keyword, at, section: "defaults")
        }
        return true
    }

    private mutating func proxyKeyword(
        _ keyword: String, _ args: [String], _ at: SourceLocation, _ p: inout ProxySection
    ) {
        if keyword == "retry-on" && !p.isBackend {
            return alert(at, "'retry-on' only available in backend or listen section.")
        }
        if keyword == "rate-limit" && !p.isFrontend {
            return warn(at, "rate-limit sessions will be ignored because backend '\(p.name)' has no frontend capability")
        }
        if settingsKeyword(keyword, args, at, &p.settings, sectionName: p.kind.rawValue) { return }
        switch keyword {
        case "bind":
            guard p.isFrontend else {
                return warn(at, "'bind' ignored because backend '\(p.name)' has no frontend capability.")
            }
            guard let list = args.first else {
                return alert(at, "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
            }
            var addresses = bindAddresses(list, at)
            // TLS options are carried out (bindTLS); every other bind option is refused, or warned about when it is
            // only tuning. Those that take a value skip it.
            var tls = BindTLS()
            tls.options = configuration.global.defaultBindTLS
            var ssl = false
            var i = 1
            while i < args.count {
                if bindTLSOption(args, &i, &tls, &ssl, at) {
                    i += 1
                    continue
                }
                if args[i] == "name", i + 1 < args.count {
                    for index in addresses.indices { addresses[index].name = args[i + 1] }
                    i += 2
                    continue
                }
                if args[i] == "accept-proxy" {
                    for index in addresses.indices { addresses[index].acceptProxy = true }
                    i += 1
                    continue
                }
                if args[i] == "interface", i + 1 < args.count {
                    // SO_BINDTODEVICE: only connections arriving on that interface are accepted.
                    for index in addresses.indices { addresses[index].interface = args[i + 1] }
                    i += 2
                    continue
                }
                if args[i] == "transparent" {
                    // IP_TRANSPARENT: the address (a virtual IP another host may hold) need not be this host's.
                    for index in addresses.indices { addresses[index].transparent = true }
                    i += 1
                    continue
                }
                if args[i] == "v6only" || args[i] == "v4v6" {
                    for index in addresses.indices { addresses[index].v6Only = args[i] == "v6only" }
                    i += 1
                    continue
                }
                if Self.ownershipWords.contains(args[i]), i + 1 < args.count {
                    // A local socket file's mode and owner (nothing to a TCP listener, as in HAProxy).
                    for index in addresses.indices {
                        var o = addresses[index].ownership
                        if let problem = Self.readOwnership(args[i], args[i + 1], &o.mode, &o.uid, &o.gid) {
                            alert(at, "'bind \(args[0])' : \(problem)")
                            break
                        }
                        addresses[index].ownership = o
                    }
                    i += 2
                    continue
                }
                if args[i] == "backlog", i + 1 < args.count {
                    // As HAProxy reads it (atol): leading digits, anything else 0 (the default); below 0 refused.
                    let value = Self.leadingInteger(args[i + 1])
                    if value < 0 {
                        alert(
                            at,
                            "'bind \(args[0])' in section '\(p.kind.rawValue)' : 'backlog' : invalid value \(value), "
                                + "must be > 0")
                    } else {
                        for index in addresses.indices { addresses[index].backlog = value > 0 ? value : nil }
                    }
                    i += 2
                    continue
                }
                notCarriedOut(.bind, args[i], at, section: p.kind.rawValue)
                i += HAProxyKeywords.takesValue(.bind, args[i]) ? 2 : 1
            }
            if ssl {
                if let problem = Self.tlsSettingsProblem(tls.options, alpn: tls.alpn) {
                    alert(at, "Proxy '\(p.name)': \(problem) for bind '\(args[0])'.")
                }
                if let ciphers = tls.options.ciphers, !Self.cipherListAccepted(ciphers) {
                    if let reading = Self.cipherListAsOpenSSLReadsIt(ciphers), Self.cipherListAccepted(reading.list) {
                        tls.options.ciphers = reading.list
                        warnSkippedCipherRules(reading.skipped, "Proxy '\(p.name)', bind '\(args[0])'", at)
                    } else {
                        alert(
                            at,
                            "Proxy '\(p.name)': unable to set SSL cipher list to '\(ciphers)' for bind '\(args[0])' "
                                + "(\(Self.cipherListRefusal(ciphers))).")
                    }
                }
                if tls.clientVerify != .none && tls.crlFile != nil {
                    alert(
                        at,
                        "'bind \(args[0])' : 'crl-file' (revoked client certificates) is not carried out by this "
                            + "build (swift-nio-ssl loads no CRL): refused, because a revoked certificate would be let in.")
                }
                if !tls.crtGiven {
                    alert(at, "no SSL certificate specified for bind '\(args[0])' (use 'crt').")
                }
                if tls.clientVerify != .none && tls.caFile == nil && tls.caVerifyFile == nil {
                    alert(
                        at,
                        "Proxy '\(p.name)': verify is enabled but no CA file specified for bind '\(args[0])'.")
                }
                for index in addresses.indices { addresses[index].tls = tls }
            }
            p.binds += addresses
        case "server":
            guard p.isBackend else {
                return alert(at, "'server' not allowed because frontend '\(p.name)' has no backend capability.")
            }
            if let server = serverLine(args, at, template: p.settings.defaultServer) {
                if p.servers.contains(where: { $0.name == server.name }) {
                    alert(at, "'server' : another server named '\(server.name)' was already defined in the proxy.")
                }
                p.servers.append(server)
            }
        case "server-template":
            guard p.isBackend else {
                return alert(
                    at, "'server-template' not allowed because frontend '\(p.name)' has no backend capability.")
            }
            serverTemplate(args, at, &p)
        case "default_backend":
            guard p.isFrontend else {
                return warn(at, "'default_backend' ignored because backend '\(p.name)' has no frontend capability.")
            }
            p.defaultBackend = required(args, at, keyword)
        case "stats":
            // The section's own stats settings from here on (those of its defaults are its starting point).
            p.stats.inherited = false
            if args.first == "http-request" {
                // Only `allow`, `deny` and `auth` act on the stats page in HAProxy 2.6.
                guard let verb = args.dropFirst().first, ["allow", "deny", "auth"].contains(verb) else {
                    return alert(
                        at, "'stats http-request' : this build carries out 'allow', 'deny' and 'auth' on the stats page "
                            + "(HAProxy 2.6 acts on no other), not '\(args.dropFirst().first ?? "")'.")
                }
                if let last = p.stats.requestRules.last, last.condition == nil {
                    warn(at, "previous 'stats' action has no condition attached, further entries are NOOP.")
                }
                var own = p.rules
                own.requestRules = []
                httpRequestRule(Array(args.dropFirst()), at, &own, section: "HAProxy Statistics")
                p.stats.requestRules += own.requestRules
                p.stats.requestRulesAt = p.stats.requestRulesAt ?? at
                p.stats.enabled = true
                return
            }
            if args.first == "admin" {
                // `stats admin if|unless COND`: a condition is required, as in HAProxy.
                guard args.count >= 3, args[1] == "if" || args[1] == "unless" else {
                    return alert(at, "'stats admin' requires either 'if' or 'unless' followed by a condition.")
                }
                guard let condition = ruleCondition(Array(args.dropFirst()), at, p.rules), let rule = condition.value
                else { return }
                p.stats.adminRules.append(rule)
                return
            }
            stats(args, at, &p.stats)
        case "description":
            break
        case "acl":
            guard args.count >= 2 else { return alert(at, "'acl' expects a name, a criterion and values.") }
            guard let test = aclTest(Array(args.dropFirst()), at) else { return }
            p.rules.acls[args[0], default: []].append(test)
        case "use_backend":
            guard p.isFrontend else {
                return warn(at, "'use_backend' ignored because backend '\(p.name)' has no frontend capability.")
            }
            guard let name = args.first else { return alert(at, "'use_backend' expects a backend name.") }
            var dynamic: LogFormatValue?
            if HAProxyConfigParser.hasLogFormatVariable(name) {
                guard let value = requestFormat(name, "'use_backend'", at) else { return }
                dynamic = value
            }
            guard let condition = ruleCondition(Array(args.dropFirst()), at, p.rules) else { return }
            p.rules.backendRules.append(BackendRule(backend: name, condition: condition.value, location: at, dynamic: dynamic))
        case "tcp-request":
            tcpRequestRule(args, at, &p)
        case "stick-table":
            stickTable(args, at, &p)
        case "stick":
            stickRule(args, at, &p)
        case "monitor":
            guard p.isFrontend else {
                return warn(at, "'monitor' ignored because backend '\(p.name)' has no frontend capability.")
            }
            guard args.first == "fail", ["if", "unless"].contains(args.dropFirst().first ?? "") else {
                return alert(at, "'monitor' expects 'fail' and an 'if' or 'unless' condition.")
            }
            guard let condition = ruleCondition(Array(args.dropFirst()), at, p.rules), let value = condition.value
            else { return }
            p.rules.monitorFail.append(value)
        case "ignore-persist", "force-persist":
            guard p.isBackend else {
                return warn(at, "'\(keyword)' ignored because frontend '\(p.name)' has no backend capability.")
            }
            guard ["if", "unless"].contains(args.first ?? "") else {
                return alert(at, "'\(keyword)' requires either 'if' or 'unless' followed by a condition.")
            }
            guard let condition = ruleCondition(args, at, p.rules), let value = condition.value else { return }
            p.rules.persistRules.append(PersistRule(force: keyword == "force-persist", condition: value))
        case "http-request":
            httpRequestRule(args, at, &p.rules, section: p.name, frontend: p.isFrontend)
        case "http-response":
            httpResponseRule(args, at, &p.rules, context: p.isFrontend ? "frontend" : "backend", sectionName: p.name)
        case "http-after-response":
            // Header rules only here: they are the ones that also apply to the proxy's own replies.
            guard let verb = args.first, ["set-header", "add-header", "del-header"].contains(verb) else {
                return alert(
                    at,
                    "'http-after-response \(args.first ?? "")' is HAProxy's, not in this build (header, URL and response "
                        + "rewriting): refused, because \(BuildSupport.Family.rewriting.consequence).")
            }
            var after = p.rules
            after.responseRules = []
            httpResponseRule(args, at, &after, context: p.isFrontend ? "frontend" : "backend", sectionName: p.name)
            p.rules.afterResponseRules += after.responseRules
        case "redirect":
            guard let (redirect, rest) = redirect("redirect", args, at),
                let condition = ruleCondition(rest, at, p.rules)
            else { return }
            p.rules.redirects.append(RedirectRule(redirect: redirect, condition: condition.value))
        case "capture":
            guard p.isFrontend else { return alert(at, "'capture' not allowed in backend '\(p.name)'.") }
            guard args.count == 5, args[1] == "header", args[3] == "len", let length = Int(args[4]), length > 0,
                args[0] == "request" || args[0] == "response"
            else {
                return alert(at, "'capture' expects 'request header NAME len N' or 'response header NAME len N'.")
            }
            let capture = HeaderCapture(name: args[2], length: length)
            if args[0] == "request" {
                p.rules.requestCaptures.append(capture)
            } else {
                p.rules.responseCaptures.append(capture)
            }
        default:
            notCarriedOut(.proxy, keyword, at, section: p.kind.rawValue)
        }
    }

    /// `option forwardfor`'s arguments (`except NETWORK`, `header NAME`, `if-none`), and `option originalto`'s (the
    /// same but `if-none`, its header `x-original-to`); nil after an alert.
    private mutating func forwardFor(_ args: [String], _ at: SourceLocation, option: String = "forwardfor")
        -> ForwardFor?
    {
        var rule = ForwardFor()
        if option == "originalto" { rule.header = "x-original-to" }
        var rest = args[...]
        while let word = rest.popFirst() {
            switch word {
            case "except":
                guard let network = rest.popFirst() else {
                    alert(at, "'option \(option)' : missing netmask after 'except'.")
                    return nil
                }
                guard case .success(let set) = AddressSet.parse([network]) else {
                    alert(at, "'option \(option)' : invalid netmask '\(network)' after 'except'.")
                    return nil
                }
                rule.except = set
            case "header":
                guard let name = rest.popFirst(), !name.isEmpty else {
                    alert(at, "'option \(option)' : missing header name after 'header'.")
                    return nil
                }
                rule.header = name.lowercased()
            case "if-none" where option == "forwardfor":
                rule.ifNone = true
            default:
                let expected = option == "forwardfor" ? "'except', 'header', 'if-none'" : "'except', 'header'"
                alert(at, "'option \(option)' : unknown argument '\(word)' (expects \(expected)).")
                return nil
            }
        }
        return rule
    }

    /// HAProxy 2.6's balancing algorithms that this build does not have.
    static let otherBalanceAlgorithms: Set<String> = ["rdp-cookie", "hash"]

    /// `balance uri [len N] [depth N] [whole] [path-only]`, `url_param NAME`, `hdr(NAME) [use_domain_only]`, with
    /// HAProxy's refusals in its words. `url_param … check_post` (a POST body's parameters) is refused: this build
    /// does not read the body for it.
    private mutating func hashInput(_ args: [String], _ at: SourceLocation) -> HashInput? {
        let name = args[0]
        if name == "uri" {
            var (length, depth, whole, pathOnly) = (0, 0, false, false)
            var i = 1
            while i < args.count {
                switch args[i] {
                case "len", "depth":
                    guard i + 1 < args.count, let n = Int(args[i + 1]), n > 0 else {
                        alert(at, "uri : '\(args[i])' expects a positive integer (got '\(i + 1 < args.count ? args[i + 1] : "")').")
                        return nil
                    }
                    if args[i] == "len" { length = n } else { depth = n }
                    i += 2
                case "whole":
                    whole = true
                    i += 1
                case "path-only":
                    pathOnly = true
                    i += 1
                default:
                    alert(at, "uri only accepts parameters 'len', 'depth', 'path-only', and 'whole' (got '\(args[i])').")
                    return nil
                }
            }
            return .uri(length: length, depth: depth, whole: whole, pathOnly: pathOnly)
        }
        if name == "url_param" {
            guard args.count > 1 else {
                alert(at, "url_param requires an URL parameter name.")
                return nil
            }
            if args.count > 2 {
                guard args[2] == "check_post" else {
                    alert(at, "url_param only accepts 'check_post' modifier (got '\(args[2])').")
                    return nil
                }
                alert(
                    at,
                    "'balance url_param \(args[1]) check_post' is HAProxy's, not in this build (routing, persistence and "
                        + "balancing): refused, because POST requests would reach other servers than the configuration asks.")
                return nil
            }
            return .urlParameter(args[1])
        }
        let header = name.dropFirst(4).prefix { $0 != ")" }
        guard !header.isEmpty, name.dropFirst(4 + header.count).first == ")" else {
            alert(at, "hdr requires an http header field name.")
            return nil
        }
        if args.count > 1, args[1] != "use_domain_only" {
            alert(at, "\(name) only accepts 'use_domain_only' modifier (got '\(args[1])').")
            return nil
        }
        return .header(String(header).lowercased(), domainOnly: args.count > 1)
    }

    /// `compression algo NAME…|type TYPE…|offload`, as HAProxy 2.6 reads it (lines add up; `offload` is a
    /// proxy's own, ignored in `defaults` with HAProxy's warning).
    private mutating func compression(
        _ args: [String], _ at: SourceLocation, _ s: inout ProxySettings, inDefaults: Bool
    ) {
        var c = s.compression ?? CompressionSettings()
        switch args.first {
        case "algo":
            guard args.count > 1 else { return alert(at, "'compression' expects <algorithm>.") }
            for name in args.dropFirst() {
                guard let algorithm = CompressionSettings.Algorithm(rawValue: name) else {
                    return alert(at, "'compression' : '\(name)' is not a supported algorithm.")
                }
                c.algorithms.insert(algorithm, at: 0)
            }
        case "type":
            guard args.count > 1 else { return alert(at, "'compression' expects <type>.") }
            for type in args.dropFirst() { c.types.insert(type, at: 0) }
        case "offload":
            if inDefaults {
                warn(at, "'compression' : 'offload' ignored in 'defaults' section.")
            } else {
                c.offload = true
            }
        default:
            return alert(at, "'compression' expects 'algo', 'type' or 'offload'")
        }
        s.compression = c
    }

    /// `hash-type map-based|consistent [sdbm|djb2|wt6|crc32 [avalanche]]`, as HAProxy reads it.
    private mutating func hashType(_ args: [String], _ at: SourceLocation, _ s: inout ProxySettings) {
        var type = HashType()
        switch args.first {
        case "consistent": type.consistent = true
        case "map-based": break
        case "avalanche":
            return alert(
                at,
                "experimental feature 'hash-type avalanche' is not supported anymore, please use 'hash-type map-based "
                    + "sdbm avalanche' instead.")
        default: return alert(at, "'hash-type' only supports 'consistent' and 'map-based'.")
        }
        if args.count < 2 {
            type.avalanche = type.consistent
        } else {
            guard let function = HashType.Function(rawValue: args[1]) else {
                return alert(at, "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.")
            }
            type.function = function
            if args.count > 2 {
                guard args[2] == "avalanche", args.count == 3 else {
                    return alert(at, "'hash-type' only supports 'avalanche' as a modifier for hash functions.")
                }
                type.avalanche = true
            }
        }
        s.hashType = type
    }

    /// The one argument of `log-format` and `unique-id-*`, or nil (refused in HAProxy's words).
    private mutating func formatArgument(_ keyword: String, _ args: [String], _ at: SourceLocation) -> String? {
        guard let text = args.first, !text.isEmpty else {
            alert(at, "\(keyword) expects an argument.")
            return nil
        }
        guard args.count == 1 else {
            alert(at, "\(keyword) expects only one argument, don't forget to escape spaces!")
            return nil
        }
        return text
    }

    /// In `defaults`, a format that replaces an earlier one is warned about, as HAProxy warns.
    private mutating func overridingLogFormat(
        _ new: String, _ at: SourceLocation, _ s: ProxySettings, _ sectionName: String
    ) {
        guard sectionName == "defaults" else { return }
        let old =
            s.logFormat != nil
            ? "log-format" : s.option(.httplog) ? (s.httplogCLF ? "option httplog clf" : "option httplog")
            : s.option(.tcplog) ? "option tcplog" : nil
        if let old { warn(at, "'\(new)' overrides previous '\(old)' in 'defaults' section.") }
    }

    private mutating func option(
        _ name: String, _ args: [String], negated: Bool, _ at: SourceLocation, _ s: inout ProxySettings,
        _ sectionName: String
    ) {
        if protocolCheckOption(name, args, negated: negated, at, &s) { return }
        guard let option = ProxyOption(rawValue: name) else {
            return notCarriedOut(.option, name, at, section: "")
        }
        // Only httplog (`clf`) and httpchk read arguments here: others (`forwardfor except 127.0.0.0/8 header X`,
        // `httplog` with anything but `clf`) would run otherwise than written, so they are refused.
        let readsArguments =
            name == "httpchk" || name == "httplog" && args == ["clf"] || name == "forwardfor" || name == "originalto"
        if name == "originalto" {
            if negated {
                s.originalTo = nil
            } else if let rule = forwardFor(args, at, option: "originalto") {
                s.originalTo = rule
            }
        }
        if name == "forwardfor" {
            if negated {
                s.forwardFor = nil
            } else if let rule = forwardFor(args, at) {
                s.forwardFor = rule
            }
        }
        if !args.isEmpty && !readsArguments {
            return alert(
                at,
                "'option \(name)' arguments ('\(args.joined(separator: " "))') are HAProxy's, not in this build: "
                    + "refused, because \(BuildSupport.Family.other.consequence).")
        }
        if !negated && (option == .httplog || option == .tcplog) {
            overridingLogFormat("option \(name)" + (args.first == "clf" ? " clf" : ""), at, s, sectionName)
        }
        s.options[option] = !negated
        switch option {
        case .httplog:
            s.httplogCLF = args.first == "clf"
            if s.option(.tcplog) { s.options[.tcplog] = false }
            if !negated { s.logFormat = nil }
        case .tcplog:
            if s.option(.httplog) { s.options[.httplog] = false }
            if !negated { s.logFormat = nil }
        case .httpchk:
            guard !negated else {
                s.httpCheck = nil
                return
            }
            ownHTTPCheck(&s, option: true)
            var check = HTTPCheck()
            switch args.count {
            case 0: break
            case 1: check.uri = args[0]
            default:
                check.method = args[0]
                check.uri = args[1]
                if args.count > 2 {
                    check.version = args.dropFirst(2).joined(separator: " ")
                    if check.version.utf8.contains(0x0D) || check.version.utf8.contains(0x0A) {
                        warn(
                            at,
                            "'option httpchk' : hiding headers or body at the end of the version string is "
                                + "deprecated (HAProxy suggests 'http-check send'); they are sent as written unless an 'http-check send' replaces them.")
                    }
                }
            }
            s.httpCheck = check
            s.checkProtocol = nil
        case .tcpCheck:
            // The last check option wins, as in HAProxy: the `tcp-check` rules (a connect without any).
            if !negated {
                s.httpCheck = nil
                s.checkProtocol = .tcpCheck
            } else if s.checkProtocol == .tcpCheck {
                s.checkProtocol = nil
            }
        default:
            break
        }
    }

    private mutating func timeout(_ args: [String], _ at: SourceLocation, _ t: inout Timeouts) {
        guard args.count >= 2 else { return alert(at, "'timeout' expects a name and a time.") }
        guard let value = ConfigTime(args[1]) else {
            return alert(
                at, "'timeout \(args[0])' : unexpected character in '\(args[1])' (a number and us, ms, s, m, h or d).")
        }
        guard args.count == 2 else {
            return alert(at, "'timeout \(args[0])' : unexpected extra argument '\(args[2])' after value '\(args[1])'.")
        }
        switch args[0] {
        case "connect": t.connect = value
        case "client": t.client = value
        case "server": t.server = value
        case "queue": t.queue = value
        case "check": t.check = value
        case "tunnel": t.tunnel = value
        case "http-request": t.httpRequest = value
        case "http-keep-alive": t.httpKeepAlive = value
        case "client-fin": t.clientFin = value
        case "server-fin": t.serverFin = value
        case "tarpit": t.tarpit = value
        default:
            notCarriedOut(.timeout, args[0], at, section: "")
        }
    }

    private mutating func stats(_ args: [String], _ at: SourceLocation, _ s: inout StatsSettings) {
        guard let what = args.first else { return alert(at, "'stats' expects a keyword.") }
        switch what {
        case "enable": s.enabled = true
        case "uri":
            guard let uri = args.dropFirst().first, uri.hasPrefix("/") else {
                return alert(at, "'stats uri' needs a URI prefix.")
            }
            s.uri = uri
            s.enabled = true
        case "auth":
            guard let pair = args.dropFirst().first, let colon = pair.firstIndex(of: ":") else {
                return alert(at, "'stats auth' needs a user:password account.")
            }
            s.credentials.append((String(pair[..<colon]), String(pair[pair.index(after: colon)...])))
            s.enabled = true
        case "realm":
            s.realm = args.dropFirst().joined(separator: " ")
            s.enabled = true
        case "refresh":
            guard let value = args.dropFirst().first.flatMap({ ConfigTime($0) }) else {
                return alert(at, "'stats refresh' needs a time.")
            }
            s.refresh = value
            s.enabled = true
        case "hide-version":
            s.hideVersion = true
            s.enabled = true
        case "scope":
            // `stats scope NAME|.` (one per line, several lines add up): the page shows these proxies only.
            guard let name = args.dropFirst().first else {
                return alert(at, "'stats scope' needs a proxy name.")
            }
            if !s.scopes.contains(name) { s.scopes.append(name) }
            s.enabled = true
        default:
            notCarriedOut(.stats, what, at, section: "")
        }
    }

    // MARK: HTTP rules

    /// `CRITERION[(HEADER)] [-i] VALUE…`; nil after an alert.
    private mutating func aclTest(_ words: [String], _ at: SourceLocation) -> ACLTest? {
        guard let written = words.first else {
            alert(at, "an ACL needs a criterion and values.")
            return nil
        }
        // `FETCH,CONV…`: converters on a string fetch (`hdr(host),lower,map_str(FILE)`).
        var parts = LogFormatValue.topLevelParts(written)
        let first = String(parts.removeFirst())
        var converters: [LogFormatValue.Converter] = []
        // Or converters of integers (`sc1_http_req_rate(t),sub(txn.limit)`, `ssl_fc,not`).
        var integerConverters: [IntegerConverter] = []
        for part in parts {
            switch (LogFormatValue.Converter.parse(part), IntegerConverter.parse(part)) {
            case (.success(let converter)?, _) where integerConverters.isEmpty: converters.append(converter)
            case (.failure(let unknown)?, _):
                alert(at, "ACL criterion '\(written)' : \(unknown.problem ?? "converter '\(part)' unknown").")
                return nil
            case (_, .success(let converter)?) where converters.isEmpty: integerConverters.append(converter)
            case (_, .failure(let error)?):
                alert(at, "ACL criterion '\(written)' : converter '\(part)' : \(error.message).")
                return nil
            case (.success?, _), (_, .success?):
                alert(
                    at, "ACL criterion '\(written)' : this build does not chain converters of text and of integers: "
                        + "refused, because \(BuildSupport.Family.accessRules.consequence).")
                return nil
            case (nil, nil):
                alert(
                    at,
                    "ACL criterion '\(written)' : the converter '\(part)' is HAProxy's, not in this build (it has lower, "
                        + "upper, regsub, map*, ipmask, field and \(IntegerConverter.names)): refused, because "
                        + "\(BuildSupport.Family.accessRules.consequence).")
                return nil
            }
        }
        guard var test = aclTest(first, Array(words.dropFirst()), at) else { return nil }
        test.keyword = String(first.prefix { $0 != "(" })
        if !integerConverters.isEmpty {
            guard test.sample.isInteger else {
                alert(
                    at, "ACL criterion '\(written)' : this build applies \(parts.count == 1 ? "the converter" : "converters") "
                        + "'\(parts.joined(separator: ","))' to integer and boolean fetches only (stick counters, nbsrv, hdr_cnt, "
                        + "dst_port, hdr_val, ssl_fc, ssl_c_used).")
                return nil
            }
            test.integerConverters = integerConverters
            return test
        }
        guard !converters.isEmpty else { return test }
        switch test.sample {
        case .path, .method, .header, .tlsSNI, .variable:
            var converted = test
            converted.converters = converters
            return converted
        default:
            alert(at, "ACL criterion '\(written)' : this build applies converters to string fetches only (path, method, hdr, ssl_fc_sni).")
            return nil
        }
    }

    private mutating func aclTest(_ first: String, _ values: [String], _ at: SourceLocation) -> ACLTest? {
        let words = [first] + values
        var criterion = first
        var header: String?
        if first.hasPrefix("nbsrv(") && first.hasSuffix(")") {
            // `nbsrv(BACKEND)`: an integer, the backend's serving servers (the name as written: names have case).
            let name = String(first.dropFirst(6).dropLast())
            guard !name.isEmpty else {
                alert(at, "ACL criterion 'nbsrv' needs a backend name in this build: nbsrv(backend).")
                return nil
            }
            let values = Array(words.dropFirst().drop { $0 == "-m" || $0 == "int" })
            guard !values.isEmpty, let ranges = ACLTest.integerRanges(values) else {
                alert(at, "ACL criterion '\(first)' expects integers, ranges (N:M) or 'lt|le|gt|ge|eq N'.")
                return nil
            }
            var test = ACLTest(sample: .usableServers(name), match: .exact, caseInsensitive: false, values: [])
            test.ranges = ranges
            usableServerTests.append((name, at))
            return test
        }
        for prefix in ["hdr_val(", "req.hdr_val(", "hdr_cnt(", "req.hdr_cnt("] where first.hasPrefix(prefix) && first.hasSuffix(")") {
            // `hdr_val(NAME)`: the header's last value as an integer; `hdr_cnt(NAME)`: how many values it has (each
            // line's comma-separated parts counted, as HAProxy counts them).
            let name = String(first.dropFirst(prefix.count).dropLast()).lowercased()
            let values = Array(words.dropFirst().drop { $0 == "-m" || $0 == "int" })
            guard !name.isEmpty, !name.contains(","), !values.isEmpty, let ranges = ACLTest.integerRanges(values) else {
                alert(at, "ACL criterion '\(first)' expects a header name and integers, ranges (N:M) or 'lt|le|gt|ge|eq N'.")
                return nil
            }
            let sample: ACLTest.Sample = prefix.contains("cnt") ? .headerCount(name) : .headerValue(name)
            var test = ACLTest(sample: sample, match: .exact, caseInsensitive: false, values: [])
            test.ranges = ranges
            return test
        }
        if let counter = counterTest(words, at) { return counter }
        // `http_auth(USERLIST)` (no value) and `http_auth_group(USERLIST) GROUP…`.
        for (prefix, group) in [("http_auth(", false), ("http_auth_group(", true)]
        where first.hasPrefix(prefix) && first.hasSuffix(")") {
            let list = String(first.dropFirst(prefix.count).dropLast())
            let values = Array(words.dropFirst())
            guard !list.isEmpty else {
                alert(at, "ACL criterion '\(first)' needs a userlist name.")
                return nil
            }
            guard group != values.isEmpty else {
                alert(
                    at,
                    group
                        ? "ACL criterion '\(first)' needs at least one group to match."
                        : "ACL criterion '\(first)' takes no value, not '\(values[0])'.")
                return nil
            }
            userlistTests.append((list, at))
            return ACLTest(
                sample: group ? .httpAuthGroup(list) : .httpAuth(list), match: .exact, caseInsensitive: false,
                values: values)
        }
        if first.hasPrefix("var("), first.hasSuffix(")") { return variableTest(first, values, at) }
        // URL parameters: `urlp(NAME[,DELIM])`, `url_param(…)`, `urlp_beg|end|sub|dir|dom|reg(…)` (read with the
        // flags and patterns of the `hdr` forms), `urlp_val(…)` (integers).
        if let open = first.firstIndex(of: "("), first.hasSuffix(")"),
            let suffix = ["urlp": "", "url_param": "", "urlp_beg": "_beg", "urlp_end": "_end", "urlp_sub": "_sub",
                "urlp_dir": "_dir", "urlp_dom": "_dom", "urlp_reg": "_reg", "urlp_val": "_val"][String(first[..<open])]
        {
            let args = LogFormatValue.arguments(first[first.index(after: open)..<first.index(before: first.endIndex)])
            guard !args[0].isEmpty, args.count <= 2, args.count == 1 || args[1].count == 1 else {
                alert(at, "ACL criterion '\(first)' expects a parameter name and an optional one-character delimiter.")
                return nil
            }
            guard var test = aclTest("hdr\(suffix)(x)", values, at) else { return nil }
            test.sample = .urlParameter(args[0], delimiter: args.count == 2 ? args[1].first : nil, integer: suffix == "_val")
            return test
        }
        // A response's header (`res.hdr(NAME)`, `shdr(NAME)` and their `_beg`… forms): read as `hdr` reads a
        // request's, on the response.
        for prefix in ["res.hdr", "shdr"] where first.hasPrefix(prefix) && first.hasSuffix(")") {
            guard var test = aclTest("hdr" + first.dropFirst(prefix.count), values, at) else { return nil }
            guard case .header(let name) = test.sample else {
                alert(at, "ACL criterion '\(first)' is HAProxy's, not in this build (access rules and ACLs).")
                return nil
            }
            test.sample = .responseHeader(name)
            return test
        }
        // `always_true`, `always_false` (booleans, no pattern): what the predefined `TRUE` and `FALSE` test.
        if ["always_true", "always_true()", "always_false", "always_false()"].contains(first) {
            guard values.isEmpty else {
                alert(at, "ACL criterion '\(first)' takes no value, not '\(values[0])'.")
                return nil
            }
            return ACLTest(
                sample: .method, match: first.hasPrefix("always_true") ? .found : .exact, caseInsensitive: false,
                values: [])
        }
        // The integer fetches without an argument: `ssl_c_verify`, `req.ssl_hello_type`, `dst_port`.
        let integers: [String: ACLTest.Sample] = [
            "ssl_c_verify": .clientCertificateVerify, "req.ssl_hello_type": .clientHelloType,
            "req_ssl_hello_type": .clientHelloType, "dst_port": .frontendPort, "status": .status,
        ]
        if let sample = integers[first] {
            let values = Array(words.dropFirst().drop { $0 == "-m" || $0 == "int" })
            guard !values.isEmpty, let ranges = ACLTest.integerRanges(values) else {
                alert(at, "ACL criterion '\(first)' expects integers, ranges (N:M) or 'lt|le|gt|ge|eq N'.")
                return nil
            }
            var test = ACLTest(sample: sample, match: .exact, caseInsensitive: false, values: [])
            test.ranges = ranges
            return test
        }
        if let open = first.firstIndex(of: "("), first.hasSuffix(")") {
            criterion = String(first[..<open])
            // `req.hdr(NAME)` is `hdr(NAME)` (the request's headers).
            if criterion.hasPrefix("req.hdr") { criterion.removeFirst(4) }
            header = String(first[first.index(after: open)..<first.index(before: first.endIndex)]).lowercased()
        }
        guard ACLTest.criteria.contains(criterion) else {
            // An ACL this build cannot evaluate is refused, never taken as "never matches" (a blocklist that never
            // fires lets everyone in).
            notCarriedOut(.aclCriterion, criterion, at, section: "")
            return nil
        }
        guard criterion.hasPrefix("hdr") == (header != nil) else {
            alert(
                at,
                header == nil
                    ? "ACL criterion '\(first)' needs a header name: \(criterion)(name)."
                    : "ACL criterion '\(criterion)' takes no argument in this build, not '\(first)'.")
            return nil
        }
        var rest = Array(words.dropFirst())
        var insensitive = false
        // `src`'s pattern files (`-f FILE`, HAProxy's one pattern a line, `#` comments).
        var patternFiles: [String] = []
        var endOfFlags = false
        var method: ACLTest.Match?
        while let flag = rest.first, flag.hasPrefix("-"), flag != "-" {
            if flag == "-i" {
                insensitive = true
            } else if flag == "-m", rest.count >= 2, !["src", "ssl_fc", "ssl_c_used", "ssl_fc_has_crt"].contains(criterion) {
                guard let chosen = ACLTest.methods[rest[1]] else {
                    alert(
                        at,
                        "the ACL match '-m \(rest[1])' is HAProxy's, not in this build (access rules and ACLs): refused, "
                            + "because \(BuildSupport.Family.accessRules.consequence).")
                    return nil
                }
                method = chosen
                rest.removeFirst()
            } else if flag == "--" {
                rest.removeFirst()
                endOfFlags = true
                break
            } else if !["ssl_fc", "ssl_c_used", "ssl_fc_has_crt"].contains(criterion) && flag == "-f" && rest.count >= 2 {
                rest.removeFirst()
                patternFiles.append(rest[0])
            } else if criterion == "src" && flag == "-n" {
                // No name resolution: this build resolves none.
            } else {
                notCarriedOut(.aclFlag, flag, at, section: "")
                return nil
            }
            rest.removeFirst()
        }
        if criterion == "ssl_fc" || criterion == "ssl_c_used" || criterion == "ssl_fc_has_crt" {
            // A boolean fetch: no value to match.
            guard rest.isEmpty else {
                alert(at, "ACL criterion '\(criterion)' takes no value, not '\(rest[0])'.")
                return nil
            }
            return ACLTest(
                sample: criterion == "ssl_fc" ? .tlsConnection : .clientCertificate, match: .exact,
                caseInsensitive: false, values: [])
        }
        if rest.isEmpty && patternFiles.isEmpty && method != .found && !endOfFlags {
            // HAProxy's warning (an empty variable often leaves a pattern out): the ACL never matches.
            warn(
                at,
                "parsing acl keyword '\(first)' : no pattern to match against were provided, so this ACL will never "
                    + "match. If this is what you intended, please add '--' to get rid of this warning. If you intended "
                    + "to match only for existence, please use '-m found'.")
        }
        guard let (sample, typedMatch) = ACLTest.typed(criterion, header: header) else { return nil }
        if sample != .source {
            guard let patterns = patterns(from: patternFiles, criterion, at) else { return nil }
            rest += patterns
        }
        var match = typedMatch
        if let method { match = method }
        if match == .found && !rest.isEmpty {
            alert(at, "ACL criterion '\(first) -m found' takes no value, not '\(rest[0])'.")
            return nil
        }
        var test = ACLTest(
            sample: sample, match: match, caseInsensitive: insensitive,
            values: insensitive ? rest.map { $0.lowercased() } : rest)
        if match == .integer {
            guard sample != .source, let ranges = ACLTest.integerRanges(rest) else {
                alert(at, "ACL criterion '\(first) -m int' expects integers, ranges (N:M) or 'lt|le|gt|ge|eq N'.")
                return nil
            }
            test.ranges = ranges
            test.values = []
        }
        if match == .regex {
            switch PatternRegexes.compile(rest, ignoringCase: insensitive) {
            case .success(let regexes): test.regexes = regexes
            case .failure(let error):
                alert(at, "ACL criterion '\(first)' : '\(error.pattern)' is not a regular expression this build reads.")
                return nil
            }
        }
        if sample == .source {
            var patterns = rest
            for file in patternFiles {
                guard let text = TextFile.read(file) else {
                    alert(at, "'src' : failed to open pattern file <\(file)>.")
                    return nil
                }
                for line in text.split(whereSeparator: \.isNewline) {
                    let pattern = line.trimmingCharacters(in: .whitespaces)
                    if pattern.isEmpty || pattern.hasPrefix("#") { continue }
                    patterns.append(pattern)
                }
            }
            switch AddressSet.parse(patterns) {
            case .success(let set): test.addresses = set
            case .failure(let error):
                alert(
                    at,
                    "'src' : '\(error.pattern)' is not an IPv4 or IPv6 address or network (this build resolves no "
                        + "host name).")
                return nil
            }
            test.values = []
        }
        return test
    }

    /// The patterns of an ACL's `-f` files: one a line, blank lines and `#` comments skipped; nil after an alert
    /// (a file that cannot be read).
    mutating func patterns(from files: [String], _ criterion: String, _ at: SourceLocation) -> [String]? {
        var patterns: [String] = []
        for file in files {
            guard let text = TextFile.read(file) else {
                alert(at, "'\(criterion)' : failed to open pattern file <\(file)>.")
                return nil
            }
            patterns += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        return patterns
    }

    /// Nothing (no condition), or `if|unless TERMS`; nil after an alert.
    mutating func ruleCondition(_ words: [String], _ at: SourceLocation, _ rules: HTTPRules)
        -> (value: RuleCondition?, Void)?
    {
        guard let keyword = words.first else { return (nil, ()) }
        guard keyword == "if" || keyword == "unless" else {
            alert(at, "expected 'if' or 'unless' followed by a condition, got '\(keyword)'.")
            return nil
        }
        var alternatives: [[RuleCondition.Term]] = [[]]
        var i = 1
        while i < words.count {
            var word = words[i]
            if word.lowercased() == "or" || word == "||" {
                alternatives.append([])
                i += 1
                continue
            }
            var negated = false
            if word.hasPrefix("!") {
                negated = true
                word.removeFirst()
                if word.isEmpty {
                    i += 1
                    guard i < words.count else { break }
                    word = words[i]
                }
            }
            if word == "{" {
                guard let close = words[i...].firstIndex(of: "}"), close > i + 1 else {
                    alert(at, "an anonymous ACL ('{ … }') needs a criterion and a value, and a closing '}'.")
                    return nil
                }
                guard let test = aclTest(Array(words[(i + 1)..<close]), at) else { return nil }
                alternatives[alternatives.count - 1].append(.init(negated: negated, tests: [test]))
                i = close + 1
                continue
            }
            guard let tests = rules.acls[word] ?? ACLTest.predefined[word] else {
                if ACLTest.otherPredefined.contains(word) {
                    alert(
                        at,
                        "the predefined ACL '\(word)' is HAProxy's, not in this build (access rules and ACLs): refused, "
                            + "because \(BuildSupport.Family.accessRules.consequence).")
                } else {
                    alert(at, "no such ACL : '\(word)'.")
                }
                return nil
            }
            alternatives[alternatives.count - 1].append(.init(negated: negated, tests: tests, name: word))
            i += 1
        }
        guard alternatives.allSatisfy({ !$0.isEmpty }) else {
            alert(at, "a condition is missing after 'if', 'unless' or 'or'.")
            return nil
        }
        return (RuleCondition(unless: keyword == "unless", alternatives: alternatives), ())
    }

    /// `cookie NAME …`: the insert and passive modes with their options; what changes the cookie otherwise
    /// (`rewrite`, `prefix`, `preserve`, dates, `dynamic`) is refused.
    private mutating func persistenceCookie(_ args: [String], _ at: SourceLocation, _ s: inout ProxySettings) {
        guard let name = args.first, !name.isEmpty else { return alert(at, "'cookie' expects <cookie_name> as argument.") }
        var cookie = PersistenceCookie(name: name)
        var i = 1
        while i < args.count {
            let word = args[i]
            switch word {
            case "insert": cookie.insert = true
            case "indirect": cookie.indirect = true
            case "nocache": cookie.nocache = true
            case "postonly": cookie.postOnly = true
            case "httponly": cookie.httpOnly = true
            case "secure": cookie.secure = true
            case "domain", "attr":
                guard i + 1 < args.count else {
                    return alert(at, "'cookie' : '\(word)' expects a \(word == "domain" ? "domain name" : "string") as argument.")
                }
                i += 1
                if word == "domain" { cookie.domains.append(args[i]) } else { cookie.attributes.append(args[i]) }
            case "rewrite", "prefix", "preserve", "maxidle", "maxlife", "dynamic":
                return alert(
                    at,
                    "'cookie \(name) \(word)' is HAProxy's, not in this build (routing, persistence and balancing): "
                        + "refused, because \(BuildSupport.Family.routing.consequence). See docs/not-in-this-build.md.")
            default:
                return alert(
                    at,
                    "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', "
                        + "'maxidle', 'dynamic', 'maxlife' and 'attr' options.")
            }
            i += 1
        }
        s.cookie = cookie
    }

    /// `tcp-request connection|content accept|reject [if|unless …]` on `src` (what this build evaluates before any
    /// byte is read); other actions, other criteria and `inspect-delay` are refused.
    private mutating func tcpRequestRule(_ args: [String], _ at: SourceLocation, _ p: inout ProxySection) {
        func refuse(_ what: String) {
            alert(
                at,
                "'tcp-request \(what)' is HAProxy's, not in this build (access rules and ACLs): refused, because "
                    + "\(BuildSupport.Family.accessRules.consequence). See docs/not-in-this-build.md.")
        }
        guard let stage = args.first, ["connection", "content", "session", "inspect-delay"].contains(stage) else {
            return alert(
                at,
                "'tcp-request' expects 'inspect-delay', 'connection', 'session' or 'content', got '\(args.first ?? "")'.")
        }
        if stage == "inspect-delay" {
            guard args.count == 2, let delay = ConfigTime(args[1]) else {
                return alert(at, "'tcp-request inspect-delay' expects a time value, not '\(args.dropFirst().joined(separator: " "))'.")
            }
            p.settings.inspectDelay = delay
            return
        }
        if stage != "content" && !p.isFrontend {
            return warn(at, "'tcp-request \(stage)' ignored because backend '\(p.name)' has no frontend capability.")
        }
        guard args.count >= 2 else { return alert(at, "'tcp-request \(stage)' expects an action.") }
        let verb = args[1]
        let action: TCPRequestRule.Action
        var words = Array(args.dropFirst(2))
        if verb == "accept" || verb == "reject" {
            action = verb == "accept" ? .accept : .reject
        } else if verb == "silent-drop" {
            action = .silentDrop
        } else if verb == "expect-proxy" {
            guard stage == "connection", words.first == "layer4" else {
                return alert(
                    at, "'tcp-request \(stage) expect-proxy' : expects 'layer4', and only in 'tcp-request connection' "
                        + "rules.")
            }
            action = .expectProxy
            words.removeFirst()
        } else if verb.hasPrefix("track-sc") {
            guard let (tracking, rest) = stickTracking("tcp-request \(stage)", Array(args.dropFirst()), at, layer4: true)
            else { return }
            action = .track(tracking)
            words = rest
        } else if verb.hasPrefix("sc-inc-gpc0") || verb.hasPrefix("sc-inc-gpc1") || verb.hasPrefix("sc-set-gpt0") {
            guard let parsed = counterAction("tcp-request \(stage)", Array(args.dropFirst()), at) else { return }
            if let gpc = parsed.gpc {
                action = .incrementGPC(counter: parsed.counter, which: gpc)
            } else {
                action = .setGPT0(counter: parsed.counter, value: parsed.value ?? 0)
            }
            words = parsed.rest
        } else {
            return refuse("\(stage) \(verb)")
        }
        guard let condition = ruleCondition(words, at, p.rules) else { return }
        // Connection rules see the client's address only; content rules also what a TCP frontend's client sent
        // first (the ClientHello: `req.ssl_sni`, `req.ssl_hello_type`).
        let tests = condition.value?.tests ?? []
        let allowed: (ACLTest.Sample) -> Bool = { sample in
            if case .counter = sample { return true }
            return sample == .source || (stage == "content" && sample.readsPayload)
        }
        if let other = tests.first(where: { !allowed($0.sample) }) {
            return alert(
                at,
                "'tcp-request \(stage) \(verb)' : this build evaluates these rules on the client's address ('src')"
                    + (stage == "content" ? " and the TLS ClientHello (req.ssl_sni, req.ssl_hello_type)" : "")
                    + ", and a condition here tests '\(other.sample.name)': refused, because "
                    + "\(BuildSupport.Family.accessRules.consequence).")
        }
        if stage == "content" && p.kind == .backend && p.settings.mode == .http {
            return alert(
                at,
                "'tcp-request content' in backend '\(p.name)' (mode http) is HAProxy's, not in this build (access rules "
                    + "and ACLs): refused, because \(BuildSupport.Family.accessRules.consequence). Move the rule to "
                    + "the frontend.")
        }
        let rule = TCPRequestRule(action: action, condition: condition.value)
        if stage == "connection" {
            p.rules.tcpConnectionRules.append(rule)
        } else if stage == "session" {
            p.rules.tcpSessionRules.append(rule)
        } else {
            p.rules.tcpContentRules.append(rule)
        }
    }

    private mutating func httpRequestRule(
        _ args: [String], _ at: SourceLocation, _ rules: inout HTTPRules, section: String, frontend: Bool = true
    ) {
        guard let verb = args.first else { return alert(at, "'http-request' expects an action.") }
        let action: HTTPRequestRule.Action
        var rest: [String]
        switch verb {
        case "set-header", "add-header", "del-header":
            guard let (header, words) = headerAction("http-request", args, at, seenBy: "servers")
            else { return }
            switch header {
            case .set(let name, let value): action = .setHeader(name, value)
            case .add(let name, let value): action = .addHeader(name, value)
            case .delete(let name): action = .delHeader(name)
            }
            rest = words
        case "set-path", "set-query", "set-uri":
            guard args.count >= 2 else { return alert(at, "'http-request \(verb)' expects exactly 1 argument.") }
            guard let value = requestFormat(args[1], "'http-request \(verb)'", at) else { return }
            let part: TargetRewrite.Part = verb == "set-path" ? .path : verb == "set-query" ? .query : .uri
            action = .rewriteTarget(TargetRewrite(part: part, regex: nil, value: value))
            rest = Array(args.dropFirst(2))
        case "replace-path", "replace-uri":
            guard args.count >= 3 else { return alert(at, "'http-request \(verb)' expects exactly 2 arguments.") }
            guard let regex = rewriteRegex(args[1], "'http-request \(verb)'", at),
                let value = requestFormat(args[2], "'http-request \(verb)'", at)
            else { return }
            action = .rewriteTarget(TargetRewrite(part: verb == "replace-path" ? .path : .uri, regex: regex, value: value))
            rest = Array(args.dropFirst(3))
        case "replace-header", "replace-value":
            guard args.count >= 4 else { return alert(at, "'http-request \(verb)' expects exactly 3 arguments.") }
            guard let regex = rewriteRegex(args[2], "'http-request \(verb)'", at),
                let value = requestFormat(args[3], "'http-request \(verb)'", at)
            else { return }
            action = .rewriteHeader(
                HeaderRewrite(name: args[1].lowercased(), regex: regex, value: value, eachValue: verb == "replace-value"))
            rest = Array(args.dropFirst(4))
        case "use-service":
            guard args.count >= 2 else { return alert(at, "'http-request use-service' expects a service name.") }
            guard args[1] == "prometheus-exporter" else {
                return alert(
                    at,
                    "'http-request use-service \(args[1])' : unknown service (this build has 'prometheus-exporter').")
            }
            action = .prometheusExporter
            rest = Array(args.dropFirst(2))
        case "silent-drop":
            action = .silentDrop
            rest = Array(args.dropFirst())
        case "allow":
            action = .allow
            rest = Array(args.dropFirst())
        case "deny":
            guard let (reply, words) = denyReply(
                Array(args.dropFirst()), at, section: section, rule: "http-request deny", defaultStatus: 403)
            else { return }
            action = .deny(reply)
            rest = words
        case "tarpit":
            rest = Array(args.dropFirst())
            var status = 500
            if rest.first == "deny_status", rest.count >= 2 {
                if let n = Int(rest[1]), HTTPErrorPages.denyStatuses.contains(n) {
                    status = n
                } else {
                    return alert(
                        at, "'http-request tarpit': status code '\(rest[1])' is not one this build can answer with.")
                }
                rest.removeFirst(2)
            }
            action = .tarpit(status: status)
        case "redirect":
            guard let (redirect, words) = redirect("http-request redirect", Array(args.dropFirst()), at, format: true)
            else { return }
            action = .redirect(redirect)
            rest = words
        case "return":
            guard let (reply, words) = returnReply(Array(args.dropFirst()), at, section: section) else { return }
            action = .returnReply(reply)
            rest = words
        case "auth":
            // `auth [realm REALM]`: the realm defaults to the section's name, as in HAProxy.
            rest = Array(args.dropFirst())
            var realm = section
            if rest.first == "realm" {
                guard rest.count >= 2 else { return alert(at, "'http-request auth' : missing realm value.") }
                realm = rest[1]
                rest.removeFirst(2)
            }
            action = .auth(realm: realm)
        case "set-src":
            // The sample this build fetches for it: a request header (`hdr(NAME)`, `req.hdr(NAME)`), its last value.
            guard args.count >= 2 else { return alert(at, "'http-request set-src' expects a sample expression.") }
            let expression = args[1]
            var name: String?
            for prefix in ["hdr(", "req.hdr("] where expression.hasPrefix(prefix) && expression.hasSuffix(")") {
                let inside = expression.dropFirst(prefix.count).dropLast()
                let parts = inside.split(separator: ",", omittingEmptySubsequences: false)
                if let first = parts.first, !first.isEmpty, parts.count == 1 || (parts.count == 2 && parts[1] == "-1") {
                    name = first.lowercased()
                }
            }
            guard let name else {
                return alert(
                    at,
                    "'http-request set-src \(expression)' : this build fetches the address from a request header only "
                        + "(hdr(NAME), its last value): refused, because "
                        + "\(BuildSupport.Family.accessRules.consequence).")
            }
            action = .setSource(header: name)
            rest = Array(args.dropFirst(2))
        case "set-log-level":
            guard let level = logLevel("http-request", args, at) else { return }
            action = .setLogLevel(level)
            rest = Array(args.dropFirst(2))
        case "capture":
            // `capture SAMPLE len N` (a new slot after the section's others); the `id N` form needs `declare
            // capture`, which this build does not read.
            func fail(_ text: String) { alert(at, "error detected while parsing an 'http-request capture' rule : \(text).") }
            guard args.count >= 4 else { return fail("expects <expression> [ 'len' <length> | id <idx> ]") }
            guard args[2] == "len" else {
                if args[2] == "id" {
                    return alert(
                        at,
                        "'http-request capture … id N' needs 'declare capture', which is HAProxy's, not in this build "
                            + "(logging): refused, because the log lines would differ from what the configuration asks.")
                }
                return fail("expects 'len or 'id'")
            }
            guard frontend else { return fail("proxy '\(section)' has no frontend capability") }
            guard let length = Int(args[3]), length > 0 else { return fail("length must be > 0") }
            let value: LogFormatValue
            switch LogFormatValue.parseExpression(args[1]) {
            case .success(let parsed): value = parsed
            case .failure(let unknown):
                return alert(
                    at,
                    "'http-request capture' : \(unknown.problem ?? "'\(unknown.text)' is HAProxy's, not in this build (logging): refused, because the log lines would differ from what the configuration asks").")
            }
            action = .capture(slot: rules.requestCaptures.count, value, length: length)
            rules.requestCaptures.append(HeaderCapture(name: "", length: length, sample: value))
            rest = Array(args.dropFirst(4))
        case "track-sc0", "track-sc1", "track-sc2":
            guard let (tracking, words) = stickTracking("http-request", args, at, layer4: false) else { return }
            action = .track(tracking)
            rest = words
        case _ where verb.hasPrefix("sc-inc-gpc0(") || verb.hasPrefix("sc-inc-gpc1(") || verb.hasPrefix("sc-set-gpt0("):
            guard let parsed = counterAction("http-request", args, at) else { return }
            if let gpc = parsed.gpc {
                action = .incrementGPC(counter: parsed.counter, which: gpc)
            } else {
                action = .setGPT0(counter: parsed.counter, value: parsed.value ?? 0)
            }
            rest = parsed.rest
        case _ where verb.hasPrefix("set-var") || verb.hasPrefix("unset-var"):
            guard let (variable, words) = variableAction("http-request", args, at) else { return }
            action = .variable(variable)
            rest = words
        default:
            // `sc-inc-gpc(1,0)`: HAProxy's keyword is the name before its arguments.
            return notCarriedOut(.httpRequest, String(verb.prefix { $0 != "(" }), at, section: "")
        }
        guard let condition = ruleCondition(rest, at, rules) else { return }
        rules.requestRules.append(HTTPRequestRule(action: action, condition: condition.value))
    }

    /// A rewriting rule's value: a log-format this build evaluates on the request (see `LogFormatValue`), or nil
    /// after an alert.
    private mutating func requestFormat(_ text: String, _ rule: String, _ at: SourceLocation) -> LogFormatValue? {
        switch LogFormatValue.parse(text) {
        case .success(let value): return value
        case .failure(let unknown):
            if let problem = unknown.problem { 
                alert(at, "\(rule) : \(problem).")
                return nil
            }
            alert(
                at,
                "\(rule) : '\(unknown.text)' in '\(text)' is HAProxy's, not in this build (header, URL and response "
                    + "rewriting): refused, because servers would see other bytes than the configuration asks.")
            return nil
        }
    }

    /// `set-log-level LEVEL|silent`'s level, or nil after HAProxy's alert.
    private mutating func logLevel(_ rule: String, _ args: [String], _ at: SourceLocation) -> LogLevelOverride? {
        guard args.count >= 2, let level = LogLevelOverride(args[1]) else {
            alert(
                at,
                "error detected while parsing an '\(rule) set-log-level' rule : expects exactly 1 argument (log level "
                    + "name or 'silent').")
            return nil
        }
        return level
    }

    private mutating func rewriteRegex(_ pattern: String, _ rule: String, _ at: SourceLocation) -> RewriteRegex? {
        guard let regex = RewriteRegex(pattern) else {
            alert(at, "\(rule) : failed to parse the regex '\(pattern)'.")
            return nil
        }
        return regex
    }

    private mutating func httpResponseRule(
        _ args: [String], _ at: SourceLocation, _ rules: inout HTTPRules, context: String, sectionName: String
    ) {
        guard let verb = args.first else { return alert(at, "'http-response' expects an action.") }
        let action: HTTPResponseRule.Action
        let rest: [String]
        switch verb {
        case "set-header", "add-header", "del-header":
            guard let (header, words) = headerAction("http-response", args, at, seenBy: "clients", response: true)
            else { return }
            switch header {
            case .set(let name, let value): action = .setHeader(name, value)
            case .add(let name, let value): action = .addHeader(name, value)
            case .delete(let name): action = .delHeader(name)
            }
            rest = words
        case "replace-header", "replace-value":
            guard args.count >= 4 else { return alert(at, "'http-response \(verb)' expects exactly 3 arguments.") }
            guard let regex = rewriteRegex(args[2], "'http-response \(verb)'", at) else { return }
            guard !HAProxyConfigParser.hasLogFormatVariable(args[3]) else {
                return alert(
                    at,
                    "'http-response \(verb)' : the replacement '\(args[3])' is a log-format expression; on a response "
                        + "this build takes text only (header, URL and response rewriting): refused, because clients "
                        + "would see other bytes than the configuration asks.")
            }
            action = .rewriteHeader(
                HeaderRewrite(
                    name: args[1].lowercased(), regex: regex, value: LogFormatValue(literal: args[3].replacingOccurrences(of: "%%", with: "%")),
                    eachValue: verb == "replace-value"))
            rest = Array(args.dropFirst(4))
        case _ where verb.hasPrefix("set-var") || verb.hasPrefix("unset-var"):
            guard let (variable, words) = variableAction("http-response", args, at, response: true) else { return }
            action = .variable(variable)
            rest = words
        case "set-log-level":
            guard let level = logLevel("http-response", args, at) else { return }
            action = .setLogLevel(level)
            rest = Array(args.dropFirst(2))
        case "set-status":
            func fail(_ text: String) {
                alert(at, "error detected in '\(sectionName)' while parsing 'http-response set-status' rule : \(text).")
            }
            guard args.count >= 2 else { return fail("expects 1 argument: <status>; or 3 arguments: <status> reason <fmt>") }
            guard let code = Int(args[1]), (100...999).contains(code) else {
                return fail("expects an integer status code between 100 and 999")
            }
            var words = Array(args.dropFirst(2))
            var reason: String?
            if words.count >= 2, words[0] == "reason", words[1] != "if", words[1] != "unless" {
                reason = words[1]
                words.removeFirst(2)
            }
            action = .setStatus(code, reason: reason)
            rest = words
        case "deny":
            guard let (reply, words) = denyReply(
                Array(args.dropFirst()), at, section: sectionName, rule: "http-response deny", defaultStatus: 502)
            else { return }
            action = .deny(reply)
            rest = words
        case "return":
            guard let (reply, words) = returnReply(
                Array(args.dropFirst()), at, section: sectionName, rule: "http-response return")
            else { return }
            action = .returnReply(reply)
            rest = words
        default:
            return notCarriedOut(.httpResponse, verb, at, section: "")
        }
        guard let condition = ruleCondition(rest, at, rules) else { return }
        if let value = condition.value {
            // HAProxy's warnings: an ACL that reads only what a request has never matches on a response.
            for term in value.alternatives.joined() where term.tests.allSatisfy({ !$0.sample.knownOnResponse }) {
                if let name = term.name {
                    warn(
                        at,
                        "acl '\(name)' will never match because it only involves keywords that are incompatible with "
                            + "'\(context) http-response header rule'")
                } else if let test = term.tests.first {
                    warn(
                        at,
                        "anonymous acl will never match because it uses keyword '\(test.keyword)' which is incompatible "
                            + "with '\(context) http-response header rule'")
                }
            }
        }
        rules.responseRules.append(HTTPResponseRule(action: action, condition: condition.value))
    }

    /// `format`: an `http-request redirect`, whose target is a log-format (HAProxy's legacy `redirect` takes it as
    /// written, `%` and all).
    private mutating func redirect(_ rule: String, _ args: [String], _ at: SourceLocation, format: Bool = false)
        -> (Redirect, [String])?
    {
        var target: (kind: Redirect.Kind, text: String)?
        var code = 302
        var dropQuery = false
        var appendSlash = false
        var ignoreEmpty = false
        var rest = args[...]
        while let word = rest.first, word != "if", word != "unless" {
            switch word {
            case "location", "prefix", "scheme":
                guard rest.count >= 2, let kind = Redirect.Kind(rawValue: word) else {
                    alert(at, "'\(rule)': missing argument for '\(word)'.")
                    return nil
                }
                target = (kind, rest[rest.startIndex + 1])
                rest = rest.dropFirst(2)
            case "code":
                let value = rest.count >= 2 ? rest[rest.startIndex + 1] : ""
                guard let number = Int(value), Redirect.reasons[number] != nil else {
                    alert(at, "'\(rule)': unsupported HTTP code '\(value)'.")
                    return nil
                }
                code = number
                rest = rest.dropFirst(2)
            case "drop-query":
                dropQuery = true
                rest = rest.dropFirst()
            case "append-slash":
                appendSlash = true
                rest = rest.dropFirst()
            case "ignore-empty":
                ignoreEmpty = true
                rest = rest.dropFirst()
            case "set-cookie", "clear-cookie":
                alert(
                    at,
                    "'\(rule) … \(word)' is HAProxy's, not in this build (header, URL and response rewriting): "
                        + "refused, because clients would be sent elsewhere than the configuration asks.")
                return nil
            default:
                alert(
                    at,
                    "'\(rule)': expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', "
                        + "'drop-query', 'ignore-empty' or 'append-slash' (was '\(word)').")
                return nil
            }
        }
        guard let target else {
            alert(at, "'\(rule)' expects 'location', 'prefix' or 'scheme' followed by a target.")
            return nil
        }
        var redirect = Redirect(kind: target.kind, target: target.text, code: code, dropQuery: dropQuery)
        redirect.appendSlash = appendSlash
        redirect.ignoreEmpty = ignoreEmpty
        // A prefix of exactly "/" is no log-format (it adds nothing), as HAProxy reads it.
        if format && !(target.kind == .prefix && target.text == "/") {
            guard let value = requestFormat(target.text, "'\(rule)'", at) else { return nil }
            if let literal = value.literal { redirect.target = literal } else { redirect.format = value }
        }
        return (redirect, Array(rest))
    }

    /// HAProxy 2.6's codes for `errorfile`.
    static let errorFileCodes: Set<Int> = [
        200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
    ]

    /// `errorfile CODE FILE`: the file is read now (a relative path from the current directory, as HAProxy reads
    /// it) and must be a whole HTTP response of at most 16 kB (HAProxy's buffer).
    private mutating func errorFile(_ args: [String], _ at: SourceLocation, _ s: inout ProxySettings) {
        guard let (code, bytes) = readErrorFile(args, at) else { return }
        s.errorFiles[code] = bytes
        s.errorFileSources.append(.file(code: code, bytes: bytes))
    }

    /// `errorfile CODE FILE`'s code and file (in a proxy or an `http-errors` section), or nil with an alert.
    mutating func readErrorFile(_ args: [String], _ at: SourceLocation) -> (Int, [UInt8])? {
        guard args.count == 2, let code = Int(args[0]) else {
            alert(at, "'errorfile' expects <status_code> and <file> as arguments.")
            return nil
        }
        guard HAProxyConfigParser.errorFileCodes.contains(code) else {
            alert(at, "'errorfile' : status code \(code) is not one HAProxy answers with an error file.")
            return nil
        }
        return readResponseFile(args[1], at, keyword: "errorfile").map { (code, $0) }
    }

    /// A file holding a whole HTTP response (an `errorfile`, a reply's `errorfile`), checked, or nil after an alert.
    mutating func readResponseFile(_ path: String, _ at: SourceLocation, keyword: String) -> [UInt8]? {
        guard let bytes = TextFile.bytes(path) else {
            alert(at, "'\(keyword)' : error opening file '\(path)'.")
            return nil
        }
        guard bytes.count <= 16_384, HTTPErrorFile(bytes) != nil else {
            alert(
                at,
                "'\(keyword)' : '\(path)' is not a whole HTTP response of at most 16 kB (a status line, headers, "
                    + "an empty line, then the body).")
            return nil
        }
        return bytes
    }

    /// A header action of an `http-request` or `http-response` rule (`args`: `set-header|add-header NAME VALUE`
    /// or `del-header NAME`, then what follows), or nil with an alert when it cannot be carried out.
    private enum HeaderAction {
        case set(String, LogFormatValue)
        case add(String, LogFormatValue)
        case delete(String)
    }

    /// `samples`: the value may fetch samples (a request's rules); else it must be text (`%%` for a `%`).
    private mutating func headerAction(
        _ rule: String, _ args: [String], _ at: SourceLocation, seenBy: String, response: Bool = false
    ) -> (HeaderAction, [String])? {
        let verb = args.first ?? ""
        if verb == "del-header" {
            guard args.count >= 2 else {
                alert(at, "'\(rule) del-header' expects a name.")
                return nil
            }
            return (.delete(args[1]), Array(args.dropFirst(2)))
        }
        guard args.count >= 3 else {
            alert(at, "'\(rule) \(verb)' expects a name and a value.")
            return nil
        }
        let value: LogFormatValue
        switch LogFormatValue.parse(args[2], response: response) {
        case .success(let parsed): value = parsed
        case .failure(let unknown) where unknown.problem != nil:
            alert(at, "'\(rule) \(verb)' : \(unknown.problem ?? "").")
            return nil
        case .failure(let unknown):
            alert(
                at,
                "'\(rule) \(verb)' : the value '\(args[2])' uses '\(unknown.text)', which this build cannot evaluate "
                    + "(docs/proxy.md lists the fetches and converters it has): refused, because \(seenBy) would see "
                    + "other bytes than the configuration asks.")
            return nil
        }
        let action: HeaderAction = verb == "set-header" ? .set(args[1], value) : .add(args[1], value)
        return (action, Array(args.dropFirst(3)))
    }

    /// Whether a log-format string names a variable or a sample expression (`%ci`, `%[src]`), not only `%%`.
    static func hasLogFormatVariable(_ text: String) -> Bool {
        var percent = false
        for byte in text.utf8 {
            if percent {
                if byte != UInt8(ascii: "%") { return true }
                percent = false
            } else if byte == UInt8(ascii: "%") {
                percent = true
            }
        }
        return percent
    }

    // MARK: Values

    private mutating func logTarget(_ args: [String], _ at: SourceLocation) -> LogTarget? {
        guard let addressText = args.first else {
            alert(at, "'log' expects either <address[:port]> and <facility> or 'global' as arguments.")
            return nil
        }
        var rest = Array(args.dropFirst())
        var maxLength = HAProxySyslogHeader.defaultMaxLength
        var format: HAProxyLogHeaderFormat?
        if rest.first == "len" {
            guard rest.count > 1, let n = Int(rest[1]), (80...65535).contains(n) else {
                alert(at, "'log len' expects a value between 80 and 65535.")
                return nil
            }
            maxLength = n
            rest.removeFirst(2)
        }
        if rest.first == "format" {
            guard rest.count > 1, let f = HAProxyLogHeaderFormat(rawValue: rest[1]) else {
                alert(at, "'log format' expects one of local, rfc3164, rfc5424, priority, short, timed, iso, raw.")
                return nil
            }
            format = f
            rest.removeFirst(2)
        }
        if rest.first == "sample" {
            alert(
                at,
                "'log … sample' is HAProxy's, not in this build (logging): refused, because "
                    + "\(BuildSupport.Family.logging.consequence) (every line would be sent).")
            return nil
        }
        guard let facilityName = rest.first else {
            alert(at, "'log' expects <facility> after the address.")
            return nil
        }
        guard let facility = Facility(haproxyName: facilityName) else {
            alert(at, "unknown log facility '\(facilityName)'")
            return nil
        }
        var maxLevel = Severity.debug
        var minLevel = Severity.emergency
        if rest.count > 1 {
            guard let level = Severity(name: rest[1]) else {
                alert(at, "unknown optional log level '\(rest[1])'")
                return nil
            }
            maxLevel = level
        }
        if rest.count > 2 {
            guard let level = Severity(name: rest[2]) else {
                alert(at, "unknown optional minimum log level '\(rest[2])'")
                return nil
            }
            minLevel = level
        }
        guard let address = logAddress(addressText, at) else { return nil }
        return LogTarget(
            address: address, maxLength: maxLength, format: format, facility: facility, maxLevel: maxLevel,
            minLevel: minLevel)
    }

    private mutating func logAddress(_ written: String, _ at: SourceLocation) -> LogTarget.Address? {
        let text = Self.environmentExpanded(written)
        // Standard output and error, a line per message, as HAProxy writes them (containers log this way).
        if text == "stdout" || text == "fd@1" { return .stream(descriptor: 1) }
        if text == "stderr" || text == "fd@2" { return .stream(descriptor: 2) }
        // Other inherited descriptors and rings: not in this build, and never to be taken for a host name.
        if ["fd@", "ring@", "stdout@", "stderr@"].contains(where: text.hasPrefix) {
            alert(
                at,
                "'log \(text)' is HAProxy's, not in this build (logging): refused, because "
                    + "\(BuildSupport.Family.logging.consequence). Log to a syslog address or a unix socket.")
            return nil
        }
        if text.hasPrefix("/") { return .unix(path: text) }
        if text.hasPrefix("unix@") { return .unix(path: String(text.dropFirst(5))) }
        var rest = Substring(text)
        var tcp = false
        for prefix in ["udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"] where rest.hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
        }
        if rest.hasPrefix("tcp@") || rest.hasPrefix("tcp4@") || rest.hasPrefix("tcp6@") {
            tcp = true
            rest = rest.drop { $0 != "@" }.dropFirst()
        }
        guard let (host, port) = hostAndPort(String(rest)), let host else {
            alert(at, "'log' : invalid address '\(written)'.")
            return nil
        }
        return tcp ? .tcp(host: host, port: port ?? 514) : .udp(host: host, port: port ?? 514)
    }

    /// An address with the environment variables in it expanded, as HAProxy 2.6 expands every address it reads
    /// (quoted or not): `$NAME` or `${NAME}`, a name of letters, digits and `_`; an unset one is empty.
    static func environmentExpanded(_ text: String) -> String {
        guard text.contains("$") else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] == 0x24 else {
                out.append(bytes[i])
                i += 1
                continue
            }
            var start = i + 1
            let braced = start < bytes.count && bytes[start] == 0x7B
            if braced { start += 1 }
            var end = start
            while end < bytes.count,
                bytes[end] == 0x5F || (0x30...0x39).contains(bytes[end]) || (0x41...0x5A).contains(bytes[end] & 0xDF)
            {
                end += 1
            }
            if let value = getenv(String(decoding: bytes[start..<end], as: UTF8.self)) {
                out.append(contentsOf: Array(String(cString: value).utf8))
            }
            i = braced && end < bytes.count && bytes[end] == 0x7D ? end + 1 : end
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `HOST[:PORT]`, `[V6]:PORT`, `V6:PORT` (the last colon starts the port when there are several),
    /// `:PORT` (host nil), `*:PORT`. Nil when malformed.
    func hostAndPort(_ text: String) -> (String?, Int?)? {
        guard let address = HostPort(text) else { return nil }
        if let port = address.port, port == 0 { return nil }
        guard let host = address.host else { return (nil, address.port) }
        guard HAProxyConfigParser.isAddressOrHostName(Substring(host)) else { return nil }
        return (host, address.port)
    }

    static func isAddressOrHostName(_ host: Substring) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 || inet_pton(AF_INET6, String(host), &v6) == 1 { return true }
        // A name: letters, digits, dots, dashes and underscores (SRV records' `_service._proto.name`, names in
        // hosts files), not only digits and dots (999.1.1.1 is a bad address).
        let allowed = host.allSatisfy {
            $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_")
        }
        return allowed && host.contains { $0.isLetter } && !host.hasPrefix("-")
    }

    private mutating func bindAddresses(_ text: String, _ at: SourceLocation) -> [BindAddress] {
        var result: [BindAddress] = []
        for item in text.split(separator: ",") {
            var address = Self.environmentExpanded(String(item))
            if var local = LocalSocket(address) {
                // `unix-bind prefix`: before a path (HAProxy's reading; an abstract name has none).
                if case .path(let path) = local, let prefix = configuration.global.unixBind.prefix {
                    local = .path(prefix + path)
                }
                guard local.sunPath.utf8.count <= 103 else {
                    alert(at, "'bind' : socket path '\(address)' is too long: this build takes at most 103 bytes (HAProxy 107).")
                    continue
                }
                var bind = BindAddress(host: nil, port: 0)
                bind.localSocket = local
                bind.ownership = configuration.global.unixBind
                bind.ownership.prefix = nil
                result.append(bind)
                continue
            }
            for prefix in ["ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"] where address.hasPrefix(prefix) {
                address.removeFirst(prefix.count)
            }
            // A port range: `:8000-8002`.
            var last: Int?
            if let colon = address.lastIndex(of: ":"), let dash = address[colon...].firstIndex(of: "-") {
                guard let end = Int(address[address.index(after: dash)...]), (1...65535).contains(end) else {
                    alert(at, "invalid port range in '\(item)'")
                    continue
                }
                last = end
                address = String(address[..<dash])
            }
            guard let (host, port) = hostAndPort(address), let port else {
                alert(at, "'bind' : invalid address: '\(item)' (expected [address]:port)")
                continue
            }
            let end = last ?? port
            guard end >= port, end - port < 1024 else {
                alert(at, "invalid port range in '\(item)'")
                continue
            }
            for p in port...end { result.append(BindAddress(host: host, port: p)) }
        }
        return result
    }

    /// `server NAME ADDRESS[:PORT] OPTIONS…`, starting from the `default-server` options read before it.
    mutating func serverLine(_ args: [String], _ at: SourceLocation, template: ServerLine?) -> ServerLine? {
        guard args.count >= 2 else {
            alert(at, "'server' expects <name> and <addr>[:<port>] as arguments.")
            return nil
        }
        let address = Self.environmentExpanded(args[1])
        if let local = LocalSocket(address) {
            guard local.sunPath.utf8.count <= 103 else {
                alert(
                    at,
                    "'server \(args[0])' : socket path '\(address)' is too long: this build takes at most 103 bytes "
                        + "(HAProxy 107).")
                return nil
            }
            var server = template ?? ServerLine(name: args[0], host: address, port: nil, tls: defaultServerTLS, location: at)
            server.name = args[0]
            server.host = address
            server.port = nil
            server.localSocket = local
            server.location = at
            return serverOptions(server, args, from: 2, at)
        }
        if ["fd@", "sockpair@"].contains(where: address.hasPrefix) {
            alert(
                at,
                "'server \(args[0])' : a server at a local socket ('\(args[1])') is HAProxy's, not in this build "
                    + "(\(BuildSupport.Family.routing.rawValue)): refused, because \(BuildSupport.Family.routing.consequence).")
            return nil
        }
        guard let (hostOrNil, port) = hostAndPort(address), let host = hostOrNil else {
            alert(at, "'server \(args[0])' : invalid address: '\(args[1])'")
            return nil
        }
        var server = template ?? ServerLine(name: args[0], host: host, port: port, tls: defaultServerTLS, location: at)
        server.name = args[0]
        server.host = host
        server.port = port
        server.location = at
        // `_service._proto.name`: an SRV record (its targets give the addresses and ports).
        server.srvRecord = host.hasPrefix("_") ? host : nil
        return serverOptions(server, args, from: 2, at)
    }

    /// The options of a `server` or `default-server` line from `args[start...]`, applied to `server`.
    private mutating func serverOptions(_ start: ServerLine, _ args: [String], from first: Int, _ at: SourceLocation)
        -> ServerLine?
    {
        var server = start
        var i = first
        func value(_ keyword: String) -> String? {
            guard i + 1 < args.count else {
                alert(at, "'server \(server.name)' : '\(keyword)' expects a value.")
                return nil
            }
            i += 1
            return args[i]
        }
        func count(_ keyword: String, _ range: ClosedRange<Int>) -> Int? {
            guard let text = value(keyword) else { return nil }
            guard let n = Int(text), range.contains(n) else {
                alert(
                    at,
                    "'server \(server.name)' : '\(keyword)' expects an integer between \(range.lowerBound) and \(range.upperBound), not '\(text)'."
                )
                return nil
            }
            return n
        }
        func time(_ keyword: String) -> ConfigTime? {
            guard let text = value(keyword) else { return nil }
            guard let t = ConfigTime(text), t.microseconds > 0 else {
                alert(at, "'server \(server.name)' : '\(keyword)' expects a positive time, not '\(text)'.")
                return nil
            }
            return t
        }
        while i < args.count {
            let word = args[i]
            switch word {
            case "check": server.check = true
            case "no-check": server.check = false
            case "port": if let n = count(word, 1...65535) { server.checkPort = n }
            case "addr":
                if let written = value(word) {
                    let text = Self.environmentExpanded(written)
                    if HAProxyConfigParser.isAddressOrHostName(Substring(text)) {
                        server.checkAddress = text
                    } else {
                        alert(at, "'server \(server.name)' : invalid 'addr' '\(text)'.")
                    }
                }
            case "inter": if let t = time(word) { server.inter = t }
            case "fastinter": if let t = time(word) { server.fastinter = t }
            case "downinter": if let t = time(word) { server.downinter = t }
            case "rise": if let n = count(word, 1...Int(Int32.max)) { server.rise = n }
            case "fall": if let n = count(word, 1...Int(Int32.max)) { server.fall = n }
            case "weight": if let n = count(word, 0...256) { server.weight = n }
            case "slowstart": if let t = time(word) { server.slowStart = t }
            case "maxqueue": if let n = count(word, 0...Int(Int32.max)) { server.maxQueue = n }
            case "cookie": if let v = value(word) { server.cookie = v }
            case "maxconn": if let n = count(word, 0...Int(Int32.max)) { server.maxconn = n }
            case "minconn": if let n = count(word, 0...Int(Int32.max)) { server.minconn = n }
            case "backup": server.backup = true
            case "on-marked-down":
                i += 1
                guard i < args.count, args[i] == "shutdown-sessions" else {
                    alert(
                        at,
                        "'server \(server.name)' : 'on-marked-down' expects 'shutdown-sessions' but got '\(i < args.count ? args[i] : "")'")
                    break
                }
                server.shutdownSessionsOnDown = true
            case "send-proxy": server.sendProxy = .v1
            case "send-proxy-v2": server.sendProxy = .v2
            case "no-send-proxy", "no-send-proxy-v2": server.sendProxy = nil
            case "disabled": server.disabled = true
            case "init-addr":
                i += 1
                guard i < args.count else {
                    alert(at, "'server \(server.name)' : 'init-addr' expects a list of methods (last, libc, none or an address).")
                    return nil
                }
                var methods: [InitAddr] = []
                for method in args[i].split(separator: ",").map(String.init) {
                    switch method {
                    case "last": methods.append(.last)
                    case "libc": methods.append(.libc)
                    case "none": methods.append(.none)
                    default:
                        guard AddressSet.address(method) != nil else {
                            alert(at, "'server \(server.name)' : 'init-addr' : unknown method or address '\(method)'.")
                            return nil
                        }
                        methods.append(.address(method))
                    }
                }
                server.initAddr = methods
            case "enabled": server.disabled = false
            default:
                if serverTLSOption(args, &i, &server.tls, server: server.name, at) { break }
                if resolveOption(args, &i, &server, at) { break }
                notCarriedOut(.server, word, at, section: "")
                if HAProxyKeywords.takesValue(.server, word) { i += 1 }
            }
            i += 1
        }
        return server
    }

    private mutating func number(_ args: [String], _ at: SourceLocation, _ keyword: String, range: ClosedRange<Int>)
        -> Int?
    {
        guard let text = args.first, let n = Int(text), range.contains(n) else {
            alert(
                at,
                "'\(keyword)' expects an integer argument between \(range.lowerBound) and \(range.upperBound), not '\(args.first ?? "")'."
            )
            return nil
        }
        return n
    }

    private mutating func required(_ args: [String], _ at: SourceLocation, _ keyword: String) -> String? {
        guard let value = args.first else {
            alert(at, "'\(keyword)' expects an argument.")
            return nil
        }
        return value
    }

    /// A server's TLS before its line says anything: the global `ssl-default-server-*`.
    private var defaultServerTLS: ServerTLS {
        var tls = ServerTLS()
        tls.options = configuration.global.defaultServerTLS
        return tls
    }

    /// HAProxy's `fullconn` where a backend's servers have `minconn` and it is not written: a tenth of the
    /// `maxconn`s of the frontends that route to it (their own, else the global one; without either, half the
    /// descriptor limit, about what HAProxy computes), at least 1.
    private mutating func computeFullconn() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let ideal = Int(min(limit.rlim_cur, 4_000_000)) / 2
        for i in configuration.proxies.indices where configuration.proxies[i].isBackend {
            let p = configuration.proxies[i]
            guard p.settings.fullconn == nil, p.servers.contains(where: { $0.minconn != nil }) else { continue }
            var total = 0
            for fe in configuration.proxies where fe.isFrontend {
                let routes =
                    (fe.kind == .listen && fe.defaultBackend == nil && fe.name == p.name) || fe.defaultBackend == p.name
                    || fe.rules.backendRules.contains { $0.dynamic == nil && $0.backend == p.name }
                if routes { total += fe.settings.maxconn ?? configuration.global.maxconn ?? ideal }
            }
            configuration.proxies[i].settings.fullconn = max(1, (total + 9) / 10)
        }
    }

    /// Each frontend's `log-format` (its own or its defaults'), compiled for its mode as HAProxy compiles it once
    /// the file is read; a backend's is dropped (warned about where it was written), as is a proxy's without `log`.
    private mutating func compileLogFormats() {
        for i in configuration.proxies.indices {
            let p = configuration.proxies[i]
            guard p.isFrontend else { continue }
            if let text = p.settings.logFormat {
                switch CompiledLogFormat.compile(text.text, http: p.settings.mode == .http) {
                case .success(let compiled): configuration.proxies[i].settings.customLogFormat = compiled
                case .failure(let message): alert(text.location, "failed to parse log-format : \(message.description).")
                }
            }
            if let text = p.settings.uniqueIDFormat {
                switch CompiledLogFormat.compile(text.text, http: p.settings.mode == .http, forHeader: true) {
                case .success(let compiled): configuration.proxies[i].settings.uniqueID = compiled
                case .failure(let message): alert(text.location, "failed to parse unique-id : \(message.description).")
                }
            }
        }
    }

    /// What only the whole configuration tells: backends named by `default_backend` exist, frontends bind.
    /// `option external-check` and its command, as HAProxy 2.6 checks them once the file is read.
    private mutating func checkExternalChecks() {
        for i in configuration.proxies.indices where configuration.proxies[i].isBackend {
            let p = configuration.proxies[i]
            let kind = p.kind == .listen ? "proxy" : "backend"
            if p.settings.checkProtocol == .external {
                if !configuration.global.externalCheck {
                    alert(
                        p.location,
                        "Proxy '\(p.name)' : 'option external-check' unable to find required 'global.external-check'.")
                }
                if p.settings.externalCheckCommand == nil {
                    alert(
                        p.location,
                        "Proxy '\(p.name)' : 'option external-check' unable to find required 'external-check command'.")
                }
                if !configuration.global.insecureForkWanted {
                    warn(
                        p.location,
                        "Proxy '\(p.name)' : 'insecure-fork-wanted' not enabled in the global section, 'option "
                            + "external-check' will likely fail.")
                }
            }
            if let command = p.settings.externalCheckCommand {
                if p.settings.checkProtocol != .external {
                    warn(
                        p.location,
                        "'external-check command' will be ignored for \(kind) '\(p.name)' (requires 'option "
                            + "external-check').")
                    configuration.proxies[i].settings.externalCheckCommand = nil
                }
                if !command.hasPrefix("/") && p.settings.externalCheckPath == nil {
                    alert(
                        p.location,
                        "Proxy '\(p.name)': 'external-check command' does not have a leading '/' and 'external-check "
                            + "path' is not set.")
                }
            }
            if p.settings.externalCheckPath != nil && p.settings.checkProtocol != .external {
                warn(
                    p.location,
                    "'external-check path' will be ignored for \(kind) '\(p.name)' (requires 'option external-check').")
                configuration.proxies[i].settings.externalCheckPath = nil
            }
        }
    }

    private mutating func checkReferences() {
        for p in configuration.proxies where !p.stats.requestRules.isEmpty {
            if !p.stats.credentials.isEmpty || p.stats.realm != nil {
                alert(
                    p.stats.requestRulesAt ?? p.location,
                    "\(p.kind.rawValue) '\(p.name)': stats 'auth'/'realm' and 'http-request' can't be used at the same time.")
            }
        }
        checkServerTLS()
        checkExternalChecks()
        checkUserlists()
        checkStickTables()
        checkPeers()
        checkResolvers()
        checkHTTPErrors()
        for i in configuration.proxies.indices where configuration.proxies[i].settings.httpCheckDisableOn404 {
            let p = configuration.proxies[i]
            guard p.isBackend, p.settings.checkProtocol == .tcpCheck else { continue }
            warn(p.location, "'disable-on-404' will be ignored for backend '\(p.name)' (requires 'option httpchk').")
            configuration.proxies[i].settings.httpCheckDisableOn404 = false
        }
        compileLogFormats()
        computeFullconn()
        for i in configuration.proxies.indices where configuration.proxies[i].isBackend {
            let p = configuration.proxies[i]
            guard p.settings.hashInput != nil, p.settings.mode != .http else { continue }
            warn(
                p.location,
                "Layer 7 hash not possible for \(p.kind.rawValue) '\(p.name)' (needs 'mode http'). Falling back to round robin.")
            configuration.proxies[i].settings.balance = .roundrobin
            configuration.proxies[i].settings.hashInput = nil
        }
        for (name, at) in usableServerTests where !configuration.proxies.contains(where: { $0.name == name && $0.isBackend }) {
            alert(at, "'nbsrv' : no such backend '\(name)'.")
        }
        for p in configuration.proxies where p.isBackend && p.settings.httpCheck == nil {
            if p.settings.httpCheckSend != nil || p.settings.httpCheckExpect != nil {
                warn(
                    p.location,
                    "\(p.kind.rawValue) '\(p.name)' uses http-check rules without 'option httpchk', so the rules are "
                        + "ignored.")
            }
        }

        for (i, p) in configuration.proxies.enumerated() {
            if let name = p.defaultBackend, !configuration.proxies.contains(where: { $0.name == name && $0.isBackend })
            {
                alert(
                    p.location, "\(p.kind.rawValue) '\(p.name)' : unable to find required default_backend: '\(name)'.")
            }
            for rule in p.rules.backendRules
            where rule.dynamic == nil && !configuration.proxies.contains(where: { $0.name == rule.backend && $0.isBackend }) {
                alert(rule.location, "unable to find required use_backend: '\(rule.backend)'.")
            }
            if p.settings.mode != .http, let rule = p.rules.backendRules.first(where: { $0.dynamic != nil }) {
                alert(
                    rule.location,
                    "'use_backend \(rule.backend)' : a backend name made per session is carried out in 'mode http' only "
                        + "in this build (routing, persistence and balancing): refused, because traffic would reach "
                        + "other servers than the configuration asks.")
            }
            if p.isFrontend && p.binds.isEmpty {
                alert(
                    p.location,
                    "\(p.kind.rawValue) '\(p.name)' has no 'bind' directive. Please declare it as a backend if this was intended."
                )
            }
            // What the client sent first is read in TCP frontends only.
            let payloadRules =
                p.rules.tcpContentRules.compactMap(\.condition) + p.rules.backendRules.compactMap(\.condition)
            if let test = payloadRules.flatMap(\.tests).first(where: \.sample.readsPayload),
                p.settings.mode == .http || !p.isFrontend
            {
                alert(
                    p.location,
                    "\(p.kind.rawValue) '\(p.name)' : '\(test.sample.name)' (what the client sent first) is read by "
                        + "this build in the 'tcp-request content' and 'use_backend' rules of a frontend or listen in "
                        + "mode tcp only: refused, because \(BuildSupport.Family.accessRules.consequence).")
            }
            // HAProxy ignores HTTP rules in a TCP proxy with a warning; here that would run a frontend without the
            // rules that route or deny, so it is refused. `use_backend` on layer-4 criteria is carried out.
            let layer4Routes = p.rules.backendRules.allSatisfy { $0.condition?.tests.allSatisfy(\.sample.isLayer4) ?? true }
            if p.settings.mode != .http
                && !(layer4Routes && p.rules.requestRules.isEmpty && p.rules.requestCaptures.isEmpty
                    && p.rules.responseCaptures.isEmpty && p.rules.responseRules.isEmpty && p.rules.redirects.isEmpty
                    && p.rules.afterResponseRules.isEmpty)
            {
                alert(
                    p.location,
                    "\(p.kind.rawValue) '\(p.name)' is in mode tcp: its http-request, http-response and capture "
                        + "rules, and use_backend rules on HTTP criteria, apply to HTTP only (HAProxy would ignore them "
                        + "with a warning; this build refuses to run without them). Set 'mode http', or remove them.")
            }
            if p.isBackend && p.settings.cookie != nil && p.settings.mode != .http {
                alert(
                    p.location,
                    "\(p.kind.rawValue) '\(p.name)' is in mode tcp: its 'cookie' persistence applies to HTTP only "
                        + "(HAProxy would ignore it; this build refuses to run without it). Set 'mode http', or remove it.")
            }
            if p.stats.enabled && p.settings.mode != .http {
                if p.stats.inherited {
                    // HAProxy's warning: a TCP proxy drops the stats its defaults gave it.
                    warn(
                        p.location,
                        "'stats' statement ignored for \(p.kind.rawValue) '\(p.name)' as it requires HTTP mode.")
                    configuration.proxies[i].stats = StatsSettings()
                } else {
                    alert(
                        p.location,
                        "\(p.kind.rawValue) '\(p.name)' : the stats page needs 'mode http' (it would not be served).")
                }
            }
            if p.settings.option(.httplog) && p.settings.mode == .tcp {
                warn(
                    p.location,
                    "'option httplog' not usable with \(p.kind.rawValue) '\(p.name)' (needs 'mode http'). Falling back to 'option tcplog'."
                )
            }
        }
    }

    /// A keyword this build does not carry out: a warning when its absence changes nothing a user can observe,
    /// else an alert (see BuildSupport).
    mutating func notCarriedOut(
        _ context: BuildSupport.Context, _ keyword: String, _ at: SourceLocation, section: String
    ) {
        if let message = BuildSupport.alert(context, keyword, in: section) {
            alert(at, message)
        } else if let message = BuildSupport.warning(context, keyword) {
            warn(at, message)
        }
    }

    /// A number as C's atol reads it: blanks, a sign, the leading digits; 0 without any.
    static func leadingInteger(_ text: String) -> Int {
        var rest = text.drop { $0 == " " || $0 == "\t" }
        var sign = 1
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        return sign * (Int(digits.prefix(18)) ?? 0)
    }

    mutating func alert(_ at: SourceLocation, _ message: String) {
        alerts.append(ConfigDiagnostic(severity: .error, location: at, message: message, wording: .haproxy))
    }

    mutating func warn(_ at: SourceLocation, _ message: String) {
        configuration.warnings.append(
            ConfigDiagnostic(severity: .warning, location: at, message: message, wording: .haproxy))
    }

}

/// Every alert of a refused configuration, with the warnings read until then.
public struct ConfigProblems: Error, Sendable, CustomStringConvertible {
    public var alerts: [ConfigDiagnostic]
    public var warnings: [ConfigDiagnostic]
    public var description: String { alerts.map(\.description).joined(separator: "\n") }
}
