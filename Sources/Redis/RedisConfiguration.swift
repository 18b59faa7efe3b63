// RedisConfiguration: where a Redis server is and how to talk to it.
//
// Built from values or from a `redis://` URL. hiredis 0.14 has no TLS, so `rediss://` is refused
// with a clear error rather than silently connecting in plain text. The description masks the
// password.

import ClientSupport

/// How to reach one Redis server.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// ACL user name (Redis 6+); nil authenticates as the default user with `AUTH password`.
    public var username: String?
    /// Sent with AUTH on connect when set. Never shown in descriptions or errors.
    public var password: String?
    /// The logical database, selected on connect when not 0.
    public var database: Int
    /// Bound on the TCP connect. Default 2 s.
    public var connectTimeout: Duration
    /// Socket send/receive timeout for every command, including the connect handshake (AUTH,
    /// SELECT). Default 5 s. A command that exceeds it fails with `.timeout` and breaks the
    /// connection. Blocking commands (BLPOP, XREAD BLOCK) need `RedisBlockingConnection`, whose
    /// timeout is the block time plus this value.
    public var commandTimeout: Duration
    /// Sent with CLIENT SETNAME on connect, so operators can tell Sluice's connections apart in
    /// CLIENT LIST. Letters, digits, '-', '_', '.', ':' only.
    public var clientName: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
                database: Int = 0, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
                clientName: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.clientName = clientName
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`.
    ///
    /// `redis://:secret@host/2` authenticates the default user; `redis://alice:secret@host`
    /// uses ACL AUTH with a user name. The port defaults to 6379 and the database to 0.
    public init(url: String) throws(URLParseError) {
        let parsed = try ConnectionURL(parsing: url, schemes: ["redis", "rediss"])
        if parsed.scheme == "rediss" {
            throw URLParseError(part: "scheme", reason: "rediss:// (TLS) is not supported by hiredis 0.14; use redis://")
        }
        var database = 0
        if !parsed.path.isEmpty {
            guard let db = Int(parsed.path), db >= 0 else {
                throw URLParseError(part: "database", reason: "'\(parsed.path)' is not a database number (0, 1, ...)")
            }
            database = db
        }
        if parsed.user != nil && parsed.password == nil {
            throw URLParseError(part: "password", reason: "a user name needs a password (redis://user:password@host)")
        }
        self.init(host: parsed.host, port: parsed.port ?? 6379, username: parsed.user,
                  password: parsed.password, database: database)
    }

    /// `host:port`, for messages.
    public var endpoint: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    public var description: String {
        var s = "redis://"
        if password != nil { s += (username ?? "") + ":***@" }
        s += endpoint
        if database != 0 { s += "/\(database)" }
        return s
    }

    /// Checks what the server cannot: positive timeouts, a port in range, a sane client name.
    func validate() throws(RedisError) {
        guard (1...65535).contains(port) else {
            throw RedisError(.invalidConfiguration, "port \(port) is not in 1...65535", endpoint: endpoint)
        }
        guard connectTimeout > .zero, commandTimeout > .zero else {
            throw RedisError(.invalidConfiguration, "connectTimeout and commandTimeout must be positive", endpoint: endpoint)
        }
        guard database >= 0 else {
            throw RedisError(.invalidConfiguration, "database \(database) is negative", endpoint: endpoint)
        }
        if let clientName {
            let allowed = clientName.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                    || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
            }
            guard allowed, !clientName.isEmpty else {
                throw RedisError(.invalidConfiguration, "client name may hold only letters, digits and - _ . :",
                                 endpoint: endpoint)
            }
        }
    }
}
