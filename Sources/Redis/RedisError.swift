// RedisError: every failure the Redis client reports, as one struct with an extensible code.
//
// `RedisError.hiredis(...)` is the single place that turns a hiredis context error (`err`,
// `errstr`, a NULL reply) into a typed error. Descriptions name the endpoint and the cause, never
// a password, an argument value or a payload: server messages that echo arguments are trimmed.

/// A Redis client or server error.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. New codes may be added; switch with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case connectionFailed, authenticationFailed, timeout, connectionLost, connectionClosed
            case server, `protocol`, unavailable, poolTimeout, poolClosed, invalidConfiguration
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The TCP connection could not be made (refused, unreachable, name not resolved).
        public static let connectionFailed = Code(.connectionFailed)
        /// AUTH was rejected (WRONGPASS), or the server demands a password we did not give (NOAUTH).
        public static let authenticationFailed = Code(.authenticationFailed)
        /// Connecting or waiting for a reply took longer than the configured timeout. The
        /// connection is unusable afterwards (a late reply would be read as the next one's).
        public static let timeout = Code(.timeout)
        /// The server closed the connection or the socket failed mid-command; the command may or
        /// may not have run.
        public static let connectionLost = Code(.connectionLost)
        /// The connection was closed by this process (`close()`), or its I/O thread has stopped.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server answered with an error reply (`message` holds it, e.g. "WRONGTYPE ...").
        public static let server = Code(.server)
        /// The reply could not be parsed, or had an unexpected shape.
        public static let `protocol` = Code(.protocol)
        /// Redis is down: the pool is inside its reconnect backoff window and fails fast.
        public static let unavailable = Code(.unavailable)
        /// No pooled connection became free within the acquire timeout.
        public static let poolTimeout = Code(.poolTimeout)
        /// The pool has been closed.
        public static let poolClosed = Code(.poolClosed)
        /// The configuration cannot work (bad database index, bad timeout, ...).
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The cause in words; for `.server`, the server's error message (trimmed of echoed arguments).
    public var message: String
    /// `host:port` of the server, when known.
    public var endpoint: String?

    public init(_ code: Code, _ message: String, endpoint: String? = nil) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
    }

    /// For `.server` errors, the error prefix the server sent ("ERR", "WRONGTYPE", "NOSCRIPT", ...).
    public var serverCode: String? {
        guard code == .server || code == .authenticationFailed else { return nil }
        guard let first = message.split(separator: " ", maxSplits: 1).first, !first.isEmpty,
              first.allSatisfy({ $0.isUppercase || $0 == "_" || $0.isNumber }) else { return nil }
        return String(first)
    }

    public var description: String {
        var s = "redis"
        if let endpoint { s += " \(endpoint)" }
        return s + ": \(code): \(message)"
    }
}

extension RedisError {
    /// Where in a connection's life a hiredis error happened: it decides between
    /// `.connectionFailed` (nothing was sent yet) and `.connectionLost`.
    enum Stage {
        /// The TCP connect.
        case connect
        /// AUTH / SELECT / CLIENT SETNAME / PING right after connecting.
        case handshake
        /// A command on an established connection.
        case command
    }

    /// The choke point: maps a hiredis context error to a typed error.
    static func hiredis(err: Int32, errstr: String, stage: Stage, endpoint: String) -> RedisError {
        let lowered = errstr.lowercased()
        let lost: Code = stage == .command ? .connectionLost : .connectionFailed
        switch err {
        case 3: // REDIS_ERR_EOF
            return RedisError(lost, "server closed the connection", endpoint: endpoint)
        case 1: // REDIS_ERR_IO: errstr is strerror(errno)
            // A socket timeout (SO_RCVTIMEO/SO_SNDTIMEO) surfaces as EAGAIN; the connect timeout as
            // ETIMEDOUT.
            if lowered.contains("temporarily unavailable") || lowered.contains("timed out")
                || lowered.contains("would block") {
                let what: String
                switch stage {
                case .connect: what = "connect timed out"
                case .handshake: what = "no reply to the connect handshake within the command timeout"
                case .command: what = "no reply within the command timeout"
                }
                return RedisError(.timeout, "\(what) (\(errstr))", endpoint: endpoint)
            }
            // A peer that closes with a reset (a TLS sidecar refusing the server's certificate,
            // a proxy giving up) is still the peer closing the connection: say so first.
            if lowered.contains("reset by peer") || lowered.contains("broken pipe") {
                return RedisError(lost, "server closed the connection (\(errstr))", endpoint: endpoint)
            }
            return RedisError(lost, errstr, endpoint: endpoint)
        case 4: // REDIS_ERR_PROTOCOL
            return RedisError(.protocol, errstr, endpoint: endpoint)
        case 5: // REDIS_ERR_OOM
            return RedisError(.protocol, "hiredis out of memory", endpoint: endpoint)
        default: // REDIS_ERR_OTHER: name resolution and the like
            return RedisError(lost, errstr.isEmpty ? "unknown hiredis error \(err)" : errstr, endpoint: endpoint)
        }
    }

    /// A server error reply. Redis echoes the first arguments of an unknown command ("with args
    /// beginning with: ..."), which may be values: that part is cut. NOAUTH and WRONGPASS become
    /// `.authenticationFailed`.
    static func server(_ raw: String, endpoint: String) -> RedisError {
        var message = raw
        if let echo = message.range(of: ", with args beginning with:") {
            message = String(message[..<echo.lowerBound])
        }
        if message.utf8.count > 512 {
            message = String(message.prefix(512)) + "…"
        }
        if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
            return RedisError(.authenticationFailed, message, endpoint: endpoint)
        }
        return RedisError(.server, message, endpoint: endpoint)
    }
}
