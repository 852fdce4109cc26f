import NIOHTTP1

/// How a server's response goes back to the client, decided once from its head, the request and the options, as
/// HAProxy 2.6 decides it, before a byte is written: the session then follows it. A value type with no I/O,
/// tested like a specification (`ResponsePlanTests`).
struct ResponsePlan: Equatable {
    /// The body is framed as chunks for the client.
    var chunked: Bool
    /// The body ends when the server closes (and so does the client's connection).
    var closeDelimited: Bool
    /// The server said its connection may serve another request.
    var serverKeepAlive: Bool
    /// `Transfer-Encoding` is taken out: an HTTP/1.0 client cannot read chunks, so the body goes as it comes,
    /// ended by the close.
    var dropTransferEncoding: Bool
    /// The client's connection closes after this response.
    var closesClient: Bool
    /// The `connection` header HAProxy writes last: `close` when the client asked for it or the response ends
    /// with the connection, `keep-alive` for an HTTP/1.0 client keeping it, none otherwise. (A client that only
    /// shut its side down is not told.)
    var connectionHeader: String?

    /// Before a response head: nothing to relay.
    static let none = ResponsePlan(
        chunked: false, closeDelimited: false, serverKeepAlive: false, dropTransferEncoding: false, closesClient: false,
        connectionHeader: nil)

    init(
        chunked: Bool, closeDelimited: Bool, serverKeepAlive: Bool, dropTransferEncoding: Bool, closesClient: Bool,
        connectionHeader: String?
    ) {
        self.chunked = chunked
        self.closeDelimited = closeDelimited
        self.serverKeepAlive = serverKeepAlive
        self.dropTransferEncoding = dropTransferEncoding
        self.closesClient = closesClient
        self.connectionHeader = connectionHeader
    }

    /// `clientKeepAlive`: the request keeps its connection (HTTP/1.1 without `close`, HTTP/1.0 with
    /// `keep-alive`); `closesBothSides`: `option httpclose`.
    init(response: HTTPHead, requestVersion: HTTPVersion, clientKeepAlive: Bool, closesBothSides: Bool) {
        chunked = response.framing == .chunked
        closeDelimited = response.framing == .untilClose
        serverKeepAlive =
            !closeDelimited
            && (response.isHTTP11
                ? !response.hasToken("close", in: "connection") : response.hasToken("keep-alive", in: "connection"))
        dropTransferEncoding = false
        if chunked && !requestVersion.atLeast11 {
            chunked = false
            closeDelimited = true
            dropTransferEncoding = true
        }
        closesClient = closeDelimited || !clientKeepAlive || closesBothSides
        if closesClient {
            connectionHeader = "close"
        } else {
            connectionHeader = requestVersion.atLeast11 ? nil : "keep-alive"
        }
    }
}
