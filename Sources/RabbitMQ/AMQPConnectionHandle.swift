// AMQPConnectionHandle: one rabbitmq-c connection (amqp_connection_state_t) and the single
// choke point that turns its status codes and RPC replies into AMQPError.
//
// Not thread-safe and not Sendable: it is created, used and destroyed on its session's IOThread.
// The TCP connect is done here (not by rabbitmq-c) so that a refused connection, a timeout and
// an unknown host are told apart. No amqp_rpc_reply_t or C pointer leaves this module.

import CRabbitMQ
import ClientSupport
import Foundation

/// AMQP method numbers (class << 16 | method) this module reacts to.
enum AMQPMethod {
    static let connectionClose: amqp_method_number_t = 0x000A_0032
    static let connectionCloseOk: amqp_method_number_t = 0x000A_0033
    static let connectionBlocked: amqp_method_number_t = 0x000A_003C
    static let connectionUnblocked: amqp_method_number_t = 0x000A_003D
    static let channelClose: amqp_method_number_t = 0x0014_0028
    static let channelCloseOk: amqp_method_number_t = 0x0014_0029
    static let basicCancel: amqp_method_number_t = 0x003C_001E
    static let basicCancelOk: amqp_method_number_t = 0x003C_001F
    static let basicReturn: amqp_method_number_t = 0x003C_0032
    static let basicDeliver: amqp_method_number_t = 0x003C_003C
    static let basicAck: amqp_method_number_t = 0x003C_0050
    static let basicNack: amqp_method_number_t = 0x003C_0078
}

final class AMQPConnectionHandle {
    let state: amqp_connection_state_t
    let endpoint: String
    /// Scratch memory for encoding arguments and properties; recycled after each call.
    let pool = AMQPPool()
    let serverProperties: AMQPTable
    /// Negotiated heartbeat in seconds (0 = off).
    let heartbeatSeconds: Int
    let socketFD: Int32
    /// True for `amqps`: bytes must go through rabbitmq-c's OpenSSL socket, never send(2).
    let usesTLS: Bool
    /// Set once the connection can no longer be used; every later call fails with it.
    private(set) var brokenError: AMQPError?

    private init(state: amqp_connection_state_t, endpoint: String, usesTLS: Bool) {
        self.state = state
        self.endpoint = endpoint
        self.usesTLS = usesTLS
        self.serverProperties = amqp_get_server_properties(state).map { AMQPFieldValue.decode(table: $0.pointee) } ?? [:]
        self.heartbeatSeconds = Int(amqp_get_heartbeat(state))
        self.socketFD = amqp_get_sockfd(state)
    }

    deinit {
        amqp_destroy_connection(state)
    }

    // MARK: Opening

    /// Connects and logs in: TCP connect, AMQP handshake, vhost open, all within `connectTimeout`.
    static func open(_ config: AMQPConfiguration, defaultName: String) throws(AMQPError) -> AMQPConnectionHandle {
        let endpoint = config.endpoint
        let deadline = ContinuousClock.now + config.connectTimeout
        let state: amqp_connection_state_t
        if let tls = config.tls {
            state = try tlsConnect(config, tls: tls, deadline: deadline)
        } else {
            let fd = try tcpConnect(host: config.host, port: config.port, deadline: deadline, endpoint: endpoint,
                                    timeout: config.connectTimeout)
            guard let plain = amqp_new_connection() else {
                _ = Glibc.close(fd)
                throw AMQPError(.library, context: "allocate connection", endpoint: endpoint, detail: "out of memory")
            }
            guard let socket = amqp_tcp_socket_new(plain) else {
                _ = Glibc.close(fd)
                amqp_destroy_connection(plain)
                throw AMQPError(.library, context: "allocate socket", endpoint: endpoint, detail: "out of memory")
            }
            amqp_tcp_socket_set_sockfd(socket, fd)  // rabbitmq-c now owns fd
            state = plain
        }

        var handshake = timeval(remainingUntil: deadline)
        amqp_set_handshake_timeout(state, &handshake)
        var rpc = timeval(config.requestTimeout)
        amqp_set_rpc_timeout(state, &rpc)

        let heartbeat = config.heartbeat <= .zero ? 0 : Int32(max(1, config.heartbeat.seconds.rounded(.up)))
        let pool = AMQPPool()
        var properties = pool.table([
            "connection_name": .string(config.connectionName ?? defaultName),
            "product": "sluice",
            "platform": "Swift",
            "information": .string("rabbitmq-c \(String(cString: amqp_version()))"),
            // Merged into rabbitmq-c's own capabilities: consumer_cancel_notify makes the broker
            // tell a consumer whose queue was deleted, instead of leaving it waiting forever.
            "capabilities": .table([
                "consumer_cancel_notify": true, "connection.blocked": true, "authentication_failure_close": true,
                "publisher_confirms": true, "basic.nack": true,
            ]),
        ])
        let reply = CRabbitMQ_login_plain_with_properties(
            state, config.virtualHost, 2047, Int32(clamping: config.frameMax), heartbeat, &properties,
            config.user, config.password)
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            let error = loginError(reply, state: state, config: config)
            amqp_destroy_connection(state)
            throw error
        }
        return AMQPConnectionHandle(state: state, endpoint: endpoint, usesTLS: config.tls != nil)
    }

    private static func loginError(_ reply: amqp_rpc_reply_t, state: amqp_connection_state_t, config: AMQPConfiguration) -> AMQPError {
        let context = "connect to vhost '\(config.virtualHost)' as user '\(config.user)'"
        switch reply.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == AMQPMethod.connectionClose:
            let close = reply.reply.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, AMQPMethod.connectionCloseOk, &ok)
            let text = close.reply_text.string
            let code: AMQPError.Code
            switch close.reply_code {
            case 403: code = .authenticationFailed
            case 530 where text.contains("not found"): code = .virtualHostNotFound
            case 530: code = .virtualHostAccessRefused
            default: code = .connectionClosed
            }
            return AMQPError(code, context: context, endpoint: config.endpoint, replyCode: close.reply_code, replyText: text)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            let text = String(cString: amqp_error_string2(status))
            // A TLS listener answers a plaintext client's first bytes with an alert and closes: say so.
            let hint = config.tls == nil ? "; if this port is a TLS listener, use amqps://" : ""
            switch status {
            case AMQP_STATUS_TIMEOUT.rawValue:
                return AMQPError(.connectTimeout, context: context, endpoint: config.endpoint, libraryStatus: status,
                                 detail: "no AMQP handshake from the server within \(config.connectTimeout)")
            case AMQP_STATUS_SSL_ERROR.rawValue where config.tls != nil:
                // TLS 1.3 lets the client finish its handshake before the broker checks the
                // client's certificate: the broker's refusal arrives as an alert during login.
                let reason = takeTLSError() ?? text
                return AMQPError(.tlsFailed, context: context, endpoint: config.endpoint, libraryStatus: status,
                                 detail: "TLS session ended by the broker during login: \(reason); a broker that requires "
                                     + "client certificates refuses a missing one or one its CA did not sign (certfile, keyfile)")
            case AMQP_STATUS_CONNECTION_CLOSED.rawValue, AMQP_STATUS_SOCKET_ERROR.rawValue, AMQP_STATUS_SOCKET_CLOSED.rawValue:
                return AMQPError(.connectionLost, context: context, endpoint: config.endpoint, libraryStatus: status,
                                 detail: "server closed the connection during the handshake: \(text)\(hint)")
            case AMQP_STATUS_BAD_AMQP_DATA.rawValue, AMQP_STATUS_INCOMPATIBLE_AMQP_VERSION.rawValue,
                AMQP_STATUS_UNKNOWN_CLASS.rawValue, AMQP_STATUS_UNKNOWN_METHOD.rawValue, AMQP_STATUS_UNEXPECTED_STATE.rawValue,
                AMQP_STATUS_WRONG_METHOD.rawValue:
                return AMQPError(.protocolError, context: context, endpoint: config.endpoint, libraryStatus: status,
                                 detail: "the server does not speak AMQP 0-9-1: \(text)\(hint)")
            default:
                return AMQPError(.library, context: context, endpoint: config.endpoint, libraryStatus: status, detail: text)
            }
        default:
            return AMQPError(.protocolError, context: context, endpoint: config.endpoint, detail: "unexpected login reply")
        }
    }

    /// TCP connect and TLS handshake through rabbitmq-c's OpenSSL socket, within the deadline.
    /// The chain is verified during the handshake (SSL_VERIFY_PEER, so OpenSSL names the cause),
    /// the host name by rabbitmq-c after it. Errors name the endpoint and the cause, never a key.
    private static func tlsConnect(_ config: AMQPConfiguration, tls: AMQPTLSConfiguration,
                                   deadline: ContinuousClock.Instant) throws(AMQPError) -> amqp_connection_state_t {
        let endpoint = config.endpoint
        guard let state = amqp_new_connection() else {
            throw AMQPError(.library, context: "allocate connection", endpoint: endpoint, detail: "out of memory")
        }
        CRabbitMQ_ssl_clear_errors()
        guard let socket = amqp_ssl_socket_new(state), let context = amqp_ssl_socket_get_context(socket) else {
            amqp_destroy_connection(state)
            throw AMQPError(.library, context: "allocate TLS socket", endpoint: endpoint,
                            detail: "OpenSSL could not be initialized: \(takeTLSError() ?? "out of memory")")
        }
        func failure(_ what: String, _ detail: String) -> AMQPError {
            amqp_destroy_connection(state)  // frees the socket too
            return AMQPError(.tlsFailed, context: what, endpoint: endpoint, detail: detail)
        }
        for (parameter, path) in [("cacertfile", tls.caCertificateFile), ("certfile", tls.certificateFile), ("keyfile", tls.keyFile)] {
            if let path, access(path, R_OK) != 0 {
                let reason = String(cString: strerror(errno))
                throw failure("load \(parameter)", "cannot read \(path): \(reason)")
            }
        }
        if let ca = tls.caCertificateFile {
            guard amqp_ssl_socket_set_cacert(socket, ca) == AMQP_STATUS_OK.rawValue else {
                throw failure("load cacertfile", "cannot read CA certificates from \(ca): \(takeTLSError() ?? "not a PEM file")")
            }
        } else if tls.verifyPeer && CRabbitMQ_ssl_use_default_ca_paths(context) != 1 {
            throw failure("load the system's trusted CAs", takeTLSError() ?? "no default CA paths (give cacertfile)")
        }
        if let certificate = tls.certificateFile, let key = tls.keyFile {
            CRabbitMQ_ssl_no_key_prompt(context)
            guard amqp_ssl_socket_set_key(socket, certificate, key) == AMQP_STATUS_OK.rawValue else {
                throw failure("load certfile and keyfile",
                              "cannot use \(certificate) with the key in \(key): \(takeTLSError() ?? "not a PEM certificate and key")")
            }
        }
        amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
        if tls.verifyPeer {
            // OpenSSL checks chain and host during the handshake (IP entries too, which
            // rabbitmq-c 0.11's own host check does not know), and names what failed.
            CRabbitMQ_ssl_require_verified_peer(context)
            if tls.verifyHostname && CRabbitMQ_ssl_expect_host(context, config.host) != 1 {
                throw failure("set the expected host name", "'\(config.host)' cannot be checked against a certificate")
            }
            amqp_ssl_socket_set_verify_hostname(socket, 0)
        } else {
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
        }

        var timeout = timeval(remainingUntil: deadline)
        let status = amqp_socket_open_noblock(socket, config.host, Int32(config.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            let osError = errno
            let reason = takeTLSError()
            amqp_destroy_connection(state)
            let context = "TLS connect"
            switch status {
            case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED.rawValue:
                throw AMQPError(.hostNotFound, context: context, endpoint: endpoint, libraryStatus: status,
                                detail: "cannot resolve '\(config.host)'")
            case AMQP_STATUS_TIMEOUT.rawValue:
                throw AMQPError(.connectTimeout, context: context, endpoint: endpoint, libraryStatus: status,
                                detail: "no TCP connection and TLS handshake within \(config.connectTimeout)")
            case AMQP_STATUS_SOCKET_ERROR.rawValue, AMQP_STATUS_TCP_ERROR.rawValue:
                throw AMQPError(osError == ECONNREFUSED ? .connectionRefused : .connectionLost, context: context,
                                endpoint: endpoint, libraryStatus: status, detail: String(cString: strerror(osError)))
            case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
                throw AMQPError(.tlsFailed, context: context, endpoint: endpoint, libraryStatus: status,
                                detail: "certificate verify failed: the broker's certificate does not name '\(config.host)'")
            case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
                throw AMQPError(.tlsFailed, context: context, endpoint: endpoint, libraryStatus: status,
                                detail: "certificate verify failed\(reason.map { ": \($0)" } ?? "")")
            case _ where reason?.contains("certificate verify failed") == true:
                throw AMQPError(.tlsFailed, context: context, endpoint: endpoint, libraryStatus: status, detail: reason)
            default:
                var detail = "TLS handshake failed: " + (reason ?? "the peer closed the connection")
                if reason?.contains("wrong version number") == true || reason?.contains("packet length too long") == true {
                    detail += "; the port does not speak TLS (use amqp:// for a plain listener)"
                }
                throw AMQPError(.tlsFailed, context: context, endpoint: endpoint, libraryStatus: status, detail: detail)
            }
        }
        return state
    }

    /// The oldest error queued by OpenSSL on this thread (its reason text and detail), emptying
    /// the queue; nil when there is none.
    private static func takeTLSError() -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { CRabbitMQ_ssl_take_error($0.baseAddress, $0.count) }
        }
        let text = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    /// Non-blocking TCP connect with a deadline; returns a non-blocking, TCP_NODELAY socket.
    private static func tcpConnect(host: String, port: Int, deadline: ContinuousClock.Instant, endpoint: String,
                                   timeout: Duration) throws(AMQPError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list else {
            throw AMQPError(.hostNotFound, context: "resolve host '\(host)'", endpoint: endpoint,
                            detail: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var lastErrno: Int32 = ECONNREFUSED
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            if fd < 0 {
                lastErrno = errno
                continue
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastErrno = errno
                _ = Glibc.close(fd)
                continue
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var n: Int32
            repeat {
                n = poll(&pfd, 1, Int32(clamping: (deadline - .now).milliseconds))
            } while n < 0 && errno == EINTR
            if n == 0 {
                _ = Glibc.close(fd)
                throw AMQPError(.connectTimeout, context: "TCP connect", endpoint: endpoint,
                                detail: "no answer within \(timeout)")
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if n > 0 && soError == 0 { return fd }
            lastErrno = n < 0 ? errno : soError
            _ = Glibc.close(fd)
        }
        let code: AMQPError.Code = lastErrno == ECONNREFUSED ? .connectionRefused
            : lastErrno == ETIMEDOUT ? .connectTimeout : .connectionLost
        throw AMQPError(code, context: "TCP connect", endpoint: endpoint, detail: String(cString: strerror(lastErrno)))
    }

    // MARK: The error choke point

    /// The error for a rabbitmq-c status code. Marks the connection broken when the status means
    /// the connection is unusable.
    func error(status: Int32, context: String) -> AMQPError {
        let text = String(cString: amqp_error_string2(status))
        let code: AMQPError.Code
        switch status {
        case AMQP_STATUS_CONNECTION_CLOSED.rawValue, AMQP_STATUS_SOCKET_ERROR.rawValue,
            AMQP_STATUS_SOCKET_CLOSED.rawValue, AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue,
            AMQP_STATUS_TCP_ERROR.rawValue, AMQP_STATUS_SSL_ERROR.rawValue:
            code = .connectionLost
        case AMQP_STATUS_TIMEOUT.rawValue:
            code = .requestTimeout
        case AMQP_STATUS_BAD_AMQP_DATA.rawValue, AMQP_STATUS_UNKNOWN_CLASS.rawValue,
            AMQP_STATUS_UNKNOWN_METHOD.rawValue, AMQP_STATUS_UNEXPECTED_STATE.rawValue,
            AMQP_STATUS_WRONG_METHOD.rawValue, AMQP_STATUS_INCOMPATIBLE_AMQP_VERSION.rawValue:
            code = .protocolError
        case AMQP_STATUS_TABLE_TOO_BIG.rawValue, AMQP_STATUS_INVALID_PARAMETER.rawValue:
            return AMQPError(.invalidArgument, context: context, endpoint: endpoint, libraryStatus: status, detail: text)
        default:
            code = .library
        }
        let error = AMQPError(code, context: context, endpoint: endpoint, libraryStatus: status, detail: text)
        markBroken(error)
        return error
    }

    /// Throws when `status` is not AMQP_STATUS_OK.
    func check(status: Int32, context: @autoclosure () -> String) throws(AMQPError) {
        if status != AMQP_STATUS_OK.rawValue { throw error(status: status, context: context()) }
    }

    /// Throws the error an RPC reply stands for. A broker channel.close is answered with
    /// close-ok (the channel may then be reopened); a connection.close breaks the connection.
    func check(_ reply: amqp_rpc_reply_t, channel: UInt16, context: @autoclosure () -> String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw error(status: reply.library_error, context: context())
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            throw serverClose(reply.reply, channel: channel, context: context())
        default:
            let e = AMQPError(.protocolError, context: context(), endpoint: endpoint, detail: "no reply from rabbitmq-c")
            markBroken(e)
            throw e
        }
    }

    /// The error for a connection.close or channel.close method from the broker, after answering
    /// it with close-ok.
    func serverClose(_ method: amqp_method_t, channel: UInt16, context: String) -> AMQPError {
        switch method.id {
        case AMQPMethod.connectionClose:
            let close = method.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, AMQPMethod.connectionCloseOk, &ok)
            let e = AMQPError(.connectionClosed, context: context, endpoint: endpoint, replyCode: close.reply_code,
                              replyText: close.reply_text.string)
            markBroken(e)
            return e
        case AMQPMethod.channelClose:
            let close = method.decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t(dummy: 0)
            let status = amqp_send_method(state, channel, AMQPMethod.channelCloseOk, &ok)
            if status != AMQP_STATUS_OK.rawValue { _ = error(status: status, context: "send channel.close-ok") }
            return AMQPError(.channelClosed, context: context, endpoint: endpoint, replyCode: close.reply_code,
                             replyText: close.reply_text.string)
        default:
            let e = AMQPError(.protocolError, context: context, endpoint: endpoint,
                              detail: "unexpected method \(String(cString: amqp_method_name(method.id)))")
            markBroken(e)
            return e
        }
    }

    func markBroken(_ error: AMQPError) {
        if brokenError == nil { brokenError = error }
    }

    /// Throws if the connection is already broken.
    func ensureUsable() throws(AMQPError) {
        if let brokenError { throw brokenError }
    }

    // MARK: Frames

    /// The next frame already received, or nil when none is complete: never blocks on the
    /// network (heartbeats due are sent on the way).
    func nextFrame() throws(AMQPError) -> amqp_frame_t? {
        var frame = amqp_frame_t()
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &zero)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        try check(status: status, context: "read from broker")
        return frame
    }

    /// True when frames are buffered in the library: poll(2) on the socket would not see them.
    var hasBufferedInput: Bool {
        amqp_data_in_buffer(state) != 0 || amqp_frames_enqueued(state) != 0
    }

    /// Reads the header and body frames that follow a basic.deliver or basic.return.
    func readContent(channel: UInt16) throws(AMQPError) -> (AMQPProperties, [UInt8]) {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, channel, &message, 0)
        try check(reply, channel: channel, context: "read message content")
        defer { amqp_destroy_message(&message) }
        return (AMQPProperties(decoding: message.properties), message.body.array)
    }

    /// Frees frame memory once no decoded frame is referenced any more.
    func releaseBuffers() {
        amqp_maybe_release_buffers(state)
    }

    // MARK: Channels and closing

    func openChannel(_ id: UInt16) throws(AMQPError) {
        try ensureUsable()
        _ = amqp_channel_open(state, id)
        try check(amqp_get_rpc_reply(state), channel: id, context: "open channel \(id)")
    }

    /// Closes the connection politely (waits up to `timeout` for close-ok). Errors are ignored:
    /// the socket is released by deinit either way.
    func close(timeout: Duration) {
        guard brokenError == nil else { return }
        var tv = timeval(timeout)
        amqp_set_rpc_timeout(state, &tv)
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        markBroken(AMQPError(.closed, context: "connection closed by its owner", endpoint: endpoint))
    }

    /// Checks that `name` fits a short string (255 bytes).
    static func checkShortString(_ name: String, what: String) throws(AMQPError) {
        if name.utf8.count > 255 {
            throw AMQPError(.invalidArgument, context: "\(what) name", detail: "longer than 255 bytes")
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (s, atto) = max(duration, .zero).components
        self.init(tv_sec: Int(s), tv_usec: Int(atto / 1_000_000_000_000))
    }

    init(remainingUntil deadline: ContinuousClock.Instant) {
        self.init(max(deadline - .now, .milliseconds(1)))
    }
}
