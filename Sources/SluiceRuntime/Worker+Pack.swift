// Worker+Pack: the jobs of a pack (JobPack), each run as a job alone in its message would be
// (admission, validation, delay, claim, run, finish, status), and the pack's one delivery
// settled once every job in it is: claimed (its lease protects it from then on), skipped (final,
// or held by a live lease), re-delayed alone, or dead-lettered alone.
//
// Guarantees: a worker killed mid-pack leaves the delivery unacked, so the broker redelivers the
// whole pack; the jobs already claimed or final are skipped by their ledger rows (a claimed one
// whose worker died is rerun by the lease rescue, as any claimed job), only the others run. A
// job of a pack that fails retries alone through the delay ladder, and one that exhausts its
// attempts is dead-lettered alone (Worker+Execute). When its class opts into the short path
// (Worker+Short), a pack's job runs unclaimed and counts as settled once it is recorded
// completed (or claimed at its threshold, or after a failed run): the pack is acked when every
// job in it is recorded or claimed, and a redelivery after a kill runs only the jobs that were
// not. When a job could not be settled (its claim or dead letter failed), the pack goes back to
// its queue once the others are settled; its redelivery skips what was recorded (a bad line is
// dead-lettered again).

import RabbitMQ
import SluiceCatalog
import SluiceCore
import Synchronization

/// How one job's message is settled: its own delivery, or its line of a pack.
struct Settlement: Sendable {
    let delivery: AMQPDelivery
    let consumer: AMQPConsumer
    let pack: PackSettlement?

    /// Done with it (claimed, skipped, re-delayed or dead-lettered).
    func ack() {
        if let pack { pack.settle(.done) } else { consumer.ack(delivery.deliveryTag) }
    }

    /// Not done: the message goes back to its queue.
    func requeue() {
        if let pack { pack.settle(.requeue) } else { consumer.nack(delivery.deliveryTag, requeue: true) }
    }

    /// The worker is stopping: left unacked, redelivered once the consumer is gone.
    func leave() {
        pack?.settle(.leave)
    }
}

/// A pack's delivery, settled when its last job is.
final class PackSettlement: Sendable {
    enum End { case done, requeue, leave }

    private struct State {
        var remaining: Int
        var requeue = false
        var leave = false
    }

    let delivery: AMQPDelivery
    let consumer: AMQPConsumer
    private let state: Mutex<State>

    init(delivery: AMQPDelivery, consumer: AMQPConsumer, count: Int) {
        self.delivery = delivery
        self.consumer = consumer
        state = Mutex(State(remaining: count))
    }

    /// One job settled; the last acks the delivery, or requeues it if one job could not be settled.
    func settle(_ end: End) {
        let last = state.withLock { s -> State? in
            switch end {
            case .done: break
            case .requeue: s.requeue = true
            case .leave: s.leave = true
            }
            s.remaining -= 1
            return s.remaining == 0 ? s : nil
        }
        guard let last else { return }
        if last.leave { return }
        if last.requeue {
            consumer.nack(delivery.deliveryTag, requeue: true)
        } else {
            consumer.ack(delivery.deliveryTag)
        }
    }
}

extension Worker {
    /// One job of a pack: its line's own signature is checked (a bad line is dead-lettered alone).
    func handle(_ item: JobPack.Item, of pack: PackSettlement, settings: ClassSettings) async {
        let settle = Settlement(delivery: pack.delivery, consumer: pack.consumer, pack: pack)
        if item.malformed {
            await reject(item.body, messageID: nil, settle: settle, reason: EnvelopeError.Code.malformed.rawValue,
                         error: "a pack line must be '{signature or -} {envelope}'", className: settings.workloadClass.rawValue,
                         kind: nil, attempt: nil, id: nil)
            return
        }
        let verdict = publisher.signer?.verify(body: item.body, signature: item.signature)
            ?? (item.signature == nil ? .unsigned : .unknownKey(""))
        await handleJob(item.body, verdict: verdict, messageID: nil, settle: settle, settings: settings)
    }
}
