// AMQPError: every failure of the RabbitMQ client, as one struct with an extensible Code.
//
// Broker refusals (connection.close / channel.close) carry the broker's reply code and text
// (404 NOT_FOUND, 406 PRECONDITION_FAILED, 403 ACCESS_REFUSED, 320 CONNECTION_FORCED...);
// library failures carry rabbitmq-c's status and its amqp_error_string2 text. The description
// names the endpoint and what was being done, never a password or a message body.

/// A failure talking to RabbitMQ.
public struct AMQPError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure; compare with the static members (`error.code == .channelClosed`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// TCP connect refused: nothing listens at the endpoint.
        public static let connectionRefused = Code("connectionRefused")
        /// TCP connect or the AMQP handshake did not finish within `connectTimeout`.
        public static let connectTimeout = Code("connectTimeout")
        /// The host name did not resolve.
        public static let hostNotFound = Code("hostNotFound")
        /// The broker refused the user name or password (ACCESS_REFUSED during login).
        public static let authenticationFailed = Code("authenticationFailed")
        /// The virtual host does not exist (NOT_ALLOWED "vhost ... not found").
        public static let virtualHostNotFound = Code("virtualHostNotFound")
        /// The user may not use the virtual host (NOT_ALLOWED "access to vhost ... refused").
        public static let virtualHostAccessRefused = Code("virtualHostAccessRefused")
        /// TLS (`amqps`) failed: the broker's certificate did not verify against the CA or does
        /// not name the host, the port does not speak TLS, or a CA, certificate or key file could
        /// not be used. Not transient: the configuration or the broker's certificate must change.
        public static let tlsFailed = Code("tlsFailed")
        /// The peer does not speak AMQP 0-9-1.
        public static let protocolError = Code("protocolError")
        /// The broker closed the connection (connection.close: `replyCode`, `replyText`).
        public static let connectionClosed = Code("connectionClosed")
        /// The broker closed a channel (channel.close: `replyCode`, `replyText`).
        public static let channelClosed = Code("channelClosed")
        /// The TCP connection broke, or the broker stopped sending heartbeats.
        public static let connectionLost = Code("connectionLost")
        /// A request got no reply within `requestTimeout` (the connection is then broken).
        public static let requestTimeout = Code("requestTimeout")
        /// The broker nacked a published message: it was not stored.
        public static let publishNacked = Code("publishNacked")
        /// A mandatory message matched no queue (basic.return: `replyCode` 312 NO_ROUTE).
        public static let unroutable = Code("unroutable")
        /// The broker cancelled the consumer (its queue was deleted, or the node went away).
        public static let consumerCancelled = Code("consumerCancelled")
        /// The connection, publisher or consumer was closed by its owner.
        public static let closed = Code("closed")
        /// A bad argument (a name longer than 255 bytes, an unusable table value...).
        public static let invalidArgument = Code("invalidArgument")
        /// Any other rabbitmq-c status (`libraryStatus`).
        public static let library = Code("library")
    }

    public var code: Code
    /// What was being done, e.g. "declare queue 'jobs.analytics'".
    public var context: String
    /// `host:port` of the broker, when known.
    public var endpoint: String?
    /// AMQP reply code from connection.close, channel.close or basic.return.
    public var replyCode: UInt16?
    /// AMQP reply text from the broker, e.g. "NOT_FOUND - no queue 'x' in vhost 'sluice'".
    public var replyText: String?
    /// The rabbitmq-c status code (negative `amqp_status_enum`), when the library reported it.
    public var libraryStatus: Int32?
    /// Extra detail: the library's text, an errno description...
    public var detail: String?

    public init(
        _ code: Code, context: String, endpoint: String? = nil, replyCode: UInt16? = nil,
        replyText: String? = nil, libraryStatus: Int32? = nil, detail: String? = nil
    ) {
        self.code = code
        self.context = context
        self.endpoint = endpoint
        self.replyCode = replyCode
        self.replyText = replyText
        self.libraryStatus = libraryStatus
        self.detail = detail
    }

    /// True when trying again later (with a new connection) may succeed: refused, timeouts,
    /// lost connections and broker-forced closes. Authentication and vhost errors are not.
    public var isTransient: Bool {
        switch code {
        case .connectionRefused, .connectTimeout, .connectionLost, .requestTimeout, .hostNotFound:
            return true
        case .connectionClosed:
            // 320 CONNECTION_FORCED (operator or node shutdown), 541 INTERNAL_ERROR
            return replyCode == 320 || replyCode == 541
        default:
            return false
        }
    }

    public var description: String {
        var s = "AMQP \(code.name): \(context)"
        if let endpoint { s += " on \(endpoint)" }
        if let replyCode {
            s += ": \(replyCode)"
            if let replyText { s += " \(replyText)" }
        } else if let replyText {
            s += ": \(replyText)"
        }
        if let detail { s += " (\(detail))" }
        return s
    }
}
