/// DNS messages as a `resolvers` section sends and reads them (RFC 1035, SRV from RFC 2782, the EDNS0 OPT record
/// from RFC 6891): one question out, its answers in. Value types, no I/O; every length in a response is checked
/// against the bytes there (a malformed answer is `nil`, never a crash).
public enum DNSMessage {
    /// The record types a resolution asks for or reads.
    public enum RecordType: UInt16, Hashable, Sendable {
        case a = 1
        case cname = 5
        case aaaa = 28
        case srv = 33
        case opt = 41
    }

    /// One question: `name` (dotted, without the root's dot), of type `type`, class IN; with an OPT record
    /// announcing `payloadSize` when it is above 512 (HAProxy's `accepted_payload_size`).
    public static func query(id: UInt16, name: String, type: RecordType, payloadSize: Int) -> [UInt8]? {
        guard let encoded = encode(name: name) else { return nil }
        let edns = payloadSize > 512
        var out: [UInt8] = []
        out.reserveCapacity(12 + encoded.count + 4 + (edns ? 11 : 0))
        append16(&out, id)
        append16(&out, 0x0100)  // a query, recursion desired
        append16(&out, 1)  // one question
        append16(&out, 0)
        append16(&out, 0)
        append16(&out, edns ? 1 : 0)
        out += encoded
        append16(&out, type.rawValue)
        append16(&out, 1)  // IN
        if edns {
            out.append(0)  // the root
            append16(&out, RecordType.opt.rawValue)
            append16(&out, UInt16(clamping: payloadSize))
            out += [0, 0, 0, 0, 0, 0]  // extended RCODE and flags, no options
        }
        return out
    }

    /// `name` as labels (nil: a label of more than 63 bytes, an empty label, or more than 255 bytes in all).
    static func encode(name: String) -> [UInt8]? {
        var out: [UInt8] = []
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty else { return [0] }
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63 else { return nil }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        return out.count <= 255 ? out : nil
    }

    private static func append16(_ out: inout [UInt8], _ value: UInt16) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xFF))
    }

    /// A record's data, for the types a resolution uses.
    public enum RecordData: Hashable, Sendable {
        /// An IPv4 address (4 bytes) or IPv6 address (16 bytes), in network order.
        case address([UInt8])
        case cname(String)
        case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
        /// A type this reading leaves alone.
        case other(UInt16)
    }

    public struct Record: Hashable, Sendable {
        /// The owner name, lower-cased, without the root's dot.
        public var name: String
        public var ttl: UInt32
        public var data: RecordData
    }

    /// A response as far as a resolution needs it.
    public struct Response: Hashable, Sendable {
        public var id: UInt16
        /// RCODE: 0 no error, 2 server failure, 3 no such name, 5 refused.
        public var rcode: UInt8
        /// Truncated (TC): the answer did not fit.
        public var truncated: Bool
        /// The question's name (lower-cased) and type.
        public var questionName: String
        public var questionType: UInt16
        public var answers: [Record]
        /// The additional section (the addresses of SRV targets, when the server gives them).
        public var additional: [Record]
    }

    /// Reads a response (nil: not a response, no question, or a length or pointer that leads outside the bytes).
    public static func parse(_ bytes: [UInt8]) -> Response? {
        var reader = Reader(bytes: bytes)
        guard let id = reader.u16(), let flags = reader.u16(), let qd = reader.u16(), let an = reader.u16(),
            let ns = reader.u16(), let ar = reader.u16(), flags & 0x8000 != 0, qd == 1
        else { return nil }
        guard let qname = reader.name(), let qtype = reader.u16(), reader.u16() != nil else { return nil }
        var answers: [Record] = []
        for _ in 0..<an {
            guard let record = reader.record() else { return nil }
            answers.append(record)
        }
        for _ in 0..<ns {
            guard reader.record() != nil else { return nil }
        }
        var additional: [Record] = []
        for _ in 0..<ar {
            // A response cut short in its additional section still has its answers (HAProxy reads what it can).
            guard let record = reader.record() else { break }
            additional.append(record)
        }
        return Response(
            id: id, rcode: UInt8(flags & 0x000F), truncated: flags & 0x0200 != 0, questionName: qname,
            questionType: qtype, answers: answers, additional: additional)
    }

    struct Reader {
        let bytes: [UInt8]
        var at = 0

        mutating func u8() -> UInt8? {
            guard at < bytes.count else { return nil }
            defer { at += 1 }
            return bytes[at]
        }

        mutating func u16() -> UInt16? {
            guard at + 2 <= bytes.count else { return nil }
            defer { at += 2 }
            return UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
        }

        mutating func u32() -> UInt32? {
            guard let high = u16(), let low = u16() else { return nil }
            return UInt32(high) << 16 | UInt32(low)
        }

        /// A name at the cursor, following compression pointers (backwards only, so a loop cannot form).
        mutating func name() -> String? {
            var labels: [String] = []
            var cursor = at
            var jumped = false
            var length = 0
            while true {
                guard cursor < bytes.count else { return nil }
                let byte = bytes[cursor]
                if byte & 0xC0 == 0xC0 {
                    guard cursor + 1 < bytes.count else { return nil }
                    let target = Int(byte & 0x3F) << 8 | Int(bytes[cursor + 1])
                    guard target < cursor else { return nil }
                    if !jumped { at = cursor + 2 }
                    jumped = true
                    cursor = target
                    continue
                }
                guard byte & 0xC0 == 0 else { return nil }
                if byte == 0 {
                    if !jumped { at = cursor + 1 }
                    return labels.joined(separator: ".")
                }
                let count = Int(byte)
                guard cursor + 1 + count <= bytes.count else { return nil }
                length += count + 1
                guard length <= 255 else { return nil }
                labels.append(String(decoding: bytes[(cursor + 1)..<(cursor + 1 + count)], as: UTF8.self).lowercased())
                cursor += 1 + count
            }
        }

        mutating func record() -> Record? {
            guard let owner = name(), let type = u16(), u16() != nil, let ttl = u32(), let length = u16() else {
                return nil
            }
            let end = at + Int(length)
            guard end <= bytes.count else { return nil }
            var data = RecordData.other(type)
            switch RecordType(rawValue: type) {
            case .a where length == 4, .aaaa where length == 16:
                data = .address(Array(bytes[at..<end]))
            case .cname:
                guard let target = name(), at <= end else { return nil }
                data = .cname(target)
            case .srv:
                guard let priority = u16(), let weight = u16(), let port = u16(), let target = name(), at <= end else {
                    return nil
                }
                data = .srv(priority: priority, weight: weight, port: port, target: target)
            case .a, .aaaa:
                return nil
            default:
                break
            }
            at = end
            return Record(name: owner, ttl: ttl, data: data)
        }
    }
}
