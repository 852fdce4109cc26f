// peers-load: a peer of HAProxy's peers protocol (v2.1), written from doc/peers-v2.0.txt apart from the proxy's own
// code, that measures one proxy (HAProxy or ours) through it. bench/peers-vs-haproxy.sh drives it.
//
//   peers-load PEER_PORT HTTP_PORT LOCAL_NAME MY_NAME ENTRIES SAMPLES [sequential|scattered]
//
// The keys are 10.0.0.0 and up, in order (sequential), or the same addresses in no order (scattered: the
// default, as sources arrive from the Internet).
// 1. ingest: ENTRIES updates of the table `rates` (ip keys, http_req_cnt and http_req_rate(10s)) sent to the
//    proxy as fast as it takes them; timed until it acknowledges the last one.
// 2. teach: a resync request; timed until the proxy has sent the whole table and its end.
// 3. latency: SAMPLES requests, one at a time, each with a new X-Client address the proxy tracks; each timed from
//    the request's first byte until the proxy's update for that address reaches this peer.
#if canImport(Glibc)
    import Glibc
#endif

func fail(_ text: String) -> Never {
    let line = "peers-load: " + text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(2)
}

let args = CommandLine.arguments
guard args.count == 7 || args.count == 8, let peerPort = UInt16(args[1]), let httpPort = UInt16(args[2]), let entries = Int(args[5]),
    let samples = Int(args[6])
else { fail("usage: peers-load PEER_PORT HTTP_PORT LOCAL_NAME MY_NAME ENTRIES SAMPLES") }
let scattered = args.count < 8 || args[7] != "sequential"
let remoteName = args[3]
let myName = args[4]

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func connectTo(_ port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    let ok = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard ok == 0 else { fail("cannot connect to \(port)") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

func varint(_ value: UInt64, _ out: inout [UInt8]) {
    var i = value
    if i < 240 {
        out.append(UInt8(i))
        return
    }
    out.append(UInt8(truncatingIfNeeded: i) | 0xF0)
    i = (i - 240) >> 4
    while i >= 128 {
        out.append(UInt8(truncatingIfNeeded: i) | 0x80)
        i = (i - 128) >> 7
    }
    out.append(UInt8(i))
}

func readVarint(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ end: Int) -> UInt64? {
    guard i < end else { return nil }
    var v = UInt64(b[i])
    i += 1
    if v < 240 { return v }
    var shift: UInt64 = 4
    while i < end {
        let c = b[i]
        i += 1
        v &+= UInt64(c) << shift
        shift += 7
        if c < 128 { return v }
    }
    return nil
}

func message(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [10, type]
    varint(UInt64(body.count), &out)
    return out + body
}

// MARK: The session

let peer = connectTo(peerPort)
var pendingOut: [UInt8] = []
var input: [UInt8] = []
var inputStart = 0

@MainActor func sendAll(_ bytes: [UInt8]) { pendingOut += bytes }

/// What the proxy has said so far.
var lastAck: UInt32 = 0
var updatesReceived = 0
var resyncEnded = false
var awaitedKey: UInt32?
var awaitedSeen = false
var keyType = 0

/// Parses every whole message received; answers the proxy's resync request (nothing to teach) and its lesson's end.
@MainActor func parse() {
    input.withUnsafeBufferPointer { b in
        var i = inputStart
        let end = b.count
        while end - i >= 2 {
            let cls = b[i]
            let type = b[i + 1]
            if type < 0x80 {
                i += 2
                if cls == 0 && type == 0 { pendingOut += [0, 1] }  // resync request: finished (nothing here)
                if cls == 0 && (type == 1 || type == 2) {
                    resyncEnded = true
                    pendingOut += [0, 3]
                }
                if cls == 1 { fail("the proxy sent an error message (\(type))") }
                continue
            }
            var j = i + 2
            guard let length = readVarint(b, &j, end), end - j >= Int(length) else { break }
            let body = j
            let bodyEnd = j + Int(length)
            if cls == 10 {
                switch type {
                case 0x80, 0x81, 0x85, 0x86:
                    updatesReceived += 1
                    if let awaited = awaitedKey {
                        var k = body
                        if type == 0x80 || type == 0x85 { k += 4 }
                        if type == 0x85 || type == 0x86 { k += 4 }
                        if k + 4 <= bodyEnd {
                            let key = UInt32(b[k]) << 24 | UInt32(b[k + 1]) << 16 | UInt32(b[k + 2]) << 8 | UInt32(b[k + 3])
                            if key == awaited { awaitedSeen = true }
                        }
                    }
                case 0x84:
                    var k = body
                    _ = readVarint(b, &k, bodyEnd)
                    if k + 4 <= bodyEnd {
                        lastAck = UInt32(b[k]) << 24 | UInt32(b[k + 1]) << 16 | UInt32(b[k + 2]) << 8 | UInt32(b[k + 3])
                    }
                default:
                    break
                }
            }
            i = bodyEnd
        }
        inputStart = i
    }
    if inputStart > 1 << 20 {
        input.removeFirst(inputStart)
        inputStart = 0
    }
}

var chunk = [UInt8](repeating: 0, count: 1 << 16)

/// Writes what is pending and reads what comes, until `done` holds (or 60 s pass).
@MainActor func pump(extra: Int32 = -1, _ done: () -> Bool) {
    let deadline = now() + 60
    var written = 0
    while !done() {
        guard now() < deadline else { fail("timed out") }
        var fds = [pollfd(fd: peer, events: Int16(POLLIN) | (written < pendingOut.count ? Int16(POLLOUT) : 0), revents: 0)]
        if extra >= 0 { fds.append(pollfd(fd: extra, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), 100)
        if fds[0].revents & Int16(POLLOUT) != 0 {
            let n = pendingOut.withUnsafeBytes { send(peer, $0.baseAddress! + written, min($0.count - written, 1 << 18), 0) }
            if n > 0 { written += n }
        }
        if fds[0].revents & Int16(POLLIN) != 0 {
            let n = chunk.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
            if n <= 0 { fail("the proxy closed the session") }
            input += chunk[..<n]
            parse()
        }
        if extra >= 0, fds.count > 1, fds[1].revents & Int16(POLLIN) != 0 {
            _ = chunk.withUnsafeMutableBytes { recv(extra, $0.baseAddress, $0.count, 0) }
        }
        if written == pendingOut.count && written > 0 {
            pendingOut.removeAll(keepingCapacity: true)
            written = 0
        }
    }
    if written > 0 { pendingOut.removeFirst(written) }
}

// The handshake.
let hello = Array("HAProxyS 2.1\n\(remoteName)\n\(myName) \(getpid()) 1\n".utf8)
_ = hello.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, 0) }
var status: [UInt8] = []
while !status.contains(0x0A) {
    var c: UInt8 = 0
    guard recv(peer, &c, 1, 0) == 1 else { fail("no status") }
    status.append(c)
}
guard status == Array("200\n".utf8) else { fail("refused: \(String(decoding: status, as: UTF8.self))") }

// 1. Ingest.
var define: [UInt8] = [1, 5] + Array("rates".utf8) + [4, 4]
varint(1 << 9 | 1 << 10, &define)
varint(600_000, &define)
varint(10, &define)
varint(10_000, &define)
sendAll(message(0x82, define))
var body: [UInt8] = []
for n in 0..<entries {
    body.removeAll(keepingCapacity: true)
    if n == 0 { body += [0, 0, 0, 1] }
    // An odd multiplier modulo 2^24 visits every address of 10.0.0.0/8 once, in no order.
    let key = UInt32(0x0A00_0000) + (scattered ? UInt32(truncatingIfNeeded: n &* 2_654_435_761) & 0xFF_FFFF : UInt32(n))
    body += [UInt8(key >> 24), UInt8(key >> 16 & 0xFF), UInt8(key >> 8 & 0xFF), UInt8(key & 0xFF)]
    body += [1, 0, 1, 0]
    sendAll(message(n == 0 ? 0x80 : 0x81, body))
}
let ingestStart = now()
pump { lastAck == UInt32(entries) }
let ingest = now() - ingestStart

// 2. Teach.
updatesReceived = 0
resyncEnded = false
sendAll([0, 0])
let teachStart = now()
pump { resyncEnded }
let teach = now() - teachStart
let taught = updatesReceived

// 3. Latency.
let http = connectTo(httpPort)
var latencies: [Double] = []
for s in 0..<samples {
    let key = UInt32(0x0AFA_0000) + UInt32(s)
    let text = "\(key >> 24).\(key >> 16 & 0xFF).\(key >> 8 & 0xFF).\(key & 0xFF)"
    let request = Array("GET / HTTP/1.1\r\nHost: bench\r\nX-Client: \(text)\r\n\r\n".utf8)
    awaitedKey = key
    awaitedSeen = false
    let t0 = now()
    _ = request.withUnsafeBytes { send(http, $0.baseAddress, $0.count, 0) }
    pump(extra: http) { awaitedSeen }
    latencies.append(now() - t0)
    if s % 200 == 199 { sendAll([0, 4]) }
}
latencies.sort()
/// A percentile in milliseconds, three decimals.
@MainActor func percentile(_ p: Double) -> String {
    let micros = Int((latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1e6).rounded())
    let fraction = String(micros % 1_000)
    return "\(micros / 1_000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
print(
    "ingest \(entries) \(Int(Double(entries) / ingest)) teach \(taught) \(Int(Double(taught) / teach)) "
        + "p50 \(percentile(0.5)) p99 \(percentile(0.99))")
