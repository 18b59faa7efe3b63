// PostgresPoolStateMachine fed with events, no server: limits, FIFO waiters, replacement of
// broken connections, validation after idle, pruning, close.

import Testing
@testable import Postgres

@Suite struct PoolStateMachineTests {
    typealias Machine = PostgresPoolStateMachine<String>

    func machine(min: Int = 0, max: Int = 2, validateAfter: Duration = .seconds(30), idleTimeout: Duration? = .seconds(300)) -> Machine {
        Machine(limits: .init(minConnections: min, maxConnections: max, validateAfterIdle: validateAfter, idleTimeout: idleTimeout))
    }

    let t0 = ContinuousClock.now

    @Test func opensLazilyUpToMaxThenQueues() {
        var m = machine(max: 2)
        guard case .open = m.acquire(waiter: 1, now: t0) else { Issue.record("expected open"); return }
        let opened = m.opened()
        #expect(opened)
        guard case .open = m.acquire(waiter: 2, now: t0) else { Issue.record("expected open"); return }
        guard case .wait = m.acquire(waiter: 3, now: t0) else { Issue.record("expected wait"); return }
        #expect(m.counts == .init(idle: 0, leased: 1, opening: 1, waiting: 1))
        let opened2 = m.opened()
        #expect(opened2)
        #expect(m.counts.total == 2)
    }

    @Test func releaseHandsOverFIFO() {
        var m = machine(max: 1)
        _ = m.acquire(waiter: 1, now: t0)
        _ = m.opened()
        _ = m.acquire(waiter: 2, now: t0)
        _ = m.acquire(waiter: 3, now: t0)
        let a = m.release("c1", reusable: true, now: t0)
        #expect(a.handOver.map(\.waiter) == [2])
        #expect(a.handOver.map(\.connection) == ["c1"])
        let b = m.release("c1", reusable: true, now: t0)
        #expect(b.handOver.map(\.waiter) == [3])
        let c = m.release("c1", reusable: true, now: t0)
        #expect(c.isEmpty)
        #expect(m.counts == .init(idle: 1, leased: 0, opening: 0, waiting: 0))
    }

    @Test func newcomersDoNotJumpTheQueue() {
        var m = machine(max: 1)
        _ = m.acquire(waiter: 1, now: t0)
        _ = m.opened()
        _ = m.acquire(waiter: 2, now: t0)
        // A broken release frees capacity: the queued waiter 2 is nominated to open.
        let a = m.release("c1", reusable: false, now: t0)
        #expect(a.close == ["c1"])
        #expect(a.nominate == [2])
        // A newcomer now has to wait: the pool is at max again (one opening).
        guard case .wait = m.acquire(waiter: 3, now: t0) else { Issue.record("expected wait"); return }
    }

    @Test func failedOpenLetsTheNextWaiterTry() {
        var m = machine(max: 1)
        _ = m.acquire(waiter: 1, now: t0)  // open
        _ = m.acquire(waiter: 2, now: t0)  // wait
        let a = m.openFailed()
        #expect(a.nominate == [2])
        #expect(m.counts == .init(idle: 0, leased: 0, opening: 1, waiting: 0))
    }

    @Test func validatesConnectionsIdleTooLong() {
        var m = machine(max: 1, validateAfter: .seconds(10))
        _ = m.acquire(waiter: 1, now: t0)
        _ = m.opened()
        _ = m.release("c1", reusable: true, now: t0)
        guard case .lease("c1", let fresh) = m.acquire(waiter: 2, now: t0 + .seconds(5)) else { Issue.record("expected lease"); return }
        #expect(!fresh)
        _ = m.release("c1", reusable: true, now: t0 + .seconds(5))
        guard case .lease("c1", let stale) = m.acquire(waiter: 3, now: t0 + .seconds(16)) else { Issue.record("expected lease"); return }
        #expect(stale)
    }

    @Test func lifoReuseAndTimeoutRemoval() {
        var m = machine(max: 2)
        _ = m.acquire(waiter: 1, now: t0); _ = m.opened()
        _ = m.acquire(waiter: 2, now: t0); _ = m.opened()
        _ = m.release("a", reusable: true, now: t0)
        _ = m.release("b", reusable: true, now: t0 + .seconds(1))
        guard case .lease("b", _) = m.acquire(waiter: 3, now: t0 + .seconds(2)) else { Issue.record("expected b"); return }
        guard case .lease("a", _) = m.acquire(waiter: 4, now: t0 + .seconds(2)) else { Issue.record("expected a"); return }
        guard case .wait = m.acquire(waiter: 5, now: t0) else { Issue.record("expected wait"); return }
        let removed = m.removeWaiter(5)
        let removedAgain = m.removeWaiter(5)
        #expect(removed && !removedAgain)
        let v1 = m.release("a", reusable: true, now: t0).handOver
        #expect(v1.isEmpty)
    }

    @Test func warmUpAndPrune() {
        var m = machine(min: 2, max: 4, idleTimeout: .seconds(60))
        let v2 = m.warmUp()
        #expect(v2 == 2)
        let v3 = m.warmUp()
        #expect(v3 == 0)
        _ = m.warmOpened("w1", now: t0)
        _ = m.warmOpened("w2", now: t0)
        _ = m.acquire(waiter: 1, now: t0)  // leases w2
        _ = m.acquire(waiter: 2, now: t0)  // leases w1
        guard case .open = m.acquire(waiter: 3, now: t0) else { Issue.record("expected open"); return }
        _ = m.opened()
        _ = m.release("w1", reusable: true, now: t0)
        _ = m.release("w2", reusable: true, now: t0)
        _ = m.release("x", reusable: true, now: t0 + .seconds(30))
        let v4 = m.pruneIdle(now: t0 + .seconds(61))
        #expect(v4 == ["w1"])  // keeps min 2
        #expect(m.counts.idle == 2)
    }

    @Test func warmConnectionGoesToAWaiter() {
        var m = machine(min: 1, max: 1)
        let v5 = m.warmUp()
        #expect(v5 == 1)
        guard case .wait = m.acquire(waiter: 1, now: t0) else { Issue.record("expected wait"); return }
        let a = m.warmOpened("w", now: t0)
        #expect(a.handOver.map(\.waiter) == [1])
    }

    @Test func closeFailsWaitersAndClosesIdle() {
        var m = machine(max: 2)
        _ = m.acquire(waiter: 1, now: t0); _ = m.opened()
        _ = m.acquire(waiter: 2, now: t0); _ = m.opened()
        _ = m.release("a", reusable: true, now: t0)
        _ = m.acquire(waiter: 3, now: t0)  // leases a
        _ = m.acquire(waiter: 4, now: t0)  // waits
        let a = m.close()
        #expect(a.fail.map(\.waiter) == [4])
        #expect(a.fail.first?.error.code == .poolClosed)
        let v6 = m.close().isEmpty
        #expect(v6)
        let r = m.release("a", reusable: true, now: t0)
        #expect(r.close == ["a"])
        guard case .fail(let e) = m.acquire(waiter: 5, now: t0) else { Issue.record("expected fail"); return }
        #expect(e.code == .poolClosed)
        let v7 = m.warmUp()
        #expect(v7 == 0)
    }

    @Test func openedAfterCloseMustBeClosed() {
        var m = machine(max: 1)
        _ = m.acquire(waiter: 1, now: t0)
        _ = m.close()
        let opened = m.opened()
        #expect(!opened)
        #expect(m.counts.total == 0)
    }
}
