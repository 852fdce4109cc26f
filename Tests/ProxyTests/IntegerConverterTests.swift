import Testing

@testable import Proxy

/// The converters of integers as HAProxy 2.6 computes them: each row's result is what the real HAProxy 2.6.12 printed
/// for `%[int(A),CONVERTER]` in an `http-request return … lf-string` (its saturations and its `add` of two
/// negatives included).
@Suite struct IntegerConverterTests {
    static let variables: [String: VariableValue] = ["txn.lim": .text("2"), "txn.neg": .integer(-3), "txn.word": .text("x")]

    static func run(_ value: Int64, _ chain: String) -> Int64?? {
        var result: Int64? = value
        for part in chain.split(separator: ",") {
            guard case .success(let converter)? = IntegerConverter.parse(part) else { return .none }
            result = result.flatMap { converter.apply($0, variable: { variables[$0.description] }) }
        }
        return .some(result)
    }

    @Test(arguments: [
        (-1, "add(-1)", Int64.max), (5, "sub(10)", -5), (7, "div(0)", Int64.max), (7, "mod(0)", 0), (-7, "mod(3)", -1),
        (-7, "div(2)", -3), (5, "bool", 1), (0, "not", 1), (3, "odd", 1), (5, "sub(txn.lim)", 3), (5, "mul(txn.neg)", -15),
        (-9_223_372_036_854_775_807, "sub(5)", Int64.min), (6, "and(3)", 2), (6, "or(3)", 7), (6, "xor(3)", 5),
        (6, "cpl", -7), (6, "neg", -6), (-2, "add(-3)", Int64.max), (Int64.max, "add(1)", Int64.max),
    ] as [(Int64, String, Int64)])
    func asHAProxy26ComputesThem(_ value: Int64, _ chain: String, _ expected: Int64) {
        #expect(Self.run(value, chain) == .some(expected))
    }

    @Test func anOperandVariableWithoutAnIntegerLeavesNoSample() {
        #expect(Self.run(5, "sub(txn.none)") == .some(nil))
        #expect(Self.run(5, "add(txn.word)") == .some(nil))
    }

    @Test func edgesOfSixtyFourBits() {
        #expect(Self.run(Int64.min, "neg") == .some(Int64.max))
        #expect(Self.run(Int64.min, "div(-1)") == .some(Int64.max))
        #expect(Self.run(Int64.min, "mod(-1)") == .some(0))
        #expect(Self.run(Int64.min, "mul(-1)") == .some(Int64.max))
        #expect(Self.run(Int64.max / 2 + 1, "mul(2)") == .some(Int64.max))
        #expect(Self.run(Int64.max / 2 + 1, "mul(-2)") == .some(Int64.min))
        #expect(Self.run(4, "even") == .some(1))
        #expect(Self.run(0, "bool") == .some(0))
    }

    @Test func whatIsNotAnOperandIsNamed() {
        #expect(IntegerConverter.parse("sub(1x)") == .failure(.init(message: "expects an integer or a variable name")))
        #expect(IntegerConverter.parse("add") == .failure(.init(message: "expects an integer or a variable name in parentheses")))
        #expect(IntegerConverter.parse("bool(1)") == .failure(.init(message: "it takes no argument")))
        #expect(IntegerConverter.parse("lower") == nil)
        #expect(IntegerConverter.parse("sub(txn.limit)") == .success(.sub(.variable(VariableName(scope: .transaction, name: "limit")))))
    }
}
