import LogCore
import PropertyBased
import Testing

@testable import HAProxyLog

/// `parse(format(r)) == r` over generated records: the contract between the proxy (formatter) and logquery
/// (parser).
@Suite("Round trip: format then parse")
struct HAProxyRoundTripPropertyTests {
    static let name = Gen.letterOrNumber.string(of: 1...16).map { $0.replacingSome() }
    static let printable = Gen.character(in: " "..."~")
    /// Any text a capture or request line may hold, control and non-ASCII characters included.
    static let anyText = Gen.oneOf(
        Self.printable.string(of: 0...40).eraseToAnySequence(),
        Gen.unicodeScalar(in: "\u{01}"..."\u{2FF}").map { Character($0) }.string(of: 0...10).eraseToAnySequence()
    )
    static let timer = Gen.int(in: -20_000...100_000).map { $0 < 0 ? -1 : $0 }
    static let ip = Gen.oneOf(
        zip(Gen.int(in: 0...255), Gen.int(in: 0...255), Gen.int(in: 0...255), Gen.int(in: 0...255))
            .map { "\($0).\($1).\($2).\($3)" }.eraseToAnySequence(),
        Gen.element(of: ["::1", "2001:db8::1", "fe80::1:2", "unix"]).map { $0 ?? "::1" }.eraseToAnySequence()
    )
    static let date = zip(
        Gen.int(in: 1970...2099), Gen.int(in: 1...12), Gen.int(in: 1...28), Gen.int(in: 0...23), Gen.int(in: 0...59),
        Gen.int(in: 0...59), Gen.int(in: 0...999)
    ).map { CivilTime(year: $0, month: $1, day: $2, hour: $3, minute: $4, second: $5, microsecond: $6 * 1000) }
    static let termination = zip(
        Gen.element(of: Array("-LcCsSPRIDKU".utf8)), Gen.element(of: Array("-RCHDLQT".utf8)),
        Gen.element(of: Array("-NIDVEOU".utf8)), Gen.element(of: Array("-NIUPRD".utf8))
    ).map { TerminationState(cause: $0 ?? 0x2D, phase: $1 ?? 0x2D, clientCookie: $2 ?? 0x2D, serverCookie: $3 ?? 0x2D) }
    static let counters = Gen.int(in: 0...100_000).array(of: 7)

    static let common = zip(Self.ip, Gen.int(in: 0...65535), Self.date, Self.name, Gen.bool, Self.name, Self.name)
    static let timers = Self.timer.array(of: 5)

    static func record(
        _ mode: HAProxyLogRecord.Mode, _ common: (String, Int, CivilTime, String, Bool, String, String),
        _ t: [Int], _ counters: [Int], _ termination: TerminationState, _ flags: (Bool, Bool), _ bytes: Int64
    ) -> HAProxyLogRecord {
        HAProxyLogRecord(
            mode: mode, clientIP: common.0, clientPort: common.1, date: common.2, frontend: common.3,
            frontendTLS: common.4, backend: common.5, server: common.6,
            requestTime: mode == .http ? t[0] : -1, queueTime: t[1], connectTime: t[2],
            responseTime: mode == .http ? t[3] : -1, totalTime: max(t[4], 0), logASAP: flags.0,
            status: -1, bytesRead: bytes,
            terminationState: mode == .http
                ? termination : TerminationState(cause: termination.cause, phase: termination.phase),
            activeConnections: counters[0], frontendConnections: counters[1], backendConnections: counters[2],
            serverConnections: counters[3], retries: counters[4] % 10, redispatched: flags.1,
            serverQueue: counters[5], backendQueue: counters[6])
    }

    @Test func decimalsAsPrintfWritesThem() async {
        for edge in [0, 9, 10, 99, 100, 999, 1000, 9999, 10000, Int.max, Int.min, -1, -10] as [Int] {
            var out: [UInt8] = []
            out.appendDecimal(edge)
            #expect(String(decoding: out, as: UTF8.self) == String(edge))
        }
        var widest: [UInt8] = Array("x".utf8)
        widest.appendDecimal(UInt64.max)
        #expect(String(decoding: widest, as: UTF8.self) == "x\(UInt64.max)", "appended after what is there")
        await propertyCheck(count: 2000, input: Gen.int(in: Int.min...Int.max), Gen.int(in: 0...12)) { value, width in
            var out: [UInt8] = []
            out.appendDecimal(value)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
            var padded: [UInt8] = []
            padded.appendDecimal(value / 1000, width: width)
            let expected =
                value / 1000 < 0
                ? "-" + String(-(value / 1000)).leftPadded(width) : String(value / 1000).leftPadded(width)
            #expect(String(decoding: padded, as: UTF8.self) == expected)
        }
        // The short numbers every log line has (one to four digits take their own path), padded beyond 20 too.
        await propertyCheck(count: 2000, input: Gen.int(in: -99_999...99_999), Gen.int(in: 0...24)) { value, width in
            var padded: [UInt8] = Array("x".utf8)
            padded.appendDecimal(value, width: width)
            let magnitude = String(value.magnitude).leftPadded(width)
            #expect(String(decoding: padded, as: UTF8.self) == "x" + (value < 0 ? "-" : "") + magnitude)
        }
    }

    @Test func tcplog() async {
        await propertyCheck(
            count: 500,
            input: Self.common, Self.timers, Self.counters, Self.termination, zip(Gen.bool, Gen.bool),
            Gen.int64(in: 0...Int64.max / 2)
        ) { common, timers, counters, termination, flags, bytes in
            let r = Self.record(.tcp, common, timers, counters, termination, flags, bytes)
            let line = HAProxyLogFormat.tcplog.formatString(r)
            #expect(HAProxyLogParser.record(line) == r, "\(line)")
        }
    }

    @Test func httplog() async {
        await propertyCheck(
            count: 500,
            input: Self.common, Self.timers, Self.counters, Self.termination, zip(Gen.bool, Gen.bool),
            zip(Gen.int(in: -1...599), Gen.int64(in: 0...Int64.max / 2), Self.anyText, Self.anyText, Self.anyText),
            zip(Self.anyText.array(of: 0...3).optional, Self.anyText.array(of: 1...3).optional)
        ) { common, timers, counters, termination, flags, http, captures in
            var r = Self.record(.http, common, timers, counters, termination, flags, http.1)
            r.status = http.0
            r.requestLine = http.2
            // HAProxy's cookie parser stops at spaces, so a captured cookie never holds one.
            r.requestCookie = http.3.isEmpty ? "" : "c=" + http.3.filter { $0 != " " }
            r.responseCookie = http.4.isEmpty ? "" : "s=" + http.4.filter { $0 != " " }
            // A single capture block reads back as request captures: generate what a line can tell apart.
            r.requestHeaders = captures.0.map { $0.isEmpty ? [""] : $0 }
            r.responseHeaders = r.requestHeaders == nil ? nil : captures.1
            let line = HAProxyLogFormat.httplog.formatString(r)
            #expect(HAProxyLogParser.record(line) == r, "\(line)")

            var clf = r
            clf.requestHeaders = (r.requestHeaders ?? []) + (r.responseHeaders ?? [])
            if clf.requestHeaders == [] { clf.requestHeaders = nil }
            clf.responseHeaders = nil
            let clfLine = HAProxyLogFormat.clf.formatString(clf)
            #expect(HAProxyLogParser.record(clfLine) == clf, "\(clfLine)")
        }
    }

    @Test func arbitraryBytesNeverTrap() async {
        await propertyCheck(count: 3000, input: Gen.uint8(in: 0...255).array(of: 0...300)) { bytes in
            bytes.withUnsafeBufferPointer { buffer in
                switch HAProxyLogParser.parse(buffer) {
                case .traffic(let line): _ = line.record(in: buffer)
                case .event(let line): _ = line.event(in: buffer)
                case .other, .malformed: break
                }
            }
        }
    }

    @Test func mutatedLinesNeverTrap() async {
        let seeds = capturedTrafficDatagrams + capturedEventDatagrams
        await propertyCheck(
            count: 3000, input: Gen.int(in: 0...(seeds.count - 1)), Gen.int(in: 0...400), Gen.uint8(in: 0...255),
            Gen.int(in: 0...400)
        ) { which, position, byte, cut in
            var bytes = Array(seeds[which].utf8)
            if position < bytes.count { bytes[position] = byte }
            bytes = Array(bytes.prefix(cut))
            bytes.withUnsafeBufferPointer { buffer in
                if case .traffic(let line) = HAProxyLogParser.parse(buffer) { _ = line.record(in: buffer) }
            }
        }
    }
}

extension String {
    /// Puts `-`, `_` and `.` (common in proxy and server names) into generated names.
    fileprivate func replacingSome() -> String {
        String(
            map { c -> Character in
                switch c {
                case "1": "-"
                case "2": "_"
                case "3": "."
                default: c
                }
            })
    }
}

extension String {
    /// Zero-padded to `width` characters, as printf's `%0Nd` pads a magnitude.
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
