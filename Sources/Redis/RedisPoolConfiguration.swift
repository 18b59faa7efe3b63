// RedisPoolConfiguration: the size and timing of a RedisPool.
//
// The connection settings themselves live in `RedisConfiguration`; this adds how many
// connections to keep, how long a caller may wait for one, and how reconnects back off.

import ClientSupport

/// Settings of a `RedisPool`.
public struct RedisPoolConfiguration: Sendable {
    public var connection: RedisConfiguration
    /// Most connections open at once. Default 4.
    public var size: Int
    /// How long `withConnection` waits for a busy pool before `.poolTimeout`. Default 5 s.
    public var acquireTimeout: Duration
    /// Delay between failed connect attempts; inside it calls fail fast with `.unavailable`.
    /// Default 100 ms doubling to 5 s, half jitter.
    public var reconnectBackoff: Backoff

    public init(connection: RedisConfiguration, size: Int = 4, acquireTimeout: Duration = .seconds(5),
                reconnectBackoff: Backoff = Backoff(base: .milliseconds(100), cap: .seconds(5), jitter: 0.5)) {
        self.connection = connection
        self.size = size
        self.acquireTimeout = acquireTimeout
        self.reconnectBackoff = reconnectBackoff
    }
}
