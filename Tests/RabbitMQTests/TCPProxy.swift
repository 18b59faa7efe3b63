// TCPProxy: a tiny threaded TCP relay on 127.0.0.1 (ephemeral port) for fault injection.
//
// Tests point a client at `port`; the proxy relays to the real broker. `cut()` shuts down
// every relayed connection on both sides at once (the broker "dies" for this client only);
// `freeze()` stops relaying without closing (a silent network partition); `silent: true` makes a
// listener that accepts and never speaks. The shared broker is never touched.

import Foundation

final class TCPProxy: @unchecked Sendable {
    // @unchecked Sendable: `connections`, `frozen` and `closed` are guarded by `lock`; the rest
    // is immutable after init.
    let port: Int
    private let listenFD: Int32
    private let upstreamPort: Int?
    private let lock = NSLock()
    private var connections: [Int32] = []
    private var frozen = false
    private var closed = false

    /// A relay to 127.0.0.1:`upstreamPort`, or a listener that never speaks when nil.
    init(upstreamPort: Int?) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw ProxyError("bind/listen") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit {
        close()
    }

    /// A port on 127.0.0.1 where nothing listens (bound, then released without listening).
    static func unusedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Closes every relayed connection, both sides; new connections are still accepted.
    func cut() {
        lock.lock()
        let fds = connections
        connections.removeAll()
        frozen = false
        lock.unlock()
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Stops relaying bytes without closing anything.
    func freeze() {
        lock.lock()
        frozen = true
        lock.unlock()
    }

    /// Stops listening and cuts everything.
    func close() {
        lock.lock()
        let wasClosed = closed
        closed = true
        lock.unlock()
        guard !wasClosed else { return }
        cut()
        shutdown(listenFD, Int32(SHUT_RDWR))
        Glibc.close(listenFD)
    }

    private var isFrozen: Bool {
        lock.lock()
        defer { lock.unlock() }
        return frozen
    }

    private func track(_ fd: Int32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if closed { return false }
        connections.append(fd)
        return true
    }

    private func acceptLoop() {
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            guard track(client) else {
                Glibc.close(client)
                return
            }
            guard let upstreamPort else { continue }  // silent: hold the connection, say nothing
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(upstreamPort).bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0, track(upstream) else {
                shutdown(client, Int32(SHUT_RDWR))
                Glibc.close(upstream)
                continue
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
            setsockopt(upstream, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
            Thread { [self] in pump(from: client, to: upstream) }.start()
            Thread { [self] in pump(from: upstream, to: client) }.start()
        }
    }

    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            // Frozen: pass nothing on, not even a close, until cut.
            while isFrozen { usleep(10_000) }
            if n <= 0 { break }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { break }
                offset += w
            }
            if offset < n { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }

    struct ProxyError: Error, CustomStringConvertible {
        let description: String
        init(_ what: String) { description = "TCPProxy: \(what) failed: \(String(cString: strerror(errno)))" }
    }
}
