import LogCore
import SyslogProtocol
/// RainerScript's `if … then` in its common shapes:
///
///     if $programname == 'haproxy' then /var/log/haproxy.log
///     & stop
///     if $programname startswith 'haproxy' and $syslogseverity <= 4 then {
///         action(type="omfile" file="/var/log/haproxy-errors.log")
///         stop
///     } else {
///         …
///     }
///
/// The rules stay a flat list: each run of actions becomes a rule whose filter is its branch's condition joined
/// with the enclosing ones; since conditions have no side effects and `stop` ends the message's run, that is
/// what rsyslog does.
extension RsyslogConfigParser {
    /// Reads an `if` statement starting at `lines[start - 1]` (whose text is `text`); returns the index of the
    /// line after it.
    mutating func ifStatement(
        _ text: String, from start: Int, lines: [(String, Int)], file: String, at location: SourceLocation,
        outer: SinkCondition?
    ) throws -> Int {
        var i = start
        var statement = text
        while RsyslogConfigParser.thenRange(in: statement) == nil {
            guard i < lines.count else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "'if' without 'then'")
            }
            statement += " " + lines[i].0.trimmingSpaces()
            i += 1
        }
        guard let then = RsyslogConfigParser.thenRange(in: statement) else { return i }
        let expression = String(statement[statement.index(statement.startIndex, offsetBy: 2)..<then.lowerBound])
        var reader = try ConditionReader(expression, location, templates: Set(configuration.templates.keys))
        let condition = try reader.read()
        var full = outer.map { SinkCondition.and($0, condition) } ?? condition
        var rest = String(statement[then.upperBound...]).trimmingSpaces()
        if rest.isEmpty {
            while i < lines.count && lines[i].0.trimmingSpaces().isEmpty { i += 1 }
            guard i < lines.count else {
                throw ConfigDiagnostic(severity: .error, location: location, message: "'then' without an action")
            }
            rest = lines[i].0.trimmingSpaces()
            i += 1
        }
        if rest == "{" {
            // A block may change what its condition tested (`set`, mmjsonparse): the condition is decided once,
            // here, and its branches recall that decision.
            let slot = conditionSlots
            conditionSlots += 1
            configuration.rules.append(
                SinkRule(filter: .expression(.remember(slot, full)), actions: [], location: location))
            full = .recall(slot)
            var after: String?
            (i, after) = try ifBlock(full, from: i, lines: lines, file: file, at: location)
            if after == nil {
                // `}` alone: an `else` may start the next line.
                var j = i
                while j < lines.count && lines[j].0.trimmingSpaces().isEmpty { j += 1 }
                if j < lines.count, RsyslogConfigParser.startsWithWord("else", lines[j].0.trimmingSpaces()) {
                    after = lines[j].0.trimmingSpaces()
                    i = j + 1
                }
            }
            guard var branch = after else { return i }
            branch = String(branch.dropFirst(4)).trimmingSpaces()
            let otherwise = outer.map { SinkCondition.and($0, .not(full)) } ?? .not(full)
            if branch.isEmpty {
                while i < lines.count && lines[i].0.trimmingSpaces().isEmpty { i += 1 }
                guard i < lines.count else {
                    throw ConfigDiagnostic(severity: .error, location: location, message: "'else' without a statement")
                }
                branch = lines[i].0.trimmingSpaces()
                i += 1
            }
            if branch == "{" {
                (i, _) = try ifBlock(otherwise, from: i, lines: lines, file: file, at: location)
            } else if RsyslogConfigParser.startsWithWord("if", branch) || branch.hasPrefix("if(") {
                // `} else if … then {`: the chain goes on, each branch under the negation of the ones before.
                i = try ifStatement(branch, from: i, lines: lines, file: file, at: location, outer: otherwise)
            } else {
                try addRule(.expression(otherwise), actionText: branch, at: location, location: location)
            }
            return i
        }
        if rest.hasPrefix("{") {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "put the statements of '{ … }' on lines of their own")
        }
        var actionText = rest
        while RsyslogConfigParser.objectName(actionText) == "action" && !RsyslogConfigParser.balanced(actionText)
            && i < lines.count
        {
            actionText += " " + lines[i].0
            i += 1
        }
        try addRule(.expression(full), actionText: actionText, at: location, location: location)
        return i
    }

    /// The statements of a `{ … }` branch up to its `}`; returns the next index and, when the closing line goes on
    /// with `else …`, that text.
    private mutating func ifBlock(
        _ condition: SinkCondition, from start: Int, lines: [(String, Int)], file: String, at: SourceLocation
    ) throws -> (Int, String?) {
        try blockBody(.expression(condition), outer: condition, from: start, lines: lines, file: file, at: at)
    }

    /// A `{ … }` block's statements under `filter`: each run of actions a rule, each `if` inside it decided under
    /// `outer`; returns the index after the closing `}` and what follows it on that line when it is `else …`.
    mutating func blockBody(
        _ filter: SinkFilter, outer: SinkCondition, from start: Int, lines: [(String, Int)], file: String,
        at: SourceLocation
    ) throws -> (Int, String?) {
        var rule = SinkRule(filter: filter, actions: [], location: at)
        var i = start
        func close(_ parser: inout RsyslogConfigParser) {
            if !rule.actions.isEmpty { parser.configuration.rules.append(rule) }
        }
        while i < lines.count {
            let (line, number) = lines[i]
            i += 1
            let text = line.trimmingSpaces()
            let here = SourceLocation(file: file, line: number)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if text.hasPrefix("}") {
                let after = String(text.dropFirst()).trimmingSpaces()
                if after.isEmpty || RsyslogConfigParser.startsWithWord("else", after) {
                    close(&self)
                    return (i, after.isEmpty ? nil : after)
                }
            }
            if RsyslogConfigParser.startsWithWord("if", text) {
                close(&self)
                rule = SinkRule(filter: filter, actions: [], location: here)
                i = try ifStatement(text, from: i, lines: lines, file: file, at: here, outer: outer)
                continue
            }
            if RsyslogConfigParser.startsWithWord("foreach", text) {
                let (next, loop) = try foreachStatement(text, from: i, lines: lines, file: file, at: here)
                i = next
                if rule.actions.isEmpty { rule.location = here }
                rule.actions.append(loop)
                continue
            }
            var statement = text
            if RsyslogConfigParser.objectName(statement) == "action" {
                while !RsyslogConfigParser.balanced(statement) && i < lines.count {
                    statement += " " + lines[i].0
                    i += 1
                }
            }
            if let a = try action(statement, here) {
                if rule.actions.isEmpty { rule.location = here }
                rule.actions.append(a)
            }
        }
        throw ConfigDiagnostic(severity: .error, location: at, message: "'{' is never closed")
    }

    /// `foreach ($.x in EXPRESSION) do {` … `}`: the block is read into rules of its own, run for each element.
    /// Returns the index after the block and the loop as an action.
    mutating func foreachStatement(
        _ text: String, from start: Int, lines: [(String, Int)], file: String, at location: SourceLocation
    ) throws -> (Int, SinkAction) {
        var head = text
        var i = start
        while !head.hasSuffix("{") && i < lines.count {
            head += " " + lines[i].0.trimmingSpaces()
            i += 1
        }
        guard let opening = head.firstIndex(of: "("), let closing = RsyslogConfigParser.closingParenthesis(of: head),
            String(head[head.index(after: closing)...]).trimmingSpaces() == "do {"
        else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "foreach is written: foreach ($.x in $!list) do {")
        }
        let inside = String(head[head.index(after: opening)..<closing]).trimmingSpaces()
        let parts = inside.components(separatedBy: " in ")
        guard parts.count == 2, parts[0].trimmingSpaces().lowercased().hasPrefix("$.") else {
            throw ConfigDiagnostic(
                severity: .error, location: location, message: "foreach needs a local variable: foreach ($.x in …)")
        }
        var reader = try ConditionReader(parts[1], location, templates: Set(configuration.templates.keys))
        let source = try reader.readOperand()
        // The block's statements become rules of their own, kept apart from the ones around the loop.
        let outside = configuration.rules
        configuration.rules = []
        let all = try PriorityFilter("*.*")
        let (next, after) = try blockBody(.priority(all), outer: .prifilt(all), from: i, lines: lines, file: file, at: location)
        let body = configuration.rules
        configuration.rules = outside
        if after != nil {
            throw ConfigDiagnostic(severity: .error, location: location, message: "'else' after a foreach block")
        }
        let variable = String(parts[0].trimmingSpaces().lowercased().dropFirst())
        return (next, .forEach(variable: variable, source: source, rules: body))
    }

    /// Whether `text` starts with the keyword `word` (followed by a blank, `{`, `(` or nothing).
    static func startsWithWord(_ word: String, _ text: String) -> Bool {
        guard text.hasPrefix(word) else { return false }
        guard let next = text.dropFirst(word.count).first else { return true }
        return next == " " || next == "\t" || next == "{" || next == "("
    }

    /// Where the keyword `then` is, outside quotes.
    static func thenRange(in text: String) -> Range<String.Index>? {
        var quote: Character?
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if let q = quote {
                if c == "\\" {
                    i = text.index(after: i)
                } else if c == q {
                    quote = nil
                }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if text[i...].hasPrefix("then"), i > text.startIndex,
                text[text.index(before: i)] == " " || text[text.index(before: i)] == ")"
            {
                let end = text.index(i, offsetBy: 4)
                if end == text.endIndex || text[end] == " " || text[end] == "\t" || text[end] == "{" {
                    return i..<end
                }
            }
            if i < text.endIndex { i = text.index(after: i) }
        }
        return nil
    }
}

/// A recursive-descent reader of RainerScript conditions: `or` < `and` < `not` < comparison.
struct ConditionReader {
    enum Token: Equatable {
        case word(String)
        case property(String)
        case string(String)
        case number(Int)
        case symbol(String)
    }

    private var tokens: [Token] = []
    private var position = 0
    private let location: SourceLocation
    /// The templates defined so far (`exec_template()` names one of them, as rsyslog checks when it reads it).
    private let templates: Set<String>

    init(_ text: String, _ location: SourceLocation, templates: Set<String>) throws {
        self.location = location
        self.templates = templates
        tokens = try ConditionReader.tokenize(text, location)
    }

    private func error(_ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(severity: .error, location: location, message: message)
    }

    /// A whole expression as a value (`set`'s right side).
    mutating func readOperand() throws -> SinkCondition.Operand {
        let value = try operand()
        guard position == tokens.count else { throw error("unexpected '\(describe(tokens[position]))' in expression") }
        return value
    }

    mutating func read() throws -> SinkCondition {
        let condition = try orExpression()
        guard position == tokens.count else { throw error("unexpected '\(describe(tokens[position]))' in condition") }
        return condition
    }

    private func describe(_ t: Token) -> String {
        switch t {
        case .word(let w): return w
        case .property(let p): return "$" + p
        case .string(let s): return "'\(s)'"
        case .number(let n): return "\(n)"
        case .symbol(let s): return s
        }
    }

    private func peekWord() -> String? {
        guard position < tokens.count, case .word(let w) = tokens[position] else { return nil }
        return w.lowercased()
    }

    private mutating func orExpression() throws -> SinkCondition {
        var left = try andExpression()
        while peekWord() == "or" {
            position += 1
            left = .or(left, try andExpression())
        }
        return left
    }

    private mutating func andExpression() throws -> SinkCondition {
        var left = try notExpression()
        while peekWord() == "and" {
            position += 1
            left = .and(left, try notExpression())
        }
        return left
    }

    private mutating func notExpression() throws -> SinkCondition {
        if peekWord() == "not" {
            position += 1
            return .not(try notExpression())
        }
        return try comparison()
    }

    private static let operators: Set<String> = [
        "==", "!=", "<>", "<", "<=", ">", ">=", "contains", "contains_i", "startswith", "startswith_i",
    ]

    private mutating func comparison() throws -> SinkCondition {
        guard position < tokens.count else { throw error("condition ends too early") }
        if tokens[position] == .symbol("(") {
            position += 1
            let inner = try orExpression()
            guard position < tokens.count, tokens[position] == .symbol(")") else { throw error("')' missing") }
            position += 1
            return inner
        }
        let left: SinkCondition.Operand
        if let word = peekWord(), ConditionReader.conditionFunctions.contains(word),
            position + 1 < tokens.count, tokens[position + 1] == .symbol("(")
        {
            let condition = try function(word)
            guard let op = peekOperator() else { return condition }
            _ = op
            left = .condition(condition)
        } else {
            left = try operand()
        }
        guard let op = peekOperator() else { return .value(left) }
        position += 1
        return .compare(left, op == "<>" ? "!=" : op, try operand())
    }

    private func peekOperator() -> String? {
        guard position < tokens.count else { return nil }
        switch tokens[position] {
        case .symbol(let s) where ConditionReader.operators.contains(s): return s
        case .word(let w) where ConditionReader.operators.contains(w.lowercased()): return w.lowercased()
        default: return nil
        }
    }

    /// The functions whose value is true or false (their own conditions).
    static let conditionFunctions: Set<String> = ["prifilt", "re_match", "re_match_i", "exists"]

    /// RainerScript's functions with a string or number value that this build computes, with how many arguments
    /// each takes (rsyslog 8.2302's).
    static let valueFunctions: [String: ClosedRange<Int>] = [
        "tolower": 1...1, "toupper": 1...1, "cstr": 1...1, "cnum": 1...1, "strlen": 1...1, "ltrim": 1...1,
        "rtrim": 1...1, "getenv": 1...1, "field": 3...3, "re_extract": 5...5, "re_extract_i": 5...5,
        "replace": 3...3, "substring": 3...3, "int2hex": 1...1, "num2ipv4": 1...1, "ipv42num": 1...1,
        "lookup": 2...2, "exec_template": 1...1,
    ]

    /// RainerScript functions rsyslog knows that this build does not compute (variables, lookup tables, time).
    static let otherFunctions: Set<String> = [
        "format_time", "parse_time", "is_time", "script_error", "previous_action_suspended",
        "random", "http_request", "parse_json", "get_property", "dyn_inc", "wrap", "percentile_observe",
        "unflatten", "b64_decode",
    ]

    /// `&` (concatenation) < `+`/`-` < `*`/`/`/`%`, as RainerScript binds them.
    private mutating func operand() throws -> SinkCondition.Operand {
        var left = try sum()
        while position < tokens.count, tokens[position] == .symbol("&") {
            position += 1
            left = .concat(left, try sum())
        }
        return left
    }

    private mutating func sum() throws -> SinkCondition.Operand {
        var left = try product()
        while position < tokens.count, case .symbol(let op) = tokens[position], op == "+" || op == "-" {
            position += 1
            left = .arithmetic(op, left, try product())
        }
        return left
    }

    private mutating func product() throws -> SinkCondition.Operand {
        var left = try singleOperand()
        while position < tokens.count, case .symbol(let op) = tokens[position], op == "*" || op == "/" || op == "%" {
            position += 1
            left = .arithmetic(op, left, try singleOperand())
        }
        return left
    }

    private mutating func singleOperand() throws -> SinkCondition.Operand {
        guard position < tokens.count else { throw error("condition ends too early") }
        let t = tokens[position]
        position += 1
        switch t {
        case .property(let p): return .property(p)
        case .string(let s): return .string(s)
        case .number(let n): return .number(n)
        case .symbol("["):
            var elements: [String] = []
            while position < tokens.count, tokens[position] != .symbol("]") {
                switch tokens[position] {
                case .string(let s): elements.append(s)
                case .number(let n): elements.append(String(n))
                case .symbol(","): break
                default: throw error("an array holds strings and numbers, not '\(describe(tokens[position]))'")
                }
                position += 1
            }
            guard position < tokens.count else { throw error("']' missing") }
            position += 1
            return .array(elements)
        case .symbol("("):
            let inner = try operand()
            guard position < tokens.count, tokens[position] == .symbol(")") else { throw error("')' missing") }
            position += 1
            return inner
        case .word(let w) where position < tokens.count && tokens[position] == .symbol("("):
            let name = w.lowercased()
            if ConditionReader.conditionFunctions.contains(name) {
                position -= 1
                return .condition(try function(name))
            }
            guard let arity = ConditionReader.valueFunctions[name] else {
                if ConditionReader.otherFunctions.contains(name) {
                    throw error("function '\(name)()' is rsyslog's, not in this build")
                }
                throw error("function '\(name)()' is not known")
            }
            position += 1
            var arguments: [SinkCondition.Operand] = []
            if position < tokens.count, tokens[position] != .symbol(")") {
                arguments.append(try operand())
                while position < tokens.count, tokens[position] == .symbol(",") {
                    position += 1
                    arguments.append(try operand())
                }
            }
            guard position < tokens.count, tokens[position] == .symbol(")") else {
                throw error("')' missing after \(name)(")
            }
            position += 1
            guard arity.contains(arguments.count) else {
                throw error("\(name)() takes \(arity.lowerBound) argument\(arity.lowerBound == 1 ? "" : "s"), not \(arguments.count)")
            }
            if name == "exec_template" {
                // rsyslog's checks when it reads the call (its words).
                guard case .string(let template) = arguments[0] else {
                    throw error("exec_template(): param 1 must be a constant string")
                }
                guard templates.contains(template.lowercased()) else {
                    throw error("exec_template(): template '\(template)' could not be found")
                }
            }
            if name == "re_extract" || name == "re_extract_i" {
                guard case .string(let pattern) = arguments[1],
                    CompiledRegex(pattern, extended: true, ignoringCase: name == "re_extract_i", capturing: true) != nil
                else {
                    throw error("\(name): the pattern must be a string that compiles as an ERE")
                }
            }
            return .call(name, arguments)
        default: throw error("expected a property, a string, a number or a function, not '\(describe(t))'")
        }
    }

    private mutating func function(_ name: String) throws -> SinkCondition {
        position += 1
        guard position < tokens.count, tokens[position] == .symbol("(") else {
            throw error("'(' missing after \(name)")
        }
        position += 1
        if name == "exists" {
            guard position < tokens.count, case .property(let variable) = tokens[position],
                variable.hasPrefix("!") || variable.hasPrefix(".")
            else { throw error("exists() takes a variable ($!name or $.name)") }
            position += 1
            guard position < tokens.count, tokens[position] == .symbol(")") else { throw error("')' missing after exists") }
            position += 1
            return .exists(variable)
        }
        var arguments: [SinkCondition.Operand] = [try operand()]
        while position < tokens.count, tokens[position] == .symbol(",") {
            position += 1
            arguments.append(try operand())
        }
        guard position < tokens.count, tokens[position] == .symbol(")") else {
            throw error("')' missing after \(name)")
        }
        position += 1
        switch (name, arguments.count, arguments.last) {
        case ("prifilt", 1, .string(let selector)?):
            do {
                return .prifilt(try PriorityFilter(selector))
            } catch let e as PriorityFilter.Error {
                throw error("prifilt: \(e.description)")
            }
        case ("re_match", 2, .string(let pattern)?), ("re_match_i", 2, .string(let pattern)?):
            guard CompiledRegex(pattern, extended: true) != nil else {
                throw error("\(name): cannot compile '\(pattern)'")
            }
            return .reMatch(arguments[0], pattern, ignoringCase: name == "re_match_i")
        default:
            throw error("\(name)() takes \(name == "prifilt" ? "one string" : "a value and a string")")
        }
    }

    static func tokenize(_ text: String, _ location: SourceLocation) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        func isNameChar(_ c: Character) -> Bool {
            c.isLetter || c.isNumber || c == "-" || c == "_" || c == "!" || c == "." || c == "/"
        }
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" {
                i += 1
            } else if c == "$" {
                // `$msg` is the property msg; `$$year` the system property `$year`.
                let start = i + 1 < chars.count && chars[i + 1] == "$" ? i + 1 : i
                var j = start + 1
                while j < chars.count && isNameChar(chars[j]) { j += 1 }
                tokens.append(.property(String(chars[(start == i ? i + 1 : start)..<j]).lowercased()))
                i = j
            } else if c == "'" || c == "\"" {
                var value = ""
                var j = i + 1
                var closed = false
                while j < chars.count {
                    if chars[j] == "\\" && j + 1 < chars.count {
                        value.append(chars[j + 1])
                        j += 2
                        continue
                    }
                    if chars[j] == c {
                        closed = true
                        break
                    }
                    value.append(chars[j])
                    j += 1
                }
                guard closed else {
                    throw ConfigDiagnostic(
                        severity: .error, location: location, message: "string not closed in condition")
                }
                tokens.append(.string(value))
                i = j + 1
            } else if c == "`" {
                // A backtick constant, as in a parameter: `echo …` (with the environment) or `cat FILE`.
                var rest = Substring(String(chars[i...]))
                let before = rest.count
                tokens.append(.string(try RsyslogConfigParser.backtickValue(&rest, "a backtick constant", location)))
                i += before - rest.count
            } else if c.isNumber {
                var j = i
                while j < chars.count && chars[j].isNumber { j += 1 }
                tokens.append(.number(Int(String(chars[i..<j])) ?? 0))
                i = j
            } else if c.isLetter {
                var j = i
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                tokens.append(.word(String(chars[i..<j])))
                i = j
            } else if "=!<>".contains(c) {
                var j = i + 1
                if j < chars.count && (chars[j] == "=" || (c == "<" && chars[j] == ">")) { j += 1 }
                tokens.append(.symbol(String(chars[i..<j])))
                i = j
            } else if "(),[]&+*/%".contains(c) || (c == "-" && tokens.last.map { if case .symbol(let s) = $0 { return s == ")" } else { return true } } == true) {
                tokens.append(.symbol(String(c)))
                i += 1
            } else {
                throw ConfigDiagnostic(
                    severity: .error, location: location, message: "unexpected character '\(c)' in condition")
            }
        }
        return tokens
    }
}
