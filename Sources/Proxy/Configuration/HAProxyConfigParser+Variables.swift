import LogCore

/// Variables as HAProxy 2.6 reads them: `set-var(NAME[,COND…]) EXPR`, `set-var-fmt(NAME[,COND…]) FMT` and
/// `unset-var(NAME)` in `http-request` rules, `global`'s `set-var proc.NAME EXPR` and `set-var-fmt proc.NAME FMT`,
/// and the `var(NAME)` ACL criterion.
extension HAProxyConfigParser {
    /// A rule's variable action (`verb`: `set-var(…)`, `set-var-fmt(…)`, `unset-var(…)`) and the words after it (a
    /// condition); nil after an alert in HAProxy's words.
    mutating func variableAction(_ rule: String, _ args: [String], _ at: SourceLocation, response: Bool = false)
        -> (VariableAction, [String])?
    {
        let verb = args[0]
        let kind = verb.hasPrefix("set-var-fmt") ? "set-var-fmt" : verb.hasPrefix("set-var") ? "set-var" : "unset-var"
        func fail(_ message: String) -> (VariableAction, [String])? {
            alert(at, "'\(rule) \(verb)' : \(message).")
            return nil
        }
        let expects = "Expects 'set-var(<var-name>)', 'set-var-fmt(<var-name>)' or 'unset-var(<var-name>)'"
        let afterKind = verb.dropFirst(kind.count)
        guard afterKind.first == "(" else { return fail("invalid or incomplete action '\(verb)'. \(expects)") }
        guard afterKind.hasSuffix(")"), afterKind.count >= 2 else {
            return fail("incomplete argument after action '\(verb)'. \(expects)")
        }
        let inside = String(afterKind.dropFirst().dropLast())
        if kind == "unset-var" && inside.contains(",") {
            return fail(
                "unset-var does not expect parameters after the variable name. Only \"set-var\" and \"set-var-fmt\" "
                    + "manage conditions")
        }
        let name: VariableName
        let conditions: [VariableAction.Condition]
        switch VariableAction.parseTarget(inside) {
        case .success(let parsed): (name, conditions) = parsed
        case .failure(let error): return fail(error.message)
        }
        if name.scope == .process { configuration.processVariableNames.insert(name.name) }
        guard kind != "unset-var" else { return (VariableAction(name: name, value: nil), Array(args.dropFirst())) }
        guard args.count >= 2 else {
            return fail(kind == "set-var" ? "missing expression" : "missing format string")
        }
        let parsed =
            kind == "set-var"
            ? LogFormatValue.parseExpression(args[1], response: response)
            : LogFormatValue.parse(args[1], response: response)
        switch parsed {
        case .success(let value):
            return (VariableAction(name: name, conditions: conditions, value: value), Array(args.dropFirst(2)))
        case .failure(let unknown):
            if let problem = unknown.problem { return fail(problem) }
            return fail(
                "'\(unknown.text)' in '\(args[1])' is HAProxy's, not in this build (access rules and ACLs): refused, "
                    + "because \(BuildSupport.Family.accessRules.consequence)")
        }
    }

    /// `global`'s `set-var proc.NAME EXPR` and `set-var-fmt proc.NAME FMT`: the value made now, from what is known
    /// when the file is read (constants, the process's variables set above, converters).
    mutating func globalVariable(_ keyword: String, _ args: [String], _ at: SourceLocation) {
        let format = keyword == "set-var-fmt"
        guard args.count >= 2 else {
            return alert(
                at,
                "'\(keyword)' requires a process-wide variable name ('proc.<name>') and a "
                    + (format ? "format string." : "sample expression."))
        }
        let name: VariableName
        switch VariableName.parse(args[0]) {
        case .success(let parsed): name = parsed
        case .failure(let error): return alert(at, "'\(keyword)' : \(error.message).")
        }
        guard name.scope == .process else {
            return alert(
                at,
                "'\(keyword)': cannot set variable '\(args[0])', only scope 'proc' is permitted in the global section.")
        }
        let parsed = format ? LogFormatValue.parse(args[1]) : LogFormatValue.parseExpression(args[1])
        let value: LogFormatValue
        switch parsed {
        case .success(let v): value = v
        case .failure(let unknown):
            return alert(
                at,
                "'\(keyword) \(args[0])' : \(unknown.problem ?? "'\(unknown.text)' in '\(args[1])' is HAProxy's, not in this build").")
        }
        var text = ""
        var typed: VariableValue?
        for piece in value.pieces {
            let sample: LogFormatValue.Sample
            var converters: [LogFormatValue.Converter] = []
            switch piece {
            case .literal(let t):
                text += t
                continue
            case .sample(let s): sample = s
            case .converted(let s, let c): (sample, converters) = (s, c)
            }
            var result: VariableValue?
            switch sample {
            case .constant(let constant): result = constant
            case .variable(let other, let fallback):
                guard other.scope == .process else {
                    return alert(
                        at,
                        "'\(keyword) \(args[0])' : only 'proc.' variables are known when the global section is "
                            + "read, not '\(other)'.")
                }
                result = configuration.processVariables[other.name] ?? fallback.map { .text($0) }
            default:
                return alert(
                    at,
                    "'\(keyword) \(args[0])' : fetch method in '\(args[1])' extracts information from a connection or "
                        + "a request, none of which is available here")
            }
            if !converters.isEmpty, let current = result {
                var converted: String? = current.text
                for converter in converters { converted = converted.flatMap(converter.apply) }
                result = converted.map { .text($0) }
            }
            // A fetch without a result: `set-var` sets nothing, `set-var-fmt` writes nothing for it.
            typed = result
            text += result?.text ?? ""
        }
        if format {
            configuration.processVariables[name.name] = .text(text)
        } else if let typed {
            configuration.processVariables[name.name] = typed
        }
        configuration.processVariableNames.insert(name.name)
    }

    /// `var(NAME) [-m METHOD] [-i] PATTERN…`: HAProxy requires the match method (a variable has no type of its
    /// own); `-m int` takes integers and ranges.
    mutating func variableTest(_ first: String, _ values: [String], _ at: SourceLocation) -> ACLTest? {
        let inside = String(first.dropFirst(4).dropLast())
        let parts = LogFormatValue.arguments(Substring(inside))
        let name: VariableName
        switch VariableName.parse(parts[0]) {
        case .success(let parsed): name = parsed
        case .failure(let error):
            alert(at, "ACL criterion '\(first)' : \(error.message).")
            return nil
        }
        guard parts.count == 1 else {
            alert(
                at,
                "ACL criterion '\(first)' : a default value in an ACL's var() is HAProxy's, not in this build (access "
                    + "rules and ACLs): refused, because \(BuildSupport.Family.accessRules.consequence).")
            return nil
        }
        var rest = values[...]
        var insensitive = false
        var method: ACLTest.Match?
        var patternFiles: [String] = []
        while let flag = rest.first, flag.hasPrefix("-"), flag != "-" {
            rest.removeFirst()
            switch flag {
            case "-i": insensitive = true
            case "--": break
            case "-m":
                guard let word = rest.popFirst() else {
                    alert(at, "ACL criterion '\(first)' : missing matching method after '-m'.")
                    return nil
                }
                guard let chosen = word == "bool" ? .boolean : ACLTest.methods[word] else {
                    alert(
                        at,
                        "the ACL match '-m \(word)' is HAProxy's, not in this build (access rules and ACLs): refused, "
                            + "because \(BuildSupport.Family.accessRules.consequence).")
                    return nil
                }
                method = chosen
            case "-f":
                guard method != nil else {
                    alert(
                        at,
                        "matching method must be specified first (using '-m') when using a sample fetch of this type "
                            + "('var')")
                    return nil
                }
                guard let file = rest.popFirst() else {
                    alert(at, "ACL criterion '\(first)' : missing file name after '-f'.")
                    return nil
                }
                patternFiles.append(file)
            default:
                notCarriedOut(.aclFlag, flag, at, section: "")
                return nil
            }
            if flag == "--" { break }
        }
        guard let method else {
            alert(
                at,
                "matching method must be specified first (using '-m') when using a sample fetch of this type ('var')")
            return nil
        }
        guard let fromFiles = patterns(from: patternFiles, "var", at) else { return nil }
        let patterns = Array(rest) + fromFiles
        var test = ACLTest(
            sample: .variable(name), match: method, caseInsensitive: insensitive,
            values: insensitive ? patterns.map { $0.lowercased() } : patterns)
        switch method {
        case .found:
            guard patterns.isEmpty else {
                alert(at, "ACL criterion '\(first) -m found' takes no value, not '\(patterns[0])'.")
                return nil
            }
        case .boolean:
            // As HAProxy: values after it are read and play no part.
            test.values = []
        case .integer:
            guard let ranges = ACLTest.integerRanges(patterns) else {
                alert(at, "ACL criterion '\(first) -m int' expects integers, ranges (N:M) or 'lt|le|gt|ge|eq N'.")
                return nil
            }
            test.ranges = ranges
            test.values = []
        case .regex:
            switch PatternRegexes.compile(patterns, ignoringCase: insensitive) {
            case .success(let regexes): test.regexes = regexes
            case .failure(let error):
                alert(at, "ACL criterion '\(first)' : '\(error.pattern)' is not a regular expression this build reads.")
                return nil
            }
        default: break
        }
        if patterns.isEmpty && method != .found && method != .boolean {
            warn(
                at,
                "parsing acl keyword '\(first)' : no pattern to match against were provided, so this ACL will never "
                    + "match. If this is what you intended, please add '--' to get rid of this warning. If you intended "
                    + "to match only for existence, please use '-m found'.")
        }
        return test
    }
}
