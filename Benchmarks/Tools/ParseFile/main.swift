// parse-file: the HAProxyLog parser over a whole file on one core, counting HTTP statuses like `halog -H -st`.
// bench/parser-vs-halog.sh runs it beside halog on the same file and compares output and time.
import HAProxyLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes to standard error (the results go to standard output).
func report(_ text: String) {
    var copy = text
    copy.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

guard CommandLine.arguments.count == 2 else {
    report("usage: parse-file FILE\n")
    exit(2)
}
let path = CommandLine.arguments[1]
let fd = open(path, O_RDONLY)
guard fd >= 0 else {
    report("parse-file: cannot open \(path)\n")
    exit(1)
}
var info = stat()
fstat(fd, &info)
let size = Int(info.st_size)
guard size > 0, let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
    report("parse-file: cannot map \(path)\n")
    exit(1)
}
madvise(mapped, size, MADV_SEQUENTIAL)
let base = UnsafePointer(mapped.assumingMemoryBound(to: UInt8.self))
let bytes = UnsafeBufferPointer(start: base, count: size)

/// The scan, in a function: top-level variables would pay exclusivity checks on every access.
func scan(_ bytes: UnsafeBufferPointer<UInt8>, base: UnsafePointer<UInt8>) -> (
    lines: Int, malformed: Int, counts: [Int: Int]
) {
    var counts = [Int: Int]()
    var statusCounts = [Int](repeating: 0, count: 1001)
    var lines = 0
    var malformed = 0
    var parsed = HAProxyLogLine()
    var offset = 0
    let size = bytes.count
    while offset < size {
        let newline = memchr(base + offset, 0x0A, size - offset)
        let end = newline.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? size
        lines += 1
        switch HAProxyLogParser.parse(UnsafeBufferPointer(rebasing: bytes[offset..<end]), into: &parsed) {
        case .traffic:
            if parsed.kind != .tcp {
                if parsed.status >= 0 && parsed.status <= 1000 {
                    statusCounts[parsed.status] += 1
                } else {
                    counts[parsed.status, default: 0] += 1
                }
            }
        case .malformed: malformed += 1
        case .event, .other: break
        }
        offset = end + 1
    }
    for (status, n) in statusCounts.enumerated() where n > 0 { counts[status, default: 0] += n }
    return (lines, malformed, counts)
}

var start = timespec()
clock_gettime(CLOCK_MONOTONIC, &start)
let (lines, malformed, counts) = scan(bytes, base: base)
var stop = timespec()
clock_gettime(CLOCK_MONOTONIC, &stop)
for status in counts.keys.sorted() { print("\(status) \(counts[status] ?? 0)") }
let seconds = Double(stop.tv_sec - start.tv_sec) + Double(stop.tv_nsec - start.tv_nsec) / 1e9
report(
    "parse-file: \(lines) lines (\(malformed) malformed) in \(Int(seconds * 1000)) ms: "
        + "\(Int(Double(lines) / seconds)) lines/s, \(Int(Double(size) / seconds / 1e6)) MB/s\n")
