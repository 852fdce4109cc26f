import NIOConcurrencyHelpers

/// The process's variables (`proc.*`): set by `global`'s `set-var` when the file is read, by rules at run time,
/// shared by every thread.
final class ProcessVariables: Sendable {
    private let values: NIOLockedValueBox<[String: VariableValue]>
    /// The names the configuration declares (HAProxy creates every `proc.` variable a rule names when it reads the
    /// file: `ifexists` then holds for them).
    private let declared: Set<String>

    init(_ initial: [String: VariableValue], declared: Set<String>) {
        values = NIOLockedValueBox(initial)
        self.declared = declared.union(initial.keys)
    }

    subscript(name: String) -> VariableValue? { values.withLockedValue { $0[name] } }

    func set(_ name: String, _ value: VariableValue?) { values.withLockedValue { $0[name] = value } }

    func exists(_ name: String) -> Bool { declared.contains(name) || self[name] != nil }
}

/// A client connection's variables (`sess.*`), its current transaction's (`txn.*`, `req.*`, `res.*`: forgotten when
/// the next request begins), and the process's. Confined to the session's event loop.
final class VariableStore {
    let process: ProcessVariables
    private var session: [String: VariableValue] = [:]
    private var transaction: [String: VariableValue] = [:]
    /// The names set once in this transaction or session (`ifexists`: a variable unset since still exists).
    private var created: Set<VariableName> = []

    init(process: ProcessVariables) { self.process = process }

    subscript(name: VariableName) -> VariableValue? {
        switch name.scope {
        case .process: process[name.name]
        case .session: session[name.name]
        case .transaction, .request, .response: transaction[name.description]
        }
    }

    /// `set-var`'s store, when its conditions allow it.
    func set(_ action: VariableAction, _ value: VariableValue) {
        let name = action.name
        let existed = name.scope == .process ? process.exists(name.name) : created.contains(name)
        guard action.allows(existing: self[name], existed: existed, new: value) else { return }
        store(name, value)
    }

    func unset(_ name: VariableName) { store(name, nil) }

    private func store(_ name: VariableName, _ value: VariableValue?) {
        if value != nil { created.insert(name) }
        switch name.scope {
        case .process: process.set(name.name, value)
        case .session: session[name.name] = value
        case .transaction, .request, .response: transaction[name.description] = value
        }
    }

    /// The response's processing begins: the `req` and `res` variables set so far are gone (HAProxy prunes the
    /// store they share between the request's rules and the response's), the `txn` ones stay.
    func startResponse() {
        let gone = transaction.keys.filter { $0.hasPrefix("req.") || $0.hasPrefix("res.") }
        guard !gone.isEmpty else { return }
        for key in gone { transaction[key] = nil }
        created = created.filter { $0.scope != .request && $0.scope != .response }
    }

    /// A new request begins: the last one's `txn`, `req` and `res` variables are gone.
    func endTransaction() {
        guard !transaction.isEmpty || !created.isEmpty else { return }
        transaction.removeAll(keepingCapacity: true)
        created = created.filter { $0.scope == .session || $0.scope == .process }
    }
}
