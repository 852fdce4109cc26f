import CSystemd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Sockets the service manager opened for the service and passed to it (`LISTEN_FDS`, sd_listen_fds): on a
/// systemd machine `syslog.socket` hands the syslog service /run/systemd/journal/syslog, where journald forwards
/// what it receives on /dev/log.
public enum SocketActivation {
    /// The passed unix datagram sockets: descriptor and bound path.
    public static func unixDatagramSockets() -> [(fd: Int32, path: String)] {
        let count = sd_listen_fds(0)
        guard count > 0 else { return [] }
        var found: [(Int32, String)] = []
        for fd in SD_LISTEN_FDS_START..<(SD_LISTEN_FDS_START + count) {
            #if canImport(Glibc)
                let datagram = Int32(SOCK_DGRAM.rawValue)
            #else
                let datagram = SOCK_DGRAM
            #endif
            guard sd_is_socket_unix(fd, datagram, -1, nil, 0) > 0 else { continue }
            var address = sockaddr_un()
            var length = socklen_t(MemoryLayout<sockaddr_un>.size)
            let rc = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard rc == 0 else { continue }
            let path = withUnsafeBytes(of: address.sun_path) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            found.append((fd, path))
        }
        return found
    }
}

/// Process-wide signal state for a daemon.
public enum DaemonSignals {
    /// Unblocks every signal, to be called first thing (before any thread starts): a daemon must not inherit a
    /// blocked SIGTERM or SIGHUP from whatever started it (`systemd-socket-activate`, some shells and
    /// supervisors leave signals blocked across exec; systemd itself resets the mask).
    public static func unblockAll() {
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
    }
}
