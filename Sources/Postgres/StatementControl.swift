// StatementControl: which statement a connection is running, and cancel requests for it.
//
// Statements are numbered. Cancelling a statement that has not reached the I/O thread yet marks
// it so that it never starts; cancelling the running one sends PQcancel from a shared canceller
// thread (the request opens a short connection to the server, so it must not run on the
// cooperative pool). Postgres itself cannot tell statements apart: a cancel that arrives just as
// one statement ends may hit the next one on the same connection. That race is inherent to the
// protocol and the reason a cancelled connection's next statement should tolerate 57014.

import ClientSupport
import Synchronization

final class StatementControl: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var running: UInt64?
        var lastBegun: UInt64 = 0
        var cancelledBeforeStart: Set<UInt64> = []
        var cancelSent: UInt64?
    }

    private let state = Mutex(State())
    private let cancelHandle: PGCancelHandle?

    init(cancelHandle: PGCancelHandle?) {
        self.cancelHandle = cancelHandle
    }

    /// A shared thread that sends cancel requests for every connection.
    private static let cancelThread = IOThread(name: "postgres-cancel")

    func makeID() -> UInt64 {
        state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
    }

    /// Marks `id` as running; false when it was cancelled before it could start.
    func begin(_ id: UInt64) -> Bool {
        state.withLock { s in
            s.lastBegun = max(s.lastBegun, id)
            if s.cancelledBeforeStart.remove(id) != nil { return false }
            s.running = id
            s.cancelSent = nil
            return true
        }
    }

    /// Marks `id` as finished; returns whether a cancel request was sent for it.
    func end(_ id: UInt64) -> Bool {
        state.withLock { s in
            if s.running == id { s.running = nil }
            let sent = s.cancelSent == id
            if sent { s.cancelSent = nil }
            return sent
        }
    }

    /// True when a cancel was requested for the running statement `id` (for loops that can
    /// stop by themselves, such as COPY).
    func isCancelRequested(_ id: UInt64) -> Bool {
        state.withLock { $0.cancelSent == id }
    }

    /// Cancels statement `id` (task cancellation), or with nil whatever statement runs now.
    func cancel(_ id: UInt64?) {
        let send: Bool = state.withLock { s in
            guard let running = s.running, id == nil || id == running else {
                if let id, id > s.lastBegun { s.cancelledBeforeStart.insert(id) }
                return false
            }
            guard s.cancelSent != running else { return false }
            s.cancelSent = running
            return true
        }
        guard send, let handle = cancelHandle else { return }
        Self.cancelThread.execute { _ = handle.send() }
    }
}
