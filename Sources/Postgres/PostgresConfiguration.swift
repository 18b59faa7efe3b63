// PostgresConfiguration: where and how to connect, and the session settings applied on connect.
//
// Built from fields or from a `postgresql://` URL. Connection keywords go to libpq as keyword
// arrays (PQconnectStartParams), never as a concatenated conninfo string, so any character in a
// password is safe. Session settings are applied after connecting with bound `set_config` calls.

import ClientSupport

/// How to reach a Postgres server and how to set up each session.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// libpq's `sslmode`.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// Host name, IP address, or a Unix-socket directory (starting with `/`).
    public var host: String
    public var port: Int
    /// Further servers (a standby that may be promoted), tried in order after `host` by libpq.
    /// With `libpqOptions["target_session_attrs"] = "read-write"` a session lands only on the
    /// primary, wherever it is now. Empty for a single server.
    public var otherHosts: [(host: String, port: Int)] = []
    public var database: String
    public var user: String
    public var password: String?
    /// nil leaves libpq's default (`prefer`).
    public var sslMode: SSLMode?
    /// Reported in `pg_stat_activity.application_name`.
    public var applicationName: String
    /// Bounds the whole connect (TCP, TLS, authentication, session setup). Default 5 s.
    public var connectTimeout: Duration
    /// `statement_timeout` for the session; nil keeps the server's default.
    public var statementTimeout: Duration?
    /// `lock_timeout` for the session; nil keeps the server's default.
    public var lockTimeout: Duration?
    /// `SET ROLE` after connecting; nil keeps the login role.
    public var role: String?
    /// Further session settings (`set_config(name, value, false)`), e.g. `search_path`.
    /// `TimeZone` is set to `UTC` unless given here; result decoding handles any zone.
    public var settings: [String: String]
    /// Further libpq connection keywords (e.g. `sslrootcert`, `target_session_attrs`).
    public var libpqOptions: [String: String]
    /// Statements a connection keeps prepared on the server (named, planned once per plan
    /// cache rules) for SQL it runs a second time; the least recently used is deallocated past
    /// this many. 0 turns it off (needed behind a pooler in transaction mode, e.g. PgBouncer
    /// before 1.21). URL: `statement_cache=N`.
    public var statementCacheSize = 256

    public init(
        host: String = "127.0.0.1", port: Int = 5432, database: String, user: String,
        password: String? = nil, sslMode: SSLMode? = nil, applicationName: String = "sluice",
        connectTimeout: Duration = .seconds(5), statementTimeout: Duration? = nil,
        lockTimeout: Duration? = nil, role: String? = nil, settings: [String: String] = [:],
        libpqOptions: [String: String] = [:]
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.lockTimeout = lockTimeout
        self.role = role
        self.settings = settings
        self.libpqOptions = libpqOptions
    }

    /// Parses `postgresql://user:password@host:port/database?sslmode=…&application_name=…`
    /// (also `postgres://`). Several servers are comma-separated as in libpq:
    /// `postgresql://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write`. Percent-escapes are decoded. Accepted query parameters:
    /// `sslmode`, `application_name`, `connect_timeout` (seconds), `sslrootcert`, `sslcert`,
    /// `sslkey`, `target_session_attrs`, `statement_cache` (prepared statements kept per
    /// connection; 0: off). Anything else is an error naming the parameter.
    public init(url: String) throws(URLParseError) {
        let parsed = try ConnectionURL(parsing: url, schemes: ["postgresql", "postgres"])
        let user = parsed.user ?? "postgres"
        self.init(
            host: parsed.host, port: parsed.port ?? 5432,
            database: parsed.path.isEmpty ? user : parsed.path, user: user, password: parsed.password)
        otherHosts = parsed.hosts.dropFirst().map { ($0.name, $0.port ?? 5432) }
        if parsed.path.contains("/") {
            throw URLParseError(part: "path", reason: "expected a single database name")
        }
        for (key, value) in parsed.query {
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw URLParseError(
                        part: "query parameter 'sslmode'",
                        reason: "'\(value)' is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "application_name":
                applicationName = value
            case "connect_timeout":
                guard let seconds = Double(value), seconds > 0, seconds < 86_400 else {
                    throw URLParseError(part: "query parameter 'connect_timeout'", reason: "expected seconds > 0")
                }
                connectTimeout = .milliseconds(Int64(seconds * 1000))
            case "sslrootcert", "sslcert", "sslkey", "target_session_attrs":
                libpqOptions[key] = value
            case "statement_cache":
                guard let n = Int(value), (0...100_000).contains(n) else {
                    throw URLParseError(part: "query parameter 'statement_cache'", reason: "expected a number of statements from 0 (off) to 100000")
                }
                statementCacheSize = n
            default:
                throw URLParseError(part: "query parameter '\(key)'", reason: "not a supported connection parameter")
            }
        }
    }

    /// `host:port/database`, for logs and error messages.
    public var endpoint: String {
        let all = [(host, port)] + otherHosts
        return all.map { (h, p) in (h.contains(":") ? "[\(h)]" : h) + ":\(p)" }.joined(separator: ",") + "/\(database)"
    }

    /// The URL form with the password masked.
    public var description: String {
        var s = "postgresql://\(user)"
        if password != nil { s += ":***" }
        s += "@" + endpoint
        if let sslMode { s += "?sslmode=\(sslMode.rawValue)" }
        return s
    }

    /// The libpq keywords and values, in order. Values may contain any character.
    func connectionKeywords() -> [(String, String)] {
        var pairs: [(String, String)] = [
            ("host", ([host] + otherHosts.map(\.host)).joined(separator: ",")),
            ("port", ([port] + otherHosts.map(\.port)).map(String.init).joined(separator: ",")),
            ("dbname", database), ("user", user),
            ("application_name", applicationName), ("client_encoding", "UTF8"),
        ]
        if let password { pairs.append(("password", password)) }
        if let sslMode { pairs.append(("sslmode", sslMode.rawValue)) }
        for (k, v) in libpqOptions.sorted(by: { $0.key < $1.key }) { pairs.append((k, v)) }
        return pairs
    }

    /// The session settings as (name, value) pairs for `set_config`, in a stable order.
    /// Output formats the decoder relies on come first; the caller's settings may override
    /// `TimeZone` (decoding handles any offset) but not the formats.
    func sessionSettings() -> [(String, String)] {
        var result: [(String, String)] = [
            ("DateStyle", "ISO, MDY"), ("IntervalStyle", "postgres"), ("bytea_output", "hex"),
        ]
        var merged = settings
        if merged.keys.first(where: { $0.lowercased() == "timezone" }) == nil { merged["TimeZone"] = "UTC" }
        if let statementTimeout { merged["statement_timeout"] = "\(statementTimeout.wholeMilliseconds)ms" }
        if let lockTimeout { merged["lock_timeout"] = "\(lockTimeout.wholeMilliseconds)ms" }
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) { result.append((k, v)) }
        if let role { result.append(("role", role)) }
        return result
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a non-zero duration never becomes 0 ("no limit").
    var wholeMilliseconds: Int64 {
        let (s, atto) = components
        let ms = s * 1000 + atto / 1_000_000_000_000_000
        let remainder = atto % 1_000_000_000_000_000
        return remainder > 0 ? ms + 1 : ms
    }
}
