import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// HAProxy's `silent-drop` on a client's socket, before it is closed: the client is acknowledged what it sent
/// (TCP_QUICKACK, so it does not retransmit into a reset), then the socket is put in repair mode (TCP_REPAIR: its
/// close sends nothing at all; needs CAP_NET_ADMIN). Without that, the reset the close sends is given a TTL of 1
/// (it dies at the first router: only clients on the same network see it) and lingering is turned off.
enum SilentDrop {
    static func silence(_ channel: any Channel) {
        guard let options = channel.syncOptions else { return }
        let tcp = SocketOptionLevel(IPPROTO_TCP)
        _ = try? options.setOption(.socket(tcp, SocketOptionName(12 /* TCP_QUICKACK */)), value: 1)
        if (try? options.setOption(.socket(tcp, SocketOptionName(19 /* TCP_REPAIR */)), value: 1)) != nil { return }
        switch channel.remoteAddress {
        case .v4?: _ = try? options.setOption(.socket(SocketOptionLevel(IPPROTO_IP), SocketOptionName(IP_TTL)), value: 1)
        case .v6?:
            _ = try? options.setOption(
                .socket(SocketOptionLevel(IPPROTO_IPV6), SocketOptionName(IPV6_UNICAST_HOPS)), value: 1)
        default: break
        }
        _ = (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
    }
}
