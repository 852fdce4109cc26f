import NIOCore

/// A timeout of the session (`timeout http-request`, `client`, `server`), armed and disarmed for each request
/// without a system call or an allocation: the scheduled check stays in place and, when it fires, looks at where
/// the session is. `touch` notes activity (the timeout counts from the last); `excused` may postpone the expiry (a
/// side that is idle only because the other does not read is not at fault). A new deadline earlier than the
/// scheduled check moves the check.
final class IdleTimer {
    private var timeout: TimeAmount?
    private var lastActivity = NIODeadline.now()
    private var task: Scheduled<Void>?
    private var scheduledFor = NIODeadline.distantFuture
    private var active = false
    /// Set once by the session (not per request: no closure is made per request).
    var excused: () -> Bool = { false }
    var expired: () -> Void = {}

    init(timeout: TimeAmount?) { self.timeout = timeout }

    func touch() { if active { lastActivity = .now() } }

    /// Starts the timeout now (with `timeout`, or the one given at creation).
    func start(on loop: any EventLoop, timeout: TimeAmount? = nil) {
        if let timeout { self.timeout = timeout }
        guard let current = self.timeout else { return }
        active = true
        lastActivity = .now()
        let due = lastActivity + current
        if task != nil && scheduledFor <= due { return }
        task?.cancel()
        schedule(on: loop, at: due)
    }

    /// Stops the timeout (the scheduled check stays and finds nothing to do).
    func stop() { active = false }

    /// Stops the timeout and its scheduled check, and lets go of the session (it ends).
    func cancel() {
        stop()
        task?.cancel()
        task = nil
        excused = { false }
        expired = {}
    }

    private func schedule(on loop: any EventLoop, at deadline: NIODeadline) {
        scheduledFor = deadline
        task = loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            task = nil
            scheduledFor = .distantFuture
            guard active, let timeout else { return }
            let due = lastActivity + timeout
            if due > .now() { return schedule(on: loop, at: due) }
            if excused() {
                lastActivity = .now()
                return schedule(on: loop, at: lastActivity + timeout)
            }
            stop()
            expired()
        }
    }
}
