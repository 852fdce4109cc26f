import NIOCore
import NIOHTTP1
import Testing

@testable import Proxy

/// How a response goes back to the client, as HAProxy 2.6 sends it (the same cases are seen beside HAProxy in
/// `HTTPVersusHAProxyTests`): the plan is decided from the response head, the request's version and keep-alive,
/// and `option httpclose`.
@Suite("The response plan")
struct ResponsePlanTests {
    func plan(
        _ response: String, request: HTTPVersion = .http1_1, keepAlive: Bool = true, httpclose: Bool = false
    ) throws -> ResponsePlan {
        let buffer = ByteBuffer(string: response)
        let length = try #require(HTTPHead.headLength(in: buffer))
        let head = try HTTPHead.response(buffer.getSlice(at: 0, length: length) ?? buffer, headRequest: false)
        return ResponsePlan(
            response: head, requestVersion: request, clientKeepAlive: keepAlive, closesBothSides: httpclose)
    }

    @Test func aSizedResponseOnKeepAliveKeepsBothConnections() throws {
        let p = try plan("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        #expect(!p.chunked && !p.closeDelimited && !p.dropTransferEncoding)
        #expect(p.serverKeepAlive)
        #expect(!p.closesClient)
        #expect(p.connectionHeader == nil, "HTTP/1.1 keeps the connection without saying so")
    }

    @Test func chunksGoOnAsChunksToAnHTTP11Client() throws {
        let p = try plan("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(p.chunked && !p.closeDelimited && !p.dropTransferEncoding && !p.closesClient)
    }

    @Test func anHTTP10ClientGetsChunksUnframedUntilTheClose() throws {
        let p = try plan("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", request: .http1_0)
        #expect(!p.chunked && p.closeDelimited && p.dropTransferEncoding)
        #expect(p.closesClient)
        #expect(p.connectionHeader == "close")
        #expect(p.serverKeepAlive, "the server's connection is not the client's: it may still be reused")
    }

    @Test func anHTTP10ClientKeepingItsConnectionIsToldSo() throws {
        let p = try plan("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", request: .http1_0)
        #expect(!p.closesClient)
        #expect(p.connectionHeader == "keep-alive")
    }

    @Test func aResponseEndedByTheCloseClosesTheClientToo() throws {
        let p = try plan("HTTP/1.1 200 OK\r\n\r\n")
        #expect(p.closeDelimited && !p.serverKeepAlive && p.closesClient)
        #expect(p.connectionHeader == "close")
    }

    @Test func whatTheServerSaysOfItsConnection() throws {
        #expect(try !plan("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").serverKeepAlive)
        #expect(try !plan("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").serverKeepAlive)
        #expect(try plan("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").serverKeepAlive)
    }

    @Test func aClientAskingToCloseAndHttpcloseCloseTheClient() throws {
        let asked = try plan("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", keepAlive: false)
        #expect(asked.closesClient && asked.connectionHeader == "close")
        let option = try plan("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", httpclose: true)
        #expect(option.closesClient && option.connectionHeader == "close")
        #expect(option.serverKeepAlive, "httpclose's server side is the session's decision, not the plan's")
    }
}
