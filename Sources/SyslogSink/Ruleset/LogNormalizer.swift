import LognormShim
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// mmnormalize's rulebase, loaded into liblognorm (the library rsyslogd's mmnormalize uses, so a rulebase means the
/// same here): the MSG (or the raw message) normalized to a JSON object that goes into the message's variables at
/// `path`, merged, with `$parsesuccess` OK when a rule matched and FAIL when none did (liblognorm then gives
/// `originalmsg` and `unparsed-data`, which go in too, as rsyslog's mmnormalize puts them).
///
/// The context is only read once loaded, and the rules run on one loop; the class owns it for its life.
final class LogNormalizer: @unchecked Sendable {
    private let normalizer: OpaquePointer
    let path: [String]
    let isGlobal: Bool
    let useRawMessage: Bool

    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// Loads `rulebase` (a file) or `rules` (rule lines); fails with liblognorm's own messages.
    init(rulebase: String?, rules: [String], path: String, useRawMessage: Bool) throws {
        guard let normalizer = tollgate_lognorm_open(rulebase, rulebase == nil ? rules.joined(separator: "\n") : nil)
        else {
            let said = String(cString: tollgate_lognorm_messages())
            throw LoadError(
                description: "mmnormalize: \(rulebase.map { "rulebase '\($0)'" } ?? "rule=") could not be loaded"
                    + (said.isEmpty ? "" : ": \(said)"))
        }
        self.normalizer = normalizer
        self.isGlobal = path.hasPrefix("!")
        self.path = path.dropFirst().split(separator: "!").map { $0.lowercased() }
        self.useRawMessage = useRawMessage
    }

    deinit { tollgate_lognorm_close(normalizer) }

    func normalize(_ m: inout SyslogMessage) {
        var bytes = Array(useRawMessage ? m.raw[...] : m.msg)
        let length = bytes.count
        bytes.append(0)
        var matched: Int32 = 0
        let json: UnsafeMutablePointer<CChar>? = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return nil }
                return tollgate_lognorm_normalize(normalizer, base, length, &matched)
            }
        }
        m.parseSuccess = matched != 0
        guard let json else { return }
        defer { free(json) }
        guard let value = JSONReader.parse(Array(UnsafeRawBufferPointer(start: json, count: strlen(json)))[...]) else {
            return
        }
        var tree = (isGlobal ? m.variables : m.localVariables) ?? .object(JSONObject())
        tree.set(value, at: path[...], merge: true)
        if isGlobal { m.variables = tree } else { m.localVariables = tree }
    }
}
