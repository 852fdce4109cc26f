import NIOCore

/// One RELP frame (the Reliable Event Logging Protocol as librelp 1.11 speaks it): `TXNR SP COMMAND SP DATALEN
/// [SP DATA] LF`. TXNR is 1 to 9 digits (0 for the server's `serverclose`), COMMAND 1 to 32 letters, DATALEN 1 to 9
/// digits; with DATALEN 0 there is no SP and no data.
public struct RELPFrame: Hashable, Sendable {
    public var txnr: Int
    public var command: String
    public var data: [UInt8]

    public init(txnr: Int, command: String, data: [UInt8] = []) {
        self.txnr = txnr
        self.command = command
        self.data = data
    }

    /// The next transaction number after `txnr`: 1 to 999,999,999, then 1 again (the protocol's rule).
    public static func next(after txnr: Int) -> Int { txnr >= 999_999_999 ? 1 : txnr + 1 }

    /// The frame's bytes on the wire.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    public func append(to out: inout [UInt8]) {
        out.append(contentsOf: String(txnr).utf8)
        out.append(0x20)
        out.append(contentsOf: command.utf8)
        out.append(0x20)
        out.append(contentsOf: String(data.count).utf8)
        if !data.isEmpty {
            out.append(0x20)
            out.append(contentsOf: data)
        }
        out.append(0x0A)
    }

    /// librelp's offers (`open`'s data): `relp_version=0`, the software, the commands, one per line.
    public static let offers: [UInt8] = Array(
        "relp_version=0\nrelp_software=tollgate,0.1.0,https://github.com/tollgate\ncommands=syslog".utf8)

    /// A response (`rsp`): a three-digit code, SP, the text, and for `open` the offers after a LF.
    public static func response(_ txnr: Int, code: Int = 200, text: String = "OK", offers: [UInt8]? = nil)
        -> RELPFrame
    {
        var data = Array("\(code) \(text)".utf8)
        if let offers {
            data.append(0x0A)
            data.append(contentsOf: offers)
            data.append(0x0A)
        }
        return RELPFrame(txnr: txnr, command: "rsp", data: data)
    }

    /// A response's code (`200`) and text, or nil when the data does not begin with three digits and a blank.
    public var responseCode: (code: Int, text: String)? {
        guard data.count >= 3, data[0...2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            data.count == 3 || data[3] == 0x20
        else { return nil }
        let code = data[0...2].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        let rest = data.count > 4 ? data[4...] : []
        let text = String(decoding: rest.prefix { $0 != 0x0A }, as: UTF8.self)
        return (code, text)
    }
}

/// Reads RELP frames from a byte stream, as librelp's relpFrameProcessOctetRcvd does: any deviation from the syntax
/// is an error (librelp then drops the session). `maxDataSize` bounds what is held for one frame.
public struct RELPFrameDecoder: Sendable {
    public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
        case invalidFrame(String)
        public var description: String {
            switch self {
            case .invalidFrame(let why): return "invalid RELP frame: \(why)"
            }
        }
    }

    /// Frames whose data is larger are refused (a peer announcing gigabytes is not waited for).
    public var maxDataSize: Int

    public init(maxDataSize: Int = 128 * 1024 * 1024) {
        self.maxDataSize = maxDataSize
    }

    /// The next whole frame at the front of `buffer` (consumed), nil when more bytes are needed.
    public func next(_ buffer: inout ByteBuffer) throws(DecodeError) -> RELPFrame? {
        let view = buffer.readableBytesView
        var i = view.startIndex
        func number(_ what: String, maxDigits: Int) throws(DecodeError) -> Int? {
            var value = 0
            var digits = 0
            while i < view.endIndex, view[i] >= 0x30, view[i] <= 0x39 {
                value = value * 10 + Int(view[i] - 0x30)
                digits += 1
                i += 1
                if digits > maxDigits { throw .invalidFrame("\(what) longer than \(maxDigits) digits") }
            }
            if i == view.endIndex { return nil }
            if digits == 0 { throw .invalidFrame("\(what) is not a number") }
            return value
        }
        guard let txnr = try number("TXNR", maxDigits: 9) else { return nil }
        guard view[i] == 0x20 else { throw .invalidFrame("no blank after TXNR") }
        i += 1
        let commandStart = i
        while i < view.endIndex, (view[i] | 0x20) >= 0x61, (view[i] | 0x20) <= 0x7A {
            i += 1
            if i - commandStart > 32 { throw .invalidFrame("command longer than 32 letters") }
        }
        if i == view.endIndex { return nil }
        guard i > commandStart, view[i] == 0x20 else { throw .invalidFrame("no command") }
        let command = String(decoding: view[commandStart..<i], as: UTF8.self)
        i += 1
        guard let length = try number("DATALEN", maxDigits: 9) else { return nil }
        guard length <= maxDataSize else { throw .invalidFrame("DATALEN \(length) over \(maxDataSize)") }
        var data: [UInt8] = []
        if length > 0 {
            guard view[i] == 0x20 else { throw .invalidFrame("no blank after DATALEN") }
            guard view.endIndex - i >= length + 2 else { return nil }
            data = Array(view[(i + 1)..<(i + 1 + length)])
            i += 1 + length
        }
        guard i < view.endIndex else { return nil }
        guard view[i] == 0x0A else { throw .invalidFrame("no LF after the data") }
        buffer.moveReaderIndex(forwardBy: i + 1 - view.startIndex)
        return RELPFrame(txnr: txnr, command: command, data: data)
    }
}
