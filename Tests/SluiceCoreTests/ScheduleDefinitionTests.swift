import Foundation
import Testing
@testable import SluiceCore

@Suite struct ScheduleDefinitionTests {
    static let hourly = try! ScheduleSpec.parse(cron: "@hourly", timeZone: "Europe/Berlin")

    @Test func buildsAValidDefinitionWithDefaults() throws {
        let d = try ScheduleDefinition(
            name: "refresh_campaign_analytics", spec: Self.hourly, kind: "refresh.matview",
            args: ["view": "campaign_analytics"], uniqueKey: "refresh.matview:{args.view}")
        #expect(d.missedRuns == .runOnce)
        #expect(d.enabled)
        #expect(d.uniqueKey(for: date("2026-11-22T10:00:00Z")) == "refresh.matview:campaign_analytics")
        #expect(d.fireKey(date("2026-11-22T10:00:00Z")).description == "refresh_campaign_analytics@2026-11-22T10:00:00.000Z")
    }

    @Test func rendersEveryPlaceholder() throws {
        let d = try ScheduleDefinition(
            name: "partitions.events", spec: Self.hourly, kind: "maintenance.partitions",
            args: ["table": "events", "months": 3, "dry": false], uniqueKey: "{kind}/{name}/{args.table}/{args.months}/{args.dry}@{fire}")
        #expect(d.uniqueKey(for: date("2026-02-01T01:00:00Z"))
            == "maintenance.partitions/partitions.events/events/3/false@2026-02-01T01:00:00.000Z")
        let none = try ScheduleDefinition(name: "x", spec: Self.hourly, kind: "sys.noop")
        #expect(none.uniqueKey(for: date("2026-02-01T01:00:00Z")) == nil)
    }

    @Test(arguments: [
        ("", "refresh.matview", nil, "name: is empty"),
        ("nightly vacuum", "maintenance.vacuum", nil,
         "name: 'nightly vacuum' must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"),
        ("a@b", "maintenance.vacuum", nil,
         "name: 'a@b' must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"),
        ("-x", "maintenance.vacuum", nil,
         "name: '-x' must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"),
        ("ok", "Refresh.MatView", nil, "kind: 'Refresh.MatView' is not a kind (namespace.name: lower-case letters, digits, '_')"),
        ("ok", "refresh", nil, "kind: 'refresh' is not a kind (namespace.name: lower-case letters, digits, '_')"),
        ("ok", "refresh.matview", "", "unique_key: is empty"),
        ("ok", "refresh.matview", "{args.missing}", "unique_key: {args.missing} names no argument"),
        ("ok", "refresh.matview", "{args.list}", "unique_key: {args.list} must name a string, integer or boolean argument"),
        ("ok", "refresh.matview", "{when}", "unique_key: unknown placeholder '{when}'; expected {name}, {kind}, {fire} or {args.KEY}"),
        ("ok", "refresh.matview", "{args.}", "unique_key: unknown placeholder '{args.}'; expected {name}, {kind}, {fire} or {args.KEY}"),
        ("ok", "refresh.matview", "x:{args.view", "unique_key: has a '{' without a matching '}'"),
        ("ok", "refresh.matview", "x}", "unique_key: has a '}' without a matching '{'"),
        ("ok", "refresh.matview", "{a{b}", "unique_key: has a '{' inside a placeholder"),
        ("ok", "refresh.matview", String(repeating: "k", count: 513), "unique_key: is longer than 512 bytes"),
        ("ok", "refresh.matview", String(repeating: "k", count: 500) + "{fire}", "unique_key: renders to more than 512 bytes"),
    ] as [(String, String, String?, String)])
    func rejectsBadDefinitionsNamingTheField(name: String, kind: String, uniqueKey: String?, message: String) {
        do {
            _ = try ScheduleDefinition(
                name: name, spec: Self.hourly, kind: JobKind(kind), args: ["view": "v", "list": [1, 2]], uniqueKey: uniqueKey)
            Issue.record("accepted \(name) \(kind) \(uniqueKey ?? "-")")
        } catch {
            #expect(error.code == .invalidDefinition)
            #expect(error.description == message)
        }
    }

    @Test(arguments: [
        (ScheduleSpec.every(.milliseconds(500)), MissedRunPolicy.runOnce, "every: 0.5 seconds is below the minimum of 1s"),
        (.every(.milliseconds(1500)), .runOnce, "every: 1.5 seconds is not a whole number of seconds"),
        (.every(.seconds(200 * 366 * 86_400)), .runOnce, "every: 73200d is above the maximum of 36600d"),
        (.every(.seconds(60)), .runEach(max: 0), "missed_runs: run_each needs a limit of 1-1000, found 0"),
        (.every(.seconds(60)), .runEach(max: 5000), "missed_runs: run_each needs a limit of 1-1000, found 5000"),
    ] as [(ScheduleSpec, MissedRunPolicy, String)])
    func rejectsBadIntervalsAndPolicies(spec: ScheduleSpec, policy: MissedRunPolicy, message: String) {
        do {
            _ = try ScheduleDefinition(name: "ok", spec: spec, kind: "sys.noop", missedRuns: policy)
            Issue.record("accepted \(spec) \(policy)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func disabledDefinitionsNeverFire() throws {
        let on = try ScheduleDefinition(name: "health", spec: .every(.seconds(300)), kind: "analytics.health")
        let off = try ScheduleDefinition(name: "health", spec: .every(.seconds(300)), kind: "analytics.health", enabled: false)
        let now = date("2025-06-10T10:05:03Z")
        #expect(on.dueFires(lastFire: date("2025-06-10T10:00:00Z"), now: now) == [on.fireKey(date("2025-06-10T10:05:00Z"))])
        #expect(off.dueFires(lastFire: date("2025-06-10T10:00:00Z"), now: now).isEmpty)
    }

    // MARK: FireKey

    @Test func fireKeysHaveAStableTextForm() throws {
        let key = FireKey(schedule: "refresh_campaign_analytics", fireTime: date("2026-11-22T10:00:00Z"))
        #expect(key.description == "refresh_campaign_analytics@2026-11-22T10:00:00.000Z")
        #expect(FireKey("refresh_campaign_analytics@2026-11-22T10:00:00.000Z") == key)
        #expect(FireKey("refresh_campaign_analytics@2026-11-22T11:00:00+01:00") == key)
        #expect(key.fireTime == date("2026-11-22T10:00:00Z"))
        // Millisecond precision survives the text round trip.
        let odd = FireKey(schedule: "s", fireTime: date("2026-11-22T10:00:00.123Z"))
        #expect(odd.description == "s@2026-11-22T10:00:00.123Z")
        #expect(FireKey(odd.description) == odd)
        for ms in [1, 7, 123, 999, 1001, 4_294_967_297] as [Int64] {
            let k = FireKey(schedule: "s", fireTime: Date(timeIntervalSince1970: Double(1_700_000_000_000 + ms) / 1000))
            #expect(FireKey(k.description) == k)
            #expect(k.milliseconds == 1_700_000_000_000 + ms)
        }
    }

    @Test(arguments: ["", "no-at-sign", "@2026-11-22T10:00:00.000Z", "bad name@2026-11-22T10:00:00.000Z", "x@yesterday", "x@2026-02-30T10:00:00Z"])
    func rejectsMalformedFireKeys(text: String) {
        #expect(FireKey(text) == nil)
    }

    @Test func fireKeysOrderByTimeThenName() {
        let a = FireKey(schedule: "b", fireTime: date("2026-01-01T00:00:00Z"))
        let b = FireKey(schedule: "a", fireTime: date("2026-01-01T01:00:00Z"))
        let c = FireKey(schedule: "b", fireTime: date("2026-01-01T01:00:00Z"))
        #expect([c, b, a].sorted() == [a, b, c])
    }

    // MARK: Policy text

    @Test(arguments: [("skip", MissedRunPolicy.skip), ("run_once", .runOnce), ("run_each:5", .runEach(max: 5)), ("run_each:1000", .runEach(max: 1000))])
    func parsesPolicies(text: String, policy: MissedRunPolicy) throws {
        #expect(try MissedRunPolicy(parsing: text) == policy)
        #expect(policy.description == text)
    }

    @Test(arguments: ["", "SKIP", "run_each", "run_each:0", "run_each:1001", "run_each:x", "catch_up"])
    func rejectsUnknownPolicies(text: String) {
        #expect(throws: ScheduleError.self) { try MissedRunPolicy(parsing: text) }
        do {
            _ = try MissedRunPolicy(parsing: text)
        } catch {
            #expect(error.description == "missed_runs: '\(text)' is not a policy; expected skip, run_once or run_each:N (N 1-1000)")
        }
    }
}
