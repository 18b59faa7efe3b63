// No token, cookie or request payload in any log line: the API runs with a trace-level logger
// that records every line (message and metadata), is driven through logins, enqueues, errors and
// auth failures carrying recognisable secrets, and the recorded lines are searched for them.

import Foundation
import Logging
import Synchronization
import SluiceCore
import Testing

final class RecordedLines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct RecordingLogHandler: LogHandler {
    let sink: RecordedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(extra ?? [:]) { $1 }
        sink.append("\(level) \(message) \(all.map { "\($0)=\($1)" }.joined(separator: " "))")
    }
}

@Suite(.serialized) struct LogSecrecyTests {
    @Test func noTokenOrPayloadIsLogged() async throws {
        let sink = RecordedLines()
        let logger = Logger(label: "sluice.http.log-test") { _ in RecordingLogHandler(sink: sink) }
        let secretArg = "payload-secret-\(UUID().uuidString)"
        let wrongToken = "wrong-token-\(UUID().uuidString)"
        try await withAPI(logger: logger) { api in
            let c = api.client
            _ = try await c.json("POST", "/v1/jobs", ["kind": "sys.noop", "args": ["s": .string(secretArg)]], token: APIFixture.enqueueToken)
            _ = try await c.json("POST", "/v1/jobs", ["kind": "no.such.kind", "args": ["s": .string(secretArg)]], token: APIFixture.enqueueToken)
            _ = try await c.json("POST", "/v1/jobs", ["kind": "sys.sleep", "args": ["ms": .string(secretArg)]], token: APIFixture.enqueueToken)
            _ = try await c.request("POST", "/v1/jobs", headers: [("Authorization", "Bearer \(APIFixture.enqueueToken)")],
                                    body: Array("{\"kind\": \"\(secretArg)".utf8))
            _ = try await c.json("GET", "/v1/jobs", token: wrongToken)
            _ = try await c.json("POST", "/v1/jobs", ["kind": "sys.noop"], token: APIFixture.readToken)
            let login = try await c.request("POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                            body: Array("token=\(APIFixture.adminToken)".utf8))
            let cookie = String(login.header("set-cookie")?.split(separator: ";").first ?? "")
            _ = try await c.request("GET", "/v1/jobs", headers: [("Cookie", cookie)])
            _ = try await c.request("POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                    body: Array("token=\(wrongToken)".utf8))
            _ = try await c.json("GET", "/v1/nothing", token: APIFixture.adminToken)
            let lines = sink.all
            #expect(!lines.isEmpty, "the logger recorded nothing: the test would prove nothing")
            let cookieValue = String(cookie.split(separator: "=", maxSplits: 1).last ?? "unset")
            for secret in [APIFixture.readToken, APIFixture.enqueueToken, APIFixture.adminToken, wrongToken, secretArg, cookieValue] {
                let leaking = lines.filter { $0.contains(secret) }
                #expect(leaking.isEmpty, "a log line carries a secret: \(leaking.first ?? "")")
            }
        }
    }
}
