// DemoProgressMeter: counts the rows COPY pulls from the demo generator and reports progress
// every few seconds (checking the clock only every 4096 rows); DemoMeteredRows wraps a row
// sequence so that each row it yields ticks the meter.

import Postgres

/// Counts rows as COPY pulls them and reports progress now and then.
final class DemoProgressMeter {
    // Not Sendable: used only by the loading task (COPY reads its rows in the caller's isolation).
    let started = ContinuousClock.now
    let interval: Duration
    let reportHandler: @Sendable (DemoLoadProgress) -> Void
    var lastReport = ContinuousClock.now
    var step = ""
    var rows = 0
    var expected = 0
    var total = 0

    init(interval: Duration, report: @escaping @Sendable (DemoLoadProgress) -> Void) {
        self.interval = interval
        self.reportHandler = report
    }

    func begin(_ step: String, expected: Int) {
        self.step = step
        self.expected = expected
        rows = 0
    }

    @inline(__always)
    func tick() {
        rows += 1
        total += 1
        if rows & 4095 == 0 {
            let now = ContinuousClock.now
            if now - lastReport >= interval { report(at: now) }
        }
    }

    func report(at now: ContinuousClock.Instant = .now) {
        lastReport = now
        let elapsed = now - started
        let seconds = elapsed.demoSeconds
        reportHandler(DemoLoadProgress(step: step, rows: rows, expectedRows: expected, totalRows: total, elapsed: elapsed,
                                       rowsPerSecond: seconds > 0 ? Double(total) / seconds : 0))
    }
}

/// A sequence that ticks a meter for every row it yields.
struct DemoMeteredRows<Base: Sequence<[PostgresValue]>>: Sequence {
    let base: Base
    let meter: DemoProgressMeter

    struct Iterator: IteratorProtocol {
        var base: Base.Iterator
        let meter: DemoProgressMeter

        mutating func next() -> [PostgresValue]? {
            guard let row = base.next() else { return nil }
            meter.tick()
            return row
        }
    }

    func makeIterator() -> Iterator { Iterator(base: base.makeIterator(), meter: meter) }
}
