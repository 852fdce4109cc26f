import HAProxyLog
import LogCore

/// Counts and errors per time interval (`logquery timeline --every 1m`), by the line's own date.
public struct TimelineReport: LineAccumulator {
    public let configuration: Int64
    /// Interval start (wall-clock ms) → (lines, errors).
    public var buckets: [Int64: (count: Int, errors: Int)] = [:]

    /// `configuration` is the interval in milliseconds.
    public init(configuration: Int64) {
        self.configuration = max(1, configuration)
    }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        let when = WallTime(line.date).milliseconds
        let start = when - ((when % configuration) + configuration) % configuration
        let error = LineFilter.isError(line, in: buffer)
        buckets[start, default: (0, 0)].count += 1
        if error { buckets[start, default: (0, 0)].errors += 1 }
    }

    public mutating func merge(_ other: TimelineReport) {
        for (k, v) in other.buckets {
            buckets[k, default: (0, 0)].count += v.count
            buckets[k, default: (0, 0)].errors += v.errors
        }
    }
}

/// Per URL (`logquery urls`): halog's -u columns. The key is the URI without its query string (`?…` or
/// `;…`) unless the query is kept.
public struct URLReport: LineAccumulator {
    public struct Stats: Sendable, Equatable {
        public var requests = 0
        /// Requests with a -1 timer (halog's "err").
        public var errors = 0
        /// Σ Tr (or Ta when Tr is -1), and Σ Tr over requests without error: halog's ttot and oktot.
        public var totalTime = 0
        public var okTime = 0
        public var bytes: Int64 = 0
    }

    public let configuration: Bool
    public var groups = GroupTable<Stats>(capacity: 1024)

    /// `configuration`: keep the query string in the key.
    public init(configuration: Bool) { self.configuration = configuration }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        guard line.kind != .tcp, !line.uri.isEmpty else { return }
        var end = line.uri.upperBound
        if !configuration {
            var i = line.uri.lowerBound
            while i < end {
                if buffer[i] == 0x3F || buffer[i] == 0x3B {
                    end = i
                    break
                }
                i += 1
            }
        }
        let i = groups.index(of: UnsafeBufferPointer(rebasing: buffer[line.uri.lowerBound..<end]), make: Stats.init)
        let timers = (line.requestTime, line.queueTime, line.connectTime, line.responseTime, line.totalTime)
        let failed = timers.0 < 0 || timers.1 < 0 || timers.2 < 0 || timers.3 < 0 || timers.4 < 0
        groups[i].requests += 1
        groups[i].bytes = TrafficStats.saturating(groups[i].bytes, line.bytesRead)
        groups[i].totalTime += timers.3 >= 0 ? timers.3 : max(0, timers.4)
        if failed {
            groups[i].errors += 1
        } else {
            groups[i].okTime += timers.3
        }
    }

    public mutating func merge(_ other: URLReport) {
        groups.merge(other.groups, make: Stats.init) { a, b in
            a.requests += b.requests
            a.errors += b.errors
            a.totalTime += b.totalTime
            a.okTime += b.okTime
            a.bytes = TrafficStats.saturating(a.bytes, b.bytes)
        }
    }
}

/// Per client address (`logquery clients`).
public struct ClientReport: LineAccumulator {
    public var groups = GroupTable<TrafficStats>(capacity: 1024)

    public static func depth(for configuration: Void) -> HAProxyLogParseDepth { .throughTermination }

    public init(configuration: Void = ()) {}

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        let i = groups.index(of: UnsafeBufferPointer(rebasing: buffer[line.clientIP]), make: TrafficStats.init)
        groups[i].add(line, in: buffer)
    }

    public mutating func merge(_ other: ClientReport) {
        groups.merge(other.groups, make: TrafficStats.init) { $0.merge($1) }
    }
}

/// Server-state and lifecycle messages in file order (`logquery events`).
public struct EventList: LineAccumulator {
    public struct Entry: Sendable, Equatable {
        /// The syslog stamp of the stored line (`Nov 26 08:51:03`, or an RFC 3339 stamp).
        public var time: String
        /// That stamp as a date (the year of a traditional stamp taken from the file's modification time).
        public var when: WallTime?
        public var host: String
        public var event: HAProxyEvent?
        public var message: String
    }

    public var entries: [Entry] = []
    private var reference = CivilTime.now()

    public init(configuration: Void = ()) {}

    public mutating func begin(_ file: FileContext) { reference = file.modified }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {}

    public mutating func addEvent(_ line: HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        entries.append(
            Entry(
                time: line.text(line.syslogTimestamp, in: buffer),
                when: StoredTime.wallTime(
                    UnsafeBufferPointer(rebasing: buffer[line.syslogTimestamp]), reference: reference),
                host: line.text(line.host, in: buffer),
                event: line.event(in: buffer), message: line.text(line.body, in: buffer)))
    }

    public mutating func merge(_ other: EventList) { entries.append(contentsOf: other.entries) }
}
