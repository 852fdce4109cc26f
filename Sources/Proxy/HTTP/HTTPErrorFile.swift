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
        var counted = 21 + 8 + 3 + head.reason.count + body.count
        for field in head.fields { counted += field.name.count + field.value.count }
        logged = Int64(counted)
    }

    /// The files a section's `http-request deny … errorfile(s)` rules answer with, read once, by their bytes.
    static func denyFiles(_ rules: [HTTPRequestRule]) -> [[UInt8]: HTTPErrorFile] {
        var files: [[UInt8]: HTTPErrorFile] = [:]
        for rule in rules {
            if case .deny(_, _, let bytes?) = rule.action, files[bytes] == nil { files[bytes] = HTTPErrorFile(bytes) }
        }
        return files
    }

    /// The files of a section's `errorfile` lines (each checked when the configuration was read).
    static func load(_ files: [Int: [UInt8]]) -> [Int: HTTPErrorFile] {
        files.compactMapValues { HTTPErrorFile($0) }
    }
}
