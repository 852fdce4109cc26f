import CDatagrams

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy's seamless reload: the listening sockets pass from the running process to the new one over the stats
/// socket (`stats socket … expose-fd listeners`, the new process started with `-x PATH`), so no connection waiting
/// in a listener's queue is lost. HAProxy 2.6's `_getsocks` exchange: the count (a native 32-bit integer), then the
/// descriptors (SCM_RIGHTS, at most 253 a message, an acknowledgement after each full message), each with its
/// namespace and interface names (length-prefixed, empty here) and four zero bytes. The descriptor plumbing is in
/// CDatagrams (`tollgate_send_fds`, `tollgate_recv_fds`); this layer keeps the framing.
enum ListenerHandoff {
    static let perMessage = 253

    /// One inherited listening socket and the address it is bound to.
    struct Inherited: Equatable, Sendable {
        var ip: String
        var port: Int
        var descriptor: Int32
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A UNIX socket's address for `path`.
    static func unixAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "the socket path '\(path)' is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        return address
    }

    /// A listening UNIX stream socket bound at `path` (which must not exist), or -1 with errno set.
    static func unixListener(_ path: String, backlog: Int32 = 10) throws -> Int32 {
        var address = try unixAddress(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: reason)
        }
        return fd
    }

    /// A listening UNIX stream socket at `path`, made in one step for whoever connects there: bound under a
    /// temporary name, given its mode and owner, then renamed over the path (a reload replaces the old process's
    /// socket at once). The descriptor and the file's inode (to remove it later only if it is still this one).
    static func placeUnixListener(at path: String, ownership: UnixBind, backlog: Int32 = 10) throws -> (Int32, ino_t) {
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        let fd = try unixListener(temporary, backlog: backlog)
        func fail(_ reason: String) throws -> Never {
            close(fd)
            unlink(temporary)
            throw Failure(description: reason)
        }
        if let mode = ownership.mode, chmod(temporary, mode_t(mode)) != 0 {
            try fail("cannot set mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
        }
        if ownership.uid != nil || ownership.gid != nil,
            chown(temporary, ownership.uid ?? UInt32.max, ownership.gid ?? UInt32.max) != 0
        {
            try fail("cannot change its owner: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else { try fail(String(cString: strerror(errno))) }
        var status = stat()
        return (fd, stat(path, &status) == 0 ? status.st_ino : 0)
    }

    /// What an inherited listening socket on a local socket is matched by (`Inherited.ip`, port 0).
    static func inheritedName(_ local: LocalSocket) -> String {
        switch local {
        case .path(let path): "unix@" + path
        case .abstract(let name): "abns@" + name
        }
    }

    /// The local socket `fd` listens on, as `inheritedName` writes it; nil for another family.
    static func localName(of fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let got = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard got == 0 else { return nil }
        return localName(address, length: Int(length))
    }

    /// A UNIX socket address as `inheritedName` writes it; nil for another family or an unnamed socket.
    static func localName(_ address: sockaddr_un, length: Int) -> String? {
        guard address.sun_family == sa_family_t(AF_UNIX) else { return nil }
        var raw = address.sun_path
        let bytes = withUnsafeBytes(of: &raw) { Array($0.prefix(max(0, length - 2))) }
        guard let first = bytes.first else { return nil }
        if first == 0 {
            // An abstract name, padded with zeros to the whole address (HAProxy's and this build's).
            let name = bytes.dropFirst().prefix { $0 != 0 }
            return "abns@" + String(decoding: name, as: UTF8.self)
        }
        var path = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        // A file made by `placeUnixListener` was bound under its temporary name (`PATH.PID.tmp`): its path is PATH.
        if path.hasSuffix(".tmp"), let dot = path.dropLast(4).lastIndex(of: "."),
            path[path.index(after: dot)..<path.index(path.endIndex, offsetBy: -4)].allSatisfy(\.isNumber)
        {
            path = String(path[..<dot])
        }
        return "unix@" + path
    }

    /// Sends `descriptors` on the connected UNIX socket `sock` (the old process's side). One message at most: more
    /// listeners than 253 would need the acknowledgements on a socket the event loop owns.
    static func send(_ descriptors: [Int32], on sock: Int32) -> Bool {
        guard descriptors.count <= perMessage else { return false }
        var count = Int32(descriptors.count)
        let sent = withUnsafeBytes(of: &count) { Glibc.send(sock, $0.baseAddress, 4, Int32(MSG_NOSIGNAL)) }
        guard sent == 4 else { return false }
        guard !descriptors.isEmpty else { return true }
        let payload = [UInt8](repeating: 0, count: 6 * descriptors.count)
        let written = descriptors.withUnsafeBufferPointer { fds in
            payload.withUnsafeBytes { tollgate_send_fds(sock, fds.baseAddress, Int32(fds.count), $0.baseAddress, UInt(payload.count)) }
        }
        return written == payload.count
    }

    /// The new process's side: asks the process behind the UNIX socket `path` for its listening sockets.
    static func fetch(from path: String, timeoutSeconds: Int = 5) throws -> [Inherited] {
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard sock >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(sock) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = try unixAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            throw Failure(description: "cannot connect to '\(path)': \(String(cString: strerror(errno)))")
        }
        let request = Array("_getsocks\n".utf8)
        guard write(sock, request, request.count) == request.count else {
            throw Failure(description: "cannot write to '\(path)'")
        }
        var count: Int32 = 0
        let got = withUnsafeMutableBytes(of: &count) { recv(sock, $0.baseAddress, 4, Int32(MSG_WAITALL)) }
        guard got == 4, count >= 0 else {
            throw Failure(description: "'\(path)' sent no listening socket (is 'expose-fd listeners' on it?)")
        }
        var descriptors: [Int32] = []
        var data = [UInt8](repeating: 0, count: perMessage * (1 + 255 + 1 + 16 + 4))
        while descriptors.count < Int(count) {
            var batch = [Int32](repeating: -1, count: perMessage)
            var received: Int32 = 0
            let read = data.withUnsafeMutableBytes { buffer in
                tollgate_recv_fds(sock, &batch, Int32(perMessage), &received, buffer.baseAddress, UInt(buffer.count))
            }
            guard read > 0 else {
                for fd in descriptors { close(fd) }
                throw Failure(description: "'\(path)' stopped sending listening sockets")
            }
            descriptors += batch.prefix(Int(received))
            if received == Int32(perMessage) && descriptors.count < Int(count) {
                var ack = count
                _ = withUnsafeBytes(of: &ack) { Glibc.send(sock, $0.baseAddress, 4, Int32(MSG_NOSIGNAL)) }
            }
        }
        return descriptors.compactMap { fd in
            if let local = localName(of: fd) { return Inherited(ip: local, port: 0, descriptor: fd) }
            var ip = [CChar](repeating: 0, count: 64)
            var port: Int32 = 0
            guard tollgate_socket_name(fd, &ip, UInt(ip.count), &port) == 0 else {
                close(fd)
                return nil
            }
            let text = String(decoding: ip.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return Inherited(ip: text, port: Int(port), descriptor: fd)
        }
    }
}
