// RedisConfiguration: where a Redis server is and how to talk to it.
//
// Built from values or from a `redis://` URL. hiredis 0.14 has no TLS, so `rediss://` is refused
// with a clear error rather than silently connecting in plain text. The description masks the
// password.

import ClientSupport

/// How to reach one Redis server.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    public static func == (a: RedisConfiguration, b: RedisConfiguration) -> Bool {
        a.host == b.host && a.port == b.port && a.username == b.username && a.password == b.password
            && a.database == b.database && a.connectTimeout == b.connectTimeout && a.commandTimeout == b.commandTimeout
            && a.clientName == b.clientName && a.masterName == b.masterName
            && a.sentinels.map { "\($0.host):\($0.port)" } == b.sentinels.map { "\($0.host):\($0.port)" }
    }

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
    /// With Sentinel: the monitored master's name. Each connect asks `sentinels` where the
    /// master is and verifies it with ROLE; `host`/`port` are then only the first Sentinel.
    public var masterName: String?
    /// With Sentinel: the Sentinels' addresses, asked in order.
    public var sentinels: [(host: String, port: Int)] = []

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
    ///
    /// `redis-sentinel://[:password@]s1:26379,s2:26379/mymaster[/db]` finds the master through
    /// Sentinel (default Sentinel port 26379); the password is the master's.
    public init(url: String) throws(URLParseError) {
        let parsed = try ConnectionURL(parsing: url, schemes: ["redis", "rediss", "redis-sentinel"])
        if parsed.scheme == "rediss" {
            throw URLParseError(part: "scheme", reason: "rediss:// (TLS) is not supported by hiredis 0.14; run a TLS sidecar (stunnel, README 'Production deployment') and give its plaintext loopback port as redis://")
        }
        var database = 0
        var path = parsed.path
        var masterName: String?
        if parsed.scheme == "redis-sentinel" {
            let parts = path.split(separator: "/", maxSplits: 1)
            guard let name = parts.first, !name.isEmpty else {
                throw URLParseError(part: "master name", reason: "expected redis-sentinel://host:port,.../<master name>")
            }
            masterName = String(name)
            path = parts.count > 1 ? String(parts[1]) : ""
        } else if parsed.hosts.count > 1 {
            throw URLParseError(part: "host", reason: "several hosts need redis-sentinel://; redis:// names one server")
        }
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                throw URLParseError(part: "database", reason: "'\(path)' is not a database number (0, 1, ...)")
            }
            database = db
        }
        if parsed.user != nil && parsed.password == nil {
            throw URLParseError(part: "password", reason: "a user name needs a password (redis://user:password@host)")
        }
        let defaultPort = masterName == nil ? 6379 : 26379
        self.init(host: parsed.host, port: parsed.port ?? defaultPort, username: parsed.user,
                  password: parsed.password, database: database)
        if let masterName {
            self.masterName = masterName
            sentinels = parsed.hosts.map { ($0.name, $0.port ?? defaultPort) }
        }
    }

    /// `host:port`, for messages.
    public var endpoint: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    public var description: String {
        var s = masterName == nil ? "redis://" : "redis-sentinel://"
        if password != nil { s += (username ?? "") + ":***@" }
        if let masterName {
            s += sentinels.map { (h, p) in (h.contains(":") ? "[\(h)]" : h) + ":\(p)" }.joined(separator: ",") + "/" + masterName
        } else {
            s += endpoint
        }
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
