import LogCore
import NIOCore
import PropertyBased
import Testing

@testable import SyslogProtocol

/// format → parse gives back what was formatted, for every message a sender can express.
@Suite("Round trip: render then parse")
struct RoundTripPropertyTests {
    static let hostChars = Gen.character(in: "a"..."z")
    static let printable = Gen.character(in: " "..."~")

    /// A hostname rsyslog recognises: [A-Za-z0-9._-], ending in a letter or digit.
    static let hostname = zip(
        Gen.letterOrNumber.string(of: 0...20).map { $0.replacingDigitsWithDashesSometimes() },
        Gen.letterOrNumber
    ).map { $0 + String($1) }

    /// A program name without the bytes that end one (`:`, `[`, `/`, space) and at most 20 characters.
    static let program = Gen.letterOrNumber.string(of: 1...20)

    static let timestamp = zip(
        Gen.int(in: 1970...2099), Gen.int(in: 1...12), Gen.int(in: 1...28), Gen.int(in: 0...23),
        Gen.int(in: 0...59), Gen.int(in: 0...59), Gen.int(in: 0...6), Gen.int(in: -14 * 60...14 * 60)
    ).map { year, month, day, hour, minute, second, digits, offset in
        var fraction = 0
        for _ in 0..<digits { fraction = fraction * 10 + 7 }
        let magnitude = abs(offset)
        return SyslogTimestamp(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction,
            fractionDigits: digits, offsetSign: offset < 0 ? .minus : .plus, offsetHours: magnitude / 60,
            offsetMinutes: magnitude % 60)
    }

    static let priority = zip(Gen.int(in: 0...23), Gen.int(in: 0...7)).map { f, s in
        Priority(facility: Facility.allOnWire[f], severity: Severity(rawValue: UInt8(s)) ?? .debug)
    }

    @Test func forwardFormatRoundTrip() async {
        await propertyCheck(
            count: 300,
            input: Self.priority, Self.timestamp, Self.hostname, Self.program, Gen.int(in: -1...99999),
            Self.printable.string(of: 0...200)
        ) { priority, timestamp, host, program, pid, body in
            let tag = pid < 0 ? "\(program):" : "\(program)[\(pid)]:"
            let sent = SyslogMessage(
                priority: priority, timestamp: timestamp, hostname: host, tag: tag, msg: " " + body)
            let wire = SyslogTemplate.forwardFormat.render(sent)
            let got = SyslogParser.parse(wire, reception: SyslogReception(fromHost: "elsewhere"))
            #expect(got.priority == priority)
            #expect(got.timestamp == timestamp)
            #expect(got.hostnameString == host)
            #expect(got.syslogTagString == tag)
            #expect(got.programNameString == program)
            #expect(got.msgString == " " + body)
            // And the file line is the same whether written from the sent or the received message.
            #expect(SyslogTemplate.fileFormat.render(got) == SyslogTemplate.fileFormat.render(sent))
        }
    }

    @Test func traditionalForwardRoundTrip() async {
        await propertyCheck(
            count: 300, input: Self.priority, Self.timestamp, Self.hostname, Self.program,
            Self.printable.string(of: 0...200)
        ) { priority, timestamp, host, program, body in
            var stamp = timestamp
            stamp.fractionDigits = 0
            stamp.fraction = 0
            let sent = SyslogMessage(
                priority: priority, timestamp: stamp, hostname: host, tag: program + ":", msg: " " + body)
            let wire = SyslogTemplate.traditionalForwardFormat.render(sent)
            // The year and zone of a BSD stamp come from the receiver.
            let got = SyslogParser.parse(wire, reception: SyslogReception(receivedAt: stamp, fromHost: "x"))
            #expect(got.timestamp.rfc3164 == stamp.rfc3164)
            #expect(got.hostnameString == host)
            #expect(got.syslogTagString == program + ":")
            #expect(got.msgString == " " + body)
            #expect(
                SyslogTemplate.traditionalFileFormat.render(got) == SyslogTemplate.traditionalFileFormat.render(sent))
        }
    }

    @Test func protocol23RoundTrip() async {
        await propertyCheck(
            count: 300, input: Self.priority, Self.timestamp, Self.hostname, Self.program, Gen.int(in: 1...99999),
            Self.printable.string(of: 0...200)
        ) { priority, timestamp, host, program, pid, body in
            let sent = SyslogMessage(
                priority: priority, timestamp: timestamp, hostname: host, tag: "\(program)[\(pid)]:", msg: " " + body)
            let wire = SyslogTemplate.syslogProtocol23Format.render(sent)
            let got = SyslogParser.parse(wire, reception: SyslogReception(fromHost: "x"))
            #expect(got.protocolVersion == 1)
            #expect(got.timestamp == timestamp)
            #expect(got.hostnameString == host)
            #expect(text(got.appName) == program)
            #expect(text(got.procID) == "\(pid)")
            #expect(got.syslogTagString == "\(program)[\(pid)]")
            #expect(got.msgString == " " + body)
            #expect(SyslogTemplate.syslogProtocol23Format.render(got) == wire)
        }
    }

    @Test func arbitraryBytesNeverTrap() async {
        await propertyCheck(count: 2000, input: Gen.uint8(in: 0...255).array(of: 0...64)) { bytes in
            let m = SyslogParser.parse(bytes, reception: SyslogReception(fromHost: "x"))
            for template in SyslogTemplate.allCases { _ = template.render(m) }
            var decoder = SyslogFrameDecoder()
            var buffer = ByteBufferLike.make(bytes)
            while decoder.nextFrame(&buffer, atEnd: true) != nil {}
        }
    }
}

enum ByteBufferLike {
    static func make(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
}

extension String {
    /// Puts some `.`, `-` and `_` inside generated hostnames (never at the end).
    fileprivate func replacingDigitsWithDashesSometimes() -> String {
        String(
            map { c -> Character in
                switch c {
                case "1": "-"
                case "2": "."
                case "3": "_"
                default: c
                }
            })
    }
}
