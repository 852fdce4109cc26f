import LogCore

/// What this build does with each rsyslog module and parameter, in one place: the parser asks it about every
/// `module()`, `input()`, `action()`, `global()` and `template()` parameter and every `$Directive` it does not carry
/// out, and `docs/not-in-this-build-sink.md` is rendered from it.
///
/// The rule is fail-closed, in rsyslogd's manner. A construct that would lose, misroute or de-secure messages if it
/// were skipped is an error naming file and line: `-N1` exits 1 (as rsyslogd's does), and at start the sink says so
/// (standard error, its own log, the service manager's status and the `config_errors` metric), leaves out the
/// object it cannot honour (an input with an unknown parameter does not listen wider than asked) and runs the rest,
/// as rsyslogd starts with what it can. Only what changes nothing a user can observe (tuning) is a warning.
public enum SinkSupport {
    /// What a parameter or directive is, for this build.
    public enum Verdict: Equatable, Sendable {
        case honoured
        /// Tuning whose absence changes nothing a user can observe: a warning.
        case noEffect(String)
        /// rsyslog's, not in this build: an error.
        case notInThisBuild(String)
        /// Not rsyslog's either: an error, as rsyslogd makes it.
        case unknown(suggestion: String?)
    }

    /// The modules this build runs (loaded by `$ModLoad` or `module(load=…)`).
    public static let modules: Set<String> = [
        "imudp", "imtcp", "imptcp", "imuxsock", "imrelp", "omrelp", "mmnormalize", "lmnsd_gtls", "lmnsd_ossl", "lmnsd_ptcp", "imklog", "immark", "imjournal", "imfile", "impstats", "mmjsonparse", "mmutf8fix",
        "omjournal",
        "builtin:omfile", "builtin:ompipe", "ompipe", "omusrmsg", "builtin:omusrmsg", "omprog", "ompgsql", "ommysql",
        "builtin:omfwd", "omfile", "omfwd",
    ]

    /// What an unsupported module would have done, in the user's terms.
    static func moduleConsequence(_ module: String) -> String {
        if module.hasPrefix("im") { return "its messages would not be read" }
        if module.hasPrefix("mm") { return "the messages would not be parsed or changed as it asks" }
        if module.hasPrefix("pm") { return "the messages would be parsed otherwise than it asks" }
        if module == "lmnsd_gtls" || module == "lmnsd_ossl" || module.contains("gtls") || module.contains("ossl") {
            return "messages would travel in clear text"
        }
        return "its messages would not be delivered"
    }

    // MARK: Objects

    /// The verdict on `parameter` of `object` (`module`, `input`, `action`, `global`, `template`) for module `type`.
    public static func verdict(object: String, type: String?, parameter: String) -> Verdict {
        let key = object + ":" + (type ?? "")
        if honoured[key, default: []].contains(parameter) || parameter == "type" && object != "global"
            || parameter == "load" && object == "module"
        {
            return .honoured
        }
        if let reason = noEffect[key]?[parameter] ?? noEffect[object + ":*"]?[parameter] {
            return .noEffect(reason)
        }
        let known = knownParameters(object: object, type: type)
        if known.contains(parameter) { return .notInThisBuild(consequence(parameter)) }
        return .unknown(suggestion: nearest(parameter, in: known))
    }

    static func knownParameters(object: String, type: String?) -> Set<String> {
        let t = type.map { $0.hasPrefix("builtin:") ? String($0.dropFirst(8)) : $0 } ?? ""
        switch object {
        case "module": return RsyslogKeywords.moduleParameters[t] ?? []
        case "input": return RsyslogKeywords.inputParameters[t] ?? []
        case "action": return (RsyslogKeywords.actionParameters[t] ?? []).union(RsyslogKeywords.actionCommon)
        case "global": return RsyslogKeywords.global
        case "template": return RsyslogKeywords.template
        default: return []
        }
    }

    /// Why skipping a known parameter would matter.
    static func consequence(_ parameter: String) -> String {
        let p = parameter.lowercased()
        if p.hasPrefix("cry.") || p.hasPrefix("sig.") {
            return "signed and encrypted log files are not in this build: messages would be kept without them"
        }
        if p.contains("streamdriver") || p.contains("tls") || p.contains("permittedpeer") || p.contains("gnutls") {
            return "this TLS setting is not in this build (TLS itself is): the connection would not be secured as it asks"
        }
        return "the messages would be received, routed or written otherwise than the configuration asks"
    }

    /// The parameters this build carries out, by `object:type`.
    static let honoured: [String: Set<String>] = [
        "module:imudp": [],
        "module:imtcp": [
            "maxsessions", "streamdriver.name", "streamdriver.mode", "streamdriver.authmode", "permittedpeer",
            "streamdriver.checkextendedkeypurpose", "streamdriver.prioritizesan",
        ],
        "module:imuxsock": ["syssock.use", "syssock.name", "syssock.usespecialparser"],
        "module:omjournal": [],
        "module:builtin:omfile": [
            "template", "filecreatemode", "dircreatemode", "fileowner", "filegroup", "dirowner", "dirgroup",
            "fileownernum", "filegroupnum", "dirownernum", "dirgroupnum",
        ],
        "module:builtin:omfwd": ["template"],
        "module:imptcp": ["maxsessions"],
        "module:imklog": [
            "logpath", "permitnonkernelfacility", "parsekerneltimestamp", "keepkerneltimestamp", "consoleloglevel",
            "ruleset",
        ],
        "module:immark": ["interval", "markmessagetext", "use.syslogcall", "ruleset"],
        "module:imjournal": [
            "statefile", "persiststateinterval", "ignorepreviousmessages", "defaultseverity", "defaultfacility",
            "usepid", "usepidfromsystem", "remote",
        ],
        "input:imptcp": ["address", "port", "ruleset", "name"],
        "module:imfile": ["mode", "pollinginterval", "statefile.directory", "readtimeout"],
        "module:impstats": [
            "interval", "facility", "severity", "log.syslog", "log.file", "format", "resetcounters", "ruleset",
            "bracketing",
        ],
        "input:imfile": [
            "file", "tag", "facility", "severity", "persiststateinterval", "readmode", "startmsg.regex", "endmsg.regex",
            "readtimeout", "escapelf", "escapelf.replacement", "reopenontruncate", "freshstarttail",
            "deletestateonfiledelete", "removestateondelete", "needparse", "addceetag", "trimlineoverbytes",
            "discardtruncatedmsg", "ruleset", "ignoreolderthan", "persiststateaftersubmission", "addmetadata",
        ],
        "input:imudp": ["address", "port", "ruleset", "rcvbufsize", "name"],
        "input:imtcp": [
            "address", "port", "maxsessions", "ruleset", "name", "streamdriver.name", "streamdriver.mode", "streamdriver.authmode", "permittedpeer",
            "streamdriver.checkextendedkeypurpose", "streamdriver.prioritizesan",
            "streamdriver.cafile", "streamdriver.certfile", "streamdriver.keyfile",
        ],
        "input:imuxsock": ["socket", "ruleset", "usespecialparser"],
        "module:imrelp": [],
        "module:mmnormalize": [],
        "input:imrelp": [
            "port", "address", "name", "ruleset", "tls", "tls.cacert", "tls.mycert", "tls.myprivkey", "tls.authmode",
            "tls.permittedpeer",
        ],
        "action:omfile": [
            "file", "dynafile", "template", "sync", "filecreatemode", "dircreatemode", "fileowner", "filegroup",
            "dirowner", "dirgroup", "fileownernum", "filegroupnum", "dirownernum", "dirgroupnum", "seal", "sealkey",
            "rotation.sizelimit", "rotation.sizelimitcommand", "action.execonlywhenpreviousissuspended",
        ],
        "action:omfwd": [
            "target", "port", "protocol", "tcp_framing", "template", "action.execonlywhenpreviousissuspended",
            "streamdriver", "streamdrivermode", "streamdriverauthmode", "streamdriverpermittedpeers",
            "streamdriver.checkextendedkeypurpose", "streamdriver.prioritizesan", "streamdriver.cafile",
            "streamdriver.certfile", "streamdriver.keyfile",
            // The forwarder keeps every message until the collector's kernel acknowledged it, and sends them again
            // on the next connection: the last one (what this asks) and the others not yet acknowledged.
            "resendlastmsgonreconnect",
        ],
        "action:omrelp": [
            "target", "port", "template", "timeout", "windowsize", "tls", "tls.cacert", "tls.mycert", "tls.myprivkey",
            "tls.authmode", "tls.permittedpeer", "action.execonlywhenpreviousissuspended", "conn.timeout",
            "rebindinterval",
        ],
        "action:omjournal": ["template", "action.execonlywhenpreviousissuspended"],
        "action:mmjsonparse": ["cookie", "container", "userawmsg"],
        "action:mmutf8fix": ["mode", "replacementchar"],
        "action:mmnormalize": ["rulebase", "rule", "path", "userawmsg"],
        "action:ompipe": ["pipe", "template", "action.execonlywhenpreviousissuspended"],
        "action:omprog": [
            "action.execonlywhenpreviousissuspended", "binary", "template", "output", "filecreatemode", "confirmmessages", "confirmtimeout", "reportfailures",
            "signalonclose", "closetimeout", "killunresponsive", "hup.signal", "forcesingleinstance",
        ],
        "action:ompgsql": [
            "server", "port", "serverport", "db", "user", "uid", "pass", "pwd", "conninfo", "template",
            "action.execonlywhenpreviousissuspended",
        ],
        "action:ommysql": [
            "server", "serverport", "db", "uid", "pwd", "socket", "mysqlconfig.file", "mysqlconfig.section", "template",
            "action.execonlywhenpreviousissuspended",
        ],
        "global:": ["workdirectory", "maxmessagesize", "preservefqdn", "abortonuncleanconfig", "umask",
            "processinternalmessages", "net.enabledns", "dropmsgswithmaliciousdnsptrrecords", "privdrop.user.name",
            "privdrop.user.id", "privdrop.group.name", "privdrop.group.id", "privdrop.group.keepsupplemental",
            "localhostname", "net.ipprotocol", "parser.escapecontrolcharactersonreceive",
            "parser.escape8bitcharactersonreceive", "parser.droptrailinglfonreception", "parser.escapecontrolcharactertab",
            "parser.controlcharacterescapeprefix", "defaultnetstreamdriver", "defaultnetstreamdrivercafile",
            "defaultnetstreamdrivercertfile", "defaultnetstreamdriverkeyfile",
        ],
        "template:": ["name", "type", "string", "option.json", "option.jsonf", "option.sql", "option.stdsql"],
    ]

    /// imtcp's and imptcp's input tuning.
    static let tcpInputNoEffect: [String: String] = [
        "keepalive": "TCP keep-alive tuning",
        "keepalive.probes": "TCP keep-alive tuning", "keepalive.time": "TCP keep-alive tuning",
        "keepalive.interval": "TCP keep-alive tuning", "flowcontrol": "back-pressure tuning",
        "notifyonconnectionclose": "connection notices", "notifyonconnectionopen": "connection notices",
        "ratelimit.interval": "this build keeps every message", "ratelimit.burst": "this build keeps every message",
        "socketbacklog": "listen queue tuning",
    ]

    /// The queue and retry settings an action with a queue reads (`queueSettings`): forwards keep a disk part,
    /// ompgsql a memory queue only (its `queue.filename` is refused when read).
    static let queueHonoured: [String: [String]] = {
        let memory = [
            "queue.type", "queue.size", "queue.dequeuebatchsize", "action.resumeretrycount", "action.resumeinterval",
            "action.resumeintervalmax",
        ]
        let disk = memory + [
            "queue.filename", "queue.highwatermark", "queue.lowwatermark", "queue.maxdiskspace", "queue.maxfilesize",
            "queue.saveonshutdown", "queue.spooldirectory",
        ]
        return ["action:omfwd": disk, "action:omrelp": disk, "action:ompgsql": memory, "action:ommysql": memory]
    }()

    /// Tuning whose absence changes nothing a user can observe, by `object:type` (`object:*` for every type).
    static let noEffect: [String: [String: String]] = [
        "action:*": [
            "name": "an action's name shows only in rsyslog's statistics",
            "action.reportsuspension": "suspension notices", "action.reportsuspensioncontinuation": "suspension notices",
            "action.copymsg": "internal message copies",
            "action.writeallmarkmessages": "marks are never held back here (rsyslog's default)",
        ],
        "module:imudp": [
            "threads": "receive threads", "batchsize": "receive batching", "timerequery": "time look-up tuning",
            "schedulingpolicy": "thread scheduling", "schedulingpriority": "thread scheduling",
        ],
        "input:imudp": [
            "ratelimit.interval": "this build keeps every message",
            "ratelimit.burst": "this build keeps every message", "ratelimit.name": "this build keeps every message",
        ],
        "module:imrelp": ["tls.tlslib": "the TLS library (BoringSSL in this build)"],
        "input:imrelp": [
            "keepalive": "TCP keep-alive tuning", "keepalive.probes": "TCP keep-alive tuning",
            "keepalive.time": "TCP keep-alive tuning", "keepalive.interval": "TCP keep-alive tuning",
            "flowcontrol": "back-pressure tuning",
            "tls.dhbits": "Diffie-Hellman parameters: this build uses elliptic-curve key exchange",
        ],
        "module:omrelp": ["tls.tlslib": "the TLS library (BoringSSL in this build)"],
        // rsyslog 8.2302's ompgsql reads these and does not use them (each batch is one transaction either way).
        "action:ompgsql": [
            "multirows": "rsyslog 8.2302 reads it and does not use it", "trans_size": "rsyslog 8.2302 reads it and does not use it",
            "trans_age": "rsyslog 8.2302 reads it and does not use it",
        ],

        "module:imtcp": [
            "keepalive": "TCP keep-alive tuning", "keepalive.probes": "TCP keep-alive tuning",
            "keepalive.time": "TCP keep-alive tuning", "keepalive.interval": "TCP keep-alive tuning",
            "flowcontrol": "back-pressure tuning", "notifyonconnectionclose": "connection notices",
            "notifyonconnectionopen": "connection notices", "maxlisteners": "a limit of listener count",
            "workerthreads": "receive threads", "socketbacklog": "listen queue tuning",
        ],
        "input:imtcp": tcpInputNoEffect,
        "module:imptcp": ["threads": "receive threads", "processonpoller": "receive threads"],
        "input:imptcp": tcpInputNoEffect,
        "module:imfile": [
            "timeoutgranularity": "timing of read timeouts", "sortfiles": "the order in which files are first read",
            "normalizepath": "paths are used as written",
        ],
        "input:imfile": [
            "statefile": "rsyslog 8.2302 names state files itself and ignores it too",
            "maxsubmitatonce": "read batching", "maxlinesatonce": "read batching",
            "msgdiscardingerror": "a message about cut lines", "filenotfounderror": "a message about a missing file",
            "maxbytesperminute": "this build keeps every message", "maxlinesperminute": "this build keeps every message",
        ],
        "module:imklog": [
            "internalmsgfacility": "rsyslog 8.2302 reads it and does not use it either",
            "ratelimitinterval": "this build keeps every message", "ratelimitburst": "this build keeps every message",
        ],
        "module:immark": [
            "use.markflag": "marks are never held back here (rsyslog's action.writeAllMarkMessages default)",
        ],
        "module:imjournal": [
            "ratelimit.interval": "this build keeps every message", "ratelimit.burst": "this build keeps every message",
            "workaroundjournalbug": "rsyslog 8.2302 ignores it too",
            "ignorenonvalidstatefile": "a state file without a valid cursor is always passed over, with a message",
            "fsync": "the state file is replaced by a rename, never left half-written",
        ],
        "module:imuxsock": [
            "syssock.ratelimit.interval": "this build keeps every message",
            "syssock.ratelimit.burst": "this build keeps every message",
            "syssock.ratelimit.severity": "this build keeps every message",
            "syssock.flowcontrol": "back-pressure tuning", "syssock.unlink": "socket clean-up",
        ],
        "input:imuxsock": [
            "ratelimit.interval": "this build keeps every message", "ratelimit.burst": "this build keeps every message",
            "ratelimit.severity": "this build keeps every message", "flowcontrol": "back-pressure tuning",
            "unlink": "socket clean-up", "createpath": "the socket's folder is created when missing",
        ],
        "action:omfile": [
            "dynafilecachesize": "open-file cache tuning", "flushinterval": "write batching",
            "asyncwriting": "write batching", "flushontxend": "write batching", "iobuffersize": "write batching",
            "closetimeout": "open-file cache tuning", "createdirs": "folders are always created",
            "failonchownfailure": "ownership failures are reported either way",
        ],
        "action:omfwd": [
            "keepalive": "TCP keep-alive tuning", "keepalive.probes": "TCP keep-alive tuning",
            "keepalive.time": "TCP keep-alive tuning", "keepalive.interval": "TCP keep-alive tuning",
            "conerrskip": "connection error reporting",
        ],
        "global:": [
            "internalmsg.ratelimit.interval": "this build keeps every message",
            "internalmsg.ratelimit.burst": "this build keeps every message",
            "errormessagestostderr.maxnumber": "start-up messages", "debug.gnutls": "debugging",
            "debug.logfile": "debugging", "debug.ondemand": "debugging", "debug.unloadmodules": "debugging",
            "reportchildprocessexits": "start-up messages", "shutdown.enable.ctlc": "Ctrl-C handling",
            "senders.keeptrack": "sender statistics", "senders.timeouttowarn": "sender statistics",
            "senders.reportnew": "sender statistics", "senders.reportgoneaway": "sender statistics",
        ],
    ]

    // MARK: Legacy directives

    /// `$Directives` whose absence changes nothing a user can observe (lower case), with why.
    static let legacyNoEffect: [String: String] = [
        "systemlogratelimitinterval": "this build keeps every message",
        "systemlogratelimitburst": "this build keeps every message",
        "imuxsockratelimitinterval": "this build keeps every message",
        "imuxsockratelimitburst": "this build keeps every message",
        "mainmsgqueuesize": "main queue tuning", "mainmsgqueuetype": "main queue tuning",
        "mainmsgqueuehighwatermark": "main queue tuning", "mainmsgqueuelowwatermark": "main queue tuning",
        "mainmsgqueuediscardmark": "main queue tuning", "mainmsgqueuediscardseverity": "main queue tuning",
        "mainmsgqueueworkerthreads": "main queue tuning", "mainmsgqueuedequeuebatchsize": "main queue tuning",
        "mainmsgqueuetimeoutenqueue": "main queue tuning", "mainmsgqueuefilename": "main queue tuning",
        "mainmsgqueuemaxdiskspace": "main queue tuning", "mainmsgqueuesaveonshutdown": "main queue tuning",
        "mainmsgqueuecheckpointinterval": "main queue tuning", "mainmsgqueuemaxfilesize": "main queue tuning",
        "mainmsgqueuetimeoutshutdown": "main queue tuning", "mainmsgqueuetimeoutactioncompletion": "main queue tuning",
        "mainmsgqueueworkertimeoutthreadshutdown": "main queue tuning",
        "mainmsgqueueworkerthreadminimummessages": "main queue tuning",
        "createdirs": "folders are always created", "failonchownfailure": "ownership failures are reported either way",
        "actionfileenablesyncm": "write batching", "optimizeforuniprocessor": "tuning",
        "inputtcpflowcontrol": "back-pressure tuning", "inputunixlistensocketflowcontrol": "back-pressure tuning",
        "inputunixlistensocketcreatepath": "the socket's folder is created when missing",
        "imudpschedulingpolicy": "thread scheduling", "imudpschedulingpriority": "thread scheduling",
        "udpservertimerequery": "time look-up tuning", "dynafilecachesize": "open-file cache tuning",
        "omfileflushinterval": "write batching", "omfileasyncwriting": "write batching",
        "omfileflushontxend": "write batching", "omfileiobuffersize": "write batching",
        "resetconfigvariables": "resets only tuning here", "debugprintcfsyslinehandlerlist": "debugging",
        "debugprintmodulelist": "debugging", "debugprinttemplatelist": "debugging",
    ]

    /// The verdict on a `$Directive` this build does not carry out (lower-case name).
    static func legacyVerdict(_ name: String) -> Verdict {
        if let reason = legacyNoEffect[name] { return .noEffect(reason) }
        if RsyslogKeywords.legacyDirectives.contains(name) {
            if name.contains("streamdriver") || name.contains("netstreamdriver") || name.contains("gtls") {
                return .notInThisBuild(
                    "this TLS setting is not in this build (TLS itself is): the connection would not be secured as it asks")
            }
            return .notInThisBuild("the messages would be received, routed or written otherwise than it asks")
        }
        return .unknown(suggestion: nearest(name, in: RsyslogKeywords.legacyDirectives))
    }

    static func nearest(_ word: String, in candidates: Set<String>) -> String? {
        EditDistance.nearest(word.lowercased(), in: candidates)
    }
}

// MARK: The page for users

extension SinkSupport {
    /// `docs/not-in-this-build-sink.md`: the modules and parameters the sink carries out, and what it only warns
    /// about (a test keeps the checked-in page equal to this).
    public static func markdown() -> String {
        var out = """
            # The sink: rsyslog 8.2302 constructs not in this build

            `syslog-sink -N1` fails (exit 1), as `rsyslogd -N1` does, on anything below that is not carried out and
            is not marked *no effect*: a module or input not read, an output not delivered, a TLS or stream-driver
            setting, a template or statement not run, a parameter this build does not honour or does not know, a
            missing included file. At start the sink names each one (standard error, its own log, the service
            manager's status and the `tollgate_sink_ruleset_config_errors` metric), leaves out the object it cannot
            honour (an input with an unknown parameter does not listen wider than asked) and runs the rest, as
            rsyslogd starts with what it can. `global(abortOnUncleanConfig="on")` makes it refuse to start instead.

            Modules carried out: \(modules.sorted().map { "`\($0)`" }.joined(separator: ", ")). Every other module
            (omelasticsearch, omkafka, mmkubernetes…) is an error. TLS (the
            gtls and ossl stream drivers) is carried out: see docs/syslog-sink.md, "TLS".


            """
        for key in honoured.keys.sorted() {
            let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
            let object = parts[0]
            let type = parts.count > 1 && !parts[1].isEmpty ? parts[1] : nil
            out += "## `\(object)(\(type.map { object == "module" ? "load=\"\($0)\"" : "type=\"\($0)\"" } ?? ""))`\n\n"
            let carried = (honoured[key, default: []] + (queueHonoured[key] ?? [])).sorted()
            out += "Carried out: " + (carried.isEmpty ? "nothing beyond the module itself" : carried.map { "`\($0)`" }.joined(separator: ", ")) + ".\n\n"
            var quiet: [String] = []
            var refused: [String] = []
            for p in knownParameters(object: object, type: type).sorted() where !carried.contains(p) {
                switch verdict(object: object, type: type, parameter: p) {
                case .noEffect(let reason): quiet.append("`\(p)` (\(reason))")
                case .notInThisBuild: refused.append("`\(p)`")
                case .honoured, .unknown: break
                }
            }
            if !refused.isEmpty { out += "- **error**: " + refused.joined(separator: ", ") + "\n" }
            if !quiet.isEmpty { out += "- *no effect* (a warning): " + quiet.joined(separator: ", ") + "\n" }
            out += "\n"
        }
        out += "## Legacy `$Directives` with no effect (a warning)\n\n"
        for (name, reason) in legacyNoEffect.sorted(by: { $0.key < $1.key }) { out += "- `$\(name)`: \(reason)\n" }
        out += "\nEvery other `$Directive` rsyslog knows and this build does not read is an error (the TLS ones say so).\n"
        return out
    }
}
