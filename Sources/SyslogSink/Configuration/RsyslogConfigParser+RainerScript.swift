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
        var reader = try ConditionReader(expression, location)
        let condition = try reader.read()
        let full = outer.map { SinkCondition.and($0, condition) } ?? condition
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
            var sawElse: Bool
            (i, sawElse) = try ifBlock(full, from: i, lines: lines, file: file, at: location)
            if !sawElse {
                var j = i
                while j < lines.count && lines[j].0.trimmingSpaces().isEmpty { j += 1 }
                if j < lines.count {
                    let next = lines[j].0.trimmingSpaces()
                    if next == "else {" || next == "else{" {
                        sawElse = true
                        i = j + 1
                    } else if next == "else" && j + 1 < lines.count && lines[j + 1].0.trimmingSpaces() == "{" {
                        sawElse = true
                        i = j + 2
                    }
                }
            }
            if sawElse {
                let otherwise = outer.map { SinkCondition.and($0, .not(condition)) } ?? .not(condition)
                (i, _) = try ifBlock(otherwise, from: i, lines: lines, file: file, at: location)
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

    /// The statements of a `{ … }` branch up to its `}` (or `} else {`); returns the next index and whether the
    /// closing line opened an `else` branch.
    private mutating func ifBlock(
        _ condition: SinkCondition, from start: Int, lines: [(String, Int)], file: String, at: SourceLocation
    ) throws -> (Int, Bool) {
        var rule = SinkRule(filter: .expression(condition), actions: [], location: at)
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
            if text == "}" || text == "} else {" || text == "}else{" || text == "} else{" || text == "}else {" {
                close(&self)
                return (i, text != "}")
            }
            if text.hasPrefix("if ") || text.hasPrefix("if(") {
                close(&self)
                rule = SinkRule(filter: .expression(condition), actions: [], location: here)
                i = try ifStatement(text, from: i, lines: lines, file: file, at: here, outer: condition)
                continue
            }
            var statement = text
            if RsyslogConfigParser.objectName(statement) == "action" {
                while !RsyslogConfigParser.balanced(statement) && i < lines.count {
                    statement += " " + lines[i].0
                    i += 1
                }
            } else if statement.hasPrefix("set ") || statement.hasPrefix("unset ") {
                notHonoured(here, "statement not in this build, not carried out: \(statement.prefix(60))")
                continue
            }
            if let a = try action(statement, here) {
                if rule.actions.isEmpty { rule.location = here }
                rule.actions.append(a)
            }
        }
        throw ConfigDiagnostic(severity: .error, location: at, message: "'{' is never closed")
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

    init(_ text: String, _ location: SourceLocation) throws {
        self.location = location
        tokens = try ConditionReader.tokenize(text, location)
    }

    private func error(_ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(severity: .error, location: location, message: message)
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
        if let word = peekWord(), word == "prifilt" || word == "re_match" {
            return try function(word)
        }
        let left = try operand()
        var op: String?
        if position < tokens.count {
            switch tokens[position] {
            case .symbol(let s) where ConditionReader.operators.contains(s): op = s
            case .word(let w) where ConditionReader.operators.contains(w.lowercased()): op = w.lowercased()
            default: break
            }
        }
        guard let op else { return .value(left) }
        position += 1
        return .compare(left, op == "<>" ? "!=" : op, try operand())
    }

    private mutating func operand() throws -> SinkCondition.Operand {
        guard position < tokens.count else { throw error("condition ends too early") }
        let t = tokens[position]
        position += 1
        switch t {
        case .property(let p): return .property(p)
        case .string(let s): return .string(s)
        case .number(let n): return .number(n)
        default: throw error("expected a property, a string or a number, not '\(describe(t))'")
        }
    }

    private mutating func function(_ name: String) throws -> SinkCondition {
        position += 1
        guard position < tokens.count, tokens[position] == .symbol("(") else {
            throw error("'(' missing after \(name)")
        }
        position += 1
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
        case ("re_match", 2, .string(let pattern)?):
            guard CompiledRegex(pattern, extended: true) != nil else {
                throw error("re_match: cannot compile '\(pattern)'")
            }
            return .reMatch(arguments[0], pattern)
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
            } else if "(),".contains(c) {
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
