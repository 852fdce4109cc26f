import Foundation
import SyslogProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Prometheus

/// One of the sink's counters: what `--stats` (SIGUSR1) prints and `/metrics` serves.
public struct SinkCounter: Sendable, Equatable {
    /// An input or an action: what the counters of one `statistics()` line belong to.
    public struct Group: Sendable, Hashable {
        public enum Kind: String, Sendable {
            case input, ruleset, file = "omfile", dynamicFile = "dynafile", journal = "omjournal",
                forward = "omfwd", program = "omprog", database = "database"
        }
        public var kind: Kind
        /// The input's name, the file's path, the dynaFile's template, the forward target; nil for the one
        /// ruleset line and journald.
        public var instance: String?

        /// How `statistics()` starts the line: `imudp(*:514)`, `omfile /var/log/x`, `omfile ?PerHost`…
        var title: String {
            switch kind {
            case .input: return instance ?? "input"
            case .ruleset, .journal: return kind.rawValue
            case .file: return "omfile \(instance ?? "")"
            case .dynamicFile: return "omfile ?\(instance ?? "")"
            case .forward: return "omfwd \(instance ?? "")"
            case .program: return "omprog \(instance ?? "")"
            case .database: return instance ?? "database"
            }
        }

        /// The Prometheus label naming the instance.
        var label: String {
            switch kind {
            case .input: return "input"
            case .file: return "file"
            case .dynamicFile: return "template"
            case .forward: return "target"
            case .program: return "program"
            case .database: return "database"
            case .ruleset, .journal: return ""
            }
        }
    }

    public var group: Group
    /// As `statistics()` prints it: `received`, `journald-absent`…
    public var name: String
    public var value: Int
    /// A level (open sessions, open files) rather than a running total.
    public var isGauge: Bool

    /// `tollgate_sink_<kind>_<name>[_bytes]_total`, or without `_total` for a gauge.
    var metricName: String {
        var base = "tollgate_sink_\(group.kind.rawValue)_" + name.replacingHyphens()
        if group.kind == .file || group.kind == .dynamicFile, name == "written" { base += "_bytes" }
        return isGauge ? base : base + "_total"
    }

    var help: String {
        switch (group.kind, name) {
        case (.input, "received"): return "Messages received by the input."
        case (.input, "truncated"): return "Messages cut to the maximum message size."
        case (.input, "disallowed"): return "Messages or connections refused by $AllowedSender."
        case (.input, "sessions"): return "TCP sessions open now."
        case (.input, "refused"): return "TCP connections closed at once because maxSessions were open."
        case (.input, "parse-fallbacks"): return "Messages without a valid PRI, read with rsyslog's defaults."
        case (.input, "framing-errors"): return "TCP frames with a bad octet count, read as LF-delimited."
        case (.input, "tls-refused"):
            return "TLS peers refused: a failed handshake, or a name or fingerprint not permitted."
        case (.ruleset, "processed"): return "Messages run through the rules."
        case (.ruleset, "config-errors"):
            return "What the configuration asks and this build cannot honour (left out at start, see the log)."
        case (.ruleset, "calls-cut"): return "Ruleset calls not made because the chain of calls was too deep."
        case (_, "written"): return "Bytes written to the file(s)."
        case (_, "failed"): return "Failed attempts (open, write, send)."
        case (_, "dropped"): return "Messages dropped (buffer or socket full)."
        case (_, "sent"): return "Messages handed over."
        case (_, "files"): return "dynaFiles open now."
        case (.forward, "resent"): return "Messages sent again after the connection broke (the at-least-once window)."
        case (.forward, "suspended"): return "Times the forward was suspended: the collector could not be reached."
        case (.forward, "queued"):
            return "Messages in the forward's queue (memory, disk, and the sender's batch and replay window)."
        case (.forward, "disk-bytes"): return "Bytes the forward's disk queue takes."
        case (.forward, "lost-at-stop"): return "Messages in memory at stop without queue.saveOnShutdown."
        case (.database, "sent"): return "Statements the database committed."
        case (.database, "failed"): return "Statements the database refused (each message dropped and logged)."
        case (.database, "suspended"): return "Times the action was suspended: the database could not be reached."
        case (.database, "queued"): return "Messages waiting for the database."
        case (.database, "lost-at-stop"): return "Messages still waiting when the stop's time ran out."
        case (.journal, "journald-absent"): return "Messages not sent because journald's socket is missing."
        default: return name
        }
    }
}

extension String {
    fileprivate func replacingHyphens() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}

/// The sink's counters in Prometheus' text format, through swift-prometheus: the counters themselves stay plain
/// integers on the sink's loop (no atomic operation per message); each scrape brings the registry up to date
/// with what changed since the previous one.
final class SinkMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private struct Known {
        var counters: [String: (Counter, Int)] = [:]
        var gauges: [String: Gauge] = [:]
    }
    private let known = NIOLockedValueBox(Known())

    /// The exposition text for `snapshot`.
    func render(_ snapshot: [SinkCounter]) -> [UInt8] {
        known.withLockedValue { known in
            for counter in snapshot {
                let labels = counter.group.instance.map { [(counter.group.label, $0)] } ?? []
                let key = counter.metricName + "|" + (counter.group.instance ?? "")
                let descriptor = MetricNameDescriptor(
                    metricName: counter.metricName, unitName: "", helpText: counter.help)
                if counter.isGauge {
                    let gauge = known.gauges[key] ?? registry.makeGauge(descriptor: descriptor, labels: labels)
                    known.gauges[key] = gauge
                    gauge.set(Int64(counter.value))
                } else {
                    let (metric, last) =
                        known.counters[key] ?? (registry.makeCounter(descriptor: descriptor, labels: labels), 0)
                    if counter.value > last { metric.increment(by: Int64(counter.value - last)) }
                    known.counters[key] = (metric, max(last, counter.value))
                }
            }
        }
        return registry.emitToBuffer()
    }
}

/// A minimal HTTP/1.1 endpoint for Prometheus: `GET <path>` answers the exposition text, anything else 404 (or
/// 405 for other methods). Keep-alive as the scraper asks.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let path: String
    private let body: @Sendable () -> EventLoopFuture<[UInt8]>
    private var request: HTTPRequestHead?

    init(path: String, body: @escaping @Sendable () -> EventLoopFuture<[UInt8]>) {
        self.path = path
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let keepAlive = head.isKeepAlive
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            if head.method != .GET && head.method != .HEAD {
                respond(context, .methodNotAllowed, Array("only GET\n".utf8), keepAlive: keepAlive, head: false)
            } else if target != path {
                respond(
                    context, .notFound, Array("not found: the metrics are at \(path)\n".utf8), keepAlive: keepAlive,
                    head: head.method == .HEAD)
            } else {
                let isHead = head.method == .HEAD
                body().hop(to: context.eventLoop).whenComplete { result in
                    let (handler, context) = bound.value
                    switch result {
                    case .success(let text):
                        handler.respond(context, .ok, text, keepAlive: keepAlive, head: isHead)
                    case .failure(let error):
                        handler.respond(
                            context, .internalServerError, Array("\(error)\n".utf8), keepAlive: false, head: isHead)
                    }
                }
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: [UInt8], keepAlive: Bool, head: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(
            name: "Content-Type",
            value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(text.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !head {
            var buffer = context.channel.allocator.buffer(capacity: text.count)
            buffer.writeBytes(text)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// The counters as impstats lines: rsyslog's legacy `name: key=value …` (what SIGUSR1 prints), or one JSON object
/// per input or action (`{ "name": "imudp(*:514)", "origin": "input", "received": 12, … }`; keys with `.` written
/// with `!` for json-elasticsearch; `@cee: ` before each for cee).
enum StatisticsLines {
    static func render(
        _ counters: [SinkCounter], _ format: StatisticsSettings.Format,
        value: (_ key: String, _ value: Int, _ gauge: Bool) -> Int = { _, value, _ in value }
    ) -> [String] {
        var groups: [(SinkCounter.Group, [(String, Int)])] = []
        for counter in counters {
            let v = value("\(counter.group.title) \(counter.name)", counter.value, counter.isGauge)
            if let last = groups.last, last.0 == counter.group {
                groups[groups.count - 1].1.append((counter.name, v))
            } else {
                groups.append((counter.group, [(counter.name, v)]))
            }
        }
        return groups.map { group, values in
            switch format {
            case .legacy:
                return group.title + ":" + values.map { " \($0.0)=\($0.1)" }.joined()
            case .json, .jsonElasticsearch, .cee:
                var out: [UInt8] = []
                out.append(contentsOf: "{ \"name\": ".utf8)
                JSONValue.writeString(Array(group.title.utf8), to: &out)
                out.append(contentsOf: ", \"origin\": ".utf8)
                JSONValue.writeString(Array(group.kind.rawValue.utf8), to: &out)
                for (key, n) in values {
                    out.append(contentsOf: ", ".utf8)
                    let name = format == .jsonElasticsearch ? key.replacingOccurrences(of: ".", with: "!") : key
                    JSONValue.writeString(Array(name.utf8), to: &out)
                    out.append(contentsOf: ": \(n)".utf8)
                }
                out.append(contentsOf: " }".utf8)
                let json = String(decoding: out, as: UTF8.self)
                return format == .cee ? "@cee: " + json : json
            }
        }
    }
}
