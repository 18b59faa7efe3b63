// JobWorker: what runs one job kind, with typed arguments validated before it runs.
//
// A worker names its kind (a stable string) and default class, decodes its arguments from the
// envelope's JSON (`Arguments: Decodable`), and returns a JSON result. Throwing `JobError` with
// `retryable: false` sends the job straight to the dead-letter queue; other errors are retried
// with backoff until `max_attempts`.

import SluiceCore

public protocol JobWorker: Sendable {
    associatedtype Arguments: Decodable & Sendable
    /// The stable kind string (`sys.noop`).
    static var kind: JobKind { get }
    /// The class a job of this kind goes to unless the producer names another.
    static var defaultClass: WorkloadClass { get }
    /// Extra validation after decoding (ranges, catalog checks). Throw `EnvelopeError`
    /// `.invalidArguments` naming the field.
    func validate(_ arguments: Arguments) throws(EnvelopeError)
    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue
}

extension JobWorker {
    public func validate(_ arguments: Arguments) throws(EnvelopeError) {}
}

/// A failure a job reports on purpose.
public struct JobError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var retryable: Bool

    public init(_ message: String, retryable: Bool = true) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}
