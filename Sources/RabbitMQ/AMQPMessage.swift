// AMQPMessage: a message to publish: a body and its properties.
//
// Persistent by default: job dispatch must survive a broker restart. The body is opaque bytes;
// nothing in this module ever logs or describes it.

/// A message to publish.
public struct AMQPMessage: Sendable, Equatable {
    public var body: [UInt8]
    public var properties: AMQPProperties

    public init(body: [UInt8], properties: AMQPProperties = AMQPProperties()) {
        self.body = body
        self.properties = properties
    }

    /// A message whose body is `text` in UTF-8.
    public init(_ text: String, properties: AMQPProperties = AMQPProperties()) {
        self.init(body: Array(text.utf8), properties: properties)
    }
}

/// One message of a batch publish: the message and where it goes.
public struct AMQPOutgoingMessage: Sendable {
    public var message: AMQPMessage
    public var exchange: String
    public var routingKey: String
    /// When true, a message that matches no queue is returned and its publish fails `.unroutable`.
    public var mandatory: Bool

    public init(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = true) {
        self.message = message
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
    }
}
