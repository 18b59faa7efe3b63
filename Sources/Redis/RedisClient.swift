// RedisClient: what RedisConnection, RedisPool and RedisBlockingConnection share.
//
// Two primitives (`send` an argv, `pipeline` many) and the helpers built on them: variadic
// `send`, `ping` and `serverVersion` for `sluice doctor`, and `evalScript` with its NOSCRIPT
// fallback. Helpers never retry a command that may have run: after `.connectionLost` the caller
// decides.

/// Something that runs Redis commands.
public protocol RedisClient: Sendable {
    /// Runs one command; an error reply is thrown as `RedisError` (`.server`).
    func send(_ args: [RedisArgument]) async throws(RedisError) -> RESPValue
    /// Runs the commands in one round trip, replies in order; an error reply is a `.failure`
    /// in its slot, a connection failure throws.
    func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [Result<RESPValue, RedisError>]
}

extension RedisClient {
    /// `try await redis.send("SET", key, bytes, "EX", 60)`.
    @discardableResult
    public func send(_ args: any RedisArgumentConvertible...) async throws(RedisError) -> RESPValue {
        try await send(args.map(\.redisArgument))
    }

    /// Sends PING and returns the round-trip time.
    @discardableResult
    public func ping() async throws(RedisError) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let reply = try await send(["PING"])
        guard reply.string == "PONG" else {
            throw RedisError(.protocol, "PING answered something other than PONG")
        }
        return clock.now - start
    }

    /// `redis_version` from INFO server, e.g. "7.0.15".
    public func serverVersion() async throws(RedisError) -> String {
        let reply = try await send(["INFO", "server"])
        guard let text = reply.string else {
            throw RedisError(.protocol, "INFO server did not return text")
        }
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("redis_version:") {
            return String(line.dropFirst("redis_version:".count))
        }
        throw RedisError(.protocol, "INFO server has no redis_version")
    }

    /// Runs `script` with EVALSHA; when the server answers NOSCRIPT, runs it with EVAL (which
    /// also caches it for the next EVALSHA).
    @discardableResult
    public func evalScript(_ script: RedisScript, keys: [RedisArgument] = [],
                           args: [RedisArgument] = []) async throws(RedisError) -> RESPValue {
        var command: [RedisArgument] = ["EVALSHA", RedisArgument(script.sha1), RedisArgument(keys.count)]
        command.reserveCapacity(3 + keys.count + args.count)
        command.append(contentsOf: keys)
        command.append(contentsOf: args)
        do {
            return try await send(command)
        } catch where error.code == .server && error.serverCode == "NOSCRIPT" {
            command[0] = "EVAL"
            command[1] = RedisArgument(script.source)
            return try await send(command)
        }
    }
}
