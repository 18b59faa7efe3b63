// `sluice status`: per class queue: depth and consumers (QueueInspector), waiting and running
// jobs, completed and failed in the last hour (Ledger.statusCounts); the dead-letter count; and
// the pruner's last pass (leader, what it removed, the ledger's size after it).

import ArgumentParser
import Foundation
import SluiceCLI
import Logging
import RabbitMQ
import SluiceCore
import SluiceRuntime

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Queues and jobs at a glance.")
    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let s = try RuntimeServices(options, label: "sluice.status", ledgerConnections: 1)
        let broker = try await QueueInspector(amqp: s.amqp, topology: s.topology, logger: s.logger).snapshot()
        let queues = broker.classes
        let dead = broker.dead
        let counts = try await s.ledger.statusCounts()
        let pruner = try await s.ledger.prunerStatus()
        await s.close()
        if options.json {
            var classes: [String: JSONValue] = [:]
            for c in WorkloadClass.allCases {
                classes[c.rawValue] = .object(broker.json(class: c.rawValue, queue: s.topology.queue(for: c.rawValue), counts: counts[c.rawValue]))
            }
            printJSON(["classes": .object(classes), "dead": broker.deadJSON, "pruner": pruner.map(Self.json) ?? .null])
            return
        }
        print("class        queue depth  consumers  waiting  running  completed/1h  failed/1h")
        for c in WorkloadClass.allCases {
            let q = queues[c.rawValue]
            let n = counts[c.rawValue]
            func col(_ v: String, _ w: Int) -> String { v.count >= w ? v : v + String(repeating: " ", count: w - v.count) }
            print(col(c.rawValue, 13) + col(q.map { String($0.messageCount) } ?? "missing", 13) + col(q.map { String($0.consumerCount) } ?? "-", 11)
                  + col(String(n?.waiting ?? 0), 9) + col(String(n?.running ?? 0), 9) + col(String(n?.completedLastHour ?? 0), 14)
                  + String(n?.failedLastHour ?? 0))
        }
        print("dead letters: \(dead.map { String($0.messageCount) } ?? "queue missing (run a worker or enqueue once)")")
        print(Self.line(pruner))
    }

    /// `pruner: leader w1, last pass 12s ago by w1 (0.4 s): removed 5000 (jobs 4800, import_rejects 200); ledger ~1.2M rows, 340 MB, 12k dead tuples`
    static func line(_ p: Ledger.PrunerStatus?) -> String {
        guard let p else { return "pruner: no pass yet (every `sluice worker` runs one unless --no-pruner)" }
        let ago = Int(Date().timeIntervalSince(p.finishedAt).rounded())
        let took = String(format: "%.1f", p.finishedAt.timeIntervalSince(p.startedAt))
        let parts = p.removed.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var text = "pruner: leader \(p.leader ?? "none"), last pass \(ago)s ago by \(p.holder) (\(took) s): removed \(p.removedTotal)"
        if !parts.isEmpty { text += " (" + parts.joined(separator: ", ") + ")" }
        if let size = p.size {
            text += "; ledger ~\(size.rows) rows, \(size.bytes / 1_048_576) MiB, \(size.deadTuples) dead tuples"
        }
        if let error = p.error { text += "; last error: \(error)" }
        return text
    }

    static func json(_ p: Ledger.PrunerStatus) -> JSONValue {
        .object([
            "leader": p.leader.map { .string($0) } ?? .null, "holder": .string(p.holder),
            "started_at": .string(Timestamp.format(p.startedAt)), "finished_at": .string(Timestamp.format(p.finishedAt)),
            "removed": .object(p.removed.mapValues { .int(Int64($0)) }), "removed_total": .int(Int64(p.removedTotal)),
            "ledger_rows": p.size.map { .int(Int64($0.rows)) } ?? .null, "ledger_bytes": p.size.map { .int(Int64($0.bytes)) } ?? .null,
            "ledger_dead_tuples": p.size.map { .int(Int64($0.deadTuples)) } ?? .null,
            "error": p.error.map { .string($0) } ?? .null,
        ])
    }
}
