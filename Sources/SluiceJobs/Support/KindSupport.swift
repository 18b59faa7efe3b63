// KindSupport: what every kind in this module shares when it runs under the runtime: its
// progress goes to the job's context, and argument problems found against the catalog become
// `EnvelopeError`s naming the field. (Errors: SluiceRuntime's `JobError`, which classifies
// itself for retry.)

import SluiceCore
import SluiceRuntime

extension JobContext {
    /// The job's progress reporter in the shape this module's work functions take.
    public var progressReporter: ProgressReporter {
        { fields in await self.reportProgress(.object(fields.mapValues { .string($0) })) }
    }
}

extension EnvelopeError {
    /// `args.<field>` is wrong.
    static func argument(_ field: String, _ reason: String) -> EnvelopeError {
        EnvelopeError(.invalidArguments, field: "args.\(field)", reason: reason)
    }

    /// `args.<field>` names nothing the catalog declares. The text came from a message and may be
    /// anything: it is shown escaped and cut to 64 characters.
    static func undeclared(_ field: String, what: String, _ text: String) -> EnvelopeError {
        let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return argument(field, "the catalog declares no \(what) named \(shown.debugDescription)")
    }
}
