/// HAProxy 2.6's converters of integers: `add`, `sub`, `mul`, `div`, `mod`, `and`, `or`, `xor` (their operand an
/// integer or a variable's name, `sub(txn.limit)`), and `neg`, `cpl`, `bool`, `not`, `odd`, `even` — computed as
/// HAProxy's sample.c computes them, its saturations included, so that a rule decides alike in both:
/// `div(0)` gives the largest integer and `mod(0)` gives 0, and two negatives added give the largest integer
/// (HAProxy 2.6's `arith_add` checks its overflow with a wrapping subtraction; `int(-1),add(-1)` is
/// 9223372036854775807 there).
public enum IntegerConverter: Hashable, Sendable {
    /// An operand: written as an integer, or a variable's name whose value is read when the converter runs (not set,
    /// or not an integer: no result).
    public enum Operand: Hashable, Sendable {
        case constant(Int64)
        case variable(VariableName)
    }

    case add(Operand), sub(Operand), mul(Operand), div(Operand), mod(Operand)
    case and(Operand), or(Operand), xor(Operand)
    case neg, cpl, bool, not, odd, even

    /// The converters a configuration may write, in messages.
    public static let names = "add, sub, mul, div, mod, and, or, xor, neg, cpl, bool, not, odd, even"

    /// The converter `text` names (`sub(txn.limit)`, `bool`), nil when it is none of these, or HAProxy's words for
    /// what is wrong with its operand.
    public static func parse(_ text: Substring) -> Result<IntegerConverter, ParseError>? {
        let open = text.firstIndex(of: "(")
        let name = open.map { text[..<$0] } ?? text
        let unary: [Substring: IntegerConverter] = [
            "neg": .neg, "cpl": .cpl, "bool": .bool, "not": .not, "odd": .odd, "even": .even,
        ]
        if let converter = unary[name] {
            return open == nil ? .success(converter) : .failure(ParseError(message: "it takes no argument"))
        }
        let binary: [Substring: (Operand) -> IntegerConverter] = [
            "add": IntegerConverter.add, "sub": IntegerConverter.sub, "mul": IntegerConverter.mul,
            "div": IntegerConverter.div, "mod": IntegerConverter.mod, "and": IntegerConverter.and,
            "or": IntegerConverter.or, "xor": IntegerConverter.xor,
        ]
        guard let make = binary[name] else { return nil }
        guard let open, text.hasSuffix(")") else {
            return .failure(ParseError(message: "expects an integer or a variable name in parentheses"))
        }
        let argument = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        // HAProxy's `check_operator`: a variable's name first, then an integer (digits with an optional sign).
        if case .success(let variable) = VariableName.parse(argument) { return .success(make(.variable(variable))) }
        guard let n = Self.readInt64(argument) else {
            return .failure(ParseError(message: "expects an integer or a variable name"))
        }
        return .success(make(.constant(n)))
    }

    /// `read_int64`'s reading of a whole operand: an optional sign and digits (an empty one is 0).
    static func readInt64(_ text: String) -> Int64? {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        var value: Int64 = 0
        for c in digits.utf8 {
            guard (48...57).contains(c) else { return nil }
            value = value &* 10 &+ Int64(c - 48)
        }
        return negative ? 0 &- value : value
    }

    public struct ParseError: Error, Equatable {
        public let message: String
    }

    /// The value converted; nil when the operand's variable gives no integer. `variable` reads a variable's value.
    public func apply(_ a: Int64, variable: (VariableName) -> VariableValue?) -> Int64? {
        func operand(_ o: Operand) -> Int64? {
            switch o {
            case .constant(let n): n
            case .variable(let name): variable(name)?.integer
            }
        }
        switch self {
        case .neg: return a == .min ? .max : -a
        case .cpl: return ~a
        case .bool: return a != 0 ? 1 : 0
        case .not: return a == 0 ? 1 : 0
        case .odd: return a & 1
        case .even: return a & 1 == 0 ? 1 : 0
        case .add(let o): return operand(o).map { Self.add(a, $0) }
        case .sub(let o):
            return operand(o).map { b in
                guard b == .min else { return Self.add(a, -b) }
                let sum = Self.add(a, .max)
                return sum < .max ? sum + 1 : sum
            }
        case .mul(let o): return operand(o).map { Self.multiply(a, $0) }
        case .div(let o):
            return operand(o).map { b in
                if b == 0 || (a == .min && b == -1) { return .max }
                return a / b
            }
        case .mod(let o):
            return operand(o).map { b in
                if b == 0 || (a == .min && b == -1) { return 0 }
                return a % b
            }
        case .and(let o): return operand(o).map { a & $0 }
        case .or(let o): return operand(o).map { a | $0 }
        case .xor(let o): return operand(o).map { a ^ $0 }
        }
    }

    /// HAProxy 2.6's `arith_add`, with its wrapping check (built with `-fwrapv`).
    static func add(_ a: Int64, _ b: Int64) -> Int64 {
        if a ^ b >= 0 {
            if a < 0 && Int64.min &- a > b { return .min }
            if Int64.max &- a < b { return .max }
        }
        return a &+ b
    }

    /// `sample_conv_arith_mul`: a product that overflows is the largest integer of its sign.
    static func multiply(_ a: Int64, _ b: Int64) -> Int64 {
        if a == 0 || b == 0 { return 0 }
        if a == .min && b == -1 { return .max }
        let (c, overflow) = a.multipliedReportingOverflow(by: b)
        guard overflow || c / b != a else { return c }
        return (a < 0) == (b < 0) ? .max : .min
    }
}
