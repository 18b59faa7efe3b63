// FinishRequest: how a worker records the end of an attempt.

import SluiceCore

public struct FinishRequest: Sendable {
    public var id: JobID
    /// completed, retryable, discarded or cancelled.
    public var state: JobState
    public var result: JSONValue?
    public var error: String?
    public var attempt: Int

    public init(id: JobID, state: JobState, result: JSONValue?, error: String?, attempt: Int) {
        self.id = id
        self.state = state
        self.result = result
        self.error = error
        self.attempt = attempt
    }
}
