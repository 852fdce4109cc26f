import HAProxyLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard output written in large blocks (one `write` a megabyte), for output as big as the input.
public final class OutputBuffer: @unchecked Sendable {
    private var bytes: [UInt8] = []
    private let fd: Int32
    public private(set) var lines = 0
    public let limit: Int

    public init(fd: Int32 = 1, limit: Int = .max) {
        self.fd = fd
        self.limit = limit
        bytes.reserveCapacity(1 << 20)
    }

    /// Appends one line (a newline is added); false once the limit is reached.
    @discardableResult
    public func append(line: UnsafeBufferPointer<UInt8>) -> Bool {
        guard lines < limit else { return false }
        bytes.append(contentsOf: line)
        bytes.append(0x0A)
        lines += 1
        if bytes.count >= 1 << 20 { flush() }
        return true
    }

    public func flush() {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// The matching traffic lines, unchanged, in file order (`logquery lines`): run it with one worker.
public struct MatchingLines: LineAccumulator {
    public let configuration: OutputBuffer

    public static func depth(for configuration: OutputBuffer) -> HAProxyLogParseDepth { .throughTermination }

    public init(configuration: OutputBuffer) { self.configuration = configuration }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        configuration.append(line: buffer)
    }

    public mutating func merge(_ other: MatchingLines) {}
}
