// BlackholeListener: a loopback TCP listener that never accepts and never answers.
//
// With `fullBacklog: false` the kernel completes the TCP handshake, so a client connects and then
// waits forever for a reply (a command timeout). With `fullBacklog: true` the accept queue
// (backlog 0) is filled by one parked connection first, so the kernel drops further SYNs and a
// client's connect itself hangs (a connect timeout).

import TestSupport
import Glibc

final class BlackholeListener: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; the file descriptors are only closed in deinit.
    let port: Int
    private let fd: Int32
    private var parked: [Int32] = []

    init(fullBacklog: Bool) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw ServerError(message: "socket() failed") }
        var addr = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, fullBacklog ? 0 : 16) == 0 else {
            close(fd)
            port = 0
            throw ServerError(message: "bind/listen failed")
        }
        do {
            port = try boundPort(fd)
        } catch {
            close(fd)
            throw error
        }
        if fullBacklog {
            // One connection fills an accept queue of backlog 0.
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var target = loopbackAddress(port: port)
            let connected = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(filler)
                close(fd)
                throw ServerError(message: "could not fill the backlog")
            }
            parked.append(filler)
        }
    }

    deinit {
        for p in parked { close(p) }
        close(fd)
    }
}
