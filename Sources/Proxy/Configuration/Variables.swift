/// HAProxy's variables (`set-var(txn.host)`, `var(txn.host)`): a name with its scope, a typed value, and the
/// conditions a `set-var` may put on itself. Value types, no I/O; `VariableStore` holds them at run time.

/// `proc.NAME`, `sess.NAME`, `txn.NAME`, `req.NAME`, `res.NAME`.
public struct VariableName: Hashable, Sendable, CustomStringConvertible {
    public enum Scope: String, Hashable, Sendable, CaseIterable {
        /// The whole process; the session (a client connection); the transaction (a request and its response);
        /// the request's processing; the response's.
        case process = "proc", session = "sess", transaction = "txn", request = "req", response = "res"
    }

    public let scope: Scope
    public let name: String

    public var description: String { "\(scope.rawValue).\(name)" }

    /// The name as written, or HAProxy 2.6's words for what is wrong with it (`check.` names, of health checks'
    /// rules, are not in this build).
    public static func parse(_ text: String) -> Result<VariableName, VariableNameError> {
        guard !text.isEmpty else { return .failure(VariableNameError(message: "Empty variable name cannot be accepted")) }
        if text.hasPrefix("check.") {
            return .failure(
                VariableNameError(
                    message: "the variables of health checks ('check.' scope) are HAProxy's, not in this build"))
        }
        guard let dot = text.firstIndex(of: "."), text.index(after: dot) < text.endIndex,
            let scope = Scope(rawValue: String(text[..<dot]))
        else {
            return .failure(
                VariableNameError(
                    message: "invalid variable name '\(text)'. A variable name must be start by its scope. The scope "
                        + "can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'"))
        }
        let name = text[text.index(after: dot)...]
        // HAProxy's `vars_hash_name`: letters, digits, '.' and '_'.
        if let bad = name.firstIndex(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_")) }) {
            return .failure(VariableNameError(message: "invalid syntax at char '\(name[bad...])'"))
        }
        return .success(VariableName(scope: scope, name: String(name)))
    }
}

public struct VariableNameError: Error, Equatable {
    public let message: String
}

/// A variable's value, with the type HAProxy keeps with it: integers compare as integers (`-m int`, `ifgt`), the
/// rest as text (an address, a header's value).
public enum VariableValue: Hashable, Sendable {
    case text(String)
    case integer(Int64)

    public var text: String {
        switch self {
        case .text(let t): t
        case .integer(let n): String(n)
        }
    }

    /// As an integer: an integer, or text read as HAProxy casts a string to an integer (an optional sign and
    /// digits, nothing after them); nil when it is not one.
    public var integer: Int64? {
        switch self {
        case .integer(let n): return n
        case .text(let t): return Int64(t)
        }
    }
}

/// `set-var(NAME[,COND…]) EXPR`, `set-var-fmt(NAME[,COND…]) FMT`, `unset-var(NAME)`: what a rule does to a variable.
public struct VariableAction: Hashable, Sendable {
    public enum Condition: String, Hashable, Sendable, CaseIterable {
        case ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt, iflt
    }

    public let name: VariableName
    public let conditions: [Condition]
    /// The value's expression (`set-var`: one sample and its converters; `set-var-fmt`: a log-format), nil for
    /// `unset-var`.
    public let value: LogFormatValue?

    public init(name: VariableName, conditions: [Condition] = [], value: LogFormatValue?) {
        self.name = name
        self.conditions = conditions
        self.value = value
    }

    /// Whether the value is set, as HAProxy's `var_set` decides: every condition must hold. `existing`: the
    /// variable's value now (nil: not set); `existed`: it was set once (a `proc` variable exists from the start);
    /// `new`: the value the expression gave.
    public func allows(existing: VariableValue?, existed: Bool, new: VariableValue) -> Bool {
        conditions.allSatisfy { condition in
            switch condition {
            case .ifexists: return existed
            case .ifnotexists: return !existed
            // Scalar types are never empty.
            case .ifempty: if case .text(let t) = new { return t.isEmpty } else { return false }
            case .ifnotempty: if case .text(let t) = new { return !t.isEmpty } else { return true }
            case .ifset: return existing != nil
            case .ifnotset: return existing == nil
            // Only between two integers; otherwise true, as HAProxy's documentation says.
            case .ifgt:
                guard case .integer(let old)? = existing, case .integer(let n) = new else { return true }
                return old > n
            case .iflt:
                guard case .integer(let old)? = existing, case .integer(let n) = new else { return true }
                return old < n
            }
        }
    }

    /// `set-var(NAME[,COND…])`'s argument: the name and up to four conditions, or the error in HAProxy's words.
    static func parseTarget(_ argument: String) -> Result<(VariableName, [Condition]), VariableNameError> {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.drop { $0 == " " })
        }
        let name: VariableName
        switch VariableName.parse(parts[0]) {
        case .success(let parsed): name = parsed
        case .failure(let error): return .failure(error)
        }
        var conditions: [Condition] = []
        for word in parts.dropFirst() {
            guard let condition = Condition(rawValue: word) else {
                return .failure(VariableNameError(message: "unknown condition \"\(word)\""))
            }
            conditions.append(condition)
        }
        guard conditions.count <= 4 else {
            return .failure(VariableNameError(message: "too many conditions for variable '\(parts[0])' (at most 4)"))
        }
        return .success((name, conditions))
    }
}
