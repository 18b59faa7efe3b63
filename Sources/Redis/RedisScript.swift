// RedisScript: a Lua script known by its SHA-1, run with EVALSHA.
//
// The hash is computed locally (Redis names scripts by the SHA-1 of their source), so the first
// run needs no SCRIPT LOAD round trip. When the server does not know the script (NOSCRIPT: a
// restart, a failover, SCRIPT FLUSH), `evalScript` falls back to EVAL, which runs the source and
// caches it again; that stays correct even if another client flushes scripts concurrently.

/// A Lua script for EVALSHA.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// Lower-case hex SHA-1 of `source`: the name EVALSHA uses.
    public let sha1: String

    public init(source: String) {
        self.source = source
        self.sha1 = SHA1.hex(source.utf8)
    }
}
