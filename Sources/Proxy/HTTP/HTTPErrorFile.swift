import NIOCore

/// An `errorfile`'s response, read once with the configuration: its head parsed as a server's would be, and its
/// body. HAProxy 2.6 sends it through its HTTP layer as a server's response (lower-case names, the version and
/// status line as written, the client's connection kept when the response allows it), and logs as `%B` the size
/// it counts for it: its status line and every field as stored, and the body.
struct HTTPErrorFile {
    let head: HTTPHead
    let body: [UInt8]
    let logged: Int64

    init?(_ bytes: [UInt8]) {
        let buffer = ByteBuffer(bytes: bytes)
        guard let length = HTTPHead.headLength(in: buffer), let slice = buffer.getSlice(at: 0, length: length),
            let head = try? HTTPHead.response(slice, headRequest: false)
        else { return nil }
        self.head = head
        body = Array(bytes[length...])
        logged = head.storedSize + Int64(body.count)
    }

    /// The files a section's `deny` and `return` rules answer with (`errorfile FILE`, `errorfiles NAME`), read
    /// once, by their bytes.
    static func replyFiles(_ rules: HTTPRules) -> [[UInt8]: HTTPErrorFile] {
        var files: [[UInt8]: HTTPErrorFile] = [:]
        func add(_ reply: ReturnReply) {
            if case .response(let bytes) = reply.payload, files[bytes] == nil { files[bytes] = HTTPErrorFile(bytes) }
        }
        for rule in rules.requestRules {
            if case .deny(let reply) = rule.action { add(reply) }
            if case .returnReply(let reply) = rule.action { add(reply) }
        }
        for rule in rules.responseRules {
            if case .deny(let reply) = rule.action { add(reply) }
            if case .returnReply(let reply) = rule.action { add(reply) }
        }
        return files
    }

    /// The files of a section's `errorfile` lines (each checked when the configuration was read).
    static func load(_ files: [Int: [UInt8]]) -> [Int: HTTPErrorFile] {
        files.compactMapValues { HTTPErrorFile($0) }
    }
}
