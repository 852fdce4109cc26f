import LogCore

extension RsyslogConfigParser {
    /// The legacy `$ActionQueue…` / `$ActionResume…` directives and the parameter each one stands for.
    static let legacyQueueDirectives: [String: String] = [
        "actionqueuetype": "queue.type", "actionqueuefilename": "queue.filename", "actionqueuesize": "queue.size",
        "actionqueuehighwatermark": "queue.highwatermark", "actionqueuelowwatermark": "queue.lowwatermark",
        "actionqueuemaxdiskspace": "queue.maxdiskspace", "actionqueuemaxfilesize": "queue.maxfilesize",
        "actionqueuesaveonshutdown": "queue.saveonshutdown", "actionqueuedequeuebatchsize": "queue.dequeuebatchsize",
        "actionresumeretrycount": "action.resumeretrycount", "actionresumeinterval": "action.resumeinterval",
        "actionqueuetimeoutenqueue": "queue.timeoutenqueue", "actionqueueworkerthreads": "queue.workerthreads",
        "actionqueuediscardmark": "queue.discardmark", "actionqueuediscardseverity": "queue.discardseverity",
        "actionqueuecheckpointinterval": "queue.checkpointinterval",
        "actionqueuesyncqueuefiles": "queue.syncqueuefiles", "actionqueuetimeoutshutdown": "queue.timeoutshutdown",
        "actionqueuetimeoutactioncompletion": "queue.timeoutactioncompletion",
        "actionqueuedequeueslowdown": "queue.dequeueslowdown",
    ]

    /// Parameters rsyslog has that change nothing here (one sender thread, no discard by severity): accepted with a
    /// warning that says so.
    static let queueParametersWithoutEffect: Set<String> = [
        "queue.timeoutenqueue", "queue.workerthreads", "queue.discardmark", "queue.discardseverity",
        "queue.checkpointinterval", "queue.syncqueuefiles", "queue.timeoutshutdown",
        "queue.timeoutactioncompletion", "queue.workerthreadminimummessages",
        "queue.dequeueslowdown",
    ]

    /// Applies one `queue.*` / `action.resume*` / `writeTimeout` setting; false when `name` is not one of them.
    mutating func applyQueueSetting(
        _ name: String, _ value: String, to q: inout ActionQueueSettings, _ location: SourceLocation
    ) throws -> Bool {
        func number(_ range: ClosedRange<Int>) throws -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "\(name) takes a number from \(range.lowerBound) to \(range.upperBound), not '\(value)'")
            }
            return n
        }
        switch name {
        case "queue.type":
            let kinds: [ActionQueueSettings.Kind] = [.direct, .linkedList, .fixedArray, .disk]
            guard let kind = kinds.first(where: { $0.rawValue.lowercased() == value.lowercased() }) else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "queue.type must be Direct, LinkedList, FixedArray or Disk, not '\(value)'")
            }
            q.kind = kind
        case "queue.filename":
            guard !value.isEmpty, !value.contains("/") else {
                throw ConfigDiagnostic(
                    severity: .error, location: location,
                    message: "queue.filename is a file name in the work directory, not '\(value)'")
            }
            q.fileName = value
        case "queue.spooldirectory":
            // The queue's files go there instead of the work directory, as rsyslog puts them.
            guard !value.isEmpty else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "queue.spoolDirectory needs a directory")
            }
            q.workDirectory = value
        case "queue.size": q.size = try number(1...10_000_000)
        case "queue.highwatermark": q.highWatermark = try number(1...10_000_000)
        case "queue.lowwatermark": q.lowWatermark = try number(0...10_000_000)
        case "queue.maxdiskspace": q.maxDiskSpace = try RsyslogConfigParser.size(value, name, location, limit: 1 << 50)
        case "queue.maxfilesize":
            q.maxFileSize = max(4096, try RsyslogConfigParser.size(value, name, location))
        case "queue.saveonshutdown":
            switch value.lowercased() {
            case "on", "yes", "1": q.saveOnShutdown = true
            case "off", "no", "0": q.saveOnShutdown = false
            default:
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "\(name) takes on or off, not '\(value)'")
            }
        case "queue.dequeuebatchsize": q.dequeueBatchSize = try number(1...1_000_000)
        case "action.resumeretrycount": q.resumeRetryCount = try number(-1...Int(Int32.max))
        case "action.resumeinterval": q.resumeInterval = try number(1...86_400)
        case "action.resumeintervalmax": q.resumeIntervalMax = try number(1...86_400)
        case "writetimeout": q.writeTimeout = try number(1...86_400)
        default:
            guard RsyslogConfigParser.queueParametersWithoutEffect.contains(name) else { return false }
            warn(location, "\(name) is accepted and has no effect here (one sender per action)")
        }
        return true
    }

    /// The settings of an `action(…)`: its `queue.*` and `action.resume*` parameters over the defaults.
    mutating func queueSettings(_ p: [String: String], _ location: SourceLocation) throws -> ActionQueueSettings {
        var q = ActionQueueSettings()
        q.workDirectory = configuration.workDirectory
        for key in p.keys.sorted() where key.hasPrefix("queue.") || key.hasPrefix("action.") || key == "writetimeout" {
            if let value = p[key], try !applyQueueSetting(key, value, to: &q, location) {
                actionParameterNotApplied(key, type: p["type"], location)
            }
        }
        try checkQueue(q, location)
        return q
    }

    /// A queue or `action.*` parameter this build does not apply: tuning is a warning, the rest (failover with
    /// `action.execOnlyWhenPreviousIsSuspended`, `action.execOnlyEveryNthTime`…) an error, a typo rsyslogd's error.
    mutating func actionParameterNotApplied(_ key: String, type: String?, _ location: SourceLocation) {
        switch SinkSupport.verdict(object: "action", type: type?.lowercased(), parameter: key) {
        case .noEffect(let reason):
            warn(location, "action(): parameter '\(key)' has no effect in this build (\(reason))")
        case .notInThisBuild(let why):
            notHonoured(
                location,
                "action(): parameter '\(key)' is rsyslog's, not in this build: \(why). See docs/not-in-this-build-sink.md.")
        case .unknown(let suggestion):
            notHonoured(
                location,
                "action(): parameter '\(key)' not known -- typo in config file?"
                    + (suggestion.map { " (did you mean '\($0)'?)" } ?? ""))
        case .honoured:
            notHonoured(location, "action(): parameter '\(key)' is rsyslog's, not in this build")
        }
    }

    /// A disk queue needs a file name and a work directory.
    func checkQueue(_ q: ActionQueueSettings, _ location: SourceLocation) throws {
        if q.kind == .disk && q.fileName == nil {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "a Disk queue needs queue.filename")
        }
        if q.fileName != nil && q.workDirectory == nil && q.kind != .direct {
            throw ConfigDiagnostic(
                severity: .error, location: location,
                message: "queue.filename needs a work directory: $WorkDirectory or global(workDirectory=…) before it, "
                    + "or queue.spoolDirectory")
        }
    }
}
