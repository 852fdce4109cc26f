import LogCore
import Seal
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The running form of a configuration's rules: filters evaluated in order, actions run, `stop` honoured.
/// Lives on one thread (the input's event loop); not Sendable.
final class Ruleset {
    enum Action {
        case file(FileWriter, OutputTemplate)
        case dynamicFile(DynamicFiles, OutputTemplate)
        case forward(SyslogSender, OutputTemplate)
        /// TCP forwarding, through the action's queue.
        case forwardQueued(Forwarder, OutputTemplate)
        case journal(JournalWriter)
        case pipe(PipeWriter, OutputTemplate)
        case userMessage(UserMessageWriter, OutputTemplate)
        case program(ProgramAction, OutputTemplate)
        /// ompgsql, ommysql: each message a statement, through the action's queue.
        case database(DatabaseAction, OutputTemplate)
        /// omjournal with a list template: its `outname=` fields only.
        case journalFields(JournalWriter, PropertyTemplate)
        /// `call`: the index of the ruleset in `sets`.
        case call(Int)
        case callIndirect(SinkCondition.Operand)
        /// Failover: the action runs only while the one before it is suspended.
        indirect case whenPreviousSuspended(Action)
        /// foreach: the loop's variable, what it walks, and the block's rules.
        indirect case forEach(String, SinkCondition.Operand, [Rule])
        /// `$RepeatedMsgReduction on`: an output action behind what holds its repeats back.
        indirect case reduced(RepeatReducer, Action)
        case stop
        case skip
        /// `set`/`reset`/`unset` on the message's variables (`!path` or `.path`).
        case set(String, SinkCondition.Operand, reset: Bool)
        case unset(String)
        /// mmjsonparse.
        case parseJSON(cookie: [UInt8], container: String, useRawMessage: Bool)
        /// mmutf8fix.
        case fixUTF8(controlCharacters: Bool, replacement: UInt8)
        case normalize(LogNormalizer)
    }

    struct Rule {
        var filter: SinkFilter
        var actions: [Action]
        /// The compiled expression of a `regex` / `ereregex` property filter.
        var regex: CompiledRegex?
    }

    /// Per input: messages received, datagrams truncated to the size limit, senders refused by
    /// `$AllowedSender`. A class: the input's handlers count into it directly, the statistics read it.
    final class InputCounters {
        var received = 0
        var truncated = 0
        var disallowed = 0
        /// TCP: sessions open now, and connections closed at once because `maxSessions` were open.
        var sessions = 0
        var refused = 0
        /// Messages read without a valid PRI (rsyslog's defaults applied).
        var parseFallbacks = 0
        /// TCP: frames that began like an octet count but were not one (read as LF-delimited, as rsyslog does).
        var framingErrors = 0
        /// TLS: peers refused (a failed handshake, a name or fingerprint not permitted).
        var tlsRefused = 0
    }

    /// The counters of an input, made on first use.
    func counters(for input: String) -> InputCounters {
        if let c = inputs[input] { return c }
        let c = InputCounters()
        inputs[input] = c
        return c
    }

    /// The rulesets: the default one (the top-level rules) first, then the named ones.
    private(set) var sets: [[Rule]] = []
    /// Where each named ruleset is in `sets`.
    private(set) var setIndex: [String: Int] = [:]
    var inputs: [String: InputCounters] = [:]
    private var forwarders: [(String, SyslogSender)] = []
    private var queued: [Forwarder] = []
    private var writers: [String: FileWriter] = [:]
    private var dynamicFiles: [DynamicFiles] = []
    private var pipes: [PipeWriter] = []
    private var programs: [ProgramAction] = []
    private var databases: [DatabaseAction] = []
    /// Every repeat reduction, with its action (drained at shutdown).
    private var reducers: [(RepeatReducer, Action)] = []
    /// One connection to journald serves every omjournal action.
    private var journal: JournalWriter?
    private(set) var notes: [String] = []
    var processed = 0
    /// What the configuration asks and this build could not honour (SinkConfiguration.errors), as a gauge.
    let configurationErrors: Int

    /// Builds the rules; `root` maps every absolute output path under a folder (demos and tests).
    init(_ configuration: SinkConfiguration, root: String?) {
        configurationErrors = configuration.errors.count
        slots = Array(repeating: false, count: configuration.conditionSlots)
        tables = configuration.lookupTables
        templates = configuration.templates.compactMapValues { try? $0.compiled.get() }
        let names = configuration.rulesets.keys.sorted()
        for (i, name) in names.enumerated() { setIndex[name] = i + 1 }
        sets.append(build(configuration.rules, configuration, root: root))
        for name in names { sets.append(build(configuration.rulesets[name] ?? [], configuration, root: root)) }
        if configuration.journalEverything {
            let writer = journal ?? JournalWriter()
            journal = writer
            everything = writer
        }
    }

    /// `--journal`: the journald connection every message goes to before the rules.
    private var everything: JournalWriter?

    /// The index in `sets` of the ruleset an input names (the default one for nil or a name not defined).
    func index(of ruleset: String?) -> Int {
        ruleset.flatMap { setIndex[$0] } ?? 0
    }

    private func build(_ rules: [SinkRule], _ configuration: SinkConfiguration, root: String?) -> [Rule] {
        var built: [Rule] = []
        for rule in rules {
            let actions = rule.actions.map { action -> Action in
                let made = make(action, rule.location, configuration, root: root)
                guard configuration.repeatedMessageReduction else { return made }
                switch made {
                case .file, .dynamicFile, .forward, .forwardQueued, .journal, .journalFields, .pipe, .userMessage, .program, .database:
                    let reducer = RepeatReducer()
                    reducers.append((reducer, made))
                    return .reduced(reducer, made)
                default:
                    return made
                }
            }
            var regex: CompiledRegex?
            if case .property(_, let op, _, let value) = rule.filter, op == "regex" || op == "ereregex" {
                regex = CompiledRegex(value, extended: op == "ereregex")
                if regex == nil {
                    notes.append("\(rule.location): cannot compile '\(value)': the filter never matches")
                }
            }
            built.append(Rule(filter: rule.filter, actions: actions, regex: regex))
        }
        return built
    }

    /// The running form of one action; `.skip` (with a note) for one that cannot run.
    private func make(
        _ action: SinkAction, _ location: SourceLocation, _ configuration: SinkConfiguration, root: String?
    ) -> Action {
        switch action {
        case .file(let path, let templateName, _, let mode, let dirMode, let ownership, let sealKey):
            guard let template = output(templateName, location, configuration) else { return .skip }
            let mapped = underRoot(path, root)
            var sealer: Sealer?
            if let sealKey, writers[mapped] == nil {
                do {
                    sealer = Sealer(logPath: mapped, key: try SealKey(file: sealKey))
                } catch {
                    // The lines are still written: losing them would be worse than an unsealed file.
                    notes.append("\(location): \(error): \(mapped) is written WITHOUT a seal")
                }
            }
            let writer =
                writers[mapped]
                ?? FileWriter(
                    path: mapped, createMode: mode, dirCreateMode: dirMode, ownership: ownership, sealer: sealer)
            if let limit = configuration.fileSizeLimits[path] { writer.sizeLimit = limit }
            writers[mapped] = writer
            return .file(writer, template)
        case .dynamicFile(let templateName, let fileTemplate, let mode, let dirMode, let ownership):
            guard let template = output(templateName, location, configuration),
                case .custom(let names)? = output(fileTemplate, location, configuration)
            else { return .skip }
            let files = DynamicFiles(
                name: fileTemplate, paths: names, root: root, createMode: mode, dirCreateMode: dirMode,
                ownership: ownership)
            dynamicFiles.append(files)
            return .dynamicFile(files, template)
        case .stop:
            return .stop
        case .call(let name):
            return setIndex[name].map { .call($0) } ?? .skip
        case .callIndirect(let operand):
            return .callIndirect(operand)
        case .whenPreviousSuspended(let inner):
            return .whenPreviousSuspended(make(inner, location, configuration, root: root))
        case .forEach(let variable, let source, let rules):
            return .forEach(variable, source, build(rules, configuration, root: root))
        case .forward(let host, let port, let tcp, let octet, let templateName, let queue, let driver):
            guard let template = output(templateName, location, configuration) else { return .skip }
            if tcp {
                // A driver rsyslogd would not run was reported with the configuration's errors.
                guard case .success(let tls) = driver.resolve(configuration.netstream, role: .client) else {
                    return .skip
                }
                do {
                    let forwarder = try Forwarder(
                        host: host, port: port, framing: octet ? .octetCounting : .lineFeed, settings: queue,
                        root: root, tls: tls)
                    queued.append(forwarder)
                    return .forwardQueued(forwarder, template)
                } catch {
                    notes.append("\(location): cannot start the forward to \(host):\(port): \(error): action disabled")
                    return .skip
                }
            }
            let target = SyslogSender.Target.udp(host: host, port: port)
            do {
                let sender = try SyslogSender(target: target)
                forwarders.append(("\(target)", sender))
                return .forward(sender, template)
            } catch {
                notes.append("\(location): cannot forward to \(target): \(error): action disabled")
                return .skip
            }
        case .relpForward(
            let host, let port, let templateName, let queue, let tls, let window, let timeout, let connectTimeout):
            guard let template = output(templateName, location, configuration) else { return .skip }
            do {
                let forwarder = try Forwarder(
                    host: host, port: port, framing: .lineFeed, settings: queue, root: root, tls: tls,
                    relp: Forwarder.RELPSettings(window: window, timeout: timeout, connectTimeout: connectTimeout))
                queued.append(forwarder)
                return .forwardQueued(forwarder, template)
            } catch {
                notes.append("\(location): cannot start the RELP forward to \(host):\(port): \(error): action disabled")
                return .skip
            }
        case .journal(let templateName):
            let writer = journal ?? JournalWriter()
            journal = writer
            guard let templateName else { return .journal(writer) }
            guard case .custom(let template)? = output(templateName, location, configuration), template.hasFields
            else {
                notes.append(
                    "\(location): omjournal template '\(templateName)' is not a list template with outname= fields: "
                        + "action disabled")
                return .skip
            }
            if let bad = template.fieldNames.first(where: { !JournalWriter.isValidFieldName($0) }) {
                notes.append(
                    "\(location): '\(bad)' is not a journal field name ([A-Z0-9_], no leading _): action disabled")
                return .skip
            }
            return .journalFields(writer, template)
        case .ignored:
            return .skip
        case .userMessage(let users, let templateName):
            guard let template = output(templateName, location, configuration) else { return .skip }
            return .userMessage(UserMessageWriter(users: users), template)
        case .pipe(let path, let templateName):
            guard let template = output(templateName, location, configuration) else { return .skip }
            let writer = PipeWriter(path: underRoot(path, root))
            pipes.append(writer)
            return .pipe(writer, template)
        case .program(let settings, let templateName):
            guard let template = output(templateName, location, configuration) else { return .skip }
            let program = ProgramAction(settings: settings)
            programs.append(program)
            return .program(program, template)
        case .database(let target, let templateName, let queue):
            guard let template = output(templateName, location, configuration) else { return .skip }
            let driver: any DatabaseDriver =
                switch target {
                case .postgres(let settings): PostgresDriver(settings)
                case .mysql(let settings): MySQLDriver(settings)
                }
            let database = DatabaseAction(driver: driver, queue: queue)
            databases.append(database)
            return .database(database, template)
        case .set(let variable, let value, let reset):
            return .set(variable, value, reset: reset)
        case .unset(let variable):
            return .unset(variable)
        case .parseJSON(let cookie, let container, let raw):
            return .parseJSON(cookie: Array(cookie.utf8), container: container, useRawMessage: raw)
        case .fixUTF8(let controlCharacters, let replacement):
            return .fixUTF8(controlCharacters: controlCharacters, replacement: replacement)
        case .normalize(let rulebase, let rules, let path, let raw):
            do {
                return .normalize(try LogNormalizer(rulebase: rulebase, rules: rules, path: path, useRawMessage: raw))
            } catch {
                notes.append("\(location): \(error): action disabled")
                return .skip
            }
        }
    }

    /// The lookup tables (reloaded on HUP when they say so).
    private var tables: [String: LookupTable]
    /// The templates `exec_template()` renders.
    private let templates: [String: PropertyTemplate]

    /// Whether the last action run for the message being run is suspended (rsyslog's bPrevWasSuspended, across
    /// rules): what failover actions look at.
    private var previousSuspended = false

    /// The decisions of the `if` blocks for the message being run (SinkCondition.remember / recall).
    private var slots: [Bool]

    /// Runs one message through a ruleset (the default one unless its input is bound to another).
    func process(_ message: SyslogMessage, ruleset: Int = 0) {
        processed += 1
        everything?.send(message)
        for i in slots.indices { slots[i] = false }
        previousSuspended = false
        var m = message
        _ = run(ruleset, &m, depth: 0)
    }

    /// Runs the rules of `sets[index]`; false when a `stop` ended the message (in a called ruleset too: a call
    /// without a queue runs synchronously, and rsyslog then stops the caller as well). `set`, `unset` and
    /// mmjsonparse change the message for the rules after them.
    private func run(_ index: Int, _ message: inout SyslogMessage, depth: Int) -> Bool {
        run(sets[index], &message, depth: depth)
    }

    private func run(_ rules: [Rule], _ message: inout SyslogMessage, depth: Int) -> Bool {
        for rule in rules where matches(rule.filter, rule.regex, message) {
            for action in rule.actions {
                if case .whenPreviousSuspended(let inner) = action {
                    guard previousSuspended else { continue }  // the one before is up: nothing to do here
                    perform(inner, message)
                    previousSuspended = Ruleset.isSuspended(inner)
                    continue
                }
                switch action {
                case .file, .dynamicFile, .forward, .forwardQueued, .journal, .journalFields, .pipe, .userMessage, .program, .database, .reduced:
                    previousSuspended = Ruleset.isSuspended(action)
                default: break  // statements (set, stop, call…) are not actions rsyslog tracks
                }
                switch action {
                case .set(let variable, let operand, let reset):
                    let value = json(operand, message)
                    let path = variable.dropFirst().split(separator: "!").map { $0.lowercased() }[...]
                    if variable.hasPrefix("!") {
                        var tree = message.variables ?? .object(JSONObject())
                        tree.set(value, at: path, merge: !reset)
                        message.variables = tree
                    } else {
                        var tree = message.localVariables ?? .object(JSONObject())
                        tree.set(value, at: path, merge: !reset)
                        message.localVariables = tree
                    }
                case .unset(let variable):
                    let path = variable.dropFirst().split(separator: "!").map { $0.lowercased() }[...]
                    if variable.hasPrefix("!") {
                        message.variables?.remove(at: path)
                    } else {
                        message.localVariables?.remove(at: path)
                    }
                case .parseJSON(let cookie, let container, let raw):
                    Ruleset.parseJSON(&message, cookie: cookie, container: container, useRawMessage: raw)
                case .fixUTF8(let controlCharacters, let replacement):
                    var bytes = Array(message.msg)
                    if controlCharacters {
                        UTF8Fix.controlCharacters(&bytes, replacement: replacement)
                    } else {
                        UTF8Fix.utf8(&bytes, replacement: replacement)
                    }
                    message.overwriteMSG(bytes)
                case .normalize(let normalizer):
                    normalizer.normalize(&message)
                case .file, .dynamicFile, .forward, .forwardQueued, .journal, .journalFields, .pipe, .userMessage, .program, .database:
                    perform(action, message)
                case .reduced(let reducer, let inner):
                    reducer.admit(message) { perform(inner, $0) }
                case .call(let target):
                    // A ruleset that calls itself, directly or not, would never end: the chain is cut.
                    guard depth < Ruleset.maximumCallDepth else {
                        callsCut += 1
                        continue
                    }
                    if !run(target, &message, depth: depth + 1) { return false }
                case .callIndirect(let operand):
                    let name = String(decoding: value(operand, message), as: UTF8.self)
                    guard let target = setIndex[name], depth < Ruleset.maximumCallDepth else {
                        callsCut += 1
                        continue
                    }
                    if !run(target, &message, depth: depth + 1) { return false }
                case .forEach(let variable, let source, let body):
                    guard depth < Ruleset.maximumCallDepth else { continue }
                    let elements: [JSONValue]
                    switch json(source, message) {
                    case .array(let items): elements = items
                    case .object(let object):
                        // Each pair as `{ "key": …, "value": … }`, as rsyslog walks an object.
                        elements = object.pairs.map { pair in
                            var item = JSONObject()
                            item["key"] = .string(pair.key)
                            item["value"] = pair.value
                            return .object(item)
                        }
                    default: elements = []
                    }
                    let path = variable.dropFirst().split(separator: "!").map { String($0) }[...]
                    for element in elements {
                        var tree = message.localVariables ?? .object(JSONObject())
                        tree.set(element, at: path, merge: false)
                        message.localVariables = tree
                        if !run(body, &message, depth: depth + 1) { return false }
                    }
                    // After the loop the variable is gone, as in rsyslog.
                    if !elements.isEmpty { message.localVariables?.remove(at: path) }
                case .stop:
                    return false
                case .skip, .whenPreviousSuspended:
                    break
                }
            }
        }
        return true
    }

    /// Carries out an output action (the others are the rule engine's: `run` handles them).
    private func perform(_ action: Action, _ message: SyslogMessage) {
        switch action {
        case .file(let writer, let template):
            writer.append(message, as: template)
        case .dynamicFile(let files, let template):
            files.append(message, as: template)
        case .forward(let sender, let template):
            sender.send(template.render(message))
        case .forwardQueued(let forwarder, let template):
            forwarder.enqueue(template.render(message))
        case .journal(let writer):
            writer.send(message)
        case .pipe(let writer, let template):
            writer.write(template.render(message))
        case .userMessage(let writer, let template):
            writer.write(template.render(message))
        case .program(let program, let template):
            program.send(template.render(message))
        case .database(let database, let template):
            database.send(template.render(message))
        case .journalFields(let writer, let template):
            writer.send(fields: template.fields(of: message))
        case .reduced(let reducer, let inner):
            reducer.admit(message) { perform(inner, $0) }
        case .call, .callIndirect, .forEach, .stop, .skip, .set, .unset, .parseJSON, .fixUTF8, .normalize, .whenPreviousSuspended:
            break
        }
    }

    /// Whether an output action is suspended: a TCP forward whose collector cannot be reached, a file whose writes
    /// fail.
    static func isSuspended(_ action: Action) -> Bool {
        switch action {
        case .forwardQueued(let forwarder, _): return forwarder.isSuspended
        case .database(let database, _): return database.isSuspended
        case .file(let writer, _): return writer.isFailing
        case .reduced(_, let inner): return isSuspended(inner)
        default: return false
        }
    }

    /// mmjsonparse, as rsyslog 8.2302 runs it: the MSG (or raw message) without its leading blanks must start with
    /// the cookie (`@cee:` unless set; empty: none), then hold one JSON object, which goes into the variables at
    /// `container` (`$parsesuccess` OK). Anything else: FAIL, and the text goes to `container!msg`.
    static func parseJSON(_ m: inout SyslogMessage, cookie: [UInt8], container: String, useRawMessage: Bool) {
        var text = useRawMessage ? m.raw[...] : m.msg
        text = text.drop { $0 == 0x20 || $0 == 0x09 }
        let path = container.dropFirst().split(separator: "!").map { $0.lowercased() }[...]
        var parsed: JSONValue?
        if text.starts(with: cookie) {
            // What follows the cookie is the JSON, and what `msg` gets when it is not.
            text = text.dropFirst(cookie.count)
            if let value = JSONReader.parse(text.drop { $0 == 0x20 || $0 == 0x09 }), case .object = value {
                parsed = value
            }
        }
        var tree = (container.hasPrefix("!") ? m.variables : m.localVariables) ?? .object(JSONObject())
        if let parsed {
            tree.set(parsed, at: path, merge: true)
            m.parseSuccess = true
        } else {
            tree.set(.string(Array(text)), at: path + ["msg"], merge: true)
            m.parseSuccess = false
        }
        if container.hasPrefix("!") { m.variables = tree } else { m.localVariables = tree }
    }

    /// A `set` value as JSON: a variable's subtree as it is, a number (or arithmetic) as an integer, anything
    /// else as a string.
    private func json(_ o: SinkCondition.Operand, _ m: SyslogMessage) -> JSONValue {
        switch o {
        case .property(let name) where name.hasPrefix("!") || name.hasPrefix("."):
            return Ruleset.variable(name, m) ?? .string([])
        case .number(let n): return .integer(n)
        case .arithmetic: return .integer(Ruleset.leadingNumber(value(o, m)))
        case .call(let name, _) where name == "cnum" || name == "strlen" || name == "ipv42num":
            return .integer(Ruleset.leadingNumber(value(o, m)))
        default: return .string(Array(value(o, m)))
        }
    }

    /// The variable `!a!b` / `.x` of a message, nil when it has none.
    static func variable(_ name: String, _ m: SyslogMessage) -> JSONValue? {
        let tree = name.hasPrefix("!") ? m.variables : m.localVariables
        return tree?.value(at: name.dropFirst().split(separator: "!").map { $0.lowercased() }[...])
    }

    /// Shutdown: what repeat reductions still hold is written (as rsyslogd does when it stops), then flushed; what a
    /// file still cannot take is counted and returned, one line per file, for the exit message.
    @discardableResult
    func finish() -> [String] {
        for (reducer, action) in reducers { reducer.drain { perform(action, $0) } }
        flush()
        let lost = lastFlush()
        for writer in writers.values { writer.closeSeal() }
        journal?.drain()
        for forwarder in queued { forwarder.stop() }
        for program in programs { program.stop() }
        for database in databases { database.stop() }
        return lost
    }

    /// Every file's last attempt before the stop: what still cannot be written is counted (`lost-at-stop`) and
    /// returned, one line per file.
    func lastFlush() -> [String] {
        var lost = writers.keys.sorted().compactMap { writers[$0]?.finalFlush() }
        for files in dynamicFiles { lost += files.finalFlush() }
        return lost
    }

    static let maximumCallDepth = 32
    /// Calls not made because the chain of calls was deeper than `maximumCallDepth` (a loop in the rulesets).
    private(set) var callsCut = 0

    /// A flush is queued on the loop (see `flushSoon`).
    var flushScheduled = false

    /// End of a batch: everything buffered goes to the files.
    func flush() {
        for writer in writers.values { writer.flush() }
        for files in dynamicFiles { files.flush() }
        for forwarder in queued { forwarder.flush() }
    }

    /// The template a name refers to: a built-in one or a user template that compiled; nil (with a note) else.
    private func output(_ name: String, _ location: SourceLocation, _ configuration: SinkConfiguration)
        -> OutputTemplate?
    {
        if let user = configuration.templates[name.lowercased()] {
            switch user.compiled {
            case .success(let template): return .custom(template)
            case .failure(let problem):
                notes.append("\(location): template '\(name)' cannot be used (\(problem)): action disabled")
                return nil
            }
        }
        if let builtin = SyslogTemplate(name: name) { return .builtin(builtin) }
        notes.append("\(location): template '\(name)' is not defined: action disabled")
        return nil
    }

    /// SIGHUP: close every file; the next line reopens it by path.
    func reopen() {
        for writer in writers.values { writer.reopen() }
        for pipe in pipes { pipe.reopen() }
        for program in programs { program.hup() }
        for (name, table) in tables where table.reloadOnHUP {
            do throws(LookupTableError) {
                tables[name] = try LookupTable(file: table.file, reloadOnHUP: true)
            } catch {
                sinkLog("\(error.description): lookup table '\(name)' keeps what it had")
            }
        }
        for files in dynamicFiles { files.reopen() }
    }

    /// The counters as `name: key=value …` lines, like rsyslog's impstats.
    func statistics() -> [String] {
        StatisticsLines.render(counters(), .legacy)
    }

    /// Every counter, grouped by input or action, in the order `statistics()` prints them.
    func counters() -> [SinkCounter] {
        var all: [SinkCounter] = []
        func add(_ group: SinkCounter.Group, _ name: String, _ value: Int, gauge: Bool = false) {
            all.append(SinkCounter(group: group, name: name, value: value, isGauge: gauge))
        }
        for (name, c) in inputs.sorted(by: { $0.key < $1.key }) {
            let group = SinkCounter.Group(kind: .input, instance: name)
            add(group, "received", c.received)
            add(group, "truncated", c.truncated)
            add(group, "disallowed", c.disallowed)
            add(group, "parse-fallbacks", c.parseFallbacks)
            if name.hasPrefix("imtcp") {
                add(group, "sessions", c.sessions, gauge: true)
                add(group, "refused", c.refused)
                add(group, "framing-errors", c.framingErrors)
                // Only TLS listeners refuse peers: the counter shows once one has.
                if c.tlsRefused > 0 { add(group, "tls-refused", c.tlsRefused) }
            }
        }
        let rules = SinkCounter.Group(kind: .ruleset, instance: nil)
        add(rules, "processed", processed)
        add(rules, "config-errors", configurationErrors, gauge: true)
        if callsCut > 0 { add(rules, "calls-cut", callsCut) }
        for (path, w) in writers.sorted(by: { $0.key < $1.key }) {
            let group = SinkCounter.Group(kind: .file, instance: path)
            add(group, "written", w.written)
            add(group, "failed", w.failed)
            if w.dropped > 0 { add(group, "dropped", w.dropped) }
            if w.lostAtStop > 0 { add(group, "lost-at-stop", w.lostAtStop) }
        }
        for program in programs {
            let c = program.counts
            let group = SinkCounter.Group(kind: .program, instance: program.name)
            add(group, "sent", c.sent)
            add(group, "failed", c.failed)
            add(group, "dropped", c.dropped)
            add(group, "starts", c.restarts)
        }
        for pipe in pipes {
            let group = SinkCounter.Group(kind: .file, instance: pipe.path)
            add(group, "written", pipe.written)
            add(group, "failed", pipe.failed)
            add(group, "dropped", pipe.dropped)
        }
        if let journal {
            let group = SinkCounter.Group(kind: .journal, instance: nil)
            add(group, "sent", journal.sent)
            add(group, "failed", journal.failed)
            add(group, "journald-absent", journal.absent)
            if journal.dropped > 0 { add(group, "dropped", journal.dropped) }
        }
        for files in dynamicFiles {
            let group = SinkCounter.Group(kind: .dynamicFile, instance: files.name)
            add(group, "files", files.openFiles, gauge: true)
            add(group, "written", files.written)
            add(group, "failed", files.failed)
        }
        for forwarder in queued {
            let c = forwarder.counts
            let group = SinkCounter.Group(kind: .forward, instance: forwarder.name)
            add(group, "sent", c.sent)
            add(group, "dropped", c.dropped)
            add(group, "failed", c.failed)
            add(group, "resent", c.resent)
            add(group, "suspended", c.suspended)
            add(group, "queued", c.queued, gauge: true)
            add(group, "disk-bytes", c.diskBytes, gauge: true)
            if c.lostAtStop > 0 { add(group, "lost-at-stop", c.lostAtStop) }
        }
        for database in databases {
            let c = database.counts
            let group = SinkCounter.Group(kind: .database, instance: database.name)
            add(group, "sent", c.sent)
            add(group, "failed", c.failed)
            add(group, "dropped", c.dropped)
            add(group, "suspended", c.suspended)
            add(group, "queued", c.queued, gauge: true)
            if c.lostAtStop > 0 { add(group, "lost-at-stop", c.lostAtStop) }
        }
        for (name, sender) in forwarders {
            let c = sender.currentCounters
            let group = SinkCounter.Group(kind: .forward, instance: name)
            add(group, "sent", c.sent)
            add(group, "dropped", c.dropped)
            add(group, "failed", c.failed)
        }
        return all
    }

    var written: Int {
        writers.values.reduce(0) { $0 + $1.written } + dynamicFiles.reduce(0) { $0 + $1.written }
    }
    var failed: Int { writers.values.reduce(0) { $0 + $1.failed } + dynamicFiles.reduce(0) { $0 + $1.failed } }

    private func matches(_ filter: SinkFilter, _ regex: CompiledRegex?, _ m: SyslogMessage) -> Bool {
        switch filter {
        case .priority(let p):
            return p.matches(m.priority)
        case .property(let name, let operation, let negated, let value):
            let text = Ruleset.property(name, m)
            let v = Array(value.utf8)
            let result: Bool
            switch operation {
            case "isequal": result = text.elementsEqual(v)
            case "startswith": result = text.starts(with: v)
            case "contains": result = v.isEmpty || Ruleset.contains(text, v)
            case "isempty": result = text.isEmpty
            case "regex", "ereregex": result = regex?.matches(text) ?? false
            default: result = false
            }
            return result != negated
        case .expression(let condition):
            return evaluate(condition, m)
        }
    }

    /// Compiled `re_match()` patterns, by pattern.
    private var expressionRegexes: [String: CompiledRegex] = [:]

    private func evaluate(_ c: SinkCondition, _ m: SyslogMessage) -> Bool {
        switch c {
        case .and(let a, let b): return evaluate(a, m) && evaluate(b, m)
        case .or(let a, let b): return evaluate(a, m) || evaluate(b, m)
        case .not(let a): return !evaluate(a, m)
        case .prifilt(let p): return p.matches(m.priority)
        case .exists(let variable):
            return Ruleset.variable(variable, m) != nil
        case .filter(let filter):
            var compiled: CompiledRegex?
            if case .property(_, let op, _, let value) = filter, op == "regex" || op == "ereregex" {
                compiled = regex(value, ignoringCase: false, extended: op == "ereregex")
            }
            return matches(filter, compiled, m)
        case .remember(let slot, let condition):
            let decided = evaluate(condition, m)
            slots[slot] = decided
            return decided
        case .recall(let slot):
            return slots[slot]
        case .value(let o):
            let v = value(o, m)
            return !v.isEmpty && !v.elementsEqual("0".utf8)
        case .reMatch(let o, let pattern, let ignoringCase):
            return regex(pattern, ignoringCase: ignoringCase)?.matches(value(o, m)) ?? false
        case .compare(let l, let op, .array(let elements)):
            // Against an array: true when the comparison holds for one element (`!=`: for none).
            let a = value(l, m)
            if op == "!=" { return !elements.contains { compare(a, "==", ArraySlice($0.utf8)) } }
            return elements.contains { compare(a, op, ArraySlice($0.utf8)) }
        case .compare(let l, let op, let r):
            return compare(value(l, m), op, value(r, m))
        }
    }

    private func regex(
        _ pattern: String, ignoringCase: Bool, capturing: Bool = false, extended: Bool = true
    ) -> CompiledRegex? {
        let key = "\(ignoringCase ? "i" : "-")\(capturing ? "c" : "-")\(extended ? "e" : "b")" + pattern
        if let known = expressionRegexes[key] { return known }
        let made = CompiledRegex(pattern, extended: extended, ignoringCase: ignoringCase, capturing: capturing)
        expressionRegexes[key] = made
        return made
    }

    private func compare(_ a: ArraySlice<UInt8>, _ op: String, _ b: ArraySlice<UInt8>) -> Bool {
            switch op {
            case "==", "!=", "<", "<=", ">", ">=":
                let order: Int
                if let x = Ruleset.number(a), let y = Ruleset.number(b) {
                    order = x < y ? -1 : (x > y ? 1 : 0)
                } else {
                    order = a.lexicographicallyPrecedes(b) ? -1 : (a.elementsEqual(b) ? 0 : 1)
                }
                switch op {
                case "==": return order == 0
                case "!=": return order != 0
                case "<": return order < 0
                case "<=": return order <= 0
                case ">": return order > 0
                default: return order >= 0
                }
            case "contains": return b.isEmpty || Ruleset.contains(a, Array(b))
            case "contains_i": return b.isEmpty || Ruleset.contains(Ruleset.lowered(a), Array(Ruleset.lowered(b)))
            case "startswith": return a.starts(with: b)
            case "startswith_i": return Ruleset.lowered(a).starts(with: Ruleset.lowered(b))
            default: return false
            }
    }

    private func value(_ o: SinkCondition.Operand, _ m: SyslogMessage) -> ArraySlice<UInt8> {
        switch o {
        case .string(let s): return ArraySlice(s.utf8)
        case .number(let n): return ArraySlice(String(n).utf8)
        case .property(let name): return Ruleset.property(name, m)
        case .array(let elements): return ArraySlice(elements.joined(separator: ", ").utf8)
        case .condition(let c): return evaluate(c, m) ? [0x31] : [0x30]
        case .concat(let a, let b): return value(a, m) + value(b, m)
        case .arithmetic(let op, let a, let b):
            let x = Ruleset.leadingNumber(value(a, m))
            let y = Ruleset.leadingNumber(value(b, m))
            let result: Int
            switch op {
            case "+": result = x &+ y
            case "-": result = x &- y
            case "*": result = x &* y
            case "/": result = y == 0 ? 0 : x / y
            default: result = y == 0 ? 0 : x % y
            }
            return ArraySlice(String(result).utf8)
        case .call(let name, let arguments): return call(name, arguments, m)
        }
    }

    /// RainerScript's value functions, as rsyslog 8.2302 computes them.
    private func call(_ name: String, _ arguments: [SinkCondition.Operand], _ m: SyslogMessage) -> ArraySlice<UInt8> {
        let values = arguments.map { value($0, m) }
        func number(_ i: Int) -> Int { values.indices.contains(i) ? Ruleset.leadingNumber(values[i]) : 0 }
        func text(_ n: Int) -> ArraySlice<UInt8> { ArraySlice(String(n).utf8) }
        switch name {
        case "tolower": return Ruleset.lowered(values[0])
        case "toupper": return ArraySlice(values[0].map(ASCII.uppercased))
        case "cstr": return values[0]
        case "cnum": return text(number(0))
        case "strlen": return text(values[0].count)
        case "ltrim": return values[0].drop { $0 == 0x20 }
        case "rtrim":
            var v = values[0]
            while v.last == 0x20 { v.removeLast() }
            return v
        case "getenv":
            return ArraySlice(getenv(String(decoding: values[0], as: UTF8.self)).map { Array(String(cString: $0).utf8) } ?? [])
        case "int2hex": return ArraySlice(String(number(0), radix: 16).utf8)
        case "field":
            // field(str, delimiter, n): the delimiter a character code (a number) or a string.
            let delimiter: [UInt8]
            if case .number(let code) = arguments[1] { delimiter = [UInt8(truncatingIfNeeded: code)] } else { delimiter = Array(values[1]) }
            let n = number(2)
            guard n >= 1, !delimiter.isEmpty else { return ArraySlice("***FIELD NOT FOUND***".utf8) }
            var rest = values[0]
            for _ in 1..<n {
                guard let at = Ruleset.find(delimiter, in: rest) else { return ArraySlice("***FIELD NOT FOUND***".utf8) }
                rest = rest[(at + delimiter.count)...]
            }
            if let end = Ruleset.find(delimiter, in: rest) { return rest[..<end] }
            return rest
        case "re_extract", "re_extract_i":
            guard case .string(let pattern) = arguments[1],
                let r = regex(pattern, ignoringCase: name == "re_extract_i", capturing: true)
            else { return values[4] }
            return r.extract(values[0], match: number(2), submatch: number(3)) ?? values[4]
        case "replace":
            let old = Array(values[1])
            guard !old.isEmpty else { return values[0] }
            var out: [UInt8] = []
            var rest = values[0]
            while let at = Ruleset.find(old, in: rest) {
                out.append(contentsOf: rest[..<at])
                out.append(contentsOf: values[2])
                rest = rest[(at + old.count)...]
            }
            out.append(contentsOf: rest)
            return out[...]
        case "substring":
            let v = values[0]
            let start = min(max(number(1), 0), v.count)
            let length = min(max(number(2), 0), v.count - start)
            return v[(v.startIndex + start)..<(v.startIndex + start + length)]
        case "lookup":
            guard case .string(let table) = arguments[0], let lookup = tables[table] else { return [] }
            return lookup.lookup(values[1])[...]
        case "exec_template":
            // The template's text for this message (the parser checked that it names one).
            guard case .string(let name) = arguments[0], let template = templates[name.lowercased()] else { return [] }
            var out: [UInt8] = []
            template.render(m, into: &out)
            return out[...]
        case "num2ipv4":
            let n = UInt32(truncatingIfNeeded: number(0))
            return ArraySlice("\(n >> 24).\((n >> 16) & 255).\((n >> 8) & 255).\(n & 255)".utf8)
        case "ipv42num":
            let parts = values[0].split(separator: 0x2E)
            guard parts.count == 4 else { return ArraySlice("-1".utf8) }
            var n = 0
            for part in parts {
                guard let octet = Ruleset.number(part), (0...255).contains(octet) else { return ArraySlice("-1".utf8) }
                n = n * 256 + octet
            }
            return text(n)
        default: return []
        }
    }

    /// rsyslog's string-to-number: the leading digits (with a sign), 0 when there are none.
    private static func leadingNumber(_ bytes: ArraySlice<UInt8>) -> Int {
        var v = bytes.drop { $0 == 0x20 }
        let negative = v.first == 0x2D
        if negative || v.first == 0x2B { v = v.dropFirst() }
        var n = 0
        for b in v {
            guard b >= 0x30 && b <= 0x39 else { break }
            n = n &* 10 &+ Int(b - 0x30)
        }
        return negative ? -n : n
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var i = haystack.startIndex
        while i + needle.count <= haystack.endIndex {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count < 19 else { return nil }
        var n = 0
        var i = bytes.startIndex
        let negative = bytes.first == 0x2D
        if negative { i += 1 }
        guard i < bytes.endIndex else { return nil }
        while i < bytes.endIndex {
            let b = bytes[i]
            guard b >= 0x30 && b <= 0x39 else { return nil }
            n = n * 10 + Int(b - 0x30)
            i += 1
        }
        return negative ? -n : n
    }

    private static func lowered(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        ArraySlice(bytes.map(ASCII.lowercased))
    }

    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        find(needle, in: haystack) != nil
    }

    static func property(_ name: String, _ m: SyslogMessage) -> ArraySlice<UInt8> {
        // The message's own fields without a copy; every other property as the templates render it.
        if name.hasPrefix("!") || name.hasPrefix(".") { return variable(name, m).map { $0.text[...] } ?? [] }
        switch name {
        case "parsesuccess": return m.parseSuccess.map { ArraySlice(($0 ? "OK" : "FAIL").utf8) } ?? []
        case "msg": return m.msg
        case "programname": return m.programName
        case "syslogtag": return m.syslogTag
        case "hostname", "source": return m.hostname
        case "fromhost": return m.fromHost[...]
        case "app-name": return m.appName
        case "procid": return m.procID
        case "msgid": return m.msgID
        case "rawmsg": return m.raw[...]
        default:
            // `$year` (written `$$year` in RainerScript) is a system property; `$msg` is `msg`.
            let value =
                PropertyTemplate.value(of: name, in: m)
                ?? (name.hasPrefix("$") ? PropertyTemplate.value(of: String(name.dropFirst()), in: m) : nil)
            return value?[...] ?? []
        }
    }
}

/// A POSIX regular expression (basic for `regex`, extended for `ereregex`, as rsyslog's property filters).
/// `$RepeatedMsgReduction` for one action, as rsyslogd 8 does it: a message with the same msg, hostname, procid
/// and app-name as the one before is held back and counted; when a different one comes (or the sink stops), the
/// held repeats are written first: the last repeat itself when there was one, else `message repeated N times:
/// [msg]` with the last repeat's other fields.
final class RepeatReducer {
    private var previous: SyslogMessage?
    private var repeats = 0

    func admit(_ message: SyslogMessage, _ perform: (SyslogMessage) -> Void) {
        if let previous, RepeatReducer.same(previous, message) {
            repeats += 1
            self.previous = message
            return
        }
        drain(perform)
        perform(message)
        previous = message
    }

    /// Writes what is held back, if anything.
    func drain(_ perform: (SyslogMessage) -> Void) {
        guard let previous, repeats > 0 else { return }
        if repeats == 1 {
            perform(previous)
        } else {
            var summary = previous
            var text = Array("message repeated \(repeats) times: [".utf8)
            text.append(contentsOf: previous.msg)
            text.append(0x5D)
            summary.msg = text[...]
            perform(summary)
        }
        repeats = 0
    }

    private static func same(_ a: SyslogMessage, _ b: SyslogMessage) -> Bool {
        a.msg.elementsEqual(b.msg) && a.hostname.elementsEqual(b.hostname) && a.procID.elementsEqual(b.procID)
            && a.appName.elementsEqual(b.appName)
    }
}
