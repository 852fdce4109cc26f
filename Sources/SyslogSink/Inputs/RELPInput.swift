import LogCore
import NIOCore
import SyslogProtocol

/// imrelp: one RELP session (librelp 1.11's server side) per connection. The client opens with its offers (it must
/// offer `syslog`), sends each message as a `syslog` frame with the next transaction number, and the sink answers
/// `200 OK` once the message is in its rules, which is what makes RELP lose nothing: a client resends whatever was
/// not answered. `close` is answered with an empty `rsp` and a `serverclose`. A frame out of sequence, a malformed
/// one or an unknown command ends the session as librelp ends it (`serverclose`, then the connection closes); it is
/// counted (`framing-errors`) and logged once per input.
final class RELPSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let ruleset: NIOLoopBound<Ruleset>
    private let options: SyslogParseOptions
    private let name: String
    private let input: UInt16
    private let target: Int
    /// A frame larger than imtcp's 16 MiB read bound is refused rather than held (a peer announcing more is dropped).
    private let decoder = RELPFrameDecoder(maxDataSize: 16 << 20)
    private var pending: ByteBuffer?
    private var expected = 1
    private var opened = false
    private var ended = false
    private var reception: SyslogReception?

    /// Made on the loop that runs the rules.
    init(ruleset: NIOLoopBound<Ruleset>, options: SyslogParseOptions, name: String, input: UInt16, boundTo: String?) {
        self.ruleset = ruleset
        self.options = options
        self.name = name
        self.input = input
        target = ruleset.value.index(of: boundTo)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        var incoming = unwrapInboundIn(data)
        if pending == nil || pending?.readableBytes == 0 {
            pending = incoming
        } else {
            pending?.writeBuffer(&incoming)
        }
        guard var buffer = pending else { return }
        var answers: [UInt8] = []
        let counters = ruleset.value.counters(for: name)
        var delivered = false
        do {
            while !ended, let frame = try decoder.next(&buffer) {
                delivered = handle(frame, context: context, counters: counters, answers: &answers) || delivered
            }
        } catch {
            protocolError("\(error)", context: context, counters: counters, answers: &answers)
        }
        pending = buffer.readableBytes > 0 ? buffer : nil
        if delivered { ruleset.flushSoon() }
        if !answers.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: answers)), promise: nil)
        }
        if ended { context.close(promise: nil) }
    }

    /// Carries out one frame; true when it delivered a message.
    private func handle(
        _ frame: RELPFrame, context: ChannelHandlerContext, counters: Ruleset.InputCounters, answers: inout [UInt8]
    ) -> Bool {
        if frame.txnr != 0 {
            guard frame.txnr == expected else {
                protocolError(
                    "transaction number \(frame.txnr) where \(expected) was due", context: context, counters: counters,
                    answers: &answers)
                return false
            }
            expected = RELPFrame.next(after: expected)
        }
        switch frame.command {
        case "open":
            guard !opened else {
                RELPFrame.response(frame.txnr, code: 500, text: "protocol error: connection already open")
                    .append(to: &answers)
                end(&answers)
                return false
            }
            let offers = String(decoding: frame.data, as: UTF8.self).split(separator: "\n")
            let commands = offers.first { $0.hasPrefix("commands=") }?.dropFirst(9).split(separator: ",") ?? []
            guard commands.contains("syslog") else {
                RELPFrame.response(frame.txnr, code: 500, text: "required command not supported by client")
                    .append(to: &answers)
                end(&answers)
                return false
            }
            opened = true
            RELPFrame.response(frame.txnr, offers: RELPFrame.offers).append(to: &answers)
            return false
        case "syslog":
            guard opened else {
                RELPFrame.response(frame.txnr, code: 500, text: "command disabled").append(to: &answers)
                return false
            }
            deliver(frame.data, context: context, counters: counters)
            RELPFrame.response(frame.txnr).append(to: &answers)
            return true
        case "close":
            RELPFrame(txnr: frame.txnr, command: "rsp").append(to: &answers)
            end(&answers)
            return false
        default:
            protocolError("unknown command '\(frame.command)'", context: context, counters: counters, answers: &answers)
            return false
        }
    }

    /// One message into the rules, cut to the maximum message size as imrelp's default `oversizeMode="truncate"`.
    private func deliver(_ data: [UInt8], context: ChannelHandlerContext, counters: Ruleset.InputCounters) {
        if reception == nil || reception?.fromHost.isEmpty == true {
            let sender = SenderNames().sender(context.channel.remoteAddress)
            reception = SyslogReception(
                receivedAt: .now(), fromHost: sender.name, fromHostIP: sender.ip,
                fromHostPort: context.channel.remoteAddress?.port)
        }
        guard var reception else { return }
        reception.receivedAt = .now()
        counters.received += 1
        var bytes = data[...]
        if bytes.count > options.maxMessageSize {
            counters.truncated += 1
            bytes = bytes.prefix(options.maxMessageSize)
        }
        var message = SyslogParser.parse(bytes, reception: reception, options: options)
        message.inputName = input
        if message.withoutPRI { counters.parseFallbacks += 1 }
        ruleset.value.process(message, ruleset: target)
    }

    private func protocolError(
        _ why: String, context: ChannelHandlerContext, counters: Ruleset.InputCounters, answers: inout [UInt8]
    ) {
        counters.framingErrors += 1
        if counters.framingErrors == 1 {
            let peer = context.channel.remoteAddress?.ipAddress ?? "?"
            sinkLog("\(name): RELP peer \(peer): \(why); session dropped (counted from now on as framing-errors)")
        }
        end(&answers)
    }

    /// librelp's end of a session: `serverclose`, then the connection closes.
    private func end(_ answers: inout [UInt8]) {
        RELPFrame(txnr: 0, command: "serverclose").append(to: &answers)
        ended = true
    }
}

@available(*, unavailable)
extension RELPSessionHandler: Sendable {}
