import LogCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads rsyslog.conf as rsyslog 8 does for what Tollgate supports: the legacy syntax (selectors and actions,
/// `&` continuations, property filters, `$` directives with their order-sensitivity, `$IncludeConfig`) and the
/// RainerScript object statements `module()`, `input()`, `global()`, `template()`. Errors name the file and
/// line; unknown directives and not-yet-supported statements are warnings, and the rest still loads, as
/// rsyslog does.
public struct RsyslogConfigParser {
    /// The `if` blocks read so far: each keeps its decision in a slot of the message's run.
    var conditionSlots = 0
    /// The `name=` of the input being added.
    var pendingInputName: String?
    /// Settings that `$` directives change for the lines after them.
    struct State {
        /// omfile's default template: `$ActionFileDefaultTemplate`, `module(load="builtin:omfile" template=…)`.
        var defaultTemplate = SyslogTemplate.fileFormat.rawValue
        /// omfwd's: `$ActionForwardDefaultTemplate`, `module(load="builtin:omfwd" template=…)`.
        var forwardTemplate = SyslogTemplate.traditionalForwardFormat.rawValue
        /// ompipe's (rsyslog's built-in default, which `$ActionFileDefaultTemplate` does not change).
        var pipeTemplate = SyslogTemplate.fileFormat.rawValue
        /// ommysql's legacy settings for the `:ommysql:` lines after them: `$ActionOmmysqlServerPort`,
        /// `$OmMySQLConfigFile`, `$OmMySQLConfigSection`.
        var mysqlServerPort = 0
        /// omprog's `$ActionOMProgBinary` for the `:omprog:` lines after it.
        var programBinary: String?
        var mysqlConfigFile: String?
        var mysqlConfigSection: String?
        var fileCreateMode: UInt16 = 0o644
        var dirCreateMode: UInt16 = 0o700
        var ownership = FileOwnership()
        var udpAddress: String?
        /// imtcp's session limit (`$InputTCPMaxSessions`, `module(load="imtcp" maxSessions=…)`); rsyslog's default 200.
        var tcpMaxSessions = 200
        var sync = false
        /// imuxsock's system socket: on unless `$OmitLocalLogging on` / `SysSock.Use="off"`.
        var systemSocket = true
        var systemSocketName = "/dev/log"
        /// Where imuxsock was loaded: the system socket's origin.
        var imuxsockLocation: SourceLocation?
        /// imklog, immark, imjournal: loaded (with where), their settings changed by `$KLog…`, `$MarkMessagePeriod`,
        /// `$IMJournal…` after the load; the input is added once the whole file is read.
        var kernelLog: (KernelLogSettings, SourceLocation, byModuleParameters: Bool)?
        var mark: (MarkSettings, SourceLocation, byModuleParameters: Bool)?
        var journal: (JournalInputSettings, SourceLocation)?
        var statistics: (StatisticsSettings, SourceLocation)?
        /// imfile: loaded (`module()` switches to inotify mode, `$ModLoad` stays in polling mode), its module
        /// settings, and the `$InputFile…` settings of the next `$InputRunFileMonitor`.
        var fileModule: (polling: Bool, interval: Double, stateDirectory: String?, readTimeout: Int)?
        /// Where imfile was loaded.
        var fileModuleLocation: SourceLocation?
        /// Where each module was loaded, and the input modules some input uses (rsyslogd refuses imudp, imtcp and
        /// imfile loaded for nothing).
        var moduleLocations: [String: SourceLocation] = [:]
        var inputModulesUsed: Set<String> = []
        /// `$ActionQueueDiscardMark` for the next action, and the main queue's legacy size and discard mark:
        /// rsyslogd refuses a legacy queue smaller than its discard mark (980 and 98000 unless set).
        var actionDiscardMark: Int?
        var mainQueueSize: (Int, SourceLocation)?
        var mainQueueDiscardMark: Int?
        var legacyFile = FileInputSettings.legacy
        /// `$InputUDPServerBindRuleset` / `$InputTCPServerBindRuleset`: the ruleset of the next listeners.
        var udpRuleset: String?
        var tcpRuleset: String?
        /// `$ActionFileSeal on` and `$ActionFileSealKey FILE`: the file actions after them are sealed.
        var seal = false
        var sealKey: String?
        /// `$ActionQueue…` / `$ActionResume…`: the settings of the next action.
        var queue = ActionQueueSettings()
        /// `$ActionExecOnlyWhenPreviousIsSuspended on`: the next action is a failover one.
        var failover = false
        /// imtcp's stream driver: `module(load="imtcp" StreamDriver.*)`, and `$InputTCPServerStreamDriver…`, which
        /// rsyslog applies to every listener wherever they stand.
        var tcpDriver = StreamDriverSettings()
        var tcpDriverLegacy = StreamDriverSettings()
        /// `$ActionSendStreamDriver…`: the stream driver of the forwards after them.
        var forwardDriver = StreamDriverSettings()
    }

    /// Each listener's own `streamDriver.*` (input() parameters), laid over the module's at the end.
    var tcpInputDrivers: [SinkInput: StreamDriverSettings] = [:]
    /// Every TCP forward's stream-driver settings and where it is, checked at the end with the global defaults.
    var forwardDrivers: [(StreamDriverSettings, SourceLocation)] = []

    /// The key file of a sealed file action, or nil when it is not sealed; sealing without a key is an error.
    func sealKey(_ seal: Bool, _ key: String?, _ location: SourceLocation) throws -> String? {
        guard seal else { return nil }
        guard let key, !key.isEmpty else {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "a sealed file needs a key: $ActionFileSealKey FILE or sealKey=\"FILE\"")
        }
        return key
    }

    /// Where rules go while parsing: nil for the default ruleset, else a ruleset's name (`$RuleSet`, or inside
    /// `ruleset(name=…) { … }`); the rules of the others wait in `configuration.rulesets` / `defaultRules`.
    var currentRuleset: String?
    var defaultRules: [SinkRule] = []
    /// Rulesets defined by `ruleset()` (defining one twice is an error, as in rsyslog).
    var definedRulesets: Set<String> = []
    /// The open `ruleset(…) {` block: the ruleset to return to at its `}`, and where it began.
    var rulesetBlock: (previous: String?, location: SourceLocation)?
    /// `call NAME` statements, resolved when the whole configuration is read (a ruleset may be defined later).
    var calls: [(name: String, location: SourceLocation)] = []
    /// Inputs bound to a ruleset by name, checked at the end: (index in `inputs`, where it was configured).
    var inputBindings: [(index: Int, location: SourceLocation)] = []

    var configuration = SinkConfiguration()
    var state = State()
    var includeDepth = 0

    public init() {}

    /// Parses `path` and everything it includes.
    public static func parse(file path: String) throws -> SinkConfiguration {
        var parser = RsyslogConfigParser()
        try parser.include(path, from: nil)
        try parser.finish()
        return parser.configuration
    }

    /// Parses configuration text (for tests); `name` stands for its file in messages.
    public static func parse(text: String, name: String = "rsyslog.conf") throws -> SinkConfiguration {
        var parser = RsyslogConfigParser()
        try parser.parse(text, file: name)
        try parser.finish()
        return parser.configuration
    }

    /// What only the whole file decides: the rulesets that `call` and inputs name, and imuxsock's system socket
    /// (/dev/log) when the module is loaded.
    mutating func finish() throws {
        if let block = rulesetBlock {
            throw ConfigDiagnostic(severity: .error, location: block.location, message: "'{' is never closed")
        }
        switchRuleset(to: nil)
        for call in calls where configuration.rulesets[call.name] == nil {
            throw ConfigDiagnostic(
                severity: .error, location: call.location, message: "ruleset '\(call.name)' cannot be found")
        }
        configuration.conditionSlots = conditionSlots

        if let (settings, at, _) = state.kernelLog { addInput(.kernelLog(settings), at) }
        if let (settings, at, _) = state.mark { addInput(.mark(settings), at) }
        if let (settings, at) = state.journal { addInput(.journal(settings), at) }
        if let (settings, at) = state.statistics { addInput(.statistics(settings), at) }
        let leftOut = resolveStreamDrivers()
        for binding in inputBindings {
            let input = configuration.inputs[binding.index]
            if let name = input.ruleset, configuration.rulesets[name] == nil {
                notHonoured(binding.location, "ruleset '\(name)' not found - using default ruleset instead")
                configuration.inputs[binding.index] = input.unbound()
                configuration.inputOrigins[input.unbound()] = binding.location
                configuration.inputNames[input.unbound()] = configuration.inputNames[input]
            }
        }
        for index in leftOut.reversed() { configuration.inputs.remove(at: index) }
        if let (size, at) = state.mainQueueSize, size < state.mainQueueDiscardMark ?? 98000 {
            notHonoured(
                at,
                "queue \"main Q\": queue.discardMark \(state.mainQueueDiscardMark ?? 98000) is set larger than "
                    + "queue.size (\(size)), as rsyslogd refuses it")
        }
        for (module, message) in [
            ("imudp", "imudp: module loaded, but no listeners defined - no input will be gathered"),
            ("imtcp", "imtcp: module loaded, but no listeners defined - no input will be gathered"),
            ("imfile", "imfile: no files configured to be monitored - no input will be gathered"),
        ] where configuration.loadedModules.contains(module) && !state.inputModulesUsed.contains(module) {
            if let at = state.moduleLocations[module] { notHonoured(at, message) }
        }
        if let module = state.fileModule, let at = state.fileModuleLocation, module.stateDirectory == nil,
            configuration.workDirectory == nil
        {
            // rsyslogd's error (it would then keep its state files in its working directory, `/`).
            notHonoured(
                at,
                "imfile: no working or state file directory set, imfile will create state files in the current "
                    + "working directory (probably the root dir). Use global(workDirectory=\"/some/path\") to set "
                    + "the working directory")
        }
        if configuration.loadedModules.contains("imuxsock") && state.systemSocket {
            configuration.inputs.insert(.unixSocket(path: state.systemSocketName), at: 0)
            if let at = state.imuxsockLocation { configuration.inputOrigins[.unixSocket(path: state.systemSocketName)] = at }
        }
    }

    mutating func include(_ path: String, from location: SourceLocation?) throws {
        guard includeDepth < 16 else {
            throw ConfigDiagnostic(
                severity: .error, location: location ?? SourceLocation(file: path, line: 0),
                message: "includes nested too deep (a loop?)")
        }
        guard let text = TextFile.read(path) else {
            throw ConfigDiagnostic(
                severity: .error, location: location ?? SourceLocation(file: path, line: 0),
                message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        includeDepth += 1
        defer { includeDepth -= 1 }
        configuration.files.append(path)
        try parse(text, file: path)
    }

    // MARK: Lines

    mutating func parse(_ text: String, file: String) throws {
        let rawLines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var logical: [(String, Int)] = []
        var pending = ""
        var startLine = 0
        var inComment = false
        for (i, raw) in rawLines.enumerated() {
            var line = RsyslogConfigParser.stripComment(
                RsyslogConfigParser.stripBlockComments(raw, inComment: &inComment))
            if pending.isEmpty { startLine = i + 1 }
            if !pending.isEmpty, let last = pending.last(where: { $0 != " " && $0 != "\t" }), last == ";" || last == "," {
                // A selector continued after `;` or `,` (Debian's old stock file): the next line's indentation
                // is not a separator.
                while pending.last == " " || pending.last == "\t" { pending.removeLast() }
                line = String(line.drop(while: { $0 == " " || $0 == "\t" }))
            }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending += line + " "
                continue
            }
            logical.append((pending + line, startLine))
            pending = ""
        }
        if !pending.isEmpty { logical.append((pending, startLine)) }

        var i = 0
        var pendingSelector: (SinkFilter, SourceLocation)?
        while i < logical.count {
            let (line, number) = logical[i]
            i += 1
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty { continue }
            let location = SourceLocation(file: file, line: number)
            if let (filter, at) = pendingSelector {
                // A selector whose action is on the next line.
                pendingSelector = nil
                if trimmed == "{" {
                    i = try addBlock(filter, from: i, lines: logical, file: file, at: at)
                } else {
                    try addRule(filter, actionText: trimmed, at: at, location: location)
                }
                continue
            }
            if trimmed.hasPrefix("$") {
                try directive(trimmed, location)
            } else if trimmed.hasPrefix("&") {
                let actionText = String(trimmed.dropFirst()).trimmingSpaces()
                guard !configuration.rules.isEmpty else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "'&' continues no rule: nothing precedes it")
                }
                if let action = try action(actionText, location) {
                    configuration.rules[configuration.rules.count - 1].actions.append(action)
                }
            } else if trimmed.hasPrefix(":") && !trimmed.hasPrefix(":om") {
                let (filter, rest) = try propertyFilter(trimmed, location)
                if rest.isEmpty {
                    pendingSelector = (filter, location)
                } else if rest == "{" {
                    i = try addBlock(filter, from: i, lines: logical, file: file, at: location)
                } else {
                    var actionText = rest
                    while RsyslogConfigParser.objectName(actionText) == "action"
                        && !RsyslogConfigParser.balanced(actionText) && i < logical.count
                    {
                        actionText += " " + logical[i].0
                        i += 1
                    }
                    try addRule(filter, actionText: actionText, at: location, location: location)
                }
            } else if trimmed == "}" {
                guard let block = rulesetBlock else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "'}' closes nothing")
                }
                switchRuleset(to: block.previous)
                rulesetBlock = nil
            } else if RsyslogConfigParser.objectName(trimmed) == "ruleset" {
                var statement = trimmed
                while !RsyslogConfigParser.balanced(statement) && i < logical.count {
                    statement += " " + logical[i].0
                    i += 1
                }
                var body = ""
                if let close = RsyslogConfigParser.closingParenthesis(of: statement) {
                    body = String(statement[statement.index(after: close)...]).trimmingSpaces()
                    statement = String(statement[...close])
                }
                if body.isEmpty, i < logical.count, logical[i].0.trimmingSpaces() == "{" {
                    body = "{"
                    i += 1
                }
                try rulesetStatement(statement, body: body, location)
            } else if RsyslogConfigParser.startsWithWord("set", trimmed) || RsyslogConfigParser.startsWithWord("unset", trimmed)
                || RsyslogConfigParser.startsWithWord("reset", trimmed)
            {
                let all = try PriorityFilter("*.*")
                try addRule(.priority(all), actionText: trimmed, at: location, location: location)
            } else if trimmed == "stop" || trimmed == "~" {
                // A bare `stop` (in a ruleset's body, or after the rules for some messages): ends every message's run.
                let all = try PriorityFilter("*.*")
                try addRule(.priority(all), actionText: trimmed, at: location, location: location)
            } else if RsyslogConfigParser.startsWithWord("foreach", trimmed) {
                let all = try PriorityFilter("*.*")
                let (next, loop) = try foreachStatement(trimmed, from: i, lines: logical, file: file, at: location)
                i = next
                configuration.rules.append(SinkRule(filter: .priority(all), actions: [loop], location: location))
            } else if trimmed.hasPrefix("call ") || trimmed.hasPrefix("call\t")
                || RsyslogConfigParser.startsWithWord("call_indirect", trimmed)
            {
                let all = try PriorityFilter("*.*")
                try addRule(.priority(all), actionText: trimmed, at: location, location: location)
            } else if RsyslogConfigParser.objectName(trimmed) == "action" {
                // A bare action() applies to every message.
                var statement = trimmed
                while !RsyslogConfigParser.balanced(statement) && i < logical.count {
                    statement += " " + logical[i].0
                    i += 1
                }
                let all = try PriorityFilter("*.*")
                try addRule(.priority(all), actionText: statement, at: location, location: location)
            } else if let open = RsyslogConfigParser.objectName(trimmed) {
                // module(...), input(...), global(...), template(...): may span lines.
                var statement = trimmed
                while !RsyslogConfigParser.balanced(statement) && i < logical.count {
                    statement += " " + logical[i].0
                    i += 1
                }
                if open == "template", let close = RsyslogConfigParser.closingParenthesis(of: statement) {
                    // type="list": a `{ constant(…) property(…) }` block follows, on this line or the next ones.
                    let head = String(statement[...close])
                    var body = String(statement[statement.index(after: close)...]).trimmingSpaces()
                    if body.isEmpty, head.lowercased().contains("list"), i < logical.count,
                        logical[i].0.trimmingSpaces().hasPrefix("{")
                    {
                        body = logical[i].0.trimmingSpaces()
                        i += 1
                    }
                    if body.hasPrefix("{") {
                        while RsyslogConfigParser.closing(of: body, open: "{", close: "}") == nil
                            && i < logical.count
                        {
                            body += " " + logical[i].0.trimmingSpaces()
                            i += 1
                        }
                        try listTemplate(head, body, location)
                        continue
                    }
                    statement = head
                }
                try object(open, statement, location)
            } else if RsyslogConfigParser.isSelector(trimmed) {
                let parts = trimmed.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
                let filter: PriorityFilter
                do {
                    filter = try PriorityFilter(String(parts[0]))
                } catch let e as PriorityFilter.Error {
                    throw ConfigDiagnostic(severity: .error, location: location, message: e.description)
                }
                if parts.count < 2 {
                    pendingSelector = (.priority(filter), location)
                } else if String(parts[1]).trimmingSpaces() == "{" {
                    i = try addBlock(.priority(filter), from: i, lines: logical, file: file, at: location)
                } else {
                    // `local0.* action(type="omfwd" …` may go on over the next lines.
                    var actionText = String(parts[1]).trimmingSpaces()
                    while RsyslogConfigParser.objectName(actionText) == "action"
                        && !RsyslogConfigParser.balanced(actionText) && i < logical.count
                    {
                        actionText += " " + logical[i].0
                        i += 1
                    }
                    try addRule(.priority(filter), actionText: actionText, at: location, location: location)
                }
            } else if let first = trimmed.first, first.isLetter || first == "*",
                trimmed.prefix(while: { $0 != " " && $0 != "\t" }).contains("."),
                !RsyslogConfigParser.startsWithWord("if", trimmed), !trimmed.hasPrefix("ruleset")
            {
                // Shaped like a selector but not lexing as one (`bsd_security.*`): say which name is wrong.
                do {
                    _ = try PriorityFilter(String(trimmed.prefix(while: { $0 != " " && $0 != "\t" })))
                    throw ConfigDiagnostic(severity: .error, location: location, message: "cannot read '\(trimmed)'")
                } catch let e as PriorityFilter.Error {
                    throw ConfigDiagnostic(severity: .error, location: location, message: e.description)
                }
            } else if RsyslogConfigParser.startsWithWord("if", trimmed) {
                i = try ifStatement(trimmed, from: i, lines: logical, file: file, at: location, outer: nil)
            } else if let first = trimmed.first, "/-?@|^".contains(first) {
                // A legacy action with no selector before it (rsyslogd's grammar takes one alone): every message.
                let all = try PriorityFilter("*.*")
                try addRule(.priority(all), actionText: trimmed, at: location, location: location)
            } else {
                notHonoured(location, "statement not in this build, not carried out: \(trimmed.prefix(60))")
            }
        }
        if let (_, at) = pendingSelector {
            throw ConfigDiagnostic(severity: .error, location: at, message: "selector without an action")
        }
    }

    mutating func addRule(_ filter: SinkFilter, actionText: String, at: SourceLocation, location: SourceLocation) throws
    {
        var rule = SinkRule(filter: filter, actions: [], location: at)
        if let a = try action(actionText, location) { rule.actions.append(a) }
        configuration.rules.append(rule)
    }

    /// `filter {` action lines `}`: one rule with each line an action (`stop` included). Returns the index of
    /// the line after the closing brace.
    mutating func addBlock(
        _ filter: SinkFilter, from start: Int, lines: [(String, Int)], file: String, at: SourceLocation
    ) throws -> Int {
        // An `if` inside the block is decided under the block's filter, in its place among the block's actions.
        let (next, after) = try blockBody(filter, outer: .filter(filter), from: start, lines: lines, file: file, at: at)
        if let after {
            throw ConfigDiagnostic(severity: .error, location: at, message: "'\(after.prefix(20))' after a filter's '}'")
        }
        return next
    }

    /// `ruleset(name="…" …) {`: the statements up to the matching `}` go to that ruleset.
    mutating func rulesetStatement(_ statement: String, body: String, _ location: SourceLocation) throws {
        let p = try RsyslogConfigParser.parameters(statement, location)
        guard let name = p["name"], !name.isEmpty else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "ruleset() needs name=")
        }
        guard rulesetBlock == nil else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "ruleset '\(name)' inside another ruleset's { }")
        }
        guard !definedRulesets.contains(name), name != "RSYSLOG_DefaultRuleset" else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "ruleset '\(name)' specified more than once")
        }
        definedRulesets.insert(name)
        for key in p.keys.sorted() where key != "name" {
            if key.hasPrefix("queue.") {
                warn(
                    location,
                    "ruleset parameter '\(key)' has no effect in this build (the ruleset runs on its input's thread)")
            } else {
                // `parser=` and the like: the messages would be parsed otherwise than asked.
                notHonoured(location, "ruleset parameter '\(key)' is rsyslog's, not in this build: not carried out")
            }
        }
        switch body {
        case "{":
            rulesetBlock = (currentRuleset, location)
            switchRuleset(to: name)
        case "":
            throw ConfigDiagnostic(severity: .error, location: location, message: "ruleset '\(name)' without '{'")
        default:
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "put the statements of ruleset '\(name)' on lines of their own after '{'")
        }
    }

    /// Sends the next rules to the ruleset `name` (nil: the default one), keeping those read so far.
    mutating func switchRuleset(to name: String?) {
        if let current = currentRuleset {
            configuration.rulesets[current] = configuration.rules
        } else {
            defaultRules = configuration.rules
        }
        configuration.rules = name.map { configuration.rulesets[$0] ?? [] } ?? defaultRules
        if let name, configuration.rulesets[name] == nil { configuration.rulesets[name] = [] }
        currentRuleset = name
    }

    /// Something the configuration asks that this build cannot honour: an error, as rsyslogd's (see SinkSupport).
    mutating func notHonoured(_ location: SourceLocation, _ message: String) {
        configuration.errors.append(ConfigDiagnostic(severity: .error, location: location, message: message))
    }

    mutating func warn(_ location: SourceLocation, _ message: String) {
        configuration.warnings.append(ConfigDiagnostic(severity: .warning, location: location, message: message))
    }

    // MARK: Actions

    mutating func action(_ text: String, _ location: SourceLocation) throws -> SinkAction? {
        if text == "~" {
            warn(location, "~ action is deprecated, consider using the 'stop' statement")
            return .stop
        }
        if text == "stop" { return .stop }
        if RsyslogConfigParser.startsWithWord("set", text) || RsyslogConfigParser.startsWithWord("reset", text)
            || RsyslogConfigParser.startsWithWord("unset", text)
        {
            return try variableStatement(text, location)
        }
        if text.hasPrefix(":mmjsonparse:") {
            return .parseJSON(cookie: "@cee:", container: "!", useRawMessage: false)
        }
        if RsyslogConfigParser.startsWithWord("call_indirect", text) {
            var expression = String(text.dropFirst("call_indirect".count)).trimmingSpaces()
            guard expression.hasSuffix(";") else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "call_indirect needs its ';'")
            }
            expression.removeLast()
            var reader = try ConditionReader(expression, location, templates: Set(configuration.templates.keys))
            return .callIndirect(try reader.readOperand())
        }
        if text.hasPrefix("call ") || text.hasPrefix("call\t") {
            let name = String(text.dropFirst(5)).trimmingSpaces()
            guard !name.isEmpty, !name.contains(" "), !name.contains("\t") else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "call needs one ruleset name")
            }
            calls.append((name, location))
            return .call(name)
        }
        if text.hasPrefix("action(") || text.hasPrefix("action (") {
            return try actionObject(RsyslogConfigParser.parameters(text, location), location)
        }
        if state.failover {
            // `$ActionExecOnlyWhenPreviousIsSuspended on` holds for every action after it until it is turned off
            // (rsyslogd does not reset it).
            state.failover = false
            defer { state.failover = true }
            return try action(text, location).map { .whenPreviousSuspended($0) }
        }
        // The `$ActionQueue…` settings read so far belong to this action, and only to it.
        var queue = state.queue
        queue.workDirectory = configuration.workDirectory
        state.queue = ActionQueueSettings()
        let discardMark = state.actionDiscardMark ?? 980
        state.actionDiscardMark = nil
        if queue.size < discardMark {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "queue of this action: queue.discardMark \(discardMark) is set larger than queue.size "
                    + "(\(queue.size)), as rsyslogd refuses it")
        }
        if queue != ActionQueueSettings(workDirectory: queue.workDirectory) && !text.hasPrefix("@")
            && !text.hasPrefix(":ompgsql:") && !text.hasPrefix(":ommysql:")
        {
            warn(
                location, "the $ActionQueue… settings before this action are not used: only forwarding has a queue here"
            )
        }
        var body = text
        var template: String?
        if let semicolon = body.lastIndex(of: ";"), !body.hasPrefix(":omusrmsg:") {
            template = String(body[body.index(after: semicolon)...]).trimmingSpaces()
            body = String(body[..<semicolon])
        }
        func checkTemplate(_ name: String) -> Bool {
            if SyslogTemplate(name: name) != nil || configuration.templates[name.lowercased()] != nil { return true }
            notHonoured(location, "Could not find template '\(name)' - action disabled")
            return false
        }
        if body.hasPrefix(":omfile:$") {
            // `:omfile:$channel`: the outchannel's file, with its size limit.
            let name = String(body.dropFirst(9)).trimmingSpaces()
            guard let channel = configuration.outchannels[name] else {
                notHonoured(location, "outchannel '\(name)' not found - ignoring action line")
                return nil
            }
            let templateName = template ?? state.defaultTemplate
            guard checkTemplate(templateName) else { return nil }
            configuration.fileSizeLimits[channel.file] = channel.limit
            return .file(
                path: channel.file, template: templateName, sync: state.sync, createMode: state.fileCreateMode,
                dirCreateMode: state.dirCreateMode, ownership: state.ownership,
                sealKey: try sealKey(state.seal, state.sealKey, location))
        }
        if body.hasPrefix(":omfile:") { body = String(body.dropFirst(8)) }
        if body.hasPrefix("-/") || body.hasPrefix("/") || body.hasPrefix("./") || body.hasPrefix("-.") {
            let path = body.hasPrefix("-") ? String(body.dropFirst()) : body
            let name = template ?? state.defaultTemplate
            guard checkTemplate(name) else { return nil }
            return .file(
                path: path, template: name, sync: state.sync && !body.hasPrefix("-"),
                createMode: state.fileCreateMode, dirCreateMode: state.dirCreateMode, ownership: state.ownership,
                sealKey: try sealKey(state.seal, state.sealKey, location))
        }
        if body.hasPrefix("?") || body.hasPrefix("-?") {
            let dyna = String(body.drop { $0 == "-" || $0 == "?" })
            guard configuration.templates[dyna.lowercased()] != nil else {
                notHonoured(location, "Could not find template '\(dyna)' - action disabled")
                return nil
            }
            let name = template ?? state.defaultTemplate
            guard checkTemplate(name) else { return nil }
            return .dynamicFile(
                template: name, fileTemplate: dyna, createMode: state.fileCreateMode,
                dirCreateMode: state.dirCreateMode, ownership: state.ownership)
        }
        if body.hasPrefix("@") {
            var rest = Substring(body.dropFirst())
            let tcp = rest.hasPrefix("@")
            if tcp { rest = rest.dropFirst() }
            var octet = false
            if rest.hasPrefix("(") {
                guard let close = rest.firstIndex(of: ")") else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "unclosed '(' in \(text)")
                }
                octet = rest[rest.index(after: rest.startIndex)..<close].contains("o")
                rest = rest[rest.index(after: close)...]
            }
            guard let address = HostPort(rest), address.port.map({ $0 > 0 }) ?? true else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "bad port in \(text)")
            }
            guard let host = address.host else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "no host in \(text)")
            }
            let port = address.port ?? 514
            let name = template ?? state.forwardTemplate
            guard checkTemplate(name) else { return nil }
            try checkQueue(queue, location)
            guard tcp || !asksForTLS(state.forwardDriver, location) else { return nil }
            if tcp { forwardDrivers.append((state.forwardDriver, location)) }
            return .forward(
                host: host, port: port, tcp: tcp, octetCounted: octet, template: name, queue: queue,
                driver: tcp ? state.forwardDriver : StreamDriverSettings())
        }
        if body.hasPrefix("|") {
            let name = template ?? state.pipeTemplate
            guard checkTemplate(name) else { return nil }
            return .pipe(path: String(body.dropFirst()).trimmingSpaces(), template: name)
        }
        if body == "*" {
            // rsyslogd warns here, and its -N1 fails on that warning: the same verdict.
            notHonoured(
                location,
                "action '*' treated as ':omusrmsg:*' - please use ':omusrmsg:*' syntax instead, '*' will not be "
                    + "supported in the future")
            return nil
        }
        if body.hasPrefix(":ompgsql:") {
            // `:ompgsql:server,db,user,password[;template]`, each part required (rsyslog's parseSelectorAct).
            guard configuration.loadedModules.contains("ompgsql") else {
                notHonoured(location, "'\(text)' without $ModLoad ompgsql: nothing is written")
                return nil
            }
            let parts = body.dropFirst(9).split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, parts[0...2].allSatisfy({ !$0.isEmpty }) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "Trouble with PgSQL connection properties. -PgSQL logging disabled")
            }
            var settings = PostgresSettings()
            (settings.server, settings.database, settings.user, settings.password) = (parts[0], parts[1], parts[2], parts[3])
            guard let name = sqlTemplate(template, location, builtIn: .postgres) else { return nil }
            try checkQueue(queue, location)
            guard queue.fileName == nil else {
                notHonoured(location, "ompgsql: $ActionQueueFileName (a disk-assisted queue) is not in this build for ompgsql: the action is disabled")
                return nil
            }
            return .database(.postgres(settings), template: name, queue: queue)
        }
        if body.hasPrefix(":ommysql:") {
            // `:ommysql:server,db,uid,pwd[;template]`, each part required (rsyslog's parseSelectorAct), the port from
            // `$ActionOmmysqlServerPort`.
            guard configuration.loadedModules.contains("ommysql") else {
                notHonoured(location, "'\(text)' without $ModLoad ommysql: nothing is written")
                return nil
            }
            let parts = body.dropFirst(9).split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, parts[0...2].allSatisfy({ !$0.isEmpty }) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "Trouble with MySQL connection properties. -MySQL logging disabled")
            }
            var settings = MySQLSettings()
            (settings.server, settings.database, settings.user, settings.password) = (parts[0], parts[1], parts[2], parts[3])
            settings.port = state.mysqlServerPort
            settings.configFile = state.mysqlConfigFile
            settings.configSection = state.mysqlConfigSection
            guard let name = sqlTemplate(template, location, builtIn: .mysql) else { return nil }
            try checkQueue(queue, location)
            guard queue.fileName == nil else {
                notHonoured(location, "ommysql: $ActionQueueFileName (a disk-assisted queue) is not in this build for ommysql: the action is disabled")
                return nil
            }
            return .database(.mysql(settings), template: name, queue: queue)
        }
        if body.hasPrefix(":omprog:") {
            // `:omprog:[;template]` runs `$ActionOMProgBinary` (rsyslog's parseSelectorAct; RSYSLOG_FileFormat by
            // default).
            guard configuration.loadedModules.contains("omprog") else {
                notHonoured(location, "'\(text)' without $ModLoad omprog: nothing is run")
                return nil
            }
            guard let binary = state.programBinary, !binary.trimmingSpaces().isEmpty else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "no binary to execute specified")
            }
            let name = template ?? SyslogTemplate.fileFormat.rawValue
            guard checkTemplate(name) else { return nil }
            let settings = ProgramSettings(command: binary.split(separator: " ").map(String.init))
            if access(settings.command[0], X_OK) != 0 {
                warn(
                    location,
                    "omprog: binary '\(settings.command[0])' cannot be run now (\(String(cString: strerror(errno)))): "
                        + "it is tried again with each message")
            }
            return .program(settings, template: name)
        }
        if body.hasPrefix(":omusrmsg:") {
            // `:omusrmsg:*` or `:omusrmsg:user1,user2`, then `;Template` (rsyslog's parseSelectorAct).
            var spec = Substring(body.dropFirst(10))
            var template: String?
            if let semicolon = spec.firstIndex(of: ";") {
                template = String(spec[spec.index(after: semicolon)...]).trimmingSpaces()
                spec = spec[..<semicolon]
            }
            return userMessage(spec == "*" ? nil : String(spec), template: template, location)
        }
        if let first = body.first, first.isLetter || first.isNumber || first == "_" || first == ".",
            body.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "," || $0 == "_" || $0 == "." })
        {
            // rsyslogd takes bare user names for omusrmsg with a warning, and its -N1 fails on that warning.
            notHonoured(
                location,
                "action '\(body)' treated as ':omusrmsg:\(body)' - please use ':omusrmsg:\(body)' syntax instead, '\(body)' "
                    + "will not be supported in the future")
            return nil
        }
        throw ConfigDiagnostic(severity: .error, location: location, message: "cannot read action '\(text)'")
    }

    /// `set $!x = expression;`, `reset $!x = expression;`, `unset $!x;`: the variable is `$!…` or `$.…` (rsyslog's
    /// names, not case-sensitive); the `;` ends the statement.
    mutating func variableStatement(_ text: String, _ location: SourceLocation) throws -> SinkAction {
        var body = text.trimmingSpaces()
        guard body.hasSuffix(";") else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "'\(body.prefix(40))' needs its ';'")
        }
        body.removeLast()
        let word = body.prefix { $0.isLetter }
        body = String(body.dropFirst(word.count)).trimmingSpaces()
        let name: String
        var rest = ""
        if let eq = body.firstIndex(of: "=") {
            name = String(body[..<eq]).trimmingSpaces()
            rest = String(body[body.index(after: eq)...]).trimmingSpaces()
        } else {
            name = body
        }
        let lowered = name.lowercased()
        guard lowered.hasPrefix("$!") || lowered.hasPrefix("$.") else {
            if lowered.hasPrefix("$/") {
                notHonoured(location, "global variables ($/…) are not in this build: '\(text.prefix(60))' not carried out")
                return .ignored(text)
            }
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "\(word) needs a variable ($!name or $.name), not '\(name)'")
        }
        let variable = String(lowered.dropFirst())  // "!a!b" / ".x", as conditions name them
        if word == "unset" {
            guard rest.isEmpty else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "unset takes no value")
            }
            return .unset(variable: variable)
        }
        guard !rest.isEmpty else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(word) \(name) needs '= value'")
        }
        var reader = try ConditionReader(rest, location, templates: Set(configuration.templates.keys))
        return .set(variable: variable, value: try reader.readOperand(), reset: word == "reset")
    }

    /// omusrmsg's action: to the users of `list` (`root, admin`: up to 20 names, each at most 32 bytes, as rsyslog
    /// reads them), or to all (nil), with `template` or rsyslog's own (the wall's banner, or the short form).
    mutating func userMessage(_ list: String?, template: String?, _ location: SourceLocation) -> SinkAction? {
        var users: [String]?
        if let list {
            var names: [String] = []
            for part in list.split(separator: ",", omittingEmptySubsequences: false) {
                let name = String(part).trimmingSpaces()
                if name.isEmpty {
                    warn(location, "omusrmsg: no user name given - ignored")
                } else if name.utf8.count > 32 {
                    warn(location, "omusrmsg: user name '\(name.prefix(32))...' too long - ignored")
                } else if names.count == 20 {
                    warn(location, "omusrmsg supports only up to 20 user names in a single action - all others have been ignored")
                    break
                } else {
                    names.append(name)
                }
            }
            users = names
        }
        // rsyslog's built-in formats, under names no configuration can give (they start with a space).
        let builtIn = users == nil ? " WallFmt" : " StdUsrMsgFmt"
        if configuration.templates[builtIn.lowercased()] == nil {
            let text =
                users == nil
                ? "\r\n\u{7}Message from syslogd@%HOSTNAME% at %timegenerated% ...\r\n %syslogtag%%msg%\n\r"
                : " %syslogtag%%msg%\n\r"
            define(builtIn, text, escapes: .none, location)
        }
        let name = template ?? builtIn
        guard SyslogTemplate(name: name) != nil || configuration.templates[name.lowercased()] != nil else {
            notHonoured(location, "Could not find template '\(name)' - action disabled")
            return nil
        }
        return .userMessage(users: users, template: name)
    }

    /// Whether an action delivers messages somewhere (what rsyslogd counts as an active action).
    static func delivers(_ action: SinkAction) -> Bool {
        switch action {
        case .file, .dynamicFile, .forward, .relpForward, .journal, .pipe, .userMessage, .program, .database: return true
        case .whenPreviousSuspended(let inner): return delivers(inner)
        case .forEach(_, _, let rules): return rules.contains { $0.actions.contains(where: delivers) }
        default: return false
        }
    }

    /// `fileOwner`, `fileGroup`, `dirOwner`, `dirGroup` (names or their `…Num` ids) of an omfile action or of the
    /// omfile module (the actions' default), over `base`.
    mutating func ownership(_ p: [String: String], _ base: FileOwnership, _ location: SourceLocation) -> FileOwnership {
        var ownership = base
        for (key, user) in [("fileowner", true), ("filegroup", false), ("dirowner", true), ("dirgroup", false)] {
            guard let value = p[key] ?? p[key + "num"] else { continue }
            guard let id = RsyslogConfigParser.accountID(value, user: user) else {
                notHonoured(location, "ID for \(user ? "user" : "group") '\(value)' could not be found")
                continue
            }
            switch key {
            case "fileowner": ownership.fileOwner = id
            case "filegroup": ownership.fileGroup = id
            case "dirowner": ownership.dirOwner = id
            default: ownership.dirGroup = id
            }
        }
        return ownership
    }

    /// rsyslog's built-in SQL templates: an insert into the MonitorWare schema's SystemEvents.
    enum SQLDialect {
        case postgres, mysql
        var templateName: String { self == .postgres ? " StdPgSQLFmt" : " StdDBFmt" }
        var text: String {
            let date = self == .postgres ? "date-pgsql" : "date-mysql"
            return "insert into SystemEvents (Message, Facility, FromHost, Priority, DeviceReportedTime, ReceivedAt, "
                + "InfoUnitID, SysLogTag) values ('%msg%', %syslogfacility%, '%HOSTNAME%', %syslogpriority%, "
                + "'%timereported:::\(date)%', '%timegenerated:::\(date)%', %iut%, '%syslogtag%')"
        }
        var option: PropertyTemplate.Option { self == .postgres ? .stdsql : .sql }
    }

    /// The template of an SQL action: `name`, or rsyslog's built-in one for the dialect (` StdPgSQLFmt` with
    /// `stdsql`, ` StdDBFmt` with `sql`); nil, said, when it is unknown or has neither `option.sql` nor
    /// `option.stdsql` (the values would reach the database unescaped), as rsyslogd disables such an action.
    mutating func sqlTemplate(_ name: String?, _ location: SourceLocation, builtIn dialect: SQLDialect) -> String? {
        guard let name else {
            let builtIn = dialect.templateName
            if configuration.templates[builtIn.lowercased()] == nil {
                let text = dialect.text
                let option = dialect.option
                configuration.templates[builtIn.lowercased()] = UserTemplate(
                    text: text,
                    compiled: Result { () throws(PropertyTemplate.ParseError) in
                        try PropertyTemplate(parsing: text, escapes: .none, option: option)
                    })
            }
            return builtIn
        }
        guard let user = configuration.templates[name.lowercased()] else {
            notHonoured(location, "Could not find template '\(name)' - action disabled")
            return nil
        }
        guard case .success(let compiled) = user.compiled, compiled.option == .sql || compiled.option == .stdsql else {
            notHonoured(
                location,
                "Action disabled. To use this action, you have to specify the SQL or stdSQL option in your template! "
                    + "(template '\(name)')")
            return nil
        }
        return name
    }

    /// `action(type="omfile" file=… | dynaFile=…, type="omfwd" target= port= protocol= TCP_Framing=,
    /// type="omjournal")`.
    mutating func actionObject(_ given: [String: String], _ location: SourceLocation) throws -> SinkAction? {
        var p = given
        // `config.enabled`: any value but "on" makes the action do nothing; its parameters are still checked,
        // as rsyslogd checks them.
        if let enabled = p.removeValue(forKey: "config.enabled") {
            let action = try actionObject(p, location)
            return enabled == "on" ? action : nil
        }
        let failoverKey = "action.execonlywhenpreviousissuspended"
        if let failover = p[failoverKey] {
            p[failoverKey] = nil
            if try binary(failover, "action.execOnlyWhenPreviousIsSuspended", location) {
                return try actionObject(p, location).map { .whenPreviousSuspended($0) }
            }
        }
        if let type = p["type"]?.lowercased(),
            ["omfile", "omfwd", "omrelp", "omjournal", "mmjsonparse", "mmnormalize", "mmutf8fix", "ompipe", "omprog", "ompgsql"]
                .contains(type)
        {
            guard parametersHonoured("action", type: type, &p, location) else { return nil }
        }
        func templateName(_ fallback: String) -> String? {
            let name = p["template"] ?? fallback
            if SyslogTemplate(name: name) != nil || configuration.templates[name.lowercased()] != nil { return name }
            notHonoured(location, "Could not find template '\(name)' - action disabled")
            return nil
        }
        let type = p["type"]?.lowercased()
        if type != "omfwd" && type != "omrelp" && type != "ompgsql" {
            // Queues and retries have nothing to do for actions that write at once; the other action.* settings
            // change what is written and are checked as any parameter.
            let resume: Set<String> = ["action.resumeretrycount", "action.resumeinterval", "action.resumeintervalmax"]
            if let key = p.keys.sorted().first(where: { $0.hasPrefix("queue.") || resume.contains($0) }) {
                warn(
                    location,
                    "\(key) on \(type ?? "this action") is accepted and not used: only forwarding has a queue here")
            }
            for key in p.keys.sorted() where key.hasPrefix("action.") && !resume.contains(key) {
                actionParameterNotApplied(key, type: type, location)
            }
        }
        switch type {
        case "omfile":
            guard let name = templateName(state.defaultTemplate) else { return nil }
            let ownership = ownership(p, state.ownership, location)
            if let file = p["file"] {
                if let limit = p["rotation.sizelimit"] {
                    configuration.fileSizeLimits[file] = FileSizeLimit(
                        bytes: try RsyslogConfigParser.size(limit, "rotation.sizeLimit", location, limit: Int.max),
                        command: FileSizeLimit.command(p["rotation.sizelimitcommand"] ?? ""))
                }
                return .file(
                    path: file, template: name, sync: (p["sync"] ?? "off") == "on",
                    createMode: p["filecreatemode"].flatMap { UInt16($0, radix: 8) } ?? state.fileCreateMode,
                    dirCreateMode: p["dircreatemode"].flatMap { UInt16($0, radix: 8) } ?? state.dirCreateMode,
                    ownership: ownership,
                    sealKey: try sealKey(
                        p["seal"].map { ["on", "yes", "1"].contains($0.lowercased()) } ?? state.seal,
                        p["sealkey"] ?? state.sealKey, location))
            }
            if let dyna = p["dynafile"] {
                guard configuration.templates[dyna.lowercased()] != nil else {
                    notHonoured(location, "Could not find template '\(dyna)' - action disabled")
                    return nil
                }
                return .dynamicFile(
                    template: name, fileTemplate: dyna,
                    createMode: p["filecreatemode"].flatMap { UInt16($0, radix: 8) } ?? state.fileCreateMode,
                    dirCreateMode: p["dircreatemode"].flatMap { UInt16($0, radix: 8) } ?? state.dirCreateMode,
                    ownership: ownership)
            }
            throw ConfigDiagnostic(severity: .error, location: location, message: "omfile needs file= or dynaFile=")
        case "omfwd":
            guard let target = p["target"] else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "omfwd needs target=")
            }
            guard let port = Int(p["port"] ?? "514"), (1...65535).contains(port) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "omfwd: '\(p["port"] ?? "")' is not a port")
            }
            guard let name = templateName(state.forwardTemplate) else { return nil }
            let queue = try queueSettings(p, location)
            let tcp = p["protocol"]?.lowercased() == "tcp"
            let asked = streamDriverParameters(p, peersKey: "streamdriverpermittedpeers", location)
            guard tcp || !asksForTLS(asked, location) else { return nil }
            let driver = tcp ? asked : StreamDriverSettings()
            if tcp { forwardDrivers.append((driver, location)) }
            return .forward(
                host: target, port: port, tcp: tcp,
                octetCounted: p["tcp_framing"]?.lowercased() == "octet-counted", template: name, queue: queue,
                driver: driver)
        case "omrelp":
            guard configuration.loadedModules.contains("omrelp") else {
                notHonoured(location, "action type 'omrelp' without module(load=\"omrelp\"): nothing is sent")
                return nil
            }
            guard let target = p["target"] else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "omrelp needs target=")
            }
            guard let port = Int(p["port"] ?? "514"), (1...65535).contains(port) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "omrelp: '\(p["port"] ?? "")' is not a port")
            }
            guard let name = templateName("RSYSLOG_ForwardFormat") else { return nil }
            let queue = try queueSettings(p, location)
            switch relpTLS(p) {
            case .success(let tls):
                // rebindInterval (a new session every N messages) is not carried out: refused unless off.
                if let rebind = p["rebindinterval"], Int(rebind) != 0 {
                    notHonoured(
                        location,
                        "omrelp: rebindInterval=\"\(rebind)\" (a new session every \(rebind) messages) is not in this "
                            + "build: the messages would not be spread over new sessions as it asks. The action is disabled")
                    return nil
                }
                let window = Int(p["windowsize"] ?? "0") ?? 0
                return .relpForward(
                    host: target, port: port, template: name, queue: queue, tls: tls, window: window > 1 ? window : 128,
                    timeout: max(1, Int(p["timeout"] ?? "90") ?? 90),
                    connectTimeout: max(1, Int(p["conn.timeout"] ?? "10") ?? 10))
            case .failure(let error):
                notHonoured(location, "omrelp \(target):\(port): \(error): the action is disabled")
                return nil
            }
        case "ompipe":
            guard let pipe = p["pipe"] else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "ompipe needs pipe=")
            }
            guard let name = templateName(state.pipeTemplate) else { return nil }
            return .pipe(path: pipe, template: name)
        case "omprog":
            guard let commandLine = p["binary"], !commandLine.trimmingSpaces().isEmpty else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "omprog needs binary=")
            }
            var settings = ProgramSettings(command: commandLine.split(separator: " ").map(String.init))
            settings.output = p["output"]
            if let mode = p["filecreatemode"] {
                guard let m = UInt16(mode, radix: 8) else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "omprog: fileCreateMode '\(mode)'")
                }
                settings.outputMode = m
            }
            if let v = p["confirmmessages"] { settings.confirmMessages = try binary(v, "confirmMessages", location) }
            if let v = p["confirmtimeout"] { settings.confirmTimeout = try number(v, "confirmTimeout", location) }
            if let v = p["reportfailures"] { settings.reportFailures = try binary(v, "reportFailures", location) }
            if let v = p["signalonclose"] { settings.signalOnClose = try binary(v, "signalOnClose", location) }
            if let v = p["closetimeout"] { settings.closeTimeout = try number(v, "closeTimeout", location) }
            if let v = p["killunresponsive"] { settings.killUnresponsive = try binary(v, "killUnresponsive", location) }
            if let v = p["hup.signal"] {
                let names: [String: Int32] = ["HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "INT": SIGINT, "TERM": SIGTERM]
                guard let signal = names[v.uppercased().replacingOccurrences(of: "SIG", with: "")] else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "omprog: hup.signal '\(v)'")
                }
                settings.hupSignal = signal
            }
            if access(settings.command[0], X_OK) != 0 {
                // As rsyslogd: started when the first message comes, and tried again until it runs.
                warn(
                    location,
                    "omprog: binary '\(settings.command[0])' cannot be run now (\(String(cString: strerror(errno)))): "
                        + "it is tried again with each message")
            }
            guard let name = templateName(SyslogTemplate.fileFormat.rawValue) else { return nil }
            return .program(settings, template: name)
        case "ompgsql":
            guard configuration.loadedModules.contains("ompgsql") else {
                notHonoured(location, "action type 'ompgsql' without module(load=\"ompgsql\"): nothing is written")
                return nil
            }
            // rsyslog reads these as words: a blank in one is its error.
            for key in ["server", "db", "user", "uid", "pass", "pwd", "conninfo", "template"] where p[key]?.contains(where: \.isWhitespace) == true {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "parameter '\(key)' contains whitespace, which is not permitted")
            }
            var settings = PostgresSettings()
            settings.server = p["server"] ?? ""
            settings.database = p["db"] ?? ""
            if let user = p["user"] ?? p["uid"] { settings.user = user }
            if let password = p["pass"] ?? p["pwd"] { settings.password = password }
            if let port = p["port"] ?? p["serverport"] {
                guard let n = Int(port), (1...65535).contains(n) else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "ompgsql: '\(port)' is not a port")
                }
                settings.port = n
            }
            if let info = p["conninfo"], !info.isEmpty { settings.connectionInfo = info }
            guard settings.connectionInfo != nil || (!settings.server.isEmpty && !settings.database.isEmpty) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "ompgsql: must provide conninfo or server and dbname")
            }
            guard let name = sqlTemplate(p["template"], location, builtIn: .postgres) else { return nil }
            let queue = try queueSettings(p, location)
            guard queue.fileName == nil else {
                notHonoured(
                    location,
                    "ompgsql: queue.filename (a disk-assisted queue) is not in this build for ompgsql: what waits for the "
                        + "database would not be kept across a restart as asked. The action is disabled")
                return nil
            }
            return .database(.postgres(settings), template: name, queue: queue)
        case "ommysql":
            guard configuration.loadedModules.contains("ommysql") else {
                notHonoured(location, "action type 'ommysql' without module(load=\"ommysql\"): nothing is written")
                return nil
            }
            for key in ["server", "db", "uid", "pwd", "socket", "mysqlconfig.file", "mysqlconfig.section", "template"]
            where p[key]?.contains(where: \.isWhitespace) == true {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "parameter '\(key)' contains whitespace, which is not permitted")
            }
            // rsyslog's required parameters.
            for key in ["server", "db", "uid", "pwd"] where p[key] == nil {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "parameter '\(key)' required but not specified - fix config")
            }
            var settings = MySQLSettings()
            (settings.server, settings.database) = (p["server"] ?? "", p["db"] ?? "")
            (settings.user, settings.password) = (p["uid"] ?? "", p["pwd"] ?? "")
            if let port = p["serverport"] {
                guard let n = Int(port), (0...65535).contains(n) else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "ommysql: '\(port)' is not a port")
                }
                settings.port = n
            }
            settings.socket = p["socket"]
            settings.configFile = p["mysqlconfig.file"]
            settings.configSection = p["mysqlconfig.section"]
            if let file = settings.configFile, access(file, R_OK) != 0 {
                // As rsyslogd: said, and the connection made without it (each connect tries it again).
                warn(location, "ommysql: mysql configuration error: Could not open '\(file)' for reading")
            }
            guard let name = sqlTemplate(p["template"], location, builtIn: .mysql) else { return nil }
            let queue = try queueSettings(p, location)
            guard queue.fileName == nil else {
                notHonoured(
                    location,
                    "ommysql: queue.filename (a disk-assisted queue) is not in this build for ommysql: what waits for the database "
                        + "would not be kept across a restart as asked. The action is disabled")
                return nil
            }
            return .database(.mysql(settings), template: name, queue: queue)
        case "omusrmsg":
            for key in p.keys.sorted() where !["type", "users", "template"].contains(key) {
                notHonoured(location, "action(): parameter '\(key)' not known -- typo in config file?")
                return nil
            }
            guard let users = p["users"] else {
                notHonoured(location, "action(type=\"omusrmsg\"): parameter 'users' required but not specified")
                return nil
            }
            return userMessage(users == "*" ? nil : users, template: p["template"], location)
        case "mmjsonparse":
            let container = p["container"]?.lowercased() ?? "$!"
            guard container.hasPrefix("$!") || container.hasPrefix("$.") else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "mmjsonparse: container '\(container)' is not a variable ($!… or $.…)")
            }
            return .parseJSON(
                cookie: p["cookie"] ?? "@cee:", container: String(container.dropFirst()),
                useRawMessage: try p["userawmsg"].map { try binary($0, "useRawMsg", location) } ?? false)
        case "mmutf8fix":
            guard configuration.loadedModules.contains("mmutf8fix") else {
                notHonoured(location, "action type 'mmutf8fix' without module(load=\"mmutf8fix\"): nothing is fixed")
                return nil
            }
            // rsyslog 8.2302's mmutf8fix: `mode` utf-8 (the default) or controlcharacters (another is ignored, with
            // its error), `replacementChar` one character (a space by default).
            var controlCharacters = false
            if let mode = p["mode"] {
                if mode.hasPrefix("controlcharacters") {
                    controlCharacters = true
                } else if !mode.hasPrefix("utf-8") {
                    warn(location, "mmutf8fix: invalid mode '\(mode)' - ignored")
                }
            }
            var replacement = UInt8(ascii: " ")
            if let text = p["replacementchar"] {
                guard let first = text.utf8.first else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "mmutf8fix: replacementChar needs a character")
                }
                replacement = first
            }
            return .fixUTF8(controlCharacters: controlCharacters, replacement: replacement)
        case "mmnormalize":
            guard configuration.loadedModules.contains("mmnormalize") else {
                notHonoured(location, "action type 'mmnormalize' without module(load=\"mmnormalize\"): nothing is parsed")
                return nil
            }
            let rules = (p["rule"] ?? "").isEmpty ? [] : [p["rule"] ?? ""]
            guard (p["rulebase"] != nil) != !rules.isEmpty else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "mmnormalize needs one of ruleBase= and rule=")
            }
            let path = p["path"]?.lowercased() ?? "$!"
            guard path.hasPrefix("$!") || path.hasPrefix("$.") else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "mmnormalize: path '\(path)' is not a variable ($!… or $.…)")
            }
            let raw = try p["userawmsg"].map { try binary($0, "useRawMsg", location) } ?? false
            // The rulebase is loaded now, as rsyslogd loads it when it reads the configuration (and -N1 fails on it).
            do {
                _ = try LogNormalizer(
                    rulebase: p["rulebase"], rules: rules, path: String(path.dropFirst()), useRawMessage: raw)
            } catch {
                notHonoured(location, "\(error): action disabled")
                return nil
            }
            return .normalize(rulebase: p["rulebase"], rules: rules, path: String(path.dropFirst()), useRawMessage: raw)
        case "omjournal":
            if p["namespace"] != nil {
                notHonoured(location, "omjournal with namespace= is not in this build: action disabled")
                return nil
            }
            if let template = p["template"] {
                guard configuration.templates[template.lowercased()] != nil else {
                    notHonoured(location, "Could not find template '\(template)' - action disabled")
                    return nil
                }
            }
            return .journal(template: p["template"])
        default:
            let type = p["type"] ?? ""
            notHonoured(
                location,
                "action type '\(type)' is rsyslog's, not in this build: \(SinkSupport.moduleConsequence(type)). "
                    + "See docs/not-in-this-build-sink.md.")
            return nil
        }
    }

    // MARK: Filters

    /// `:property, [!]operation, "value"` and what follows it (the action, possibly empty).
    mutating func propertyFilter(_ text: String, _ location: SourceLocation) throws -> (SinkFilter, String) {
        let b = Array(text.utf8.dropFirst())
        guard let comma = b.firstIndex(of: 0x2C) else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "property filter without ','")
        }
        let property = String(decoding: b[..<comma], as: UTF8.self).trimmingSpaces().lowercased()
        let rest = b[(comma + 1)...]
        guard let comma2 = rest.firstIndex(of: 0x2C) else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "property filter without operation")
        }
        var operation = String(decoding: rest[..<comma2], as: UTF8.self).trimmingSpaces()
        let negated = operation.hasPrefix("!")
        if negated { operation.removeFirst() }
        let known = ["contains", "isequal", "startswith", "regex", "ereregex", "isempty"]
        guard known.contains(operation) else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "unknown property filter operation '\(operation)'")
        }
        var p = comma2 + 1
        while p < b.count && (b[p] == 0x20 || b[p] == 0x09) { p += 1 }
        guard p < b.count, b[p] == 0x22 else {
            if operation == "isempty" {
                return (
                    .property(name: property, operation: operation, negated: negated, value: ""),
                    String(decoding: b[p...], as: UTF8.self).trimmingSpaces()
                )
            }
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "property filter value must be quoted")
        }
        p += 1
        var value: [UInt8] = []
        var closed = false
        while p < b.count {
            // A backslash takes the next character as it is (so `\\{` gives a BRE `\{`, and a single `\{` a
            // literal brace that never matches an interval: rsyslog's behaviour).
            if b[p] == 0x5C && p + 1 < b.count {
                value.append(b[p + 1])
                p += 2
                continue
            }
            if b[p] == 0x22 {
                closed = true
                p += 1
                break
            }
            value.append(b[p])
            p += 1
        }
        guard closed else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "property filter value is not closed")
        }
        return (
            .property(
                name: property, operation: operation, negated: negated, value: String(decoding: value, as: UTF8.self)),
            String(decoding: b[p...], as: UTF8.self).trimmingSpaces()
        )
    }

    /// The selector token as rsyslog's lexer accepts it: `[*a-z][*a-z]*[0-7]*[.,][,!=;.*a-z0-7]+`.
    static func isSelector(_ line: String) -> Bool {
        let token = line.prefix { $0 != " " && $0 != "\t" }.lowercased()
        guard let first = token.first, first == "*" || first.isLetter, token.contains(".") else { return false }
        return token.allSatisfy { $0.isLetter || $0.isNumber || "*.,;!=".contains($0) }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
