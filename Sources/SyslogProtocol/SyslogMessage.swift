/// One syslog message with the properties rsyslog gives it.
///
/// Fields are byte slices, most of them views into `raw` (the message after sanitising), so parsing a message
/// allocates nothing beyond its own bytes. Bytes, not `String`: a sender may put anything in a message and the
/// product writes back exactly what it received.
///
/// The fields are stored as ranges of `raw` (or of a second buffer for fields given from elsewhere), not as
/// slices: a slice holds a reference to its array, and copying or dropping a message with seven of them cost
/// seven reference-count operations each time (a fifth of the sink's TCP ingest in perf). A field is a slice only
/// when it is read.
public struct SyslogMessage: Hashable, Sendable {
    /// The message after reception sanitising (trailing NUL/LF dropped, control characters escaped).
    public var raw: [UInt8]
    public var priority: Priority
    /// 0 for RFC 3164 (legacy), 1 for RFC 5424.
    public var protocolVersion: Int
    /// The time the sender wrote (`timereported`), or the reception time when it gave none.
    public var timestamp: SyslogTimestamp
    /// When the receiver got it (`timegenerated`).
    public var receivedAt: SyslogTimestamp
    /// The sender's name as the receiver resolved it (rsyslog's `fromhost`).
    public var fromHost: [UInt8]
    /// The sender's address as text (rsyslog's `fromhost-ip`).
    public var fromHostIP: [UInt8] = []
    /// The sender's port (rsyslog's `fromhost-port`); nil for local sockets.
    public var fromHostPort: Int?
    /// The input it came through (rsyslog's `inputname`), as an `InputNames` number.
    public var inputName: UInt16 = 0
    /// The message's variables: `$!` (set by `set`, mmjsonparse, imfile's metadata) and `$.`; nil when none.
    public var variables: JSONValue?
    public var localVariables: JSONValue?
    /// mmjsonparse's verdict (`$parsesuccess`: OK or FAIL), nil before any.
    public var parseSuccess: Bool?

    /// Where a field's bytes are: a range of `raw`, or of `extra` for a field that was given from elsewhere.
    struct Span: Hashable, Sendable {
        var start: Int32
        var end: Int32
        var inExtra = false
        static let absent = Span(start: -1, end: -1)
        init(start: Int32, end: Int32, inExtra: Bool = false) {
            self.start = start
            self.end = end
            self.inExtra = inExtra
        }
        /// A range of `raw`.
        init(_ range: Range<Int>) { self.init(start: Int32(range.lowerBound), end: Int32(range.upperBound)) }
        var isAbsent: Bool { start < 0 }
    }

    /// The bytes of fields that were not slices of `raw` (messages composed from pieces); empty when parsed.
    private var extra: [UInt8] = []
    var hostnameSpan = Span.absent
    var tagSpan = Span(start: 0, end: 0)
    var appNameSpan = Span.absent
    var procIDSpan = Span.absent
    var msgIDSpan = Span.absent
    var structuredDataSpan = Span.absent
    var msgSpan = Span(start: 0, end: 0)

    private func slice(_ span: Span) -> ArraySlice<UInt8>? {
        if span.isAbsent { return nil }
        let range = Int(span.start)..<Int(span.end)
        return span.inExtra ? extra[range] : raw[range]
    }

    /// Where `bytes` go: their own range when they are a slice of `raw`, else copied into `extra`.
    private mutating func span(of bytes: ArraySlice<UInt8>?) -> Span {
        guard let bytes else { return .absent }
        let ofRaw =
            bytes.endIndex <= raw.count
            && bytes.withUnsafeBufferPointer { field in
                raw.withUnsafeBufferPointer { whole in
                    guard let f = field.baseAddress, let w = whole.baseAddress else { return bytes.isEmpty }
                    return f == w + bytes.startIndex
                }
            }
        if ofRaw { return Span(bytes.startIndex..<bytes.endIndex) }
        let start = extra.count
        extra.append(contentsOf: bytes)
        return Span(start: Int32(start), end: Int32(extra.count), inExtra: true)
    }

    /// The HOSTNAME field when the message carried one; nil when rsyslog would fall back to `fromHost`.
    public var hostnameField: ArraySlice<UInt8>? {
        get { slice(hostnameSpan) }
        set { hostnameSpan = span(of: newValue) }
    }
    /// The TAG as read from an RFC 3164 message (`haproxy[6553]:`), empty when none.
    public var tagField: ArraySlice<UInt8> {
        get { slice(tagSpan) ?? [] }
        set { tagSpan = span(of: newValue) }
    }
    /// RFC 5424 header fields; nil for legacy messages (or when the 5424 header stopped early).
    public var appNameField: ArraySlice<UInt8>? {
        get { slice(appNameSpan) }
        set { appNameSpan = span(of: newValue) }
    }
    public var procIDField: ArraySlice<UInt8>? {
        get { slice(procIDSpan) }
        set { procIDSpan = span(of: newValue) }
    }
    public var msgIDField: ArraySlice<UInt8>? {
        get { slice(msgIDSpan) }
        set { msgIDSpan = span(of: newValue) }
    }
    public var structuredDataField: ArraySlice<UInt8>? {
        get { slice(structuredDataSpan) }
        set { structuredDataSpan = span(of: newValue) }
    }
    /// The MSG's bytes changed in place, as rsyslog's modules change them (its MSG lies in its raw message, so
    /// `rawmsg` shows the change too); `bytes` has the MSG's length.
    public mutating func overwriteMSG(_ bytes: [UInt8]) {
        guard !msgSpan.isAbsent, bytes.count == Int(msgSpan.end - msgSpan.start) else {
            msg = bytes[...]
            return
        }
        let start = Int(msgSpan.start)
        if msgSpan.inExtra {
            extra.replaceSubrange(start..<(start + bytes.count), with: bytes)
        } else {
            raw.replaceSubrange(start..<(start + bytes.count), with: bytes)
        }
    }

    /// The MSG part. For RFC 3164 it usually starts with the space that followed the TAG.
    public var msg: ArraySlice<UInt8> {
        get { slice(msgSpan) ?? [] }
        set { msgSpan = span(of: newValue) }
    }

    public init(
        raw: [UInt8] = [], priority: Priority, protocolVersion: Int = 0, timestamp: SyslogTimestamp,
        receivedAt: SyslogTimestamp? = nil, hostname: ArraySlice<UInt8>? = nil, fromHost: [UInt8] = [],
        tag: ArraySlice<UInt8> = [], appName: ArraySlice<UInt8>? = nil, procID: ArraySlice<UInt8>? = nil,
        msgID: ArraySlice<UInt8>? = nil, structuredData: ArraySlice<UInt8>? = nil, msg: ArraySlice<UInt8>
    ) {
        self.raw = raw
        self.priority = priority
        self.protocolVersion = protocolVersion
        self.timestamp = timestamp
        self.receivedAt = receivedAt ?? timestamp
        self.fromHost = fromHost
        self.hostnameField = hostname
        self.tagField = tag
        self.appNameField = appName
        self.procIDField = procID
        self.msgIDField = msgID
        self.structuredDataField = structuredData
        self.msg = msg
    }

    /// A parsed message: its fields are ranges of `raw`, set by the parser.
    init(parsed raw: [UInt8], reception: SyslogReception) {
        self.raw = raw
        priority = .missing
        protocolVersion = 0
        timestamp = reception.receivedAt
        receivedAt = reception.receivedAt
        fromHost = reception.fromHost
        fromHostIP = reception.fromHostIP
        fromHostPort = reception.fromHostPort
        msgSpan = Span(0..<raw.count)
    }

    /// Equal when the properties are: the same bytes in each field, wherever they are kept.
    public static func == (a: SyslogMessage, b: SyslogMessage) -> Bool {
        a.raw == b.raw && a.priority == b.priority && a.protocolVersion == b.protocolVersion
            && a.timestamp == b.timestamp && a.receivedAt == b.receivedAt && a.fromHost == b.fromHost
            && a.fromHostIP == b.fromHostIP && a.fromHostPort == b.fromHostPort && a.hostnameField == b.hostnameField
            && a.tagField == b.tagField && a.appNameField == b.appNameField && a.procIDField == b.procIDField
            && a.msgIDField == b.msgIDField && a.structuredDataField == b.structuredDataField && a.msg == b.msg
            && a.inputName == b.inputName && a.variables == b.variables && a.localVariables == b.localVariables
            && a.parseSuccess == b.parseSuccess
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(raw)
        hasher.combine(priority)
        hasher.combine(timestamp)
        hasher.combine(fromHost)
        hasher.combine(tagField)
        hasher.combine(msg)
    }

    /// A legacy message built from text, as a sender composes one.
    public init(
        priority: Priority, timestamp: SyslogTimestamp, hostname: String?, tag: String, msg: String,
        fromHost: String = "localhost"
    ) {
        self.init(
            priority: priority, timestamp: timestamp, hostname: hostname.map { ArraySlice($0.utf8) },
            fromHost: Array(fromHost.utf8), tag: ArraySlice(tag.utf8), msg: ArraySlice(msg.utf8))
    }

    // MARK: rsyslog properties

    /// `%hostname%`: the HOSTNAME field, or `fromhost` when the message had none.
    public var hostname: ArraySlice<UInt8> {
        hostnameField ?? fromHost[...]
    }

    /// `%syslogtag%`. For RFC 5424 rsyslog makes one up: `APP-NAME[PROCID]`, or `APP-NAME` when PROCID is `-`.
    public var syslogTag: ArraySlice<UInt8> {
        if protocolVersion == 1 && tagField.isEmpty {
            guard let app = appNameField else { return [] }
            guard let procID = procIDField, procID != SyslogMessage.nilValue else { return app }
            var tag = Array(app)
            tag.append(0x5B)
            tag.append(contentsOf: procID)
            tag.append(0x5D)
            return tag[...]
        }
        return tagField
    }

    /// `%programname%`: the tag up to the first `:`, `[`, `/` or non-printable byte.
    public var programName: ArraySlice<UInt8> {
        let tag = syslogTag
        var end = tag.startIndex
        while end < tag.endIndex {
            let b = tag[end]
            if b == 0x3A || b == 0x5B || b == 0x2F || b < 0x20 || b > 0x7E { break }
            end += 1
        }
        return tag[tag.startIndex..<end]
    }

    /// `%app-name%`: the RFC 5424 APP-NAME, or the program name for legacy messages.
    public var appName: ArraySlice<UInt8> {
        protocolVersion == 1 ? (appNameField ?? []) : programName
    }

    /// `%procid%`: the RFC 5424 PROCID, or for legacy messages the digits between `[` and `]` in the tag, else `-`.
    public var procID: ArraySlice<UInt8> {
        if protocolVersion == 1 { return procIDField ?? SyslogMessage.nilValue }
        let tag = tagField
        guard let open = tag.firstIndex(of: 0x5B) else { return SyslogMessage.nilValue }
        var end = open + 1
        while end < tag.endIndex && tag[end] >= 0x30 && tag[end] <= 0x39 { end += 1 }
        guard end > open + 1, end < tag.endIndex, tag[end] == 0x5D else { return SyslogMessage.nilValue }
        return tag[(open + 1)..<end]
    }

    /// `%msgid%`: `-` unless an RFC 5424 message gave one.
    public var msgID: ArraySlice<UInt8> { msgIDField ?? SyslogMessage.nilValue }

    /// `%structured-data%`: `-` unless an RFC 5424 message gave some.
    public var structuredData: ArraySlice<UInt8> { structuredDataField ?? SyslogMessage.nilValue }

    /// RFC 5424's NILVALUE.
    public static let nilValue: ArraySlice<UInt8> = [0x2D]

    // MARK: String views (for tests and diagnostics, not for hot paths)

    public var hostnameString: String { String(decoding: hostname, as: UTF8.self) }
    public var syslogTagString: String { String(decoding: syslogTag, as: UTF8.self) }
    public var programNameString: String { String(decoding: programName, as: UTF8.self) }
    public var msgString: String { String(decoding: msg, as: UTF8.self) }
}
