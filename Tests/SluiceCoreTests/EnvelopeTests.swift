import Foundation
import Testing
@testable import SluiceCore

@Suite struct EnvelopeTests {
    static let fixedID = JobID("0193a5b2-7c00-7abc-8def-0123456789ab")!
    static let fixedDate = Timestamp.parse("2026-11-22T10:00:00Z")!

    /// The wire format of version 1. If this test fails, the wire format drifted: every deployed
    /// producer and worker depends on these bytes. Add fields; never rename or retype one.
    static let golden = #"{"args":{"view":"campaign_analytics"},"attempt":1,"enqueued_at":"2026-11-22T10:00:00.000Z","enqueued_by":"api:ops","id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"refresh.matview","max_attempts":5,"not_before":null,"priority":null,"producer":"scheduler","target":"main","timeout_s":900,"trace_id":"t-1","unique_key":"refresh.matview:campaign_analytics","v":1}"#

    static let full = Envelope(
        id: fixedID, kind: "refresh.matview", args: ["view": "campaign_analytics"], target: "main",
        attempt: 1, maxAttempts: 5, timeoutSeconds: 900, enqueuedAt: fixedDate, notBefore: nil,
        uniqueKey: "refresh.matview:campaign_analytics", traceID: "t-1", producer: "scheduler", enqueuedBy: "api:ops")

    @Test func encodesToTheGoldenBytes() {
        #expect(String(decoding: Self.full.encoded(), as: UTF8.self) == Self.golden)
    }

    @Test func decodesTheGoldenBytes() throws {
        let decoded = try Envelope.decode(Array(Self.golden.utf8))
        #expect(decoded == Self.full)
    }

    @Test func decodesTheDesignDocExampleWithUnknownFieldsIgnored() throws {
        let text = #"{"v": 1, "id": "0193a5b2-7c00-7abc-8def-0123456789ab", "kind": "refresh.matview", "args": {"view": "campaign_analytics"}, "target": "main", "attempt": 2, "max_attempts": 5, "timeout_s": 900, "enqueued_at": "2026-11-22T10:00:00Z", "not_before": "2026-11-22T10:05:00.250+01:00", "unique_key": null, "trace_id": "abc", "producer": "scheduler", "future_field": {"x": 1}}"#
        let e = try Envelope.decode(Array(text.utf8))
        #expect(e.attempt == 2)
        #expect(e.notBefore == Timestamp.parse("2026-11-22T09:05:00.250Z"))
        #expect(e.uniqueKey == nil)
        #expect(e.args["view"] == "campaign_analytics")
    }

    /// The decoder reads the top level field by field: it must agree with the general parser on
    /// escaped keys, duplicate keys (the last wins), unknown fields of any shape, and bad JSON
    /// after the fields it wants.
    @Test func readsTheTopLevelAsTheGeneralParserDoes() throws {
        let base = #""id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"sys.noop","enqueued_at":"2026-11-22T10:00:00Z""#
        let escaped = try Envelope.decode(Array(#"{"\u0076":1,"t\u0061rget":"other",\#(base)}"#.utf8))
        #expect(escaped.target == "other")
        let twice = try Envelope.decode(Array(#"{"v":1,\#(base),"attempt":1,"attempt":2,"max_attempts":3}"#.utf8))
        #expect(twice.attempt == 2)
        #expect(try Envelope.decode(JSONValue.parse(Array(#"{"v":1,\#(base),"attempt":1,"attempt":2}"#.utf8))).attempt == 2)
        let unknown = try Envelope.decode(Array(#" { "x" : [ {"y": [1, 2.5e3, null, "\"}"]} ], "v" : 1 , \#(base) } "#.utf8))
        #expect(unknown.kind == "sys.noop")
        for bad in [#"{"v":1,\#(base)} x"#, #"{"v":1,\#(base),}"#, #"{"v":1 \#(base)}"#, #"{"v":1,\#(base),"x":[1}"#, #"{"v":1,\#(base)"#,
                    "{\"v\":1,\"\u{01}\":2,\(base)}", #"{v:1}"#] {
            do {
                _ = try Envelope.decode(Array(bad.utf8))
                Issue.record("expected malformed for \(bad)")
            } catch {
                #expect(error.code == .malformed, "\(bad)")
            }
        }
        let deep = #"{"v":1,\#(base),"x":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
        #expect(throws: EnvelopeError.self) { try Envelope.decode(Array(deep.utf8)) }
    }

    @Test func roundTripsOptionalFields() throws {
        var e = Self.full
        e.notBefore = Timestamp.parse("2026-11-22T10:00:30.125Z")
        e.priority = 7
        e.args = ["n": 3, "f": 1.5, "list": ["a", nil, true], "nested": ["k": "v\"\\\n\u{1F600}"]]
        #expect(try Envelope.decode(e.encoded()) == e)
    }

    @Test(arguments: [
        ("not json", EnvelopeError.Code.malformed, nil as String?),
        ("[1,2]", .malformed, nil),
        (#"{"id":"x"}"#, .invalidField, "v"),
        (#"{"v":2,"id":"0193a5b2-7c00-7abc-8def-0123456789ab"}"#, .unsupportedVersion, "v"),
        (#"{"v":"1"}"#, .invalidField, "v"),
        (#"{"v":1,"id":"nope","kind":"sys.noop","enqueued_at":"2026-11-22T10:00:00Z"}"#, .invalidField, "id"),
        (#"{"v":1,"id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"DROP TABLE x","enqueued_at":"2026-11-22T10:00:00Z"}"#, .invalidField, "kind"),
        (#"{"v":1,"id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"sys.noop","args":[1],"enqueued_at":"2026-11-22T10:00:00Z"}"#, .invalidField, "args"),
        (#"{"v":1,"id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"sys.noop","enqueued_at":"yesterday"}"#, .invalidField, "enqueued_at"),
        (#"{"v":1,"id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"sys.noop","enqueued_at":"2026-11-22T10:00:00Z","priority":12}"#, .invalidField, "priority"),
        (#"{"v":1,"id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"sys.noop","enqueued_at":"2026-11-22T10:00:00Z","timeout_s":0}"#, .invalidField, "timeout_s"),
        (#"{"v":1,"id":"0193a5b2-7c00-7abc-8def-0123456789ab","kind":"sys.noop","enqueued_at":"2026-11-22T10:00:00Z","attempt":9,"max_attempts":3}"#, .invalidField, "attempt"),
    ])
    func rejectsBadEnvelopesNamingTheField(text: String, code: EnvelopeError.Code, field: String?) {
        do {
            _ = try Envelope.decode(Array(text.utf8))
            Issue.record("expected \(code) for \(text)")
        } catch {
            #expect(error.code == code)
            #expect(error.field == field)
        }
    }
}

@Suite struct JobModelTests {
    @Test func uuidV7CarriesTimeAndSorts() {
        let t = Date(timeIntervalSince1970: 1_795_000_000.123)
        let a = JobID.make(now: t)
        let b = JobID.make(now: t.addingTimeInterval(0.002))
        #expect(abs(a.timestamp.timeIntervalSince1970 - 1_795_000_000.123) < 0.001)
        #expect(a < b)
        #expect(a.description.count == 36)
        #expect(Array(a.description)[14] == "7")
        #expect("89ab".contains(Array(a.description)[19]))
        #expect(JobID(a.description) == a)
    }

    @Test func kindsAreWellFormedDottedWords() {
        #expect(JobKind("refresh.matview").isWellFormed)
        #expect(JobKind("sys.noop").isWellFormed)
        #expect(!JobKind("noop").isWellFormed)
        #expect(!JobKind("Refresh.Matview").isWellFormed)
        #expect(!JobKind("a..b").isWellFormed)
        #expect(!JobKind("x.y; drop").isWellFormed)
        #expect(JobKind("maintenance.vacuum").namespace == "maintenance")
    }

    @Test func statesAreClosedAndFinalStatesKnown() {
        #expect(JobState.allCases.map(\.rawValue) == ["available", "scheduled", "running", "retryable", "completed", "cancelled", "discarded"])
        #expect(JobState.allCases.filter(\.isFinal) == [.completed, .cancelled, .discarded])
    }

    @Test func classesParseAndRejectUnknown() throws {
        #expect(try WorkloadClass.parseList("analytics, refresh,analytics") == [.analytics, .refresh])
        #expect(throws: JSONValueError.self) { try WorkloadClass.parseList("analytics,web") }
    }

    @Test func retryPolicyBacksOffThenDiscards() {
        let p = RetryPolicy(backoff: .init(base: .seconds(1), cap: .seconds(8), jitter: 0))
        #expect(p.decide(attempt: 1, maxAttempts: 5, retryable: true) == .retry(after: .seconds(1)))
        #expect(p.decide(attempt: 3, maxAttempts: 5, retryable: true) == .retry(after: .seconds(4)))
        #expect(p.decide(attempt: 5, maxAttempts: 5, retryable: true) == .discard(reason: .attemptsExhausted))
        #expect(p.decide(attempt: 1, maxAttempts: 5, retryable: false) == .discard(reason: .notRetryable))
    }

    @Test func timestampsFormatAndParse() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_000_000.5)) == "2026-11-18T11:06:40.500Z")
        #expect(Timestamp.parse("2024-02-29T23:59:59.999Z") != nil)
        #expect(Timestamp.parse("2023-02-29T00:00:00Z") == nil)
        #expect(Timestamp.parse("2026-11-22 10:00:00Z") != nil)
        #expect(Timestamp.parse("2026-11-22T10:00:00") == nil)
    }

    @Test func typedArgumentsNameTheBadField() {
        struct Args: Decodable { var view: String; var limit: Int? }
        let ok: JSONValue = ["view": "v", "limit": 3]
        #expect((try? ok.decode(Args.self))?.limit == 3)
        do {
            _ = try JSONValue.object(["limit": 3]).decode(Args.self)
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "view")
            #expect(error.reason == "is required")
        }
        do {
            _ = try JSONValue.object(["view": 5]).decode(Args.self)
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "view")
            #expect(error.reason == "expected a string")
        }
    }
}
