// IdempotencyStore: `POST /v1/jobs` with an Idempotency-Key: the first request claims the key
// in the ledger database (`api_idempotency`, migration 5) before it enqueues, so two concurrent
// retries cannot both enqueue; later requests with the key get the stored answer.
//
// A key is bound to the SHA-256 of its request body: the same key with another body is refused.
// A server-side failure releases the key so the client can retry. Keys are kept for the
// catalog's `retention.idempotency_keys` (1 day by default) and removed by the pruner in
// batches, not by the requests.

import Foundation
import Postgres
import SluiceRuntime

struct IdempotencyStore: Sendable {
    typealias Begin = IdempotencyBegin

    let ledger: Ledger
    var table: String { PostgresIdentifier.quote(schema: ledger.schema, "api_idempotency") }

    func begin(key: String, requestSHA256: String) async throws -> Begin {
        try await ledger.pool.withConnection { c in
            let inserted = try await c.query("""
                INSERT INTO \(table) (key, request_sha256) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING 1
                """, [.text(key), .text(requestSHA256)])
            if !inserted.isEmpty { return .fresh }
            let rows = try await c.query("SELECT request_sha256, status, response FROM \(table) WHERE key = $1", [.text(key)])
            guard let row = rows.first else { return .inProgress }
            guard try row.decode(0, as: String.self) == requestSHA256 else { return .mismatch }
            guard let status = try row.decode(1, as: Int?.self), let response = try row.decode(2, as: String?.self) else {
                return .inProgress
            }
            return .replay(status: status, response: response)
        }
    }

    func finish(key: String, status: Int, response: String) async throws {
        _ = try await ledger.pool.withConnection { c in
            try await c.execute("UPDATE \(table) SET status = $2, response = $3 WHERE key = $1", [.text(key), .int(status), .text(response)])
        }
    }

    func abandon(key: String) async throws {
        _ = try await ledger.pool.withConnection { c in
            try await c.execute("DELETE FROM \(table) WHERE key = $1 AND status IS NULL", [.text(key)])
        }
    }
}
