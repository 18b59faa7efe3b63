// The job body POST /v1/jobs reads and `sluice enqueue` fills in: one set of checks, each
// naming its field; what it leaves out stays nil for the kind's defaults.

import SluiceCore
import SluiceRuntime
import Testing

@Suite struct JobRequestBodyTests {
    @Test func refusesNamingTheField() {
        let cases: [(JSONValue, String?)] = [
            ("nope", "jobs[0]"),
            (["kind": "sys.noop", "tabel": 1], "jobs[0].tabel"),
            (["args": [:]], "jobs[0].kind"),
            (["kind": 7], "jobs[0].kind"),
            (["kind": "sys.noop", "args": []], "jobs[0].args"),
            (["kind": "sys.noop", "priority": 10], "jobs[0].priority"),
            (["kind": "sys.noop", "max_attempts": 0], "jobs[0].max_attempts"),
            (["kind": "sys.noop", "timeout_s": "1m"], "jobs[0].timeout_s"),
            (["kind": "sys.noop", "class": "fast"], "jobs[0].class"),
            (["kind": "sys.noop", "delay_s": -1], "jobs[0].delay_s"),
            (["kind": "sys.noop", "not_before": "tomorrow"], "jobs[0].not_before"),
        ]
        for (value, field) in cases {
            do {
                _ = try JobRequestBody.decode(value, prefix: "jobs[0].")
                Issue.record("\(value): expected a refusal")
            } catch {
                #expect(error.field == field, "\(value): \(error)")
            }
        }
    }

    @Test func leavesTheKindsDefaultsToTheKind() throws {
        let body = try JobRequestBody.decode(["kind": "sys.sleep", "args": ["ms": 5], "class": "refresh", "priority": 3])
        let r = try body.request(producer: "test")
        #expect(r.kind == .sleep && r.args == ["ms": 5] && r.workloadClass == .refresh && r.priority == 3 && r.target == "main")
        #expect(r.maxAttempts == nil && r.timeoutSeconds == nil)
        #expect(throws: JobRequestBody.Invalid.self) { try JobRequestBody(kind: "sys.noop", maxAttempts: 101).request(producer: "test") }
    }
}
