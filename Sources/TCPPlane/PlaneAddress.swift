import CPlane
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Socket addresses between the kernel's form and NIO's `SocketAddress` (the form the rest of the proxy uses).
enum PlaneAddress {
    /// The address in `storage` (as accept4 or getsockname filled it); nil for a family other than IPv4 and IPv6.
    static func make(_ storage: UnsafeRawPointer) -> SocketAddress? {
        switch Int32(storage.load(as: sa_family_t.self)) {
        case AF_INET: return SocketAddress(storage.load(as: sockaddr_in.self), host: "")
        case AF_INET6: return SocketAddress(storage.load(as: sockaddr_in6.self), host: "")
        default: return nil
        }
    }

    /// Calls `body` with `address` in the kernel's form and its length (a UNIX socket's whole, as HAProxy gives an
    /// abstract one: its name padded with zeros).
    static func with<T>(_ address: SocketAddress, _ body: (UnsafeRawPointer, UInt32) -> T) -> T? {
        switch address {
        case .v4(let a):
            var raw = a.address
            return withUnsafeBytes(of: &raw) { r in r.baseAddress.map { body($0, UInt32(MemoryLayout<sockaddr_in>.size)) } }
        case .v6(let a):
            var raw = a.address
            return withUnsafeBytes(of: &raw) { r in r.baseAddress.map { body($0, UInt32(MemoryLayout<sockaddr_in6>.size)) } }
        case .unixDomainSocket:
            return address.withSockAddr { pointer, length in body(UnsafeRawPointer(pointer), UInt32(length)) }
        }
    }

    /// A socket's own address (`peer` false) or its peer's.
    static func of(_ fd: Int32, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutableBytes(of: &storage) { raw -> SocketAddress? in
            guard let base = raw.baseAddress, plane_address(fd, peer ? 1 : 0, base, &length) == 0 else { return nil }
            return make(base)
        }
    }
}
