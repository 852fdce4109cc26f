// syslog-load: sends numbered syslog messages to a receiver, UDP at a rate or as fast as one sender can, or
// octet-counted over TCP connections. bench/sink-vs-rsyslog.sh drives it against syslog-sink and rsyslogd.
//
//   syslog-load udp PORT COUNT RATE     (RATE messages/s, 0 = as fast as possible)
//   syslog-load udp-mixed PORT COUNT RATE   (datagrams of 64 to 4,000 bytes; each body says its own length)
//   syslog-load tcp PORT COUNT CONNECTIONS
#if canImport(Glibc)
import Glibc
#endif

func fail(_ text: String) -> Never {
    var line = "syslog-load: " + text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let args = CommandLine.arguments
guard args.count == 5, let port = UInt16(args[2]), let count = Int(args[3]), let fourth = Int(args[4]) else {
    fail("usage: syslog-load udp|udp-mixed|tcp PORT COUNT RATE|CONNECTIONS")
}

/// `<134>Nov 26 08:51:08 haproxy[6553]: msgnum:00000042: ` and padding: about 150 bytes, like a tcplog line.
func message(_ n: Int) -> [UInt8] {
    var digits = String(n)
    while digits.count < 8 { digits = "0" + digits }
    let text =
        "<134>Nov 26 08:51:08 haproxy[6553]: msgnum:\(digits): 127.0.0.1:51234 [26/Nov/2026:08:51:08.248] "
        + "mycat_servers mycat_servers/mycat_01 0/1/5012 2048 -- 3/2/2/1/0 0/0"
    return Array(text.utf8)
}

let header = Array("<134>Nov 26 08:51:08 haproxy[6553]: ".utf8)

/// A datagram of 64 to 4,000 bytes (spread over the range by a fixed stride): the header, then a body
/// `msgnum:NNNNNNNN:len:LLLL:` (25 bytes) padded with letters to LLLL bytes, so a receiver's file shows any cut.
func mixedMessage(_ n: Int) -> [UInt8] {
    let total = 64 + (n &* 7919) % 3937
    let length = total - header.count
    var digits = String(n)
    while digits.count < 8 { digits = "0" + digits }
    var lengthDigits = String(length)
    while lengthDigits.count < 4 { lengthDigits = "0" + lengthDigits }
    var body = Array("msgnum:\(digits):len:\(lengthDigits):".utf8)
    while body.count < length { body.append(0x61 &+ UInt8(body.count % 26)) }
    return header + body
}

var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_addr.s_addr = inet_addr("127.0.0.1")
address.sin_port = port.bigEndian

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

let start = now()
if args[1] == "udp" || args[1] == "udp-mixed" {
    let mixed = args[1] == "udp-mixed"
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var size: Int32 = 4 << 20
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    let rate = Double(fourth)
    var sent = 0
    for i in 0..<count {
        if rate > 0 {
            // Pace in 1 ms slices.
            let due = start + Double(i) / rate
            while now() < due { usleep(200) }
        }
        let m = mixed ? mixedMessage(i) : message(i)
        let n = m.withUnsafeBytes { b in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if n > 0 { sent += 1 }
    }
    let elapsed = now() - start
    print("sent \(sent) in \(Int(elapsed * 1000)) ms: \(Int(Double(sent) / elapsed)) msg/s")
} else {
    let connections = max(1, fourth)
    var fds: [Int32] = []
    for _ in 0..<connections {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { fail("cannot connect to \(port)") }
        fds.append(fd)
    }
    // Each connection gets its share, written in 256 KB blocks of octet-counted frames.
    var block: [UInt8] = []
    var which = 0
    for i in 0..<count {
        let m = message(i)
        block.append(contentsOf: Array(String(m.count).utf8))
        block.append(0x20)
        block.append(contentsOf: m)
        if block.count >= 256 << 10 || i == count - 1 {
            var offset = 0
            while offset < block.count {
                let n = block.withUnsafeBytes { b -> Int in
                    guard let base = b.baseAddress else { return -1 }
                    return write(fds[which], base + offset, b.count - offset)
                }
                if n <= 0 { fail("write failed") }
                offset += n
            }
            block.removeAll(keepingCapacity: true)
            which = (which + 1) % fds.count
        }
    }
    for fd in fds { close(fd) }
    let elapsed = now() - start
    print("sent \(count) over \(connections) connections in \(Int(elapsed * 1000)) ms")
}
