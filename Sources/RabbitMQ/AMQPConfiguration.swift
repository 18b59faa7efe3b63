// AMQPConfiguration: where and how to connect to a RabbitMQ broker.
//
// Built from parts or from an `amqp://` URL (RabbitMQ's URI spec: the vhost is the percent-decoded
// path, `heartbeat` in seconds, `connection_timeout` in milliseconds). `amqps://` is TLS through
// rabbitmq-c's OpenSSL socket, with the query parameters RabbitMQ's URI spec and its other clients
// use (`cacertfile`, `certfile`, `keyfile`, `verify`). The description masks the password and
// shows no file path.

import ClientSupport

/// Connection settings for `AMQPConnection`, `AMQPPublisher` and `AMQPConsumer`.
public struct AMQPConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// One node of a cluster.
    public struct Node: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var host: String
    public var port: Int
    /// Further nodes of the same cluster (same user, vhost and settings). A connect tries every
    /// node, starting after the one the process connected to last, so a node that died is left
    /// for the next one and connections spread over the cluster. Empty for a single broker.
    public var otherNodes: [Node] = []
    public var user: String
    public var password: String
    /// The virtual host; "/" is RabbitMQ's default.
    public var virtualHost: String
    /// Heartbeat interval asked of the broker (the broker may lower it). `.zero` disables heartbeats.
    /// Default 30 s. The connection's own thread keeps heartbeats flowing whatever its owner does.
    public var heartbeat: Duration
    /// Bound on TCP connect plus the AMQP handshake (login, vhost open). Default 5 s.
    public var connectTimeout: Duration
    /// Bound on each synchronous broker request (declare, bind, channel open...), and on a
    /// publisher's write that the broker does not read. Default 30 s. A request that times out
    /// breaks the connection: the broker's reply can no longer be matched.
    public var requestTimeout: Duration
    /// Shown by `rabbitmqctl list_connections name client_properties` and the management UI.
    public var connectionName: String?
    /// Largest frame the client accepts; bodies larger than this are split. Default 128 KiB.
    public var frameMax: Int
    /// TLS settings; nil for plain TCP (`amqp://`).
    public var tls: AMQPTLSConfiguration?

    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        virtualHost: String = "/", heartbeat: Duration = .seconds(30), connectTimeout: Duration = .seconds(5),
        requestTimeout: Duration = .seconds(30), connectionName: String? = nil, frameMax: Int = 131_072
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.connectionName = connectionName
        self.frameMax = frameMax
    }

    /// Parses `amqp://user:pass@host:port/vhost?heartbeat=30&connection_timeout=5000&connection_name=x`,
    /// or `amqps://…?cacertfile=/path/ca.pem` for TLS (default port 5671).
    /// A cluster lists its nodes in the authority (`amqp://u:p@h1:5672,h2:5673,h3/vhost`, libpq's
    /// multi-host form) or as comma-separated URLs that differ only in their host and port.
    ///
    /// Missing user and password mean guest/guest, a missing port 5672, an empty path the vhost "/"
    /// (`%2f` also decodes to "/"). Query parameters: `heartbeat` (seconds), `connection_timeout`
    /// (milliseconds, as in RabbitMQ's URI spec), `connection_name`, `frame_max`; with `amqps`
    /// also `cacertfile`, `certfile`, `keyfile` (PEM files) and `verify` (`verify_peer`, the
    /// default: the chain and the host name are checked; `verify_none`). Any other parameter is an
    /// error naming it, so that a typo is not silently ignored.
    public init(url: String) throws(URLParseError) {
        let urls = url.split(separator: ",").filter { $0.contains("://") }
        if urls.count > 1 {
            var first = try AMQPConfiguration(url: String(urls[0]))
            for other in urls.dropFirst() {
                let next = try AMQPConfiguration(url: String(other))
                var same = next
                same.host = first.host
                same.port = first.port
                same.otherNodes = first.otherNodes
                guard same == first else {
                    throw URLParseError(part: "host list", reason: "the URLs of a cluster may differ only in host and port")
                }
                first.otherNodes += next.nodes
            }
            self = first
            return
        }
        let parsed = try ConnectionURL(parsing: url, schemes: ["amqp", "amqps"])
        let secure = parsed.scheme == "amqps"
        let defaultPort = secure ? 5671 : 5672
        self.init(
            host: parsed.host, port: parsed.port ?? defaultPort, user: parsed.user ?? "guest",
            password: parsed.password ?? "guest", virtualHost: parsed.path.isEmpty ? "/" : parsed.path)
        otherNodes = parsed.hosts.dropFirst().map { Node(host: $0.name, port: $0.port ?? defaultPort) }
        if secure { tls = AMQPTLSConfiguration() }
        for (key, value) in parsed.query {
            if AMQPTLSConfiguration.parameters.contains(key) {
                guard secure else {
                    throw URLParseError(part: "query parameter '\(key)'", reason: "only for amqps:// URLs (TLS)")
                }
                try tls!.set(key, value)
                continue
            }
            switch key {
            case "heartbeat":
                guard let seconds = Int(value), (0...65535).contains(seconds) else {
                    throw URLParseError(part: "query parameter 'heartbeat'", reason: "'\(value)' is not a number of seconds (0-65535)")
                }
                heartbeat = .seconds(seconds)
            case "connection_timeout":
                guard let ms = Int(value), ms > 0 else {
                    throw URLParseError(part: "query parameter 'connection_timeout'", reason: "'\(value)' is not a positive number of milliseconds")
                }
                connectTimeout = .milliseconds(ms)
            case "connection_name":
                connectionName = value
            case "frame_max":
                guard let n = Int(value), (4096...Int(Int32.max)).contains(n) else {
                    throw URLParseError(part: "query parameter 'frame_max'", reason: "'\(value)' is not a frame size (4096 or more)")
                }
                frameMax = n
            default:
                let known = ["heartbeat", "connection_timeout", "connection_name", "frame_max"]
                    + (secure ? AMQPTLSConfiguration.parameters : [])
                throw URLParseError(part: "query parameter '\(key)'", reason: "unknown (known: \(known.joined(separator: ", ")))")
            }
        }
        try tls?.validate()
    }

    /// `host:port`, for messages that name the broker.
    public var endpoint: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// Every node: the first (`host`, `port`), then `otherNodes`.
    public var nodes: [Node] { [Node(host: host, port: port)] + otherNodes }

    /// This configuration pointed at one node only.
    public func node(_ node: Node) -> AMQPConfiguration {
        var c = self
        c.host = node.host
        c.port = node.port
        c.otherNodes = []
        return c
    }

    /// Safe for logs: the password is masked.
    public var description: String {
        let vhost = virtualHost == "/" ? "%2f" : virtualHost
        let hosts = nodes.map { n in (n.host.contains(":") ? "[\(n.host)]" : n.host) + ":\(n.port)" }
        return "\(tls == nil ? "amqp" : "amqps")://\(user):***@\(hosts.joined(separator: ","))/\(vhost)"
    }
}
