import NIOCore

/// HAProxy's queues of one backend: sessions that found every server at its `maxconn` wait here, in the backend's
/// queue when no server was chosen for them (roundrobin, leastconn, first) or in a server's own queue when the
/// algorithm chose it (source). When a server frees a slot it takes the oldest session of its own queue and of the
/// backend's queue (backup servers take from the backend's queue only while they serve for the backend).
///
/// Queue positions are HAProxy's log figures `srv_queue`/`backend_queue`: a session that went through a queue gets
/// 1 plus the number of sessions that queue let go (dequeued) while it waited, whether it leaves by a slot, a
/// timeout or an abort (HAProxy 2.6's `queue_idx` rule, checked against its log lines).
public struct PendingQueues<Element> {
    /// Identifies a queued session for `remove`.
    public struct Ticket: Hashable, Sendable {
        let sequence: UInt64
        /// nil: the backend's queue.
        let server: Int?
    }

    struct Entry {
        var element: Element
        var ticket: Ticket
        /// The queue's dequeue count when this entry came in.
        var mark: UInt64
    }

    /// What leaves a queue, and which queue it left: its positions for the log.
    public struct Departure {
        public var element: Element
        public var serverPosition: Int
        public var backendPosition: Int
    }

    private var backendQueue = CircularBuffer<Entry>()
    private var serverQueues: [CircularBuffer<Entry>]
    private var backendDequeued: UInt64 = 0
    private var serverDequeued: [UInt64]
    private var sequence: UInt64 = 0

    public init(servers: Int) {
        serverQueues = Array(repeating: CircularBuffer(), count: servers)
        serverDequeued = Array(repeating: 0, count: servers)
    }

    /// Sessions waiting in the backend's queue, and in server `i`'s.
    public var backendCount: Int { backendQueue.count }
    public func count(server i: Int) -> Int { serverQueues[i].count }
    /// Every session waiting for this backend.
    public var total: Int { serverQueues.reduce(backendQueue.count) { $0 + $1.count } }

    /// Queues a session, on server `server`'s queue or (nil) the backend's.
    public mutating func enqueue(_ element: Element, server: Int? = nil) -> Ticket {
        sequence += 1
        let ticket = Ticket(sequence: sequence, server: server)
        if let server {
            serverQueues[server].append(Entry(element: element, ticket: ticket, mark: serverDequeued[server]))
        } else {
            backendQueue.append(Entry(element: element, ticket: ticket, mark: backendDequeued))
        }
        return ticket
    }

    /// A queued session leaves without a slot (queue timeout, client abort); nil when it is no longer queued (a
    /// slot reached it first).
    public mutating func remove(_ ticket: Ticket) -> Departure? {
        if let server = ticket.server {
            guard let at = serverQueues[server].firstIndex(where: { $0.ticket == ticket }) else { return nil }
            let entry = serverQueues[server].remove(at: at)
            return Departure(
                element: entry.element, serverPosition: Int(serverDequeued[server] - entry.mark) + 1,
                backendPosition: 0)
        }
        guard let at = backendQueue.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        let entry = backendQueue.remove(at: at)
        return Departure(
            element: entry.element, serverPosition: 0, backendPosition: Int(backendDequeued - entry.mark) + 1)
    }

    /// Server `i` has a free slot: the oldest session of its queue and, when `backendToo`, of the backend's.
    public mutating func next(for i: Int, backendToo: Bool = true) -> Departure? {
        let own = serverQueues[i].first
        let shared = backendToo ? backendQueue.first : nil
        if let own, shared.map({ own.ticket.sequence < $0.ticket.sequence }) ?? true {
            serverQueues[i].removeFirst()
            let position = Int(serverDequeued[i] - own.mark) + 1
            serverDequeued[i] += 1
            return Departure(element: own.element, serverPosition: position, backendPosition: 0)
        }
        guard let shared else { return nil }
        backendQueue.removeFirst()
        let position = Int(backendDequeued - shared.mark) + 1
        backendDequeued += 1
        return Departure(element: shared.element, serverPosition: 0, backendPosition: position)
    }

    /// Server `i` went down: the sessions waiting for it, oldest first, to be sent to another server.
    public mutating func takeAll(server i: Int) -> [Departure] {
        var out: [Departure] = []
        while let entry = serverQueues[i].popFirst() {
            out.append(
                Departure(
                    element: entry.element, serverPosition: Int(serverDequeued[i] - entry.mark) + 1,
                    backendPosition: 0))
        }
        return out
    }
}

extension PendingQueues: Sendable where Element: Sendable {}
extension PendingQueues.Entry: Sendable where Element: Sendable {}
extension PendingQueues.Departure: Sendable where Element: Sendable {}
