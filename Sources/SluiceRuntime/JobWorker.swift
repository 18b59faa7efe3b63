// JobWorker: one job kind, as one type. A kind names itself (a stable string) and its default
// class, decodes typed `Arguments` from the envelope's JSON, checks them against the catalog
// (at enqueue, before anything is written, and again on the worker: a message may come from
// anywhere), runs, and returns a typed `Report`.
//
// Its `defaults` (time limit, attempts, backoff) apply where a request does not set them.
//
// Throwing `JobError(retryable: false)`, or any error whose `RetryClassifying.isRetryable` is
// false, sends the job straight to the dead-letter queue; other errors are retried with backoff
// until `max_attempts`.

import SluiceCatalog
import SluiceCore

public protocol JobWorker: Sendable {
    /// Decoded from the envelope's `args`. When it is also Encodable, argument keys it does not
    /// know are refused (a typo such as `tabel` never reaches a worker as a silent default).
    associatedtype Arguments: Decodable & Sendable
    /// The job's result, stored in the ledger and in Redis as JSON with snake_case keys.
    associatedtype Report: Encodable & Sendable = JSONValue
    /// The stable kind string (`maintenance.vacuum`), never a Swift type name.
    static var kind: JobKind { get }
    /// The class a job of this kind goes to unless the producer names another.
    static var defaultClass: WorkloadClass { get }
    /// Time limit, attempts and backoff where a request does not set them (default `.standard`:
    /// 900 s, 5 attempts, the worker's backoff).
    static var defaults: JobDefaults { get }
    /// True: the job's work runs in the home database, inside the transaction that records the
    /// job completed (`context.transaction`), so its effect commits exactly once, with the job
    /// (River's `JobCompleteTx`). A run that fails, times out, is cancelled or whose worker lost
    /// its claim (lease rescued, another worker holds it: the claim fences it) rolls its effect
    /// back; a redelivery of a job already recorded is skipped. Such a job is always claimed
    /// before it runs (never the short path). Default false.
    static var transactional: Bool { get }
    /// Checks every name and value against the catalog. Throw `EnvelopeError(.invalidArguments,
    /// field: "args.table", reason: …)`; never touch a database here.
    func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError)
    func run(_ arguments: Arguments, context: JobContext) async throws -> Report
}

extension JobWorker {
    public static var defaults: JobDefaults { .standard }
    public static var transactional: Bool { false }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {}
}

/// An error that knows whether running the same job again later can help (a lock timeout: yes;
/// an undeclared table: no). Errors that do not conform are retried.
public protocol RetryClassifying: Error {
    var isRetryable: Bool { get }
}
