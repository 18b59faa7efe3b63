// AMQPDelivery: a message delivered to a consumer, with what is needed to settle it.
//
// A plain value: settle it through the consumer that delivered it (`ack`, `nack`, `reject` with
// `deliveryTag`). Tags are only meaningful to that consumer; after it stops or breaks, the broker
// redelivers every unsettled message (with `redelivered` set).

/// A message delivered by `AMQPConsumer`.
public struct AMQPDelivery: Sendable {
    /// Identifies the delivery on its consumer's channel; pass it to ack/nack/reject.
    public let deliveryTag: UInt64
    /// The broker delivered this message before, to this or another consumer, without an ack.
    public let redelivered: Bool
    public let exchange: String
    public let routingKey: String
    public let body: [UInt8]
    public let properties: AMQPProperties

    public init(
        deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String, body: [UInt8],
        properties: AMQPProperties
    ) {
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
    }
}
