import LogCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension RsyslogConfigParser {
    /// `$Directive value`: the legacy settings, each affecting the lines after it.
    mutating func directive(_ line: String, _ location: SourceLocation) throws {
        let parts = line.dropFirst().split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
        let written = String(parts.first ?? "")
        let name = written.lowercased()
        let value = parts.count > 1 ? String(parts[1]).trimmingSpaces() : ""
        func onOff() throws -> Bool {
            switch value.lowercased() {
            case "on", "yes", "1": return true
            case "off", "no", "0": return false
            default:
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$\(written) takes on or off, not '\(value)'")
            }
        }
        func mode() throws -> UInt16 {
            guard let m = UInt16(value, radix: 8), m <= 0o7777 else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$\(written) takes an octal mode, not '\(value)'")
            }
            return m
        }
        func port() throws -> Int {
            if value.isEmpty { return 514 }
            guard let p = Int(value), (1...65535).contains(p) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$\(written): '\(value)' is not a port")
            }
            return p
        }
        func requireModule(_ module: String) -> Bool {
            if configuration.loadedModules.contains(module) { return true }
            notHonoured(
                location,
                "invalid or yet-unknown config file command '$\(written)' - have you forgotten to load a module "
                    + "(\(module))? The line is not carried out.")
            return false
        }
        switch name {
        case "modload":
            if let problem = RsyslogConfigParser.builtinLoadedByName(value) {
                throw ConfigDiagnostic(severity: .error, location: location, message: problem)
            }
            let module = RsyslogConfigParser.moduleName(value)
            if SinkSupport.modules.contains(module) {
                if module == "imuxsock" { state.imuxsockLocation = location }
                if module == "imklog" { state.kernelLog = (KernelLogSettings(), location, false) }
                if module == "immark" { state.mark = (MarkSettings(), location, false) }
                if module == "imjournal" { state.journal = (JournalInputSettings(), location) }
                if module == "imfile" {
                    state.fileModule = (true, 10, nil, 0)
                    state.fileModuleLocation = location
                }
                if module == "impstats" { state.statistics = (StatisticsSettings(), location) }
                if configuration.loadedModules.contains(module) {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "module '\(module)' already in this config")
                }
                configuration.loadedModules.insert(module)
                state.moduleLocations[module] = location
            } else {
                notHonoured(
                    location,
                    "module '\(value)' is rsyslog's, not in this build: \(SinkSupport.moduleConsequence(module)). "
                        + "See docs/not-in-this-build-sink.md.")
            }
        case "inputtcpmaxsessions":
            state.tcpMaxSessions = try sessionLimit(value, location)
        case "udpserveraddress":
            state.udpAddress = value == "*" || value.isEmpty ? nil : value
        case "udpserverrun":
            if requireModule("imudp") {
                addInput(.udp(address: state.udpAddress, port: try port(), ruleset: state.udpRuleset), location)
                state.inputModulesUsed.insert("imudp")
            }
        case "inputtcpserverrun":
            if requireModule("imtcp") {
                addInput(
                    .tcp(address: nil, port: try port(), maxSessions: state.tcpMaxSessions, ruleset: state.tcpRuleset),
                    location)
                state.inputModulesUsed.insert("imtcp")
            }
        case "inputudpserverbindruleset":
            if requireModule("imudp") { state.udpRuleset = RsyslogConfigParser.rulesetName(value) }
        case "inputtcpserverbindruleset":
            if requireModule("imtcp") { state.tcpRuleset = RsyslogConfigParser.rulesetName(value) }
        case "ruleset":
            guard !value.isEmpty else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "$RuleSet needs a name")
            }
            guard rulesetBlock == nil else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$RuleSet inside a ruleset's { }")
            }
            switchRuleset(to: RsyslogConfigParser.rulesetName(value))
        case "includeconfig":
            let paths = RsyslogConfigParser.expandInclude(value)
            // A pattern that matches nothing is fine (rsyslogd's rule); a plain path that is not there is an error.
            if paths.isEmpty && !value.contains("*") && !value.contains("?") && !value.contains("[") {
                notHonoured(
                    location,
                    "error accessing config file or directory '\(value)': \(String(cString: strerror(ENOENT))); "
                        + "what it holds is not read.")
            }
            for path in paths { try include(path, from: location) }
        case "template":
            let pieces = value.split(separator: ",", maxSplits: 1)
            guard pieces.count == 2, let quoted = pieces.last.map({ String($0).trimmingSpaces() }),
                quoted.hasPrefix("\""),
                quoted.count >= 2
            else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "$template takes name,\"string\"")
            }
            var text = quoted.dropFirst()
            var option: PropertyTemplate.Option?
            if let end = text.lastIndex(of: "\"") {
                // `$template Name,"…",json` (or jsonf, sql, stdsql): the option after the string.
                let after = text[text.index(after: end)...].trimmingCharacters()
                text = text[..<end]
                if !after.isEmpty {
                    switch String(after.drop(while: { $0 == "," })).lowercased().trimmingSpaces() {
                    case "json": option = .json
                    case "jsonf": option = .jsonf
                    case "sql": option = .sql
                    case "stdsql": option = .stdsql
                    default:
                        throw ConfigDiagnostic(
                            severity: .error, location: location, message: "$template: unknown option '\(after)'")
                    }
                }
            }
            define(String(pieces[0]).trimmingSpaces(), String(text), escapes: .legacy, option: option, location)
        case "klogpath", "klogpermitnonkernelfacility", "klogparsekerneltimestamp", "klogkeepkerneltimestamp",
            "klogconsoleloglevel", "kloginternalmsgfacility":
            guard requireModule("imklog"), var k = state.kernelLog else { break }
            guard !k.byModuleParameters else {
                // rsyslogd's rule: once module(load="imklog" …) set parameters, its legacy directives are refused.
                notHonoured(
                    location,
                    "command '\(written)' is currently not permitted - did you already set it via a RainerScript "
                        + "command (v6+ config)?")
                break
            }
            switch name {
            case "klogpath": k.0.path = value
            case "klogpermitnonkernelfacility": k.0.permitNonKernelFacility = try onOff()
            case "klogparsekerneltimestamp": k.0.parseKernelTimestamp = try onOff()
            case "klogkeepkerneltimestamp": k.0.keepKernelTimestamp = try onOff()
            case "klogconsoleloglevel": k.0.consoleLogLevel = try consoleLevel(value, location)
            default: warn(location, "$\(written) has no effect (rsyslog 8.2302 reads it and does not use it either)")
            }
            state.kernelLog = k
        case "markmessageperiod":
            guard requireModule("immark"), var m = state.mark else { break }
            if m.byModuleParameters {
                warn(location, "$\(written) has no effect after module(load=\"immark\" …) with parameters (as rsyslogd)")
                break
            }
            m.0.interval = try markInterval(value, location)
            state.mark = m
        case "imjournalstatefile", "imjournalignorepreviousmessages", "imjournalpersiststateinterval",
            "imjournaldefaultseverity", "imjournaldefaultfacility", "imjournalusepidfromsystem",
            "imjournalratelimitinterval", "imjournalratelimitburst":
            guard requireModule("imjournal"), var j = state.journal else { break }
            let parameter: String
            switch name {
            case "imjournalstatefile": parameter = "statefile"
            case "imjournalignorepreviousmessages": parameter = "ignorepreviousmessages"
            case "imjournalpersiststateinterval": parameter = "persiststateinterval"
            case "imjournaldefaultseverity": parameter = "defaultseverity"
            case "imjournaldefaultfacility": parameter = "defaultfacility"
            case "imjournalusepidfromsystem": parameter = "usepidfromsystem"
            case "imjournalratelimitinterval": parameter = "ratelimit.interval"
            default: parameter = "ratelimit.burst"
            }
            if parameter.hasPrefix("ratelimit.") {
                warn(location, "$\(written) has no effect in this build (this build keeps every message)")
                break
            }
            try journalParameters([parameter: value], &j.0, location)
            state.journal = j
        case "inputfilename", "inputfiletag", "inputfilestatefile", "inputfileseverity", "inputfilefacility",
            "inputfilepersiststateinterval", "inputfilereadmode", "inputfilemaxlinesatonce",
            "inputfiletrimlineoverbytes", "inputfilebindruleset", "inputfilepollinterval", "inputrunfilemonitor":
            guard requireModule("imfile"), let module = state.fileModule else { break }
            var f = state.legacyFile
            switch name {
            case "inputfilename": f.file = value
            case "inputfiletag": f.tag = value
            case "inputfilestatefile":
                warn(location, "$\(written) has no effect (rsyslog 8.2302 names state files itself and ignores it too)")
            case "inputfileseverity": try fileParameters(["severity": value], &f, location)
            case "inputfilefacility": try fileParameters(["facility": value], &f, location)
            case "inputfilepersiststateinterval": try fileParameters(["persiststateinterval": value], &f, location)
            case "inputfilereadmode": try fileParameters(["readmode": value], &f, location)
            case "inputfiletrimlineoverbytes": try fileParameters(["trimlineoverbytes": value], &f, location)
            case "inputfilebindruleset": f.ruleset = value
            case "inputfilemaxlinesatonce":
                warn(location, "$\(written) has no effect in this build (read batching)")
            case "inputfilepollinterval":
                // The sink looks at least every second, whatever the interval (rsyslog's default is 10 s).
                _ = try number(value, "$InputFilePollInterval", location)
            default:
                guard !f.file.isEmpty, !f.tag.isEmpty else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location,
                        message: "$InputRunFileMonitor needs $InputFileName and $InputFileTag before it")
                }
                f.pollingInterval = module.polling ? min(module.interval, 1) : 0.2
                f.stateDirectory = module.stateDirectory
                addInput(.file(f), location)
                state.inputModulesUsed.insert("imfile")
                f = FileInputSettings.legacy  // rsyslog resets the $InputFile… settings after each monitor
            }
            state.legacyFile = f
        case "dropmsgswithmaliciousdnsptrrecords":
            configuration.dropMaliciousPTR = try onOff()
        case "outchannel":
            // $outchannel name,file,max-size,command-at-max-size
            let fields = value.split(separator: ",", maxSplits: 3).map { String($0).trimmingSpaces() }
            guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$\(written) takes name,file,max-size[,command]")
            }
            let limit = try RsyslogConfigParser.size(fields[2], "$\(written) max-size", location, limit: Int.max)
            configuration.outchannels[fields[0]] = (
                fields[1], FileSizeLimit(bytes: limit, command: fields.count > 3 ? FileSizeLimit.command(fields[3]) : [])
            )
        case "actionexeconlywhenpreviousissuspended":
            state.failover = try onOff()
        case "abortonuncleanconfig":
            // `global(abortOnUncleanConfig=…)`'s legacy spelling: with any error, the sink does not start.
            configuration.abortOnUncleanConfig = try onOff()
        case "actionommysqlserverport":
            guard requireModule("ommysql") else { break }
            guard let n = Int(value), (0...65535).contains(n) else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "$\(written): '\(value)' is not a port")
            }
            state.mysqlServerPort = n
        case "actionomprogbinary":
            guard requireModule("omprog") else { break }
            // One word, as rsyslogd reads it: what follows is left out, with its words.
            let word = value.prefix { $0 != " " && $0 != "\t" }
            let extra = value.dropFirst(word.count).drop { $0 == " " || $0 == "\t" }
            if !extra.isEmpty { warn(location, "extra characters in config line ignored: '\(extra)'") }
            state.programBinary = String(word)
        case "ommysqlconfigfile":
            guard requireModule("ommysql") else { break }
            state.mysqlConfigFile = value
        case "ommysqlconfigsection":
            guard requireModule("ommysql") else { break }
            state.mysqlConfigSection = value
        case "maxopenfiles":
            guard let n = Int(value), n > 0 else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "$\(written): '\(value)' is not a number")
            }
            configuration.maxOpenFiles = n
        case "pstatinterval", "pstatfacility", "pstatseverity", "pstatjson":
            guard requireModule("impstats"), var st = state.statistics else { break }
            switch name {
            case "pstatinterval": st.0.interval = try markInterval(value, location)
            case "pstatfacility":
                st.0.facility = try facilityNumber(value, "$\(written)", location)
            case "pstatseverity":
                st.0.severity = try severityNumber(value, "$\(written)", location)
            default: st.0.format = try onOff() ? .json : .legacy
            }
            state.statistics = st
        case "privdroptouser", "privdroptouserid", "privdroptogroup", "privdroptogroupid":
            privilegeDrop(user: name.hasPrefix("privdroptouser"), value, written, location)
        case "actionfiledefaulttemplate", "actionforwarddefaulttemplate":
            guard SyslogTemplate(name: value) != nil || configuration.templates[value.lowercased()] != nil else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "template '\(value)' is not defined")
            }
            if name == "actionfiledefaulttemplate" {
                state.defaultTemplate = value
            } else {
                state.forwardTemplate = value
            }
        case "filecreatemode": state.fileCreateMode = try mode()
        case "dircreatemode": state.dirCreateMode = try mode()
        case "actionfileenablesync": state.sync = try onOff()
        case "actionfileseal": state.seal = try onOff()
        case "actionfilesealkey": state.sealKey = value
        case "maxmessagesize":
            try setMaxMessageSize(value, "$MaxMessageSize", location)
        case "escapecontrolcharactersonreceive": configuration.parseOptions.escapeControlCharacters = try onOff()
        case "escapecontrolcharactertab": configuration.parseOptions.escapeTab = try onOff()
        case "controlcharacterescapeprefix":
            guard value.utf8.count == 1, let byte = value.utf8.first else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$\(written) takes one character, not '\(value)'")
            }
            configuration.parseOptions.controlCharacterEscapePrefix = byte
        case "localhostname": configuration.localHostname = value
        case "escape8bitcharactersonreceive": configuration.parseOptions.escape8BitCharacters = try onOff()
        case "droptrailinglfonreception": configuration.parseOptions.dropTrailingLF = try onOff()
        case "repeatedmsgreduction": configuration.repeatedMessageReduction = try onOff()
        case "preservefqdn": configuration.preserveFQDN = try onOff()
        case "workdirectory": configuration.workDirectory = value
        case "omitlocallogging": state.systemSocket = !(try onOff())
        case "systemlogsocketname": state.systemSocketName = value
        case "allowedsender":
            let items = value.split(separator: ",").map { String($0).trimmingSpaces() }
            guard let proto = items.first?.lowercased(), proto == "udp" || proto == "tcp", items.count > 1 else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "$AllowedSender takes UDP|TCP, then senders")
            }
            for item in items.dropFirst() {
                guard let pattern = SenderPattern(item) else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "$AllowedSender: cannot read '\(item)'")
                }
                if case .network(let m) = pattern, m.description.hasSuffix("/0") {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "$AllowedSender: /0 is not allowed")
                }
                configuration.allowedSenders[proto, default: []].append(pattern)
            }
        case "fileowner", "filegroup", "dirowner", "dirgroup", "fileownernum", "filegroupnum", "dirownernum",
            "dirgroupnum":
            let user = name.contains("owner")
            guard let id = RsyslogConfigParser.accountID(value, user: user) else {
                notHonoured(location, "ID for \(user ? "user" : "group") '\(value)' could not be found")
                break
            }
            switch name {
            case "fileowner", "fileownernum": state.ownership.fileOwner = id
            case "filegroup", "filegroupnum": state.ownership.fileGroup = id
            case "dirowner", "dirownernum": state.ownership.dirOwner = id
            default: state.ownership.dirGroup = id
            }
        case "umask":
            configuration.umask = try mode()
        case "addunixlistensocket":
            if requireModule("imuxsock") { addInput(.unixSocket(path: value), location) }
        default:
            if name == "mainmsgqueuesize", let size = Int(value) { state.mainQueueSize = (size, location) }
            if name == "mainmsgqueuediscardmark", let mark = Int(value) { state.mainQueueDiscardMark = mark }
            if name == "actionqueuediscardmark", let mark = Int(value) { state.actionDiscardMark = mark }
            if let parameter = RsyslogConfigParser.legacyQueueDirectives[name] {
                // These apply to the next action only (rsyslog resets them once an action is read).
                var queue = state.queue
                _ = try applyQueueSetting(parameter, value, to: &queue, location)
                state.queue = queue
                break
            }
            if RsyslogConfigParser.netstreamDefaultKeys.contains(name) {
                setNetstreamDefault(name, value, "$" + written, location)
                break
            }
            if name.hasPrefix("inputtcpserverstreamdriver") && !requireModule("imtcp") { break }
            if streamDriverDirective(name, value, location) { break }
            switch SinkSupport.legacyVerdict(name) {
            case .honoured: break
            case .noEffect(let reason): warn(location, "$\(written) has no effect in this build (\(reason))")
            case .notInThisBuild(let why):
                notHonoured(location, "$\(written) is rsyslog's, not in this build: \(why). See docs/not-in-this-build-sink.md.")
            case .unknown(let suggestion):
                notHonoured(
                    location,
                    "invalid or yet-unknown config file command '$\(written)' - have you forgotten to load a module?"
                        + (suggestion.map { " (did you mean '$\($0)'?)" } ?? ""))
            }
        }
    }

    /// A facility by name (`local0`) or number, as module parameters take it.
    func facilityNumber(_ v: String, _ what: String, _ location: SourceLocation) throws -> Int {
        guard let f = Facility(selectorName: v) ?? Int(v).flatMap({ Facility(rawValue: UInt8(clamping: $0)) }) else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(what): '\(v)' is not a facility")
        }
        return Int(f.rawValue)
    }

    /// A severity by name (`info`) or number.
    func severityNumber(_ v: String, _ what: String, _ location: SourceLocation) throws -> Int {
        guard let sv = Severity(name: v) ?? Int(v).flatMap({ Severity(rawValue: UInt8(clamping: $0)) }) else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(what): '\(v)' is not a severity")
        }
        return Int(sv.rawValue)
    }

    /// A user or group to drop to, by name or number; one that does not exist is rsyslogd's error.
    mutating func privilegeDrop(user: Bool, _ value: String, _ written: String, _ location: SourceLocation) {
        guard let id = RsyslogConfigParser.accountID(value, user: user) else {
            notHonoured(location, "ID for \(user ? "user" : "group") '\(value)' could not be found or error")
            return
        }
        if user {
            configuration.privilegeDrop.user = id
        } else {
            configuration.privilegeDrop.group = id
        }
    }

    /// rsyslog's binary parameter values.
    func binary(_ value: String, _ name: String, _ location: SourceLocation) throws -> Bool {
        switch value.lowercased() {
        case "on", "yes", "1": return true
        case "off", "no", "0": return false
        default:
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(name) takes on or off, not '\(value)'")
        }
    }

    func consoleLevel(_ value: String, _ location: SourceLocation) throws -> Int? {
        guard let n = Int(value), (-1...8).contains(n) else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "ConsoleLogLevel: '\(value)' is not a level from -1 to 8")
        }
        return n < 0 ? nil : n
    }

    func markInterval(_ value: String, _ location: SourceLocation) throws -> Int {
        guard let n = Int(value), n > 0 else {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "mark message period must not be 0, can not run ('\(value)')")
        }
        return n
    }

    func number(_ value: String, _ name: String, _ location: SourceLocation) throws -> Int {
        guard let n = Int(value), n >= 0 else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(name): '\(value)' is not a number")
        }
        return n
    }

    /// `input(type="imfile" …)`'s parameters (and the `$InputFile…` directives, named as the parameters).
    func fileParameters(_ p: [String: String], _ f: inout FileInputSettings, _ location: SourceLocation) throws {
        if let v = p["file"] { f.file = v }
        if let v = p["tag"] { f.tag = v }
        if let v = p["facility"] {
            guard let facility = Facility(selectorName: v) ?? Int(v).flatMap({ Facility(rawValue: UInt8(clamping: $0 >> 3)) })
            else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "imfile: '\(v)' is not a facility")
            }
            f.facility = Int(facility.rawValue)
        }
        if let v = p["severity"] {
            f.severity = try severityNumber(v, "imfile", location)
        }
        if let v = p["persiststateinterval"] { f.persistStateInterval = try number(v, "PersistStateInterval", location) }
        if let v = p["readmode"] {
            let mode = try number(v, "ReadMode", location)
            guard mode <= 2 else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "imfile: ReadMode '\(v)' is not 0, 1 or 2")
            }
            f.readMode = mode
        }
        for key in ["startmsg.regex", "endmsg.regex"] {
            guard let v = p[key] else { continue }
            guard CompiledRegex(v, extended: true) != nil else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "imfile: cannot compile \(key) '\(v)'")
            }
            if key == "startmsg.regex" { f.startRegex = v } else { f.endRegex = v }
        }
        if [f.readMode != 0, f.startRegex != nil, f.endRegex != nil].filter({ $0 }).count > 1 {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "imfile: only one of readMode, startmsg.regex and endmsg.regex can be given")
        }
        if let v = p["readtimeout"] { f.readTimeout = try number(v, "readTimeout", location) }
        if let v = p["escapelf"] { f.escapeLF = try binary(v, "escapeLF", location) }
        if let v = p["escapelf.replacement"] { f.escapeLFReplacement = v }
        if let v = p["reopenontruncate"] { f.reopenOnTruncate = try binary(v, "reopenOnTruncate", location) }
        if let v = p["freshstarttail"] { f.freshStartTail = try binary(v, "freshStartTail", location) }
        if let v = p["deletestateonfiledelete"] ?? p["removestateondelete"] {
            f.deleteStateOnFileDelete = try binary(v, "deleteStateOnFileDelete", location)
        }
        if let v = p["needparse"] { f.needParse = try binary(v, "needParse", location) }
        if let v = p["addceetag"] { f.addCeeTag = try binary(v, "addCeeTag", location) }
        if let v = p["trimlineoverbytes"] { f.trimLineOverBytes = try number(v, "trimLineOverBytes", location) }
        if let v = p["discardtruncatedmsg"] { f.discardTruncatedMsg = try binary(v, "discardTruncatedMsg", location) }
        if let v = p["ignoreolderthan"] { f.ignoreOlderThan = try number(v, "ignoreOlderThan", location) }
        if let v = p["persiststateaftersubmission"] {
            f.persistStateAfterSubmission = try binary(v, "persistStateAfterSubmission", location)
        }
        if let v = p["ruleset"] { f.ruleset = v }
        if let v = p["addmetadata"] { f.addMetadata = try binary(v, "addMetadata", location) }
        if p["file"] != nil || p["tag"] != nil {
            guard !f.file.isEmpty, !f.tag.isEmpty else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "imfile: an input needs both File= and Tag=")
            }
        } else if p.keys.contains("type") {
            throw ConfigDiagnostic(severity: .error, location: location, message: "imfile: an input needs File= and Tag=")
        }
    }

    /// imjournal's module parameters (and the `$IMJournal…` directives, named as the parameters).
    func journalParameters(_ p: [String: String], _ j: inout JournalInputSettings, _ location: SourceLocation) throws {
        if let v = p["statefile"] { j.stateFile = v }
        if let v = p["persiststateinterval"] {
            guard let n = Int(v), n >= 0 else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "PersistStateInterval: '\(v)' is not a number")
            }
            j.persistStateInterval = n
        }
        if let v = p["ignorepreviousmessages"] { j.ignorePreviousMessages = try binary(v, "IgnorePreviousMessages", location) }
        if let v = p["defaultseverity"] {
            j.defaultSeverity = try severityNumber(v, "DefaultSeverity", location)
        }
        if let v = p["defaultfacility"] {
            j.defaultFacility = try facilityNumber(v, "DefaultFacility", location)
        }
        if p["usepidfromsystem"] != nil { j.usePID = "system" }  // deprecated: any value means UsePID="system"
        if let v = p["usepid"]?.lowercased() {
            guard ["both", "syslog", "system"].contains(v) else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "UsePID: '\(v)' is not both, syslog or system")
            }
            j.usePID = v
        }
        if let v = p["remote"] { j.remote = try binary(v, "Remote", location) }
    }

    /// Adds a listener; one bound to a named ruleset is checked once every ruleset is known.
    mutating func addInput(_ input: SinkInput, _ location: SourceLocation) {
        configuration.inputOrigins[input] = location
        if let name = pendingInputName {
            configuration.inputNames[input] = name
            pendingInputName = nil
        }
        if input.ruleset != nil { inputBindings.append((configuration.inputs.count, location)) }
        configuration.inputs.append(input)
    }

    /// `$MaxMessageSize` / `global(maxMessageSize=)`: at least 128 bytes.
    mutating func setMaxMessageSize(_ text: String, _ name: String, _ location: SourceLocation) throws {
        let bytes = try RsyslogConfigParser.size(text, name, location)
        guard bytes >= 128 else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(name): '\(text)' (at least 128)")
        }
        configuration.maxMessageSize = bytes
        configuration.parseOptions.maxMessageSize = bytes
    }

    /// A ruleset name as the legacy directives give it; `RSYSLOG_DefaultRuleset` is the default one (nil).
    static func rulesetName(_ value: String) -> String? {
        value.isEmpty || value == "RSYSLOG_DefaultRuleset" ? nil : value
    }

    /// A size with rsyslog's suffixes: `256k`, `4m`, `1g` (powers of 1024), or bytes.
    static func size(_ text: String, _ name: String, _ location: SourceLocation, limit: Int = Int(Int32.max)) throws
        -> Int
    {
        var digits = text.lowercased()
        var factor = 1
        switch digits.last {
        case "k": factor = 1 << 10
        case "m": factor = 1 << 20
        case "g": factor = 1 << 30
        default: break
        }
        if factor > 1 { digits.removeLast() }
        guard let n = Int(digits), n >= 0, n <= limit / factor else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "\(name): '\(text)' is not a size")
        }
        return n * factor
    }

    /// `$IncludeConfig`: a glob, its matches in sorted order; a directory ending in '/' includes its files
    /// (dot-files skipped).
    static func expandInclude(_ pattern: String) -> [String] {
        var target = pattern
        if target.hasSuffix("/") { target += "*" }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(target, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for i in 0..<Int(result.gl_pathc) {
            guard let p = result.gl_pathv[i] else { continue }
            let path = String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
            if path.split(separator: "/").last?.hasPrefix(".") == true { continue }
            paths.append(path)
        }
        return paths.sorted()
    }

    /// A module as `$ModLoad` and `module(load=…)` name it: `imuxsock`, `imuxsock.so` and a full path to it are one.
    /// rsyslogd's error for a module built into it loaded by its bare name (`omfwd`, `omfile.so`): only
    /// `builtin:NAME` finds those; a bare name is looked for as a file in the module directory, which has none.
    static func builtinLoadedByName(_ written: String) -> String? {
        var name = written
        if name.hasSuffix(".so") { name.removeLast(3) }
        let builtins: Set<String> = [
            "omfile", "ompipe", "omdiscard", "omfwd", "omusrmsg", "pmrfc5424", "pmrfc3164", "smfile", "smtradfile",
            "smfwd", "smtradfwd",
        ]
        guard !written.contains("/"), builtins.contains(name) else { return nil }
        return "could not load module '\(written)': it is built into rsyslogd, whose module directory has no "
            + "\(name).so (rsyslogd refuses the line too): load it as 'builtin:\(name)', or not at all"
    }

    static func moduleName(_ text: String) -> String {
        var name = text.lowercased()
        if !name.hasPrefix("builtin:"), let slash = name.lastIndex(of: "/") {
            name = String(name[name.index(after: slash)...])
        }
        if name.hasSuffix(".so") { name.removeLast(3) }
        return name
    }

    // MARK: RainerScript objects

    static func objectName(_ line: String) -> String? {
        for name in [
            "module", "input", "global", "template", "action", "ruleset", "main_queue", "parser", "lookup_table",
            "include",
        ] {
            let rest = line.dropFirst(name.count).drop { $0 == " " }
            if line.lowercased().hasPrefix(name) && rest.hasPrefix("(") { return name }
        }
        return nil
    }

    /// Whether the parentheses (outside quotes) are balanced.
    static func balanced(_ text: String) -> Bool {
        var depth = 0
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped {
                escaped = false
                continue
            }
            if c == "\\" {
                escaped = true
                continue
            }
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == "\"" || c == "'" {
                quote = c
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth -= 1
            }
        }
        return depth <= 0
    }

    /// `name(key="value" key="value" …)` into its parameters (keys lower-cased).
    static func parameters(_ statement: String, _ location: SourceLocation) throws -> [String: String] {
        guard let open = statement.firstIndex(of: "("), let close = statement.lastIndex(of: ")"), open < close else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "unbalanced parentheses")
        }
        var params: [String: String] = [:]
        var s = Substring(statement[statement.index(after: open)..<close])
        while true {
            s = s.drop { $0 == " " || $0 == "\t" }
            if s.isEmpty { break }
            guard let eq = s.firstIndex(of: "=") else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "expected name=\"value\" in '\(s.prefix(40))'")
            }
            let key = s[..<eq].trimmingCharacters().lowercased()
            s = s[s.index(after: eq)...].drop { $0 == " " || $0 == "\t" }
            if s.first == "[" {
                // An array, `["a", "b"]`: kept as its elements joined by ", " (what reads one splits it again).
                s = s.dropFirst()
                var elements: [String] = []
                while true {
                    s = s.drop { $0 == " " || $0 == "\t" || $0 == "," }
                    if s.first == "]" {
                        s = s.dropFirst()
                        break
                    }
                    guard s.first == "\"" || s.first == "'" else {
                        throw ConfigDiagnostic(
                            severity: .error, location: location,
                            message: "the elements of \(key)=[…] must be quoted strings separated by ','")
                    }
                    elements.append(try quotedValue(&s, key, location))
                }
                params[key] = elements.joined(separator: ", ")
                continue
            }
            if s.first == "`" {
                params[key] = try backtickValue(&s, key, location)
                continue
            }
            guard s.first == "\"" || s.first == "'" else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "the value of \(key) must be quoted")
            }
            params[key] = try quotedValue(&s, key, location)
        }
        return params
    }

    /// A quoted value at the start of `s` (which it consumes), with RainerScript's string escapes.
    static func quotedValue(_ s: inout Substring, _ key: String, _ location: SourceLocation) throws -> String {
        guard let q = s.first else { return "" }
        s = s.dropFirst()
        var value = ""
        var closed = false
        while let c = s.first {
            s = s.dropFirst()
            if c == "\\", let next = s.first {
                // RainerScript string escapes (the common C ones); any other character stands for itself.
                switch next {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                default: value.append(next)
                }
                s = s.dropFirst()
                continue
            }
            if c == q {
                closed = true
                break
            }
            value.append(c)
        }
        guard closed else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "the value of \(key) is not closed")
        }
        return value
    }

    /// A backtick value, `` `echo …` `` or `` `cat FILE` ``: the only two commands rsyslogd runs there (`echo`
    /// with `$NAME` taken from the environment).
    static func backtickValue(_ s: inout Substring, _ key: String, _ location: SourceLocation) throws -> String {
        s = s.dropFirst()
        guard let end = s.firstIndex(of: "`") else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "the value of \(key) is not closed")
        }
        let command = s[..<end].trimmingCharacters()
        s = s[s.index(after: end)...]
        if command.hasPrefix("echo ") || command == "echo" {
            return expandEnvironment(String(command.dropFirst(4)).trimmingSpaces())
        }
        if command.hasPrefix("cat ") {
            let path = String(command.dropFirst(4)).trimmingSpaces()
            guard let text = TextFile.read(path) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "\(key)=`\(command)`: cannot read \(path): \(String(cString: strerror(errno)))")
            }
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
        throw ConfigDiagnostic(
            severity: .error, location: location,
            message: "\(key)=`\(command)`: only `echo …` and `cat FILE` may be run in backticks (as rsyslogd)")
    }

    /// `$NAME` and `${NAME}` replaced by the environment's value (empty when unset).
    static func expandEnvironment(_ text: String) -> String {
        var out = ""
        var chars = Substring(text)
        while let c = chars.first {
            chars = chars.dropFirst()
            guard c == "$" else {
                out.append(c)
                continue
            }
            var name: Substring
            if chars.first == "{", let close = chars.firstIndex(of: "}") {
                name = chars[chars.index(after: chars.startIndex)..<close]
                chars = chars[chars.index(after: close)...]
            } else {
                name = chars.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                chars = chars.dropFirst(name.count)
            }
            if name.isEmpty {
                out.append("$")
            } else if let value = getenv(String(name)) {
                out += String(cString: value)
            }
        }
        return out
    }

    mutating func object(_ name: String, _ statement: String, _ location: SourceLocation) throws {
        var p = try RsyslogConfigParser.parameters(statement, location)
        // `config.enabled`: any value but "on" leaves the whole object out, unread, as rsyslogd does.
        if let enabled = p.removeValue(forKey: "config.enabled"), enabled != "on" { return }
        // An object with a parameter this build cannot honour is left out (an input does not listen wider than
        // asked), except global(), whose other settings still apply.
        if name == "module", let load = p["load"] {
            if let problem = RsyslogConfigParser.builtinLoadedByName(load) {
                throw ConfigDiagnostic(severity: .error, location: location, message: problem)
            }
            p["load"] = RsyslogConfigParser.moduleName(load)
        }
        let type = name == "module" ? p["load"] : p["type"]?.lowercased()
        if ["module", "input", "global", "template"].contains(name),
            name == "global" || type.map({ SinkSupport.modules.contains($0) }) == true || name == "template",
            !parametersHonoured(name, type: name == "global" || name == "template" ? nil : type, &p, location),
            name != "global"
        {
            return
        }
        func port(_ text: String?) throws -> Int {
            // 0 lets the system choose (tests read the bound port back).
            guard let text, let n = Int(text), (0...65535).contains(n) else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "'\(text ?? "")' is not a port")
            }
            return n
        }
        switch name {
        case "module":
            guard let module = p["load"]?.lowercased() else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "module() needs load=")
            }
            if configuration.loadedModules.contains(module) {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "module '\(module)' already in this config")
            }
            configuration.loadedModules.insert(module)
            state.moduleLocations[module] = location
            if module == "imuxsock" {
                state.imuxsockLocation = location
                if p["syssock.use"]?.lowercased() == "off" { state.systemSocket = false }
                if let name = p["syssock.name"] { state.systemSocketName = name }
            }
            if module == "builtin:omfile" {
                if let template = p["template"] { state.defaultTemplate = template }
                state.ownership = ownership(p, state.ownership, location)
                if let mode = p["filecreatemode"].flatMap({ UInt16($0, radix: 8) }) { state.fileCreateMode = mode }
                if let mode = p["dircreatemode"].flatMap({ UInt16($0, radix: 8) }) { state.dirCreateMode = mode }
            }
            if module == "builtin:omfwd", let template = p["template"] { state.forwardTemplate = template }
            // imklog's legacy directives are refused after any module(load="imklog") (rsyslogd's setModCnf);
            // immark's $MarkMessagePeriod only after one with parameters.
            let byParameters = module == "imklog" || p.keys.contains { $0 != "load" }
            switch module {
            case "imklog":
                var k = KernelLogSettings()
                if let path = p["logpath"] { k.path = path }
                if let v = p["permitnonkernelfacility"] { k.permitNonKernelFacility = try binary(v, "PermitNonKernelFacility", location) }
                if let v = p["parsekerneltimestamp"] { k.parseKernelTimestamp = try binary(v, "ParseKernelTimestamp", location) }
                if let v = p["keepkerneltimestamp"] { k.keepKernelTimestamp = try binary(v, "KeepKernelTimestamp", location) }
                if let v = p["consoleloglevel"] { k.consoleLogLevel = try consoleLevel(v, location) }
                k.ruleset = p["ruleset"]
                state.kernelLog = (k, location, byParameters)
            case "immark":
                var m = MarkSettings()
                if let v = p["interval"] { m.interval = try markInterval(v, location) }
                if let v = p["markmessagetext"] { m.text = v }
                if let v = p["use.syslogcall"] { m.useSyslogCall = try binary(v, "use.syslogCall", location) }
                if let r = p["ruleset"] {
                    // rsyslogd: a ruleset turns the syslog call off (the mark must go to that ruleset).
                    m.ruleset = r
                    m.useSyslogCall = false
                }
                state.mark = (m, location, byParameters)
            case "imjournal":
                var j = JournalInputSettings()
                try journalParameters(p, &j, location)
                state.journal = (j, location)
            case "impstats":
                var st = StatisticsSettings()
                if let v = p["interval"] { st.interval = try markInterval(v, location) }
                if let v = p["facility"] {
                    st.facility = try facilityNumber(v, "impstats", location)
                }
                if let v = p["severity"] {
                    st.severity = try severityNumber(v, "impstats", location)
                }
                if let v = p["log.syslog"] { st.toRules = try binary(v, "log.syslog", location) }
                st.file = p["log.file"]
                if let v = p["format"] {
                    guard let format = StatisticsSettings.Format(rawValue: v.lowercased()) else {
                        throw ConfigDiagnostic(
                            severity: .error, location: location,
                            message: "impstats: format '\(v)' is not legacy, json, json-elasticsearch or cee")
                    }
                    st.format = format
                }
                if let v = p["resetcounters"] { st.resetCounters = try binary(v, "resetCounters", location) }
                if let v = p["bracketing"] { st.bracketing = try binary(v, "bracketing", location) }
                st.ruleset = p["ruleset"]
                state.statistics = (st, location)
            case "imfile":
                // module() makes inotify the mode on Linux (rsyslog's setModCnf); $ModLoad keeps polling.
                let mode = p["mode"]?.lowercased() ?? "inotify"
                guard ["inotify", "polling"].contains(mode) else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "imfile: mode '\(mode)' is not inotify or polling")
                }
                state.fileModuleLocation = location
                state.fileModule = (
                    mode == "polling", try p["pollinginterval"].map { Double(try number($0, "PollingInterval", location)) } ?? 10,
                    p["statefile.directory"], try p["readtimeout"].map { try number($0, "readTimeout", location) } ?? 0
                )
            default: break
            }
            if module == "imtcp" { tcpModuleDriver(p, location) }
            if module == "imtcp", let limit = p["maxsessions"] {
                state.tcpMaxSessions = try sessionLimit(limit, location)
            }
            if !SinkSupport.modules.contains(module) {
                notHonoured(
                    location,
                    "module '\(module)' is rsyslog's, not in this build: \(SinkSupport.moduleConsequence(module)). "
                        + "See docs/not-in-this-build-sink.md.")
            }
        case "input":
            switch p["type"]?.lowercased() {
            case "imudp":
                state.inputModulesUsed.insert("imudp")
                // port=["514", "1514"]: one listener each.
                for portText in (p["port"] ?? "514").components(separatedBy: ", ") {
                    if let name = p["name"] { pendingInputName = name }
                    addInput(
                        .udp(
                            address: p["address"], port: try port(portText), ruleset: p["ruleset"],
                            receiveBuffer: try p["rcvbufsize"].map {
                                try RsyslogConfigParser.size($0, "rcvbufSize", location)
                            }
                        ), location)
                }
            case "imtcp", "imptcp":
                state.inputModulesUsed.insert(p["type"]?.lowercased() ?? "imtcp")
                for portText in (p["port"] ?? "").components(separatedBy: ", ") {
                    if let name = p["name"] ?? (p["type"]?.lowercased() == "imptcp" ? "imptcp" : nil) {
                        pendingInputName = name
                    }
                    let input = SinkInput.tcp(
                        address: p["address"], port: try port(portText.isEmpty ? nil : portText),
                        maxSessions: try p["maxsessions"].map { try sessionLimit($0, location) }
                            ?? state.tcpMaxSessions,
                        ruleset: p["ruleset"])
                    let driver = streamDriverParameters(p, peersKey: "permittedpeer", location)
                    if !driver.isEmpty { tcpInputDrivers[input] = driver }
                    addInput(input, location)
                }
            case "imuxsock":
                addInput(.unixSocket(path: p["socket"] ?? "/dev/log", ruleset: p["ruleset"]), location)
            case "imrelp":
                guard configuration.loadedModules.contains("imrelp") else {
                    notHonoured(location, "input type 'imrelp' without module(load=\"imrelp\"): nothing listens")
                    break
                }
                guard let portText = p["port"] else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "imrelp needs port=")
                }
                switch relpTLS(p) {
                case .success(let tls):
                    if let name = p["name"] { pendingInputName = name }
                    addInput(.relp(address: p["address"], port: try port(portText), ruleset: p["ruleset"], tls: tls), location)
                case .failure(let error):
                    notHonoured(location, "imrelp port \(portText): \(error): the input is not started")
                }
            case "imfile":
                guard let module = state.fileModule else {
                    notHonoured(location, "input type 'imfile' without module(load=\"imfile\"): the file is not read")
                    break
                }
                var f = FileInputSettings()
                f.readTimeout = module.readTimeout
                try fileParameters(p, &f, location)
                f.pollingInterval = module.polling ? min(module.interval, 1) : 0.2
                f.stateDirectory = module.stateDirectory
                addInput(.file(f), location)
                state.inputModulesUsed.insert("imfile")
            default:
                let type = p["type"] ?? ""
                notHonoured(
                    location,
                    "input type '\(type)' is rsyslog's, not in this build: \(SinkSupport.moduleConsequence(type)). "
                        + "See docs/not-in-this-build-sink.md.")
            }
        case "global":
            if let dir = p["workdirectory"] { configuration.workDirectory = dir }
            for key in RsyslogConfigParser.netstreamDefaultKeys {
                if let value = p[key] { setNetstreamDefault(key, value, key, location) }
            }
            if let size = p["maxmessagesize"] { try setMaxMessageSize(size, "maxMessageSize", location) }
            if let abort = p["abortonuncleanconfig"] {
                configuration.abortOnUncleanConfig = ["on", "yes", "1"].contains(abort.lowercased())
            }
            if let name = p["localhostname"] { configuration.localHostname = name }
            if let protocolName = p["net.ipprotocol"]?.lowercased() {
                guard ["unspecified", "ipv4-only", "ipv6-only"].contains(protocolName) else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location,
                        message: "global(): net.ipProtocol is unspecified, ipv4-only or ipv6-only, not '\(protocolName)'")
                }
                configuration.ipProtocol = protocolName
            }
            for (key, apply) in [
                ("parser.escapecontrolcharactersonreceive", { (o: inout SyslogParseOptions, v: Bool) in o.escapeControlCharacters = v }),
                ("parser.escape8bitcharactersonreceive", { (o: inout SyslogParseOptions, v: Bool) in o.escape8BitCharacters = v }),
                ("parser.droptrailinglfonreception", { (o: inout SyslogParseOptions, v: Bool) in o.dropTrailingLF = v }),
                ("parser.escapecontrolcharactertab", { (o: inout SyslogParseOptions, v: Bool) in o.escapeTab = v }),
            ] {
                if let v = p[key] { apply(&configuration.parseOptions, try binary(v, key, location)) }
            }
            if let prefix = p["parser.controlcharacterescapeprefix"] {
                guard prefix.utf8.count == 1, let byte = prefix.utf8.first else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location,
                        message: "global(): parser.controlCharacterEscapePrefix is one character, not '\(prefix)'")
                }
                configuration.parseOptions.controlCharacterEscapePrefix = byte
            }
            if let dns = p["net.enabledns"] { configuration.resolveSenderNames = ["on", "yes", "1"].contains(dns.lowercased()) }
            if let drop = p["dropmsgswithmaliciousdnsptrrecords"] {
                configuration.dropMaliciousPTR = ["on", "yes", "1"].contains(drop.lowercased())
            }
            if let process = p["processinternalmessages"] {
                configuration.processInternalMessages = ["on", "yes", "1"].contains(process.lowercased())
            }
            for (key, user) in [
                ("privdrop.user.name", true), ("privdrop.user.id", true), ("privdrop.group.name", false),
                ("privdrop.group.id", false),
            ] {
                if let value = p[key] { privilegeDrop(user: user, value, key, location) }
            }
            if let keep = p["privdrop.group.keepsupplemental"] {
                configuration.privilegeDrop.keepSupplementalGroups = try binary(keep, "privdrop.group.keepSupplemental", location)
            }
            if let mask = p["umask"] {
                guard let m = UInt16(mask, radix: 8), m <= 0o777 else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "global(): umask takes an octal mode, not '\(mask)'")
                }
                configuration.umask = m
            }
            if let fqdn = p["preservefqdn"] { configuration.preserveFQDN = ["on", "yes", "1"].contains(fqdn.lowercased()) }
        case "template":
            guard let templateName = p["name"] else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "template() needs name=")
            }
            if p["type"]?.lowercased() == "string", let string = p["string"] {
                define(templateName, string, escapes: .none, option: try templateOption(p, location), location)
            } else {
                notHonoured(
                    location,
                    "template '\(templateName)' of type '\(p["type"] ?? "")' is not in this build: actions using it "
                        + "are disabled.")
            }
        case "include":
            try includeObject(p, location)
        case "lookup_table":
            guard let tableName = p["name"], let file = p["file"] else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "lookup_table() needs name= and file=")
            }
            for key in p.keys.sorted() where !["name", "file", "reloadonhup"].contains(key) {
                notHonoured(location, "lookup_table(): parameter '\(key)' not known -- typo in config file?")
            }
            let reload = try p["reloadonhup"].map { try binary($0, "reloadOnHUP", location) } ?? true
            do throws(LookupTableError) {
                configuration.lookupTables[tableName] = try LookupTable(file: file, reloadOnHUP: reload)
            } catch {
                notHonoured(location, "\(error.description): lookup('\(tableName)') finds nothing")
            }
        case "main_queue":
            // As the `$MainMsgQueue…` directives: the sink hands each message to its rules as it is read.
            for key in p.keys.sorted() {
                if key.hasPrefix("queue.") {
                    warn(location, "main_queue(): parameter '\(key)' has no effect in this build (main queue tuning)")
                } else {
                    notHonoured(location, "main_queue(): parameter '\(key)' not known -- typo in config file?")
                }
            }
        default:
            notHonoured(location, "\(name)() is rsyslog's, not in this build: it is not carried out.")
        }
    }

    /// `include(file="GLOB" mode="abort-if-missing|required|optional")` or `include(text="…")`, as rsyslogd: a
    /// glob matching nothing is fine; a named file that is missing is an error, and with the default mode
    /// (abort-if-missing) rsyslogd would not start.
    mutating func includeObject(_ p: [String: String], _ location: SourceLocation) throws {
        for key in p.keys.sorted() where !["file", "text", "mode"].contains(key) {
            notHonoured(location, "include(): parameter '\(key)' not known -- typo in config file?")
        }
        let mode = p["mode"]?.lowercased() ?? "abort-if-missing"
        guard ["abort-if-missing", "required", "optional"].contains(mode) else {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "include(): mode '\(p["mode"] ?? "")' is not abort-if-missing, required or optional")
        }
        switch (p["file"], p["text"]) {
        case (let file?, nil):
            let paths = RsyslogConfigParser.expandInclude(file)
            if paths.isEmpty && !file.contains("*") && !file.contains("?") && !file.contains("[") && mode != "optional" {
                let problem =
                    "error accessing config file or directory '\(file)': \(String(cString: strerror(ENOENT)))"
                if mode == "abort-if-missing" {
                    throw ConfigDiagnostic(
                        severity: .error, location: location,
                        message: problem + "; include mode abort-if-missing: not starting")
                }
                notHonoured(location, problem + "; what it holds is not read.")
            }
            for path in paths { try include(path, from: location) }
        case (nil, let text?):
            try parse(text, file: location.file + " (include text at line \(location.line))")
        default:
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "include() needs either file= or text=")
        }
    }

    /// Checks `p`'s parameters against SinkSupport: honoured ones stay, tuning is a warning (and dropped), the others
    /// are errors (dropped). False when any was an error.
    mutating func parametersHonoured(
        _ object: String, type: String?, _ p: inout [String: String], _ location: SourceLocation
    ) -> Bool {
        var clean = true
        for key in p.keys.sorted() {
            if object == "action" && (key.hasPrefix("queue.") || key.hasPrefix("action.") || key == "writetimeout") {
                continue  // the queue settings, read (or warned about) by queueSettings
            }
            switch SinkSupport.verdict(object: object, type: type, parameter: key) {
            case .honoured: continue
            case .noEffect(let reason):
                warn(location, "\(object)(): parameter '\(key)' has no effect in this build (\(reason))")
            case .notInThisBuild(let why):
                notHonoured(
                    location,
                    "\(object)(\(type.map { "type \($0)" } ?? "")): parameter '\(key)' is rsyslog's, not in this build: "
                        + "\(why). See docs/not-in-this-build-sink.md.")
                clean = false
            case .unknown(let suggestion):
                notHonoured(
                    location,
                    "\(object)(): parameter '\(key)' not known -- typo in config file?"
                        + (suggestion.map { " (did you mean '\($0)'?)" } ?? ""))
                clean = false
            }
            p[key] = nil
        }
        return clean
    }

    /// Removes RainerScript's `/* … */` comments (which may span lines: `inComment` carries that over). As in
    /// rsyslogd's lexer, `/*` opens one only where a statement may start or after a blank, outside quotes and
    /// outside `$` directives: `$IncludeConfig /etc/rsyslog.d/*.conf` keeps its glob.
    static func stripBlockComments(_ line: String, inComment: inout Bool) -> String {
        let chars = Array(line)
        if !inComment, chars.first(where: { $0 != " " && $0 != "\t" }) == "$" { return line }
        var out = ""
        var quote: Character?
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if inComment {
                if c == "*" && i + 1 < chars.count && chars[i + 1] == "/" {
                    inComment = false
                    i += 2
                } else {
                    i += 1
                }
                continue
            }
            if let q = quote {
                if c == "\\" && i + 1 < chars.count {
                    out.append(c)
                    out.append(chars[i + 1])
                    i += 2
                    continue
                }
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (i == 0 || chars[i - 1] == " " || chars[i - 1] == "\t") {
                // A `#` comment runs to the end of the line: a `/*` in it opens nothing.
                break
            } else if c == "/" && i + 1 < chars.count && chars[i + 1] == "*"
                && (i == 0 || chars[i - 1] == " " || chars[i - 1] == "\t")
                && !(i + 2 < chars.count && (chars[i + 2] == "." || chars[i + 2] == "/"))
            {
                inComment = true
                i += 2
                continue
            }
            out.append(c)
            i += 1
        }
        return out
    }

    /// Removes a `#` comment: at the start of a line or after a blank, outside quotes.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        var out = ""
        var escaped = false
        for c in line {
            if let q = quote {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == q {
                    quote = nil
                }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || previous == "\t") {
                break
            }
            out.append(c)
            previous = c
        }
        return out
    }
}

extension RsyslogConfigParser {
    /// Records a user template; one the property replacer here cannot render is kept with its reason and warned
    /// about (rsyslog would run it; actions naming it are disabled rather than writing other bytes).
    mutating func define(
        _ name: String, _ text: String, escapes: PropertyTemplate.Escapes, option: PropertyTemplate.Option? = nil,
        _ location: SourceLocation
    ) {
        store(
            name, text,
            Result { () throws(PropertyTemplate.ParseError) in
                try PropertyTemplate(parsing: text, escapes: escapes, option: option)
            },
            location)
    }

    /// A template's `option.json` / `option.jsonf` / `option.sql` / `option.stdsql` (more than one on: rsyslogd's
    /// error).
    func templateOption(_ p: [String: String], _ location: SourceLocation) throws -> PropertyTemplate.Option? {
        var on: [PropertyTemplate.Option] = []
        for (key, option) in [("option.stdsql", PropertyTemplate.Option.stdsql), ("option.sql", .sql), ("option.json", .json), ("option.jsonf", .jsonf)] {
            if try p[key].map({ try binary($0, key, location) }) == true { on.append(option) }
        }
        if on.count > 1 {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "template '\(p["name"] ?? "")' has multiple incompatible options of sql, stdsql or json specified")
        }
        return on.first
    }

    /// Keeps a compiled template, or warns why actions naming it will be disabled.
    mutating func store(
        _ name: String, _ text: String, _ compiled: Result<PropertyTemplate, PropertyTemplate.ParseError>,
        _ location: SourceLocation
    ) {
        if case .failure(let problem) = compiled {
            notHonoured(location, "template '\(name)': \(problem): actions using it are disabled")
        }
        // What rsyslogd passes over, with its words (the property is written without the option, as by it).
        for option in (try? compiled.get())?.ignoredOptions ?? [] {
            warn(location, "template error: invalid field option '\(option)' specified - ignored")
        }
        configuration.templates[name.lowercased()] = UserTemplate(text: text, compiled: compiled)
    }
}

extension RsyslogConfigParser {
    /// A user's or group's numeric ID from its name (or the number itself), as rsyslog looks it up.
    static func accountID(_ value: String, user: Bool) -> UInt32? {
        if let n = UInt32(value) { return n }
        if user {
            guard let entry = getpwnam(value) else { return nil }
            return entry.pointee.pw_uid
        }
        guard let entry = getgrnam(value) else { return nil }
        return entry.pointee.gr_gid
    }
}

extension RsyslogConfigParser {
    /// The index of the `)` that closes the statement's first `(`, outside quotes.
    static func closingParenthesis(of statement: String) -> String.Index? {
        closing(of: statement, open: "(", close: ")")
    }

    /// Where the bracket `close` matching the first `open` is, outside quotes.
    static func closing(of statement: String, open: Character, close: Character) -> String.Index? {
        var depth = 0
        var quote: Character?
        var i = statement.startIndex
        while i < statement.endIndex {
            let c = statement[i]
            if let q = quote {
                if c == "\\" {
                    i = statement.index(after: i)
                } else if c == q {
                    quote = nil
                }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == open {
                depth += 1
            } else if c == close {
                depth -= 1
                if depth == 0 { return i }
            }
            if i < statement.endIndex { i = statement.index(after: i) }
        }
        return nil
    }

    /// `template(name=… type="list") { constant(value=…) property(name=…) … }`.
    mutating func listTemplate(_ head: String, _ body: String, _ location: SourceLocation) throws {
        var p = try RsyslogConfigParser.parameters(head, location)
        guard parametersHonoured("template", type: nil, &p, location) else { return }
        let option = try templateOption(p, location)
        guard let name = p["name"] else {
            throw ConfigDiagnostic(severity: .error, location: location, message: "template() needs name=")
        }
        guard p["type"]?.lowercased() == "list" else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "template '\(name)': a { } block needs type=\"list\"")
        }
        guard let open = body.firstIndex(of: "{"),
            let close = RsyslogConfigParser.closing(of: body, open: "{", close: "}")
        else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "template '\(name)': '{' is never closed")
        }
        var rest = Substring(body[body.index(after: open)..<close])
        var items: [PropertyTemplate.ListItem] = []
        while true {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
            if rest.isEmpty { break }
            let word = rest.prefix { $0.isLetter }.lowercased()
            guard word == "constant" || word == "property",
                let end = RsyslogConfigParser.closingParenthesis(of: String(rest))
            else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "template '\(name)': expected constant(…) or property(…), not '\(rest.prefix(30))'")
            }
            let text = String(rest)
            let item = String(text[...end])
            let values = try RsyslogConfigParser.parameters(item, location)
            if word == "constant" {
                items.append(.constant(values["value"] ?? "", outname: values["outname"]))
            } else {
                items.append(.property(values))
            }
            rest = Substring(text[text.index(after: end)...])
        }
        store(
            name, body, Result { () throws(PropertyTemplate.ParseError) in try PropertyTemplate(list: items, option: option) },
            location
        )
    }
}

/// imtcp's session limit: a positive number.
private func sessionLimit(_ text: String, _ location: SourceLocation) throws -> Int {
    guard let n = Int(text), n > 0 else {
        throw ConfigDiagnostic(
            severity: .error, location: location, message: "maxSessions takes a positive number, not '\(text)'")
    }
    return n
}

extension Substring {
    fileprivate func trimmingCharacters() -> String { String(self).trimmingSpaces() }
}
