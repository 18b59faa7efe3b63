// SluiceJobs: the job kinds (Maintenance/, Refresh/, Import/, Analytics/: one `JobWorker` per
// file, registered in Kinds.swift) and the catalog's live check. Each kind's work is a plain
// async function over a Postgres pool and the catalog (`static func run(catalog:pool:…)`), so it
// is tested directly against the demo schema; the kind type around it is what the runtime
// (SluiceRuntime: JobWorker, JobError, JobContext, RedisKeys) sees. The demo data loader is
// SluiceDemo's.

/// Reports a job's progress (a small JSON-able dictionary) to whoever runs it.
public typealias ProgressReporter = @Sendable ([String: String]) async -> Void
