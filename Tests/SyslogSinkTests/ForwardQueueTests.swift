import Foundation
import SyslogProtocol
import TestSupport
import Testing

@testable import SyslogSink

/// The numbers of `msgnum:N` lines, in the order they came.
private func numbers(_ lines: [String]) -> [Int] {
    lines.compactMap { line in
        guard let r = line.range(of: "msgnum:") else { return nil }
        return Int(line[r.upperBound...].prefix { $0.isNumber })
    }
}

/// Every number of 1...count came, the first time of each in order; returns how many came more than once.
private func expectAllInOrder(_ got: [Int], _ count: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation)
    -> Int
{
    var seen = Set<Int>()
    var firsts: [Int] = []
    for n in got where seen.insert(n).inserted { firsts.append(n) }
    #expect(
        firsts == Array(1...count), "missing \(Set(1...count).subtracting(seen).sorted().prefix(10))…",
        sourceLocation: sourceLocation)
    return got.count - firsts.count
}

private func message(_ n: Int) -> [UInt8] {
    Array("<134>Nov 26 08:00:00 node1 app: msgnum:\(n):".utf8)
}

@Suite("Forwarding queues", .serialized)
struct ForwardQueueTests {
    @Test func theDiskQueueKeepsOrderAcrossSegmentsRestartsAndATornTail() throws {
        let dir = try TemporaryDirectory(prefix: "diskqueue")
        var queue: DiskQueue? = try DiskQueue(directory: dir.path, name: "fwd", maxFileSize: 4096)
        for n in 1...2000 { #expect(queue?.append(UInt64(n), message(n)) == true) }
        queue?.flush()
        #expect(queue?.unread == 2000)
        var read: [Int] = []
        for _ in 0..<700 { if let r = queue?.next() { read.append(Int(r.sequence)) } }
        queue?.confirm(upTo: 600)
        queue?.close()
        queue = nil
        // Segments wholly delivered are gone.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("fwd.1") }
        #expect(files.count < 2000 * 50 / 4096, "\(files.count) segments left")

        // A crash in the middle of a record: the torn record is dropped, the rest is read.
        let last = try #require(files.compactMap { Int($0.dropFirst(4)) }.max())
        let handle = try #require(FileHandle(forWritingAtPath: dir.file("fwd.\(last)")))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 0, 0, 0, 0x07, 0xD1, 0, 0, 0, 40]) + Data("torn".utf8))
        handle.closeFile()

        let reopened = try DiskQueue(directory: dir.path, name: "fwd", maxFileSize: 4096)
        #expect(reopened.confirmed == 600)
        #expect(reopened.unread == 1400, "from 601 on: 701…2000 were read, not delivered")
        #expect(reopened.highestStored == 2000)
        var rest: [Int] = []
        while let r = reopened.next() {
            rest.append(Int(r.sequence))
            #expect(r.bytes == message(Int(r.sequence)))
        }
        #expect(rest == Array(601...2000))
        #expect(read == Array(1...700))
    }

    @Test func aPrependedSegmentIsReadFirstAndItsRepeatsOnce() throws {
        let dir = try TemporaryDirectory(prefix: "diskqueue-prepend")
        let queue = try DiskQueue(directory: dir.path, name: "q")
        for n in 5...10 { _ = queue.append(UInt64(n), message(n)) }
        _ = queue.next()  // 5 read, not delivered
        try queue.prepend((1...5).map { DiskQueue.Record(sequence: UInt64($0), bytes: message($0)) })
        queue.close()
        let reopened = try DiskQueue(directory: dir.path, name: "q")
        var got: [Int] = []
        while let r = reopened.next() { got.append(Int(r.sequence)) }
        #expect(got == Array(1...10))
    }

    /// A collector that goes away while messages flow and comes back: everything arrives, in order, the only
    /// repeats being the replay window (counted as resent).
    @Test func anOutageLosesNothingAndKeepsTheOrder() throws {
        let dir = try TemporaryDirectory(prefix: "fwd-outage")
        var collector = try LineCollector()
        let port = collector.port
        var settings = ActionQueueSettings()
        settings.kind = .linkedList
        settings.size = 200
        settings.fileName = "fwdq"
        settings.workDirectory = dir.path
        settings.maxFileSize = 16 * 1024
        settings.resumeRetryCount = -1
        settings.resumeInterval = 1
        let forwarder = try Forwarder(
            host: "127.0.0.1", port: port, framing: .lineFeed, settings: settings, root: nil)
        for n in 1...500 { forwarder.enqueue(message(n)) }
        forwarder.flush()
        #expect(collector.waitFor(lines: 500, seconds: 10))
        let before = collector.lines
        collector.stop()
        for n in 501...5000 {
            forwarder.enqueue(message(n))
            if n % 500 == 0 {
                forwarder.flush()
                usleep(20_000)
            }
        }
        forwarder.flush()
        let during = forwarder.counts
        #expect(during.diskBytes > 0, "beyond the high watermark the queue spills to disk")
        collector = try LineCollector(port: port)
        #expect(collector.waitFor(lines: 4500, seconds: 20))
        usleep(300_000)
        let all = before + collector.lines
        let repeats = expectAllInOrder(numbers(all), 5000)
        let c = forwarder.counts
        #expect(repeats <= c.resent, "repeats only from the replay window: \(repeats) > \(c.resent)")
        #expect(c.failed >= 1 && c.dropped == 0)
        forwarder.stop()
        collector.stop()
    }

    /// A collector that dies while messages stream at full speed: what its kernel had taken and it had not read is
    /// gone with it. The replay window sends that again: nothing is lost, and the repeats stay within what was
    /// resent.
    @Test func aCollectorKilledMidStreamLosesNothing() throws {
        let first = try LineCollector()
        let port = first.port
        var second: LineCollector?
        var settings = ActionQueueSettings()
        settings.kind = .linkedList
        settings.size = 200_000
        settings.resumeRetryCount = -1
        settings.resumeInterval = 1
        let forwarder = try Forwarder(
            host: "127.0.0.1", port: port, framing: .octetCounting, settings: settings, root: nil)
        let total = 100_000
        for n in 1...total {
            forwarder.enqueue(message(n))
            if n % 1000 == 0 { forwarder.flush() }
            if n == 30_000 { first.stop() }
            if n == 50_000 { second = try LineCollector(port: port) }
        }
        forwarder.flush()
        let last = Array("msgnum:\(total):".utf8)
        #expect(
            Peers.waitUntil(seconds: 30) {
                second.map { Ruleset.contains($0.tail(200)[...], last) } ?? false
            })
        usleep(200_000)
        let c = forwarder.counts
        forwarder.stop()
        second?.stop()
        // Octet-counted frames carry no LF: the numbers are read from the bytes, the first collector's then the
        // second's.
        func received(_ collector: LineCollector?) -> [Int] {
            numbers(String(decoding: collector?.bytes ?? [], as: UTF8.self).components(separatedBy: "<134>"))
        }
        let got = received(first) + received(second)
        let repeats = expectAllInOrder(got, total)
        #expect(c.failed >= 1 && c.dropped == 0, "\(c)")
        #expect(repeats <= c.resent, "\(repeats) repeats, \(c.resent) resent")
        print(
            "collector killed mid-stream: it had read \(received(first).count) of the messages sent to it; "
                + "\(c.resent) sent again, \(repeats) of them twice")
    }

    /// Stopped while the collector is down: with queue.saveOnShutdown the next run sends everything, once.
    @Test func whatIsQueuedAtStopIsSentByTheNextRun() throws {
        let dir = try TemporaryDirectory(prefix: "fwd-save")
        let port = try Peers.freePort()
        var settings = ActionQueueSettings()
        settings.kind = .linkedList
        settings.size = 300
        settings.fileName = "saved"
        settings.workDirectory = dir.path
        settings.saveOnShutdown = true
        settings.resumeRetryCount = -1
        settings.resumeInterval = 1
        let first = try Forwarder(host: "127.0.0.1", port: port, framing: .octetCounting, settings: settings, root: nil)
        for n in 1...1000 { first.enqueue(message(n)) }
        first.stop()
        #expect(first.counts.lostAtStop == 0)

        let collector = try LineCollector(port: port)
        let second = try Forwarder(
            host: "127.0.0.1", port: port, framing: .lineFeed, settings: settings, root: nil)
        for n in 1001...1100 { second.enqueue(message(n)) }
        second.flush()
        #expect(collector.waitFor(lines: 1100, seconds: 15))
        usleep(300_000)
        #expect(numbers(collector.lines) == Array(1...1100), "exactly once, in order")
        second.stop()
        collector.stop()
    }

    /// Without a queue or retries (`@@host` as written), a collector that is down costs the messages: counted.
    @Test func aDirectActionWithoutRetriesDropsAndCounts() throws {
        let port = try Peers.freePort()
        var settings = ActionQueueSettings()
        settings.resumeInterval = 30
        let forwarder = try Forwarder(host: "127.0.0.1", port: port, framing: .lineFeed, settings: settings, root: nil)
        for n in 1...100 {
            forwarder.enqueue(message(n))
            if n == 1 {
                forwarder.flush()
                usleep(200_000)
            }
        }
        forwarder.flush()
        #expect(Peers.waitUntil(seconds: 5) { forwarder.counts.dropped == 100 })
        let c = forwarder.counts
        #expect(c.suspended == 1 && c.sent == 0, "\(c)")
        forwarder.stop()
    }

    /// A collector that accepts and never reads: after writeTimeout the connection is dropped and tried again; the
    /// messages stay queued.
    @Test func aStalledCollectorIsDetected() throws {
        let stalled = try StalledServer()
        var settings = ActionQueueSettings()
        settings.kind = .linkedList
        settings.size = 100_000
        settings.resumeRetryCount = -1
        settings.resumeInterval = 1
        settings.writeTimeout = 1
        let forwarder = try Forwarder(
            host: "127.0.0.1", port: stalled.port, framing: .lineFeed, settings: settings, root: nil)
        let big = [UInt8](repeating: 0x61, count: 4000)
        for _ in 0..<5000 { forwarder.enqueue(big) }
        forwarder.flush()
        #expect(Peers.waitUntil(seconds: 10) { forwarder.counts.failed >= 1 }, "\(forwarder.counts)")
        #expect(forwarder.counts.dropped == 0)
        forwarder.stop()
    }
}
