// The `retention:` section: defaults when absent, durations and `forever` per state and side
// table, and every mistake reported with its line.

import Testing
@testable import SluiceCatalog
@testable import SluiceCatalogLoader
import SluiceCore

@Suite struct RetentionCatalogTests {
    @Test func defaultsWhenTheCatalogSaysNothing() {
        let check = Fixtures.check("version: 1\n")
        #expect(check.problems.isEmpty)
        let r = check.catalog.retention
        #expect(r.keep(.completed) == .seconds(86_400))
        #expect(r.keep(.cancelled) == .seconds(86_400))
        #expect(r.keep(.discarded) == .seconds(7 * 86_400))
        for live in [JobState.available, .scheduled, .running, .retryable] { #expect(r.keep(live) == nil) }
        #expect(r.idempotencyKeys == .seconds(86_400))
        #expect(r.batchSize == 1000)
    }

    @Test func durationsAndForever() {
        let check = Fixtures.check("""
            retention:
              completed: 2h
              cancelled: 30m
              discarded: forever
              schedule_fires: 3d
              idempotency_keys: forever
              batch_size: 500
              interval: 10s
            """)
        #expect(check.problems.isEmpty)
        let r = check.catalog.retention
        #expect(r.completed == .seconds(7200))
        #expect(r.cancelled == .seconds(1800))
        #expect(r.discarded == nil)
        #expect(r.scheduleFires == .seconds(3 * 86_400))
        #expect(r.idempotencyKeys == nil)
        #expect(r.replacedSegments == .seconds(86_400))  // not mentioned: default
        #expect(r.batchSize == 500)
        #expect(r.interval == .seconds(10))
    }

    @Test func mistakesAreReportedWithTheirLine() {
        let check = Fixtures.check("""
            retention:
              completed: 1 day
              discarded: never
              runnning: 1d
              batch_size: 0
            """)
        #expect(check.summary == [
            "test.yaml:2 invalid_duration", "test.yaml:3 invalid_duration", "test.yaml:4 unknown_key", "test.yaml:5 invalid_value",
        ])
        // A value with a problem keeps its default.
        #expect(check.catalog.retention.completed == .seconds(86_400))
    }

    @Test func declaredTwiceAcrossFiles() {
        let check = CatalogLoader.check(sources: [
            CatalogSource(path: "a.yaml", text: "retention:\n  completed: 1h\n"),
            CatalogSource(path: "b.yaml", text: "retention:\n  completed: 2h\n"),
        ])
        #expect(check.summary == ["b.yaml:2 duplicate"])
        #expect(check.catalog.retention.completed == .seconds(3600))
    }
}
