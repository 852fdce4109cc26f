/// A NOTIFY_SOCKET a test owns, as a service manager would: the daemon's sd_notify messages arrive here.
public final class NotifySocket {
    private let receiver: UnixDatagramReceiver
    public var path: String { receiver.path }
    /// `WATCHDOG=1` messages seen so far.
    public private(set) var pings = 0
    /// Other messages that came while `waitForPings` waited, for `next`.
    private var kept: [String] = []

    public init(path: String) throws { receiver = try UnixDatagramReceiver(path: path) }

    /// The next message that is not a watchdog ping (counting those), or nil after 5 s of silence.
    public func next() -> String? {
        if !kept.isEmpty { return kept.removeFirst() }
        while let datagram = receiver.receive() {
            let text = String(decoding: datagram, as: UTF8.self)
            if text == "WATCHDOG=1" {
                pings += 1
                continue
            }
            return text
        }
        return nil
    }

    /// Waits (up to `seconds`) until `count` pings have come.
    public func waitForPings(_ count: Int, seconds: Double = 5) -> Bool {
        var waited = 0.0
        while pings < count && waited < seconds {
            if let datagram = receiver.receive() {
                let text = String(decoding: datagram, as: UTF8.self)
                if text == "WATCHDOG=1" { pings += 1 } else { kept.append(text) }
            }
            waited += 0.2
        }
        return pings >= count
    }
}
