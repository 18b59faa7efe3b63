// Worker+Lease: keeping the leases of running jobs alive (and picking up cancel requests), and
// the elected rescue of jobs whose worker was lost.

import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import Synchronization

extension Worker {
    func heartbeatLoop() async {
        let interval = configuration.lease / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            // A heartbeat that meets a row a concurrent finish just moved out of `jobs_live`
            // (ledger migration 7) fails with a serialization failure: at once again, with the
            // jobs running now, rather than leaving every lease unrenewed until the next tick.
            for attempt in 1...3 {
                let ids = running.ids
                guard !ids.isEmpty else { break }
                do {
                    let cancelled = try await ledger.heartbeat(ids, worker: configuration.name, lease: configuration.lease)
                    for id in cancelled {
                        logger.info("cancel requested", metadata: ["job.id": "\(id)"])
                        running.stop(id, .cancelled)
                    }
                    break
                } catch let error as PostgresError where error.sqlState == PostgresError.serializationFailure && attempt < 3 {
                    continue
                } catch {
                    logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
                    break
                }
            }
        }
    }

    func rescueLoop() async {
        while !Task.isCancelled && !isStopping {
            do {
                if try await elector.tryAcquire() {
                    let n = try await ledger.rescueExpired { jobs in await self.rescue(jobs) }
                    if n > 0 { logger.warning("rescued jobs whose worker was lost", metadata: ["jobs": "\(n)"]) }
                }
            } catch {
                logger.warning("lease rescue failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.rescueInterval)
        }
    }

    /// Republishes jobs whose lease expired (attempt + 1), or dead-letters them when that would
    /// exceed max_attempts. Only published jobs are moved in the ledger.
    func rescue(_ jobs: [LedgerJob]) async -> [(JobID, JobState, String?)] {
        var verdicts: [(JobID, JobState, String?)] = []
        var messages: [AMQPOutgoingMessage] = []
        var pending: [(JobID, JobState, String?)] = []
        for job in jobs {
            let next = job.attempt + 1
            if next > job.maxAttempts {
                let headers = deadHeaders(reason: "worker_lost", error: "the worker running attempt \(job.attempt) was lost",
                                          className: job.workloadClass, kind: job.kind.rawValue, attempt: job.attempt)
                messages.append(publisher.deadLetter(body: job.envelope().encoded(), messageID: job.id.description, headers: headers))
                pending.append((job.id, .discarded, "worker_lost"))
            } else {
                var e = job.envelope(attempt: next)
                e.notBefore = nil
                messages.append(publisher.message(for: e, workloadClass: job.workloadClass, tier: nil))
                pending.append((job.id, .available, nil))
            }
        }
        let published = await publisher.publish(messages)
        for (i, r) in published.enumerated() {
            if case .success = r { verdicts.append(pending[i]) }
        }
        return verdicts
    }
}
