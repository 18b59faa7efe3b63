// RedisPoolStateMachine and ReconnectGate driven by events alone: no server, no clock.

import ClientSupport
@testable import Redis
import Testing

@Suite struct RedisPoolStateMachineTests {
    final class Conn: Equatable {
        let n: Int
        init(_ n: Int) { self.n = n }
        static func == (a: Conn, b: Conn) -> Bool { a === b }
    }
    typealias Machine = RedisPoolStateMachine<Conn>

    let t0 = ContinuousClock.now
    let lost = RedisError(.connectionLost, "server closed the connection")
    let refused = RedisError(.connectionFailed, "Connection refused")

    func machine(size: Int = 2, backoff: Duration = .seconds(1)) -> Machine {
        Machine(size: size, gate: ReconnectGate(backoff: Backoff(base: backoff, cap: backoff, jitter: 0), endpoint: "h:1"))
    }

    func connect(_ m: inout Machine, _ conn: Conn) -> Machine.Lease? {
        guard case .connect? = m.acquire(now: t0) else { return nil }
        return m.connectSucceeded(conn)
    }

    @Test func opensUpToSizeThenQueuesWaitersInOrder() throws {
        var m = machine(size: 2)
        let a = try #require(connect(&m, Conn(1)))
        let b = try #require(connect(&m, Conn(2)))
        #expect(m.acquire(waiter: 10, now: t0) == nil)
        #expect(m.acquire(waiter: 11, now: t0) == nil)
        #expect(m.open == 2)

        let first = m.release(a, broken: nil, now: t0)
        #expect(first.resume.count == 1 && first.resume[0].waiter == 10)
        guard case .use(let handed) = first.resume[0].grant else { Issue.record("expected use"); return }
        #expect(handed.connection == a.connection)

        // Waiter 11 times out; the next release goes idle.
        let removed = m.removeWaiter(11)
        let removedAgain = m.removeWaiter(11)
        #expect(removed && !removedAgain)
        #expect(m.release(b, broken: nil, now: t0).resume.isEmpty)
        #expect(m.idle.count == 1)
    }

    @Test func aLostConnectionRetiresTheIdleOnesToo() throws {
        var m = machine(size: 3)
        let a = try #require(connect(&m, Conn(1)))
        let b = try #require(connect(&m, Conn(2)))
        let c = try #require(connect(&m, Conn(3)))
        _ = m.release(b, broken: nil, now: t0)
        let actions = m.release(a, broken: lost, now: t0)
        #expect(actions.close.map(\.n).sorted() == [1, 2])
        #expect(m.idle.isEmpty)
        #expect(m.open == 1)
        // `c` belongs to the old generation: closed when it comes back, even healthy.
        let later = m.release(c, broken: nil, now: t0)
        #expect(later.close.map(\.n) == [3])
        #expect(m.open == 0)
    }

    @Test func aTimedOutConnectionDoesNotRetireOthers() throws {
        var m = machine(size: 2)
        let a = try #require(connect(&m, Conn(1)))
        let b = try #require(connect(&m, Conn(2)))
        _ = m.release(b, broken: nil, now: t0)
        let actions = m.release(a, broken: RedisError(.timeout, "slow"), now: t0)
        #expect(actions.close.map(\.n) == [1])
        #expect(m.idle.count == 1)
    }

    @Test func failedConnectBacksOffAndFailsWaitersFast() throws {
        var m = machine(size: 1, backoff: .seconds(1))
        guard case .connect? = m.acquire(now: t0) else { Issue.record("expected connect"); return }
        #expect(m.acquire(waiter: 7, now: t0) == nil)
        let actions = m.connectFailed(refused, now: t0)
        // The waiter gets the freed slot but the gate refuses: it fails at once.
        #expect(actions.resume.count == 1)
        guard case .fail(let error) = actions.resume[0].grant else { Issue.record("expected fail"); return }
        #expect(error.code == .unavailable)
        #expect(m.open == 0)

        guard case .fail(let inside)? = m.acquire(now: t0 + .milliseconds(999)) else { Issue.record("expected fail"); return }
        #expect(inside.code == .unavailable)
        #expect(inside.message.contains("Connection refused"))
        // After the window: one probe at a time.
        guard case .connect? = m.acquire(now: t0 + .seconds(1)) else { Issue.record("expected connect"); return }
        #expect(m.gate.attemptsInFlight == 1)
        let succeeded = m.connectSucceeded(Conn(1))
        let lease = try #require(succeeded)
        #expect(m.gate.failures == 0)
        _ = m.release(lease, broken: nil, now: t0 + .seconds(1))
        #expect(m.idle.count == 1)
    }

    @Test func onlyOneProbeWhileRedisIsDown() {
        var gate = ReconnectGate(backoff: Backoff(base: .seconds(1), cap: .seconds(4), jitter: 0), endpoint: "h:1")
        #expect(gate.request(now: t0) == .attempt)
        #expect(gate.request(now: t0) == .attempt) // no failure yet: parallel connects are fine
        gate.failed(refused, now: t0)
        gate.failed(refused, now: t0)
        // Two failures: the window is 2 s.
        #expect(gate.retryAt == t0 + .seconds(2))
        #expect(gate.request(now: t0 + .seconds(2)) == .attempt)
        if case .refuse(let e) = gate.request(now: t0 + .seconds(2)) {
            #expect(e.message.contains("in progress"))
        } else {
            Issue.record("a second probe must be refused")
        }
        gate.succeeded()
        #expect(gate.failures == 0 && gate.retryAt == nil)
    }

    @Test func closeFailsWaitersAndClosesIdle() throws {
        var m = machine(size: 2)
        let a = try #require(connect(&m, Conn(1)))
        let b = try #require(connect(&m, Conn(2)))
        _ = m.release(a, broken: nil, now: t0)
        #expect(m.acquire(now: t0).map { if case .use = $0 { true } else { false } } == true)
        #expect(m.acquire(waiter: 3, now: t0) == nil)
        let actions = m.close()
        #expect(actions.resume.count == 1)
        guard case .fail(let error) = actions.resume[0].grant else { Issue.record("expected fail"); return }
        #expect(error.code == .poolClosed)
        #expect(m.release(b, broken: nil, now: t0).close.map(\.n) == [2])
        guard case .fail(let after)? = m.acquire(now: t0) else { Issue.record("expected fail"); return }
        #expect(after.code == .poolClosed)
    }
}

extension RedisPoolStateMachine.Grant: Equatable where Connection: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.use(let x), .use(let y)): x.connection == y.connection && x.generation == y.generation
        case (.connect, .connect): true
        case (.fail(let x), .fail(let y)): x == y
        default: false
        }
    }
}
