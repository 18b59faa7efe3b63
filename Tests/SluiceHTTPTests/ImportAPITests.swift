// POST /v1/imports and GET /v1/imports/{id}/rejects.csv against the real servers: a file
// streamed into an upload, imported by a real worker of the import class, its rejects downloaded;
// and the refusals (unknown spec, oversize file, empty body, bad options, wrong scope), each
// leaving no upload behind.

import Foundation
import Postgres
import SluiceCore
import SluiceHTTP
import Testing

private let read = APIFixture.readToken
private let enqueue = APIFixture.enqueueToken

@Suite(.serialized) struct ImportAPITests {
    func uploads(_ api: APIFixture) async throws -> Int {
        try await api.pool.withConnection { c in
            try await c.query("SELECT count(*)::bigint FROM \(api.schema).uploads")[0].decode(0, as: Int.self)
        }
    }

    @Test func fileImportedByAWorkerAndItsRejectsDownloaded() async throws {
        try await withAPI { api in
            try await api.createContactsTable()
            let file = "Email,Name\nAnn@Example.test,Ann\nnot-an-email,Bob\nc@example.test,Carl\n"
            let r = try await api.client.request(
                "POST", "/v1/imports?spec=contacts&file_name=contacts.csv",
                headers: [("Authorization", "Bearer \(enqueue)"), ("Content-Type", "text/csv")], body: Array(file.utf8))
            #expect(r.status == 202, "\(r.text)")
            expectDocumented("post", "/v1/imports", r)
            #expect(r.json["bytes"]?.intValue == Int64(file.utf8.count))
            let id = try #require(r.json["id"]?.stringValue)
            #expect(try await uploads(api) == 1)

            let job = try await api.withWorker(workloadClass: .import) {
                try await api.waitJob(id, seconds: 30) { $0["state"]?.stringValue == "completed" }
            }
            #expect(job["state"]?.stringValue == "completed", "\(job)")
            #expect(job["result"]?["inserted"]?.intValue == 2, "\(job)")
            #expect(job["result"]?["rejected"]?.intValue == 1, "\(job)")
            let emails = try await api.pool.withConnection { c in
                try await c.query("SELECT email FROM \(api.schema).contacts ORDER BY email").map { try $0.decode(0, as: String.self) }
            }
            #expect(emails == ["ann@example.test", "c@example.test"])
            // The upload is gone once the job ended.
            #expect(try await uploads(api) == 0)

            let csv = try await api.client.request("GET", "/v1/imports/\(id)/rejects.csv", headers: [("Authorization", "Bearer \(read)")])
            #expect(csv.status == 200)
            expectDocumented("get", "/v1/imports/{id}/rejects.csv", csv)
            #expect(csv.header("Content-Type")?.hasPrefix("text/csv") == true)
            let lines = csv.text.split(separator: "\n")
            #expect(lines.first == "line,column,reason")
            #expect(lines.count == 2)
            #expect(lines.last?.hasPrefix("3,email,") == true, "\(csv.text)")
        }
    }

    @Test func refusalsKeepNothing() async throws {
        try await withAPI { api in
            let auth = ("Authorization", "Bearer \(enqueue)")
            let unknown = try await api.client.request("POST", "/v1/imports?spec=nope", headers: [auth], body: Array("a\n1\n".utf8))
            #expect(unknown.status == 400)
            #expect(unknown.errorField == "spec")
            #expect(unknown.json["error"]?["message"]?.stringValue?.contains("contacts") == true)
            expectDocumented("post", "/v1/imports", unknown)

            let missing = try await api.client.request("POST", "/v1/imports", headers: [auth], body: Array("a\n".utf8))
            #expect(missing.status == 400)
            #expect(missing.errorField == "spec")

            let format = try await api.client.request("POST", "/v1/imports?spec=contacts&format=xml", headers: [auth], body: Array("a\n".utf8))
            #expect(format.status == 400)
            #expect(format.errorField == "format")

            let target = try await api.client.request("POST", "/v1/imports?spec=contacts&target=elsewhere", headers: [auth],
                                                      body: Array("a\n".utf8))
            #expect(target.status == 422)
            #expect(target.errorField == "target")
            expectDocumented("post", "/v1/imports", target)

            // Past the spec's max_file_size (64 KB): 413, and the upload is rolled back.
            let big = Array(("email,name\n" + String(repeating: "x@example.test,X\n", count: 5000)).utf8)
            let tooLarge = try await api.client.request("POST", "/v1/imports?spec=contacts", headers: [auth], body: big)
            #expect(tooLarge.status == 413)
            expectDocumented("post", "/v1/imports", tooLarge)

            let empty = try await api.client.request("POST", "/v1/imports?spec=contacts", headers: [auth])
            #expect(empty.status == 400)
            #expect(empty.json["error"]?["message"]?.stringValue?.contains("empty") == true)

            let scope = try await api.client.request("POST", "/v1/imports?spec=contacts", headers: [("Authorization", "Bearer \(read)")],
                                                     body: Array("a\n".utf8))
            #expect(scope.status == 403)
            #expect(try await uploads(api) == 0)
            let jobs = try await api.client.json("GET", "/v1/jobs?kind=import.file", token: read)
            #expect(jobs.json["jobs"] == .array([]), "\(jobs.json)")

            let noJob = try await api.client.request("GET", "/v1/imports/\(UUID().uuidString.lowercased())/rejects.csv",
                                                     headers: [("Authorization", "Bearer \(read)")])
            #expect(noJob.status == 404)
            let badID = try await api.client.request("GET", "/v1/imports/x/rejects.csv", headers: [("Authorization", "Bearer \(read)")])
            #expect(badID.status == 400)
            expectDocumented("get", "/v1/imports/{id}/rejects.csv", badID)
        }
    }

    @Test func dryRunWritesNothingAndKeepsTheUploadADay() async throws {
        try await withAPI { api in
            try await api.createContactsTable()
            let r = try await api.client.request(
                "POST", "/v1/imports?spec=contacts&dry_run=true", headers: [("Authorization", "Bearer \(enqueue)")],
                body: Array("email,name\na@example.test,A\nb@example.test,B\n".utf8))
            #expect(r.status == 202, "\(r.text)")
            let id = try #require(r.json["id"]?.stringValue)
            let job = try await api.withWorker(workloadClass: .import) {
                try await api.waitJob(id, seconds: 30) { $0["state"]?.stringValue == "completed" }
            }
            #expect(job["result"]?["dry_run"] == .bool(true), "\(job)")
            #expect(job["result"]?["inserted"]?.intValue == 2, "\(job)")
            let rows = try await api.pool.withConnection { c in
                try await c.query("SELECT count(*)::bigint FROM \(api.schema).contacts")[0].decode(0, as: Int.self)
            }
            #expect(rows == 0)
            // Kept for the real import, with an expiry (a day), not forever.
            let hours = try await api.pool.withConnection { c in
                try await c.query("SELECT extract(epoch FROM expires_at - now())::float8 / 3600 FROM \(api.schema).uploads")
                    .map { try $0.decode(0, as: Double.self) }
            }
            #expect(hours.count == 1 && hours[0] > 23 && hours[0] <= 24, "\(hours)")
        }
    }

    @Test func aBodyPastTheLimitWithoutContentLengthIsRolledBack() async throws {
        try await withAPI { api in
            // Chunked: no Content-Length to refuse early, so the store's streaming limit must.
            let data = Array(("email,name\n" + String(repeating: "x@example.test,X\n", count: 5000)).utf8)
            let chunked = Array((String(data.count, radix: 16) + "\r\n").utf8) + data + Array("\r\n0\r\n\r\n".utf8)
            let r = try await api.client.request(
                "POST", "/v1/imports?spec=contacts",
                headers: [("Authorization", "Bearer \(enqueue)"), ("Transfer-Encoding", "chunked")], body: chunked)
            #expect(r.status == 413, "\(r.text)")
            expectDocumented("post", "/v1/imports", r)
            #expect(try await uploads(api) == 0)
            let jobs = try await api.client.json("GET", "/v1/jobs?kind=import.file", token: read)
            #expect(jobs.json["jobs"] == .array([]))
        }
    }

    @Test func aStalledUploadIsDroppedAndBusySlotsAnswer503() async throws {
        try await withAPI(configure: { $0.uploadIdleTimeout = .seconds(1) }) { api in
            // 20 bytes of a promised 50000 (under the 64 KB limit), then silence.
            let r = try await api.client.request(
                "POST", "/v1/imports?spec=contacts",
                headers: [("Authorization", "Bearer \(enqueue)"), ("Content-Length", "50000")], body: Array("email,name\na@b.test,A\n".utf8))
            #expect(r.status == 400, "\(r.status) \(r.text)")
            #expect(r.json["error"]?["message"]?.stringValue?.contains("sent nothing") == true, "\(r.text)")
            expectDocumented("post", "/v1/imports", r)
            #expect(try await uploads(api) == 0)
        }
        try await withAPI(configure: { $0.maxConcurrentUploads = 0 }) { api in
            let r = try await api.client.request("POST", "/v1/imports?spec=contacts", headers: [("Authorization", "Bearer \(enqueue)")],
                                                 body: Array("email,name\na@b.test,A\n".utf8))
            #expect(r.status == 503)
            #expect(r.header("Retry-After") == "5")
            expectDocumented("post", "/v1/imports", r)
            #expect(try await uploads(api) == 0)
        }
    }
}
