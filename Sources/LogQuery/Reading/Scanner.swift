import Dispatch
import HAProxyLog
import LogCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a query does with each line that passed the filter; one per worker, merged at the end.
public protocol LineAccumulator: SendableMetatype {
    /// What every worker's accumulator is made from (a query's settings); `Void` for most.
    associatedtype Configuration: Sendable = Void
    init(configuration: Configuration)
    /// A traffic line (tcplog, httplog or CLF) that passed the filter.
    mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>)
    /// The configuration it was made from.
    var configuration: Configuration { get }
    /// A state or lifecycle message (events are not filtered by traffic fields).
    mutating func addEvent(_ line: HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>)
    mutating func merge(_ other: Self)
    /// Called before the lines of each file (or stream) this accumulator sees.
    mutating func begin(_ file: FileContext)
    /// How much of each traffic line this query needs parsed (less is faster).
    static func depth(for configuration: Configuration) -> HAProxyLogParseDepth
}

extension LineAccumulator where Configuration == Void {
    public var configuration: Void { () }
}

extension LineAccumulator {
    public static func depth(for configuration: Configuration) -> HAProxyLogParseDepth { .all }
    public mutating func begin(_ file: FileContext) {}

    public mutating func addEvent(_ line: HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {}
}

/// How many lines of each kind a scan met.
public struct ScanCounts: Hashable, Sendable {
    public var lines = 0
    public var traffic = 0
    public var matched = 0
    public var events = 0
    public var other = 0
    public var malformed = 0
    /// The first few lines that were not understood (malformed or another program's), with the reason, for
    /// `--show-unparsed`.
    public var samples: [String] = []

    public init() {}

    mutating func merge(_ o: ScanCounts) {
        lines += o.lines
        traffic += o.traffic
        matched += o.matched
        events += o.events
        other += o.other
        malformed += o.malformed
        samples.append(contentsOf: o.samples.prefix(max(0, ScanCounts.sampleLimit - samples.count)))
    }

    static let sampleLimit = 5

    /// A line as it can be shown on a terminal: printable ASCII kept, every other byte as `\xNN`, at most 300
    /// characters.
    static func printable(_ line: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        for b in line.prefix(300) {
            if b >= 0x20 && b < 0x7F {
                out.append(b)
            } else {
                out.append(contentsOf: [0x5C, 0x78, ASCII.hexDigit(b >> 4), ASCII.hexDigit(b & 0x0F)])
            }
        }
        if line.count > 300 { out.append(contentsOf: "…".utf8) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Runs a query over inputs: each file is mapped and cut at line boundaries into one piece per core; stdin is
/// read in blocks on one core. Every line is parsed in place into one reused ``HAProxyLogLine``.
public struct Scanner: Sendable {
    public var filter: LineFilter
    public var workers: Int
    /// Custom `log-format`s (`--log-format`, `--config`) each line is tried against before the built-in formats.
    public var formats: [LogFormatReader] = []
    /// Show a progress line on stderr for large files (the command sets it when stderr is a terminal).
    public var showsProgress = false

    public init(filter: LineFilter = LineFilter(), workers: Int = Scanner.defaultWorkers) {
        self.filter = filter
        self.workers = max(1, workers)
    }

    /// One worker per core.
    public static var defaultWorkers: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    // Specialised here for every report, so that the command (another module) gets code without generic
    // dispatch: an unspecialised scan copies each parsed line to call the accumulator.
    /// Scans the files (`-` is stdin; no files means stdin). Unreadable files are reported in `errors` and the
    /// others are still read.
    @_specialize(exported:true,where A == BackendReport)
    @_specialize(exported:true,where A == ServerReport)
    @_specialize(exported:true,where A == StatusReport)
    @_specialize(exported:true,where A == TerminationReport)
    @_specialize(exported:true,where A == ClientReport)
    @_specialize(exported:true,where A == EventList)
    public func run<A: LineAccumulator>(
        _ paths: [String], into: A.Type
    ) -> (result: A, counts: ScanCounts, errors: [InputError]) where A.Configuration == Void {
        run(paths, into: A.self, configuration: ())
    }

    @_specialize(exported:true,where A == BackendReport)
    @_specialize(exported:true,where A == ServerReport)
    @_specialize(exported:true,where A == StatusReport)
    @_specialize(exported:true,where A == TerminationReport)
    @_specialize(exported:true,where A == ClientReport)
    @_specialize(exported:true,where A == EventList)
    @_specialize(exported:true,where A == HalogAccumulator)
    @_specialize(exported:true,where A == TimelineReport)
    @_specialize(exported:true,where A == URLReport)
    @_specialize(exported:true,where A == MatchingLines)
    public func run<A: LineAccumulator>(
        _ paths: [String], into: A.Type, configuration: A.Configuration
    ) -> (result: A, counts: ScanCounts, errors: [InputError]) {
        var result = A(configuration: configuration)
        var counts = ScanCounts()
        var errors: [InputError] = []
        for path in paths.isEmpty ? ["-"] : InputPaths.resolve(paths) {
            do {
                let (r, c): (A, ScanCounts)
                if path.hasSuffix(".gz") {
                    (r, c) = try scanGzip(GzipReader(path: path), configuration, &errors)
                } else if path != "-" {
                    (r, c) = try scanFile(try BlockFile(path: path), configuration)
                } else if let file = BlockFile(standardInputNamed: "stdin") {
                    // Compressed data on standard input is inflated as a `.gz` file is.
                    var magic = [UInt8](repeating: 0, count: 2)
                    let peeked = magic.withUnsafeMutableBytes { pread(0, $0.baseAddress, 2, off_t(file.start)) }
                    if peeked == 2 && GzipReader.isGzip(magic) {
                        (r, c) = try scanGzip(GzipReader(descriptor: 0, name: "stdin", prefix: []), configuration, &errors)
                    } else {
                        (r, c) = try scanFile(file, configuration)
                    }
                } else {
                    var start: [UInt8] = []
                    var byte: UInt8 = 0
                    while start.count < 2, read(0, &byte, 1) == 1 { start.append(byte) }
                    if GzipReader.isGzip(start) {
                        (r, c) = try scanGzip(GzipReader(descriptor: 0, name: "stdin", prefix: start), configuration, &errors)
                    } else {
                        (r, c) = try scanStream(fd: 0, name: "stdin", configuration, prefix: start)
                    }
                }
                result.merge(r)
                counts.merge(c)
            } catch let error as InputError {
                errors.append(error)
            } catch {
                errors.append(InputError(path: path, reason: "\(error)"))
            }
        }
        return (result, counts, errors)
    }

    func scanFile<A: LineAccumulator>(_ file: BlockFile, _ configuration: A.Configuration) throws -> (A, ScanCounts) {
        // One piece per worker, cut after a newline; small files are not worth a thread.
        var cuts = [file.start]
        let length = file.size - file.start
        if length >= 8 << 20 {
            for k in 1..<workers {
                let cut = try file.lineStart(after: file.start + length * k / workers)
                if cut > cuts[cuts.count - 1] && cut < file.size { cuts.append(cut) }
            }
        }
        cuts.append(file.size)
        let pieces = (0..<(cuts.count - 1)).map { cuts[$0]..<cuts[$0 + 1] }
        let results = UnsafeMutableBufferPointer<Result<(A, ScanCounts), Error>?>.allocate(capacity: pieces.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let slots = SendableSlots(results)
        let shared = SendableSlots(UnsafeMutableBufferPointer<BlockFile>.allocate(capacity: 1))
        shared.buffer.initialize(repeating: file)
        defer {
            shared.buffer.deinitialize()
            shared.buffer.deallocate()
        }
        let progress = showsProgress && length >= 64 << 20 ? Progress(name: file.path, total: length) : nil
        DispatchQueue.concurrentPerform(iterations: pieces.count) { i in
            slots.buffer[i] = Result {
                var result = A(configuration: configuration)
                result.begin(
                    FileContext(path: shared.buffer[0].path, modified: Scanner.modified(fd: shared.buffer[0].fd)))
                var counts = ScanCounts()
                try shared.buffer[0].forEachBlock(in: pieces[i]) { block in
                    scanBuffer(block, into: &result, counts: &counts)
                    progress?.advance(by: block.count)
                }
                return (result, counts)
            }
        }
        progress?.finish()
        var result = A(configuration: configuration)
        var counts = ScanCounts()
        for case let outcome? in results {
            let (r, c) = try outcome.get()
            result.merge(r)
            counts.merge(c)
        }
        return (result, counts)
    }

    /// A gzip stream, inflated; a truncated one keeps what was read before the cut and reports it in `errors`.
    func scanGzip<A: LineAccumulator>(
        _ reader: GzipReader, _ configuration: A.Configuration, _ errors: inout [InputError]
    ) throws -> (A, ScanCounts) {
        var result = A(configuration: configuration)
        let modified = reader.descriptor.map { Scanner.modified(fd: $0) } ?? Scanner.modified(reader.path)
        result.begin(FileContext(path: reader.path, modified: modified))
        var counts = ScanCounts()
        // A progress line on a terminal for a large compressed file, measured in compressed bytes (the whole
        // inflated size is not known before the end).
        var info = stat()
        let size = reader.descriptor == nil && stat(reader.path, &info) == 0 ? Int(info.st_size) : 0
        let progress = showsProgress && size >= 8 << 20 ? Progress(name: reader.path, total: size) : nil
        do {
            try reader.forEachBlock(compressed: { progress?.advance(by: $0) }) {
                scanBuffer($0, into: &result, counts: &counts)
            }
        } catch let e as InputError where e.partial {
            progress?.finish()
            errors.append(e)
        }
        progress?.finish()
        return (result, counts)
    }

    func scanStream<A: LineAccumulator>(
        fd: Int32, name: String, _ configuration: A.Configuration, prefix: [UInt8] = []
    ) throws -> (A, ScanCounts) {
        var reader = BlockReader(fd: fd, name: name, prefix: prefix)
        var result = A(configuration: configuration)
        result.begin(FileContext(path: name, modified: CivilTime.now()))
        var counts = ScanCounts()
        while try reader.next({ block in scanBuffer(block, into: &result, counts: &counts) }) {}
        return (result, counts)
    }

    /// A file's modification time in the local zone (now when it cannot be read).
    static func modified(fd: Int32) -> CivilTime {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return CivilTime.now() }
        let seconds = Int(info.st_mtim.tv_sec)
        return CivilTime(
            epochMicroseconds: Int64(seconds) * 1_000_000,
            utcOffsetSeconds: CivilTime.localUTCOffset(atEpochSeconds: seconds))
    }

    static func modified(_ path: String) -> CivilTime {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return CivilTime.now() }
        defer { close(fd) }
        return modified(fd: fd)
    }

    /// The inner loop: memchr to the next newline, parse in place, filter, accumulate.
    func scanBuffer<A: LineAccumulator>(
        _ bytes: UnsafeBufferPointer<UInt8>, into result: inout A, counts: inout ScanCounts
    ) {
        guard let base = bytes.baseAddress else { return }
        var parsed = HAProxyLogLine()
        var offset = 0
        let size = bytes.count
        let filter = self.filter
        let formats = self.formats
        let depth: HAProxyLogParseDepth =
            filter.needsFullParse ? .all : A.depth(for: result.configuration)
        while offset < size {
            let end: Int
            if let nl = memchr(base + offset, 0x0A, size - offset) {
                end = UnsafePointer(nl.assumingMemoryBound(to: UInt8.self)) - base
            } else {
                end = size
            }
            let line = UnsafeBufferPointer(rebasing: bytes[offset..<end])
            offset = end + 1
            counts.lines += 1
            switch HAProxyLogParser.parse(line, into: &parsed, depth: depth, formats: formats) {
            case .traffic:
                counts.traffic += 1
                if filter.isEmpty || filter.matches(parsed, in: line) {
                    counts.matched += 1
                    result.addTraffic(parsed, in: line)
                }
            case .event:
                counts.events += 1
                result.addEvent(parsed, in: line)
            case .other:
                counts.other += 1
                if counts.samples.count < ScanCounts.sampleLimit && !line.isEmpty {
                    counts.samples.append("\(ScanCounts.printable(line)) (not an HAProxy line)")
                }
            case .malformed(let error):
                counts.malformed += 1
                if counts.samples.count < ScanCounts.sampleLimit {
                    counts.samples.append("\(ScanCounts.printable(line)) (\(error))")
                }
            }
        }
    }
}

/// A progress line on stderr, redrawn at most five times a second, erased at the end.
final class Progress: Sendable {
    private let name: String
    private let total: Int
    private let state = Mutex((done: 0, lastDraw: UInt64(0)))

    init(name: String, total: Int) {
        self.name = name
        self.total = total
    }

    func advance(by bytes: Int) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let ms = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec / 1_000_000)
        let line: String? = state.withLock { s in
            s.done += bytes
            guard ms - s.lastDraw >= 200 else { return nil }
            s.lastDraw = ms
            let width = 30
            let filled = min(width, s.done * width / max(1, total))
            return "\r" + name + " [" + String(repeating: "#", count: filled)
                + String(repeating: " ", count: width - filled)
                + "] \(s.done * 100 / max(1, total))% \(s.done >> 20)/\(total >> 20) MB"
        }
        if let line { Progress.draw(line) }
    }

    func finish() { Progress.draw("\r\u{1B}[K") }

    static func draw(_ text: String) {
        var copy = text
        copy.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// Result slots written by the workers of `concurrentPerform`, each its own index.
private struct SendableSlots<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
