import NIOCore
import Testing

@testable import SyslogProtocol

/// RELP frames as librelp 1.11 writes and reads them (relpframe.c): the bytes of each kind, frames cut anywhere,
/// and every deviation an error.
@Suite("RELP frames")
struct RELPFrameTests {
    @Test func theBytesOfEachKindAreLibrelps() {
        #expect(RELPFrame(txnr: 1, command: "close").encoded() == Array("1 close 0\n".utf8), "no blank without data")
        #expect(RELPFrame(txnr: 0, command: "serverclose").encoded() == Array("0 serverclose 0\n".utf8))
        #expect(RELPFrame.response(7).encoded() == Array("7 rsp 6 200 OK\n".utf8))
        #expect(
            RELPFrame(txnr: 2, command: "syslog", data: Array("<13>Dec  6 app: hi".utf8)).encoded()
                == Array("2 syslog 18 <13>Dec  6 app: hi\n".utf8))
        let open = RELPFrame.response(1, offers: Array("relp_version=0\ncommands=syslog".utf8)).encoded()
        #expect(open == Array("1 rsp 38 200 OK\nrelp_version=0\ncommands=syslog\n\n".utf8))
    }

    @Test func framesCutAnywhereAreReadWhole() throws {
        let frames = [
            RELPFrame(txnr: 1, command: "open", data: RELPFrame.offers),
            RELPFrame(txnr: 2, command: "syslog", data: Array("a message\nwith a line feed inside".utf8)),
            RELPFrame(txnr: 3, command: "close"),
        ]
        let bytes = frames.flatMap { $0.encoded() }
        for cut in 0...bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<cut])
            var got: [RELPFrame] = []
            let decoder = RELPFrameDecoder()
            while let f = try decoder.next(&buffer) { got.append(f) }
            buffer.writeBytes(bytes[cut...])
            while let f = try decoder.next(&buffer) { got.append(f) }
            #expect(got == frames, "cut at \(cut)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test(arguments: [
        "x syslog 1 a\n", "1syslog 1 a\n", "1 syslog a\n", "1 syslog 0 \n", "1 syslog 1 ab\n", "1234567890 syslog 1 a\n",
        "1 " + String(repeating: "a", count: 33) + " 0\n", "1 sys1og 0\n", "1 syslog 1234567890 a\n",
    ])
    func whatIsNotAFrameIsAnError(_ text: String) {
        var buffer = ByteBuffer(string: text)
        #expect(throws: RELPFrameDecoder.DecodeError.self) { try RELPFrameDecoder().next(&buffer) }
    }

    @Test func aFrameLargerThanAllowedIsRefusedBeforeItsDataArrives() {
        var buffer = ByteBuffer(string: "5 syslog 2000000 <13>")
        #expect(throws: RELPFrameDecoder.DecodeError.self) { try RELPFrameDecoder(maxDataSize: 1 << 20).next(&buffer) }
    }

    @Test func responsesAndTransactionNumbers() {
        #expect(RELPFrame.response(3, code: 500, text: "command disabled").responseCode! == (500, "command disabled"))
        #expect(RELPFrame(txnr: 4, command: "rsp").responseCode == nil, "close's answer carries nothing")
        #expect(RELPFrame.next(after: 41) == 42)
        #expect(RELPFrame.next(after: 999_999_999) == 1)
    }
}
