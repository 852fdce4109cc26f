import LogCore
import SyslogProtocol

/// omfile's `dynaFile`: the file of each message is named by a template (`?PerHost`), files open lazily and at
/// most `cacheSize` stay open (rsyslog's `dynaFileCacheSize`, 10): the least recently used is written out and
/// closed when another is needed. Lives on the ruleset's thread.
final class DynamicFiles {
    let name: String
    private let paths: PropertyTemplate
    private let root: String?
    private let createMode: UInt16
    private let dirCreateMode: UInt16
    private let ownership: FileOwnership
    private let cacheSize: Int
    /// Open files by the bytes of their rendered name (no String per message).
    private var open: [[UInt8]: FileWriter] = [:]
    /// Names from least to most recently used.
    private var order: [[UInt8]] = []
    private var closedWritten = 0
    private var closedFailed = 0
    private var pathBuffer: [UInt8] = []
    /// Messages whose template made an empty file name (rsyslog refuses those too).
    private(set) var emptyNames = 0

    init(
        name: String, paths: PropertyTemplate, root: String?, createMode: UInt16, dirCreateMode: UInt16,
        ownership: FileOwnership = FileOwnership(), cacheSize: Int = 10
    ) {
        self.ownership = ownership
        self.name = name
        self.paths = paths
        self.root = root
        self.createMode = createMode
        self.dirCreateMode = dirCreateMode
        self.cacheSize = max(1, cacheSize)
    }

    func append(_ message: SyslogMessage, as template: OutputTemplate) {
        pathBuffer.removeAll(keepingCapacity: true)
        paths.render(message, into: &pathBuffer)
        guard !pathBuffer.isEmpty else {
            emptyNames += 1
            return
        }
        writer(for: pathBuffer).append(message, as: template)
    }

    private func writer(for path: [UInt8]) -> FileWriter {
        if let writer = open[path] {
            if order.last != path, let i = order.firstIndex(of: path) {
                order.remove(at: i)
                order.append(path)
            }
            return writer
        }
        if open.count >= cacheSize, let oldest = order.first {
            order.removeFirst()
            if let evicted = open.removeValue(forKey: oldest) {
                evicted.flush()
                evicted.reopen()
                closedWritten += evicted.written
                closedFailed += evicted.failed
            }
        }
        let name = String(decoding: path, as: UTF8.self)
        let mapped = underRoot(name, root)
        let writer = FileWriter(
            path: mapped, createMode: createMode, dirCreateMode: dirCreateMode, ownership: ownership)
        open[path] = writer
        order.append(path)
        return writer
    }

    func flush() {
        for writer in open.values { writer.flush() }
    }

    func reopen() {
        for writer in open.values { writer.reopen() }
    }

    /// At stop: each open file's last attempt (FileWriter.finalFlush).
    func finalFlush() -> [String] { open.values.compactMap { $0.finalFlush() } }

    var openFiles: Int { open.count }
    var written: Int { closedWritten + open.values.reduce(0) { $0 + $1.written } }
    var failed: Int { closedFailed + open.values.reduce(0) { $0 + $1.failed } }
}
