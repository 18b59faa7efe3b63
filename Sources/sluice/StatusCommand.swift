// `sluice status`: per class queue: depth and consumers (QueueInspector), waiting and running
// jobs, completed and failed in the last hour (Ledger.statusCounts); and the dead-letter count.

import ArgumentParser
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
        await s.close()
        if options.json {
            var classes: [String: JSONValue] = [:]
            for c in WorkloadClass.allCases {
                classes[c.rawValue] = .object(broker.json(class: c.rawValue, queue: s.topology.queue(for: c.rawValue), counts: counts[c.rawValue]))
            }
            printJSON(["classes": .object(classes), "dead": broker.deadJSON])
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
    }
}
