import LogCore

/// A user template in rsyslog's property-replacer syntax: constant text and `%property:from:to:options%`
/// references, as `$template Name,"…"` and `template(name=… type="string" string="…")` define them.
///
/// Covered: the message properties (msg, rawmsg, hostname/source, fromhost, fromhost-ip, fromhost-port, syslogtag,
/// programname,
/// pri, pri-text, syslogfacility[-text], syslogseverity[-text]/syslogpriority[-text], timereported/timestamp,
/// timegenerated/timereceived, protocol-version, app-name, procid, msgid, structured-data) and the system ones
/// ($year $month $day $hour $minute $now, with -utc); character ranges (`:1:32:`) and fields (`:F,58:2:`); the
/// options date-rfc3164, date-rfc3164-buggyday, date-rfc3339, date-mysql, date-pgsql, date-unixtimestamp, date-year …
/// date-second, lowercase, uppercase, escape-cc, space-cc, drop-cc, drop-last-lf, sp-if-no-1st-sp, secpath-drop,
/// secpath-replace, json/jsonf/jsonr/jsonfr/csv; regular expressions (`R,ERE,1,DFLT:…--end`); the variables
/// (`$!…`, `$.…`), `inputname`, `jsonmesg`, `iut`; the template options json, jsonf, sql and stdsql. Anything else (unknown names and options) is refused with a message,
/// so an action is never fed a template rendered differently from rsyslog's.
public struct PropertyTemplate: Sendable, Hashable {
    /// How backslashes in constant text are read. `$template` strings use rsyslog's template escapes (`\n`, `\r`,
    /// `\\`, `\%`, `\ddd` decimal, any other character stands for itself); `template(string=…)` values were
    /// already unescaped by the configuration parser.
    public enum Escapes: Sendable { case legacy, none }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    enum Part: Hashable, Sendable {
        case constant([UInt8])
        case property(Reference)
    }

    enum Property: String, Hashable, Sendable {
        case msg, rawmsg, hostname, fromhost, fromhostIP = "fromhost-ip", fromhostPort = "fromhost-port", syslogtag
        case programname, pri
        case priText = "pri-text", facility = "syslogfacility", facilityText = "syslogfacility-text"
        case severity = "syslogseverity", severityText = "syslogseverity-text", timereported, timegenerated
        case protocolVersion = "protocol-version", appName = "app-name", procid, msgid
        case structuredData = "structured-data"
        case year = "$year", month = "$month", day = "$day", hour = "$hour", minute = "$minute", now = "$now"
        case yearUTC = "$year-utc", monthUTC = "$month-utc", dayUTC = "$day-utc", hourUTC = "$hour-utc"
        case minuteUTC = "$minute-utc", nowUTC = "$now-utc"
        case inputName = "inputname", jsonmesg
        /// `iut`: the InfoUnitType of the old MonitorWare schema, always 1 (a syslog message), as rsyslog writes it.
        case iut
        /// `$!…` and `$.…`: the message's variables (the path is in the reference).
        case treeVariable = "$!", localVariable = "$."

        static func named(_ name: String) -> Property? {
            if name.hasPrefix("$!") { return .treeVariable }
            if name.hasPrefix("$.") { return .localVariable }
            switch name {
            case "source": return .hostname
            case "timestamp": return .timereported
            case "timereceived": return .timegenerated
            case "syslogpriority": return .severity
            case "syslogpriority-text": return .severityText
            default: return Property(rawValue: name)
            }
        }
    }

    enum DateFormat: String, Hashable, Sendable {
        case rfc3164 = "date-rfc3164", rfc3164BuggyDay = "date-rfc3164-buggyday", rfc3339 = "date-rfc3339"
        case mysql = "date-mysql", pgsql = "date-pgsql", unixTimestamp = "date-unixtimestamp", year = "date-year"
        case month = "date-month", day = "date-day", hour = "date-hour", minute = "date-minute"
        case second = "date-second"
    }

    enum Case: Hashable, Sendable { case lower, upper }
    enum Control: Hashable, Sendable { case escape, space, drop }
    enum SecurePath: Hashable, Sendable { case drop, replace }

    struct Reference: Hashable, Sendable {
        var property: Property
        /// 1-based inclusive character range; 0 when not given.
        var from = 0
        var to = 0
        /// `F,delimiter:number`: the number-th field; 0 when not given.
        var fieldDelimiter: UInt8 = 9
        var fieldNumber = 0
        var date: DateFormat?
        var letterCase: Case?
        var control: Control?
        var securePath: SecurePath?
        var dropLastLF = false
        var spaceIfNoFirstSpace = false
        /// A variable's path below `$!` or `$.` (empty: the whole tree).
        var path: [String] = []
        /// `format=` / `:::json…`: the value JSON-escaped (`json`, `jsonr` without doubling backslashes), as a
        /// `"name":"value"` field (`jsonf`, `jsonfr`), or as a CSV field.
        var format: Format?
        /// The field name of `jsonf` (the property's own name unless `outname=`).
        var fieldName = ""
        /// `date.inUTC`: dates in UTC.
        var inUTC = false
        /// `:R,ERE,1,DFLT:regex--end:` / `regex.expression=`: the value is what the expression finds.
        var regex: TemplateRegex?
        /// Options rsyslog does not know (`no-such-option`): it ignores them, saying so.
        var ignored: [String] = []
    }

    /// The property replacer's options as rsyslog 8.2302's template.c knows them.
    static let rsyslogOptions: Set<String> = [
        "date-mysql", "date-pgsql", "date-rfc3164", "date-rfc3164-buggyday", "date-rfc3339", "date-unixtimestamp",
        "date-subseconds", "date-wdayname", "date-wday", "date-year", "date-month", "date-day", "date-hour",
        "date-minute", "date-second", "date-tzoffshour", "date-tzoffsmin", "date-tzoffsdirection", "date-ordinal",
        "date-week", "date-iso-week", "date-iso-week-year", "date-utc", "lowercase", "uppercase", "sp-if-no-1st-sp",
        "compressspace", "escape-cc", "drop-cc", "space-cc", "drop-last-lf", "secpath-drop", "secpath-replace",
        "pos-end-relative", "fixed-width", "csv", "json", "jsonf", "jsonr", "jsonfr", "mandatory-field",
    ]

    /// The options of the template's properties that rsyslog ignores (it says "invalid field option … ignored").
    public var ignoredOptions: [String] {
        parts.flatMap { part -> [String] in
            if case .property(let r) = part { return r.ignored }
            return []
        }
    }

    /// The property replacer's regular expression: its type (BRE unless ERE), which match and which group of it,
    /// and what stands when there is none (`**NO MATCH**`, nothing, `0`, or the whole value).
    struct TemplateRegex: Hashable, Sendable {
        enum NoMatch: String, Hashable, Sendable { case dflt = "DFLT", blank = "BLANK", zero = "ZERO", field = "FIELD" }
        var pattern: String
        var extended = false
        var submatch = 0
        var match = 0
        var noMatch = NoMatch.dflt
        /// nil when rsyslog's regcomp would fail too (it then prints `**NO MATCH** **BAD REGULAR EXPRESSION**`).
        var compiled: CompiledRegex?

        init(pattern: String, extended: Bool, submatch: Int, match: Int, noMatch: NoMatch) {
            self.pattern = pattern
            self.extended = extended
            self.submatch = submatch
            self.match = match
            self.noMatch = noMatch
            compiled = CompiledRegex(pattern, extended: extended, capturing: true)
        }

        static func == (a: TemplateRegex, b: TemplateRegex) -> Bool {
            a.pattern == b.pattern && a.extended == b.extended && a.submatch == b.submatch && a.match == b.match
                && a.noMatch == b.noMatch
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(pattern)
            hasher.combine(submatch)
            hasher.combine(match)
        }

        /// What the value becomes.
        func apply(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            guard let compiled else { return ArraySlice("**NO MATCH** **BAD REGULAR EXPRESSION**".utf8) }
            if let found = compiled.extract(value, match: match, submatch: submatch, unsetGroupIsEmpty: true) {
                return found
            }
            switch noMatch {
            case .dflt: return ArraySlice("**NO MATCH**".utf8)
            case .blank: return []
            case .zero: return ArraySlice("0".utf8)
            case .field: return value
            }
        }
    }

    enum Format: String, Hashable, Sendable { case json, jsonf, jsonr, jsonfr, csv }

    /// A template's `option.json` (every property value JSON-escaped), `option.jsonf` (a list template's fields as
    /// one JSON object and a line feed), `option.sql` (`'` and `\` in property values after a backslash, MySQL's
    /// form) or `option.stdsql` (`'` doubled, standard SQL's): what rsyslog's template.c does to each property
    /// value, never to the constant text.
    public enum Option: Hashable, Sendable { case json, jsonf, sql, stdsql }

    let parts: [Part]
    public let option: Option?
    /// A list template's `outname=` per part (nil where none was given; empty for string templates): the field
    /// names of structured outputs such as omjournal.
    let outnames: [String?]

    /// Reads a template string; `ParseError` says what rsyslog's property replacer would not accept here.
    public init(parsing text: String, escapes: Escapes, option: Option? = nil) throws(ParseError) {
        var parts: [Part] = []
        var constant: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x5C, escapes == .legacy, i + 1 < bytes.count {
                let (byte, next) = PropertyTemplate.escape(bytes, after: i)
                constant.append(byte)
                i = next
                continue
            }
            if b == 0x25 {  // %
                guard let end = bytes[(i + 1)...].firstIndex(of: 0x25) else {
                    throw ParseError(description: "'%' without its closing '%' in template \"\(text)\"")
                }
                if !constant.isEmpty {
                    parts.append(.constant(constant))
                    constant = []
                }
                parts.append(
                    .property(try PropertyTemplate.reference(String(decoding: bytes[(i + 1)..<end], as: UTF8.self))))
                i = end + 1
                continue
            }
            constant.append(b)
            i += 1
        }
        if !constant.isEmpty { parts.append(.constant(constant)) }
        self.parts = parts
        outnames = []
        self.option = option
    }

    /// One statement of a `type="list"` template: `constant(value=…)` or `property(name=… …)` with its
    /// parameters (names lower-cased, values unescaped).
    public enum ListItem: Sendable {
        case constant(String, outname: String? = nil)
        case property([String: String])
    }

    /// Builds a `type="list"` template. Property parameters: name, position.from/position.to, field.number /
    /// field.delimiter, dateFormat, caseConversion, controlCharacters, securePath, dropLastLf, spIfNo1stSp;
    /// outName is accepted (it only matters to structured outputs); format (json, csv) and regex are refused.
    public init(list items: [ListItem], option: Option? = nil) throws(ParseError) {
        var parts: [Part] = []
        var outnames: [String?] = []
        for item in items {
            switch item {
            case .constant(let text, let outname):
                outnames.append(outname)
                // rsyslog reads template escapes in a constant once more (`value="\\n"` is a line feed).
                let bytes = Array(text.utf8)
                var value: [UInt8] = []
                var i = 0
                while i < bytes.count {
                    if bytes[i] == 0x5C && i + 1 < bytes.count {
                        let (byte, next) = PropertyTemplate.escape(bytes, after: i)
                        value.append(byte)
                        i = next
                    } else {
                        value.append(bytes[i])
                        i += 1
                    }
                }
                parts.append(.constant(value))
            case .property(let p):
                outnames.append(p["outname"])
                parts.append(.property(try PropertyTemplate.reference(parameters: p)))
            }
        }
        self.parts = parts
        self.outnames = outnames
        self.option = option
    }

    /// The named parts of a list template (`outname=`), each rendered on its own: the fields omjournal sends.
    public func fields(of message: SyslogMessage) -> [(name: String, value: [UInt8])] {
        var fields: [(String, [UInt8])] = []
        for (part, name) in zip(parts, outnames) {
            guard let name else { continue }
            var value: [UInt8] = []
            switch part {
            case .constant(let bytes): value = bytes
            case .property(let r): PropertyTemplate.append(r, of: message, to: &value)
            }
            fields.append((name, value))
        }
        return fields
    }

    /// Whether this is a list template with at least one `outname=`.
    public var hasFields: Bool { outnames.contains { $0 != nil } }

    /// The `outname=` of a list template's parts, in order.
    public var fieldNames: [String] { outnames.compactMap { $0 } }

    static func reference(parameters p: [String: String]) throws(ParseError) -> Reference {
        guard let name = p["name"] else { throw ParseError(description: "property() needs name=") }
        guard let property = Property.named(name.lowercased()) else {
            throw ParseError(description: "property '\(name)' is unknown or not supported yet")
        }
        var r = Reference(property: property)
        r.fieldName = p["outname"] ?? PropertyTemplate.fieldName(name.lowercased())
        if property == .treeVariable || property == .localVariable { r.path = variablePath(name.lowercased()) }
        func flag(_ key: String) -> Bool { ["on", "yes", "1"].contains(p[key]?.lowercased() ?? "") }
        for key in p.keys.sorted() {
            let value = p[key] ?? ""
            switch key {
            case "name", "outname": break
            case "position.from", "position.to", "field.number", "field.delimiter":
                guard let n = Int(value), n >= 0 else {
                    throw ParseError(description: "\(key) takes a number, not '\(value)'")
                }
                switch key {
                case "position.from": r.from = n
                case "position.to": r.to = n
                case "field.number": r.fieldNumber = n
                default:
                    guard n < 256 else { throw ParseError(description: "field.delimiter takes a character code") }
                    r.fieldDelimiter = UInt8(n)
                }
            case "dateformat":
                guard let date = DateFormat(rawValue: "date-" + value.lowercased()) else {
                    throw ParseError(description: "dateFormat '\(value)' is unknown or not supported yet")
                }
                r.date = date
            case "caseconversion":
                switch value.lowercased() {
                case "lower": r.letterCase = .lower
                case "upper": r.letterCase = .upper
                default: throw ParseError(description: "caseConversion takes lower or upper, not '\(value)'")
                }
            case "controlcharacters":
                switch value.lowercased() {
                case "escape": r.control = .escape
                case "space": r.control = .space
                case "drop": r.control = .drop
                default: throw ParseError(description: "controlCharacters takes escape, space or drop")
                }
            case "securepath":
                switch value.lowercased() {
                case "drop": r.securePath = .drop
                case "replace": r.securePath = .replace
                default: throw ParseError(description: "securePath takes drop or replace")
                }
            case "droplastlf": r.dropLastLF = flag(key)
            case "spifno1stsp": r.spaceIfNoFirstSpace = flag(key)
            case "date.inutc": r.inUTC = flag(key)
            case "regex.expression", "regex.type", "regex.nomatchmode", "regex.match", "regex.submatch":
                break  // read together below
            case "format":
                guard let format = Format(rawValue: value.lowercased()) else {
                    throw ParseError(description: "format '\(value)' is not json, jsonf, jsonr, jsonfr or csv")
                }
                r.format = format
            default:
                throw ParseError(description: "property() parameter '\(key)' is not supported yet")
            }
        }
        if let expression = p["regex.expression"] {
            let type = p["regex.type"]?.uppercased() ?? "BRE"
            guard type == "BRE" || type == "ERE" else { throw ParseError(description: "regex.type is BRE or ERE") }
            guard let noMatch = TemplateRegex.NoMatch(rawValue: p["regex.nomatchmode"]?.uppercased() ?? "DFLT") else {
                throw ParseError(description: "regex.nomatchmode is DFLT, BLANK, ZERO or FIELD")
            }
            r.regex = TemplateRegex(
                pattern: expression, extended: type == "ERE", submatch: Int(p["regex.submatch"] ?? "0") ?? 0,
                match: Int(p["regex.match"] ?? "0") ?? 0, noMatch: noMatch)
        }
        if r.from > 0 && r.to == 0 { r.to = Int.max }
        if r.to > 0 && r.from == 0 { r.from = 1 }
        if r.from > r.to { swap(&r.from, &r.to) }  // rsyslog swaps them
        return r
    }

    /// The byte a template escape stands for (`bytes[backslash]` is the backslash) and the index after it:
    /// `\n`, `\r`, `\ddd` (decimal), any other character itself.
    static func escape(_ bytes: [UInt8], after backslash: Int) -> (UInt8, Int) {
        var i = backslash + 1
        switch bytes[i] {
        case 0x6E: return (0x0A, i + 1)
        case 0x72: return (0x0D, i + 1)
        case 0x30...0x39:
            var value = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, value < 256 {
                value = value * 10 + Int(bytes[i] - 0x30)
                i += 1
            }
            return (UInt8(truncatingIfNeeded: value), i)
        default: return (bytes[i], i + 1)
        }
    }

    /// `name[:from:to[:options[:fieldname]]]`.
    static func reference(_ spec: String) throws(ParseError) -> Reference {
        if let regexReference = try regexReference(spec) { return regexReference }
        let pieces = spec.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        let name = pieces[0].lowercased()
        guard let property = Property.named(name) else {
            if name.hasPrefix("$/") {
                throw ParseError(description: "global variables (%\(name)%) in templates are not supported yet")
            }
            throw ParseError(description: "property '\(pieces[0])' is unknown or not supported yet")
        }
        var r = Reference(property: property)
        r.fieldName = PropertyTemplate.fieldName(name)
        if property == .treeVariable || property == .localVariable { r.path = PropertyTemplate.variablePath(name) }
        let from = pieces.count > 1 ? pieces[1] : ""
        let to = pieces.count > 2 ? pieces[2] : ""
        if from.hasPrefix("R") {
            throw ParseError(description: "regular expressions in templates (%\(spec)%) are not supported yet")
        } else if from.hasPrefix("F") {
            let delimiter = from.dropFirst()
            if delimiter.hasPrefix(",") {
                guard let d = UInt8(delimiter.dropFirst()) else {
                    throw ParseError(description: "field delimiter in %\(spec)% must be a decimal character code")
                }
                r.fieldDelimiter = d
            } else if !delimiter.isEmpty {
                throw ParseError(description: "field delimiter in %\(spec)% must be written F,code")
            }
            guard let n = Int(to.isEmpty ? "1" : to), n > 0 else {
                throw ParseError(description: "field number in %\(spec)% must be a positive number")
            }
            r.fieldNumber = n
        } else if !from.isEmpty || !to.isEmpty {
            // `to` may be `$`: up to the end (rsyslog's `%msg:2:$%`); from after to: rsyslog swaps them.
            guard let f = Int(from.isEmpty ? "1" : from), f > 0, let t = to.isEmpty || to == "$" ? Int.max : Int(to),
                t > 0
            else {
                throw ParseError(description: "character range in %\(spec)% must be from:to, numbers from 1")
            }
            r.from = min(f, t)
            r.to = max(f, t)
        }
        if pieces.count > 3 {
            // `options[:fieldname]`: rsyslog reads the options up to a `:`, then the name `jsonf` gives the field.
            let rest = pieces[3]
            let options = rest.prefix { $0 != ":" }
            try applyOptions(String(options), to: &r)
            if options.endIndex < rest.endIndex {
                r.fieldName = String(rest[rest.index(after: options.endIndex)...].prefix { $0 != ":" })
            }
        }
        return r
    }

    /// `name:R[,ERE|BRE][,submatch][,DFLT|BLANK|ZERO|FIELD][,match]:regex--end[:options]`, as rsyslog's template.c
    /// reads it (the expression may hold `:`); nil when the spec has no regular expression.
    static func regexReference(_ spec: String) throws(ParseError) -> Reference? {
        guard let colon = spec.firstIndex(of: ":") else { return nil }
        let afterName = spec[spec.index(after: colon)...]
        guard afterName.hasPrefix("R"), let fromEnd = afterName.firstIndex(of: ":") else { return nil }
        let name = spec[..<colon].lowercased()
        guard let property = Property.named(name) else {
            throw ParseError(description: "property '\(spec[..<colon])' is unknown or not supported yet")
        }
        let settings = afterName[afterName.index(after: afterName.startIndex)..<fromEnd].split(
            separator: ",", omittingEmptySubsequences: false
        ).dropFirst().map(String.init)
        // rsyslog: [type][,submatch][,nomatch][,match], each optional in turn.
        var extended = false
        var submatch = 0
        var noMatch = TemplateRegex.NoMatch.dflt
        var match = 0
        var rest = settings[...]
        if let type = rest.first, type == "ERE" || type == "BRE" {
            extended = type == "ERE"
            rest = rest.dropFirst()
        }
        if let n = rest.first, n.count == 1, let digit = Int(n) {
            submatch = digit
            rest = rest.dropFirst()
        } else if rest.first == "" {
            rest = rest.dropFirst()
        }
        if let mode = rest.first, let value = TemplateRegex.NoMatch(rawValue: mode) {
            noMatch = value
            rest = rest.dropFirst()
        } else if rest.first == "" {
            rest = rest.dropFirst()
        }
        if let n = rest.first, n.count == 1, let digit = Int(n) {
            match = digit
            rest = rest.dropFirst()
        }
        guard rest.isEmpty else {
            throw ParseError(description: "invalid settings after R in %\(spec)%: \(rest.joined(separator: ","))")
        }
        let expressionStart = afterName.index(after: fromEnd)
        guard let end = afterName[expressionStart...].firstRange(of: "--end") else {
            throw ParseError(description: "the regular expression in %\(spec)% has no --end")
        }
        var r = Reference(property: property)
        r.fieldName = fieldName(name)
        if property == .treeVariable || property == .localVariable { r.path = variablePath(name) }
        r.regex = TemplateRegex(
            pattern: String(afterName[expressionStart..<end.lowerBound]), extended: extended, submatch: submatch,
            match: match, noMatch: noMatch)
        let after = afterName[end.upperBound...]
        if after.hasPrefix(":") { try applyOptions(String(after.dropFirst()), to: &r) }
        return r
    }

    /// The `:options` part (`date-rfc3339,lowercase,…`).
    static func applyOptions(_ text: String, to r: inout Reference) throws(ParseError) {
            for written in text.split(separator: ",").map(String.init) {
                // rsyslog reads the options in lower case, and passes over one it does not know.
                let option = written.lowercased()
                guard rsyslogOptions.contains(option) else {
                    r.ignored.append(written)
                    continue
                }
                if let date = DateFormat(rawValue: option) {
                    r.date = date
                    continue
                }
                switch option {
                case "lowercase": r.letterCase = .lower
                case "uppercase": r.letterCase = .upper
                case "escape-cc": r.control = .escape
                case "space-cc": r.control = .space
                case "drop-cc": r.control = .drop
                case "secpath-drop": r.securePath = .drop
                case "secpath-replace": r.securePath = .replace
                case "drop-last-lf": r.dropLastLF = true
                case "sp-if-no-1st-sp": r.spaceIfNoFirstSpace = true
                case "json", "jsonf", "jsonr", "jsonfr", "csv": r.format = Format(rawValue: option)
                default:
                    throw ParseError(
                        description: "property replacer option '\(option)' is unknown or not supported yet")
                }
            }
    }

    /// A property's text in its default form (`msg`, `syslogseverity`, `$year`, …; names as in templates), or nil
    /// for a name the property replacer does not know.
    public static func value(of name: String, in message: SyslogMessage) -> [UInt8]? {
        guard let property = Property.named(name.lowercased()) else { return nil }
        var out: [UInt8] = []
        appendValue(Reference(property: property), of: message, to: &out)
        return out
    }

    /// Renders `message` and appends it to `out`.
    public func render(_ message: SyslogMessage, into out: inout [UInt8]) {
        if option == .jsonf {
            // rsyslog's option.jsonf: the fields as one object, then a line feed.
            out.append(0x7B)
            var first = true
            for part in parts {
                if !first { out.append(contentsOf: ", ".utf8) }
                first = false
                switch part {
                case .constant(let bytes): out.append(contentsOf: bytes)
                case .property(let r): PropertyTemplate.append(r, of: message, to: &out)
                }
            }
            out.append(contentsOf: "}\n".utf8)
            return
        }
        for part in parts {
            switch part {
            case .constant(let bytes): out.append(contentsOf: bytes)
            case .property(let r):
                if let option, option != .jsonf {
                    // rsyslog's doEscape: JSON_ESCAPE `"` and `\` after a backslash; SQL_ESCAPE `'` and `\` after a
                    // backslash; STDSQL_ESCAPE `'` doubled.
                    var value: [UInt8] = []
                    PropertyTemplate.append(r, of: message, to: &value)
                    for b in value {
                        switch option {
                        case .json where b == 0x22 || b == 0x5C, .sql where b == 0x27 || b == 0x5C: out.append(0x5C)
                        case .stdsql where b == 0x27: out.append(0x27)
                        default: break
                        }
                        out.append(b)
                    }
                } else {
                    PropertyTemplate.append(r, of: message, to: &out)
                }
            }
        }
    }

    /// The name `jsonf` gives a property: its own, a variable's without `$!` / `$.`.
    static func fieldName(_ name: String) -> String {
        name.hasPrefix("$!") || name.hasPrefix("$.") ? String(name.dropFirst(2)) : name
    }

    /// `$!a!b` → ["a", "b"]; `$!` → [] (names lower-cased, as rsyslog's variables are not case-sensitive).
    /// `$!all-json` is rsyslog's name for the whole `$!` tree.
    static func variablePath(_ name: String) -> [String] {
        if name.lowercased() == "$!all-json" { return [] }
        return name.dropFirst(2).split(separator: "!").map { $0.lowercased() }
    }

    /// Renders `message` as a new byte array.
    public func render(_ message: SyslogMessage) -> [UInt8] {
        var out: [UInt8] = []
        render(message, into: &out)
        return out
    }

    private static let fieldNotFound = Array("**FIELD NOT FOUND**".utf8)

    static func append(_ r: Reference, of m: SyslogMessage, to out: inout [UInt8]) {
        var value: [UInt8] = []
        value.reserveCapacity(64)
        appendValue(r, of: m, to: &value)
        var slice = value[...]
        if let regex = r.regex {
            slice = regex.apply(slice)
        } else if r.fieldNumber > 0 {
            var start = slice.startIndex
            for _ in 1..<r.fieldNumber {
                guard let d = slice[start...].firstIndex(of: r.fieldDelimiter) else {
                    slice = fieldNotFound[...]
                    start = -1
                    break
                }
                start = d + 1
            }
            if start >= 0 {
                let end = slice[start...].firstIndex(of: r.fieldDelimiter) ?? slice.endIndex
                slice = slice[start..<end]
            }
        } else if r.from > 0 {
            let lower = min(slice.startIndex + r.from - 1, slice.endIndex)
            let upper = r.to >= slice.count ? slice.endIndex : slice.startIndex + r.to
            slice = slice[lower..<max(lower, upper)]
        }
        var result = Array(slice)
        switch r.letterCase {
        case .lower?: result = result.map(ASCII.lowercased)
        case .upper?: result = result.map(ASCII.uppercased)
        case nil: break
        }
        switch r.control {
        case .escape?:
            var escaped: [UInt8] = []
            for b in result {
                if b < 0x20 || b == 0x7F {
                    escaped.append(0x23)
                    escaped.append(0x30 + b / 64)
                    escaped.append(0x30 + (b / 8) % 8)
                    escaped.append(0x30 + b % 8)
                } else {
                    escaped.append(b)
                }
            }
            result = escaped
        case .space?: result = result.map { $0 < 0x20 || $0 == 0x7F ? 0x20 : $0 }
        case .drop?: result.removeAll { $0 < 0x20 || $0 == 0x7F }
        case nil: break
        }
        if let securePath = r.securePath {
            if securePath == .drop {
                result.removeAll { $0 == 0x2F }
            } else {
                result = result.map { $0 == 0x2F ? 0x5F : $0 }
            }
            // An empty name, "." and ".." would leave the folder: rsyslog makes them "_", "_" and "_.".
            if result.isEmpty {
                result = [0x5F]
            } else if result == [0x2E] || result == [0x2E, 0x2E] {
                result[0] = 0x5F
            }
        }
        if r.dropLastLF, result.last == 0x0A { result.removeLast() }
        if let format = r.format {
            switch format {
            case .json, .jsonr:
                JSONValue.escape(result, to: &out, slash: true, backslash: format == .json)
            case .jsonf, .jsonfr:
                out.append(0x22)
                out.append(contentsOf: r.fieldName.utf8)
                out.append(contentsOf: "\":\"".utf8)
                JSONValue.escape(result, to: &out, slash: true, backslash: format == .jsonf)
                out.append(0x22)
            case .csv:
                out.append(0x22)
                for b in result {
                    if b == 0x22 { out.append(0x22) }
                    out.append(b)
                }
                out.append(0x22)
            }
            return
        }
        if r.spaceIfNoFirstSpace {
            // One space when the value has content that does not start with one (an empty MSG gets none).
            if let first = result.first, first != 0x20 { out.append(0x20) }
            return
        }
        out.append(contentsOf: result)
    }

    /// The property's own text before ranges and options (dates in the option's format).
    static func appendValue(_ r: Reference, of m: SyslogMessage, to out: inout [UInt8]) {
        switch r.property {
        case .msg: out.append(contentsOf: m.msg)
        case .rawmsg: out.append(contentsOf: m.raw)
        case .hostname: out.append(contentsOf: m.hostname)
        case .fromhost: out.append(contentsOf: m.fromHost)
        case .fromhostIP: out.append(contentsOf: m.fromHostIP)
        case .fromhostPort: if let port = m.fromHostPort { out.appendDecimal(port) }
        case .syslogtag: out.append(contentsOf: m.syslogTag)
        case .programname: out.append(contentsOf: m.programName)
        case .pri: out.appendDecimal(m.priority.value)
        case .priText: out.append(contentsOf: m.priority.text.utf8)
        case .facility: out.appendDecimal(Int(m.priority.facility.rawValue))
        case .facilityText: out.append(contentsOf: m.priority.facility.rsyslogName.utf8)
        case .severity: out.appendDecimal(Int(m.priority.severity.rawValue))
        case .severityText: out.append(contentsOf: m.priority.severity.name.utf8)
        case .timereported: appendDate(r.inUTC ? m.timestamp.inUTC : m.timestamp, r.date ?? .rfc3164, to: &out)
        case .timegenerated: appendDate(r.inUTC ? m.receivedAt.inUTC : m.receivedAt, r.date ?? .rfc3164, to: &out)
        case .inputName: out.append(contentsOf: InputNames.name(m.inputName).utf8)
        case .iut: out.append(0x31)
        case .treeVariable, .localVariable:
            let tree = r.property == .treeVariable ? m.variables : m.localVariables
            if let value = tree?.value(at: r.path[...]) { out.append(contentsOf: value.text) }
        case .jsonmesg: appendJSONMessage(m, to: &out)
        case .protocolVersion: out.appendDecimal(m.protocolVersion)
        case .appName: out.append(contentsOf: m.appName)
        case .procid: out.append(contentsOf: m.procID)
        case .msgid: out.append(contentsOf: m.msgID)
        case .structuredData: out.append(contentsOf: m.structuredData)
        case .year, .month, .day, .hour, .minute, .now, .yearUTC, .monthUTC, .dayUTC, .hourUTC, .minuteUTC, .nowUTC:
            var t = m.receivedAt.civilTime
            if r.property.rawValue.hasSuffix("-utc") { t = t.converted(toUTCOffset: 0) }
            switch r.property {
            case .year, .yearUTC: out.appendDecimal(t.year, width: 4)
            case .month, .monthUTC: out.appendDecimal(t.month, width: 2)
            case .day, .dayUTC: out.appendDecimal(t.day, width: 2)
            case .hour, .hourUTC: out.appendDecimal(t.hour, width: 2)
            case .minute, .minuteUTC: out.appendDecimal(t.minute, width: 2)
            default:
                out.appendDecimal(t.year, width: 4)
                out.append(0x2D)
                out.appendDecimal(t.month, width: 2)
                out.append(0x2D)
                out.appendDecimal(t.day, width: 2)
            }
        }
    }

    /// `%jsonmesg%`: the message's properties and variables as one JSON object, as rsyslog 8.2302 writes it.
    static func appendJSONMessage(_ m: SyslogMessage, to out: inout [UInt8]) {
        func value(_ property: Property, date: DateFormat? = nil) -> [UInt8] {
            var r = Reference(property: property)
            r.date = date
            var v: [UInt8] = []
            appendValue(r, of: m, to: &v)
            return v
        }
        let fields: [(String, [UInt8])] = [
            ("msg", value(.msg)), ("rawmsg", value(.rawmsg)), ("timereported", value(.timereported, date: .rfc3339)),
            ("hostname", value(.hostname)), ("syslogtag", value(.syslogtag)), ("inputname", value(.inputName)),
            ("fromhost", value(.fromhost)), ("fromhost-ip", value(.fromhostIP)), ("pri", value(.pri)),
            ("syslogfacility", value(.facility)), ("syslogseverity", value(.severity)),
            ("timegenerated", value(.timegenerated, date: .rfc3339)), ("programname", value(.programname)),
            ("protocol-version", value(.protocolVersion)), ("structured-data", value(.structuredData)),
            ("app-name", value(.appName)), ("procid", value(.procid)), ("msgid", value(.msgid)),
        ]
        out.append(contentsOf: "{ ".utf8)
        for (name, text) in fields {
            JSONValue.writeString(Array(name.utf8), to: &out)
            out.append(contentsOf: ": ".utf8)
            JSONValue.writeString(text, to: &out)
            out.append(contentsOf: ", ".utf8)
        }
        out.append(contentsOf: "\"uuid\": null, \"$!\": ".utf8)
        if let tree = m.variables { tree.write(to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: " }".utf8)
    }

    static func appendDate(_ t: SyslogTimestamp, _ format: DateFormat, to out: inout [UInt8]) {
        switch format {
        case .rfc3164: t.appendRFC3164(to: &out)
        case .rfc3164BuggyDay:
            // Zero-padded day, as rsyslogd writes it (checked). rsyslogd caches one RFC 3164 text per message, so
            // when an earlier action already printed the same message with date-rfc3164 it repeats that
            // (space-padded) text here; that ordering quirk is not copied.
            t.appendRFC3164BuggyDay(to: &out)
        case .rfc3339: t.appendRFC3339(to: &out)
        case .mysql:
            out.appendDecimal(t.year, width: 4)
            for v in [t.month, t.day, t.hour, t.minute, t.second] { out.appendDecimal(v, width: 2) }
        case .pgsql:
            // rsyslog's formatTimestampToPgSQL.
            out.appendDateTime(year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second)
        case .unixTimestamp:
            let seconds = t.civilTime.epochMicroseconds / 1_000_000
            if seconds < 0 { out.append(0x2D) }
            out.appendDecimal(Int(seconds.magnitude))
        case .year: out.appendDecimal(t.year, width: 4)
        case .month: out.appendDecimal(t.month, width: 2)
        case .day: out.appendDecimal(t.day, width: 2)
        case .hour: out.appendDecimal(t.hour, width: 2)
        case .minute: out.appendDecimal(t.minute, width: 2)
        case .second: out.appendDecimal(t.second, width: 2)
        }
    }
}
