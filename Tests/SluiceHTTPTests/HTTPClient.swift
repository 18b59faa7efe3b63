// HTTPClient: a minimal HTTP/1.1 client over a loopback socket (Connection: close), for tests:
// it does not follow redirects and shows every header, which is what auth and cookie tests need.

import Foundation
import SluiceCore
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

struct HTTPReply: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    var errorField: String? { json["error"]?["field"]?.stringValue }
}

struct HTTPClient: Sendable {
    let port: Int

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                 readFor: Duration? = nil) async throws -> HTTPReply {
        let port = port
        return try await offPool {
            try HTTPClient.exchange(port: port, method: method, path: path, headers: headers, body: body, readFor: readFor)
        }
    }

    func json(_ method: String, _ path: String, _ body: JSONValue? = nil, token: String? = nil,
              headers: [(String, String)] = []) async throws -> HTTPReply {
        var h = headers
        if let token { h.append(("Authorization", "Bearer \(token)")) }
        var bytes: [UInt8] = []
        if let body {
            bytes = body.encoded()
            h.append(("Content-Type", "application/json"))
        }
        return try await request(method, path, headers: h, body: bytes)
    }

    /// One request on a new connection. `readFor`: stop reading after this long (streams).
    static func exchange(port: Int, method: String, path: String, headers: [(String, String)], body: [UInt8],
                         readFor: Duration?) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(message: "socket failed") }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ServerError(message: "connect to \(port) failed") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        // A caller's own Content-Length or Transfer-Encoding (stalled or chunked uploads) wins.
        let framed = headers.contains { ["content-length", "transfer-encoding"].contains($0.0.lowercased()) }
        if !framed && (!body.isEmpty || method == "POST") { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let out = Array(head.utf8) + body
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer (413) before reading everything
            sent += n
        }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(readFor.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 30)
        while Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { data += buffer[0..<n]; continue }
            if n == 0 { break }
            if errno == EAGAIN || errno == EWOULDBLOCK { continue }
            break
        }
        return try parse(data)
    }

    static func parse(_ data: [UInt8]) throws -> HTTPReply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<$0 + 4]) == separator }) else {
            throw ServerError(message: "no HTTP head in \(data.count) bytes")
        }
        let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ServerError(message: "bad status line") }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(data[(end + 4)...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            body = dechunk(body)
        }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < data.count {
            guard let lineEnd = (i..<max(i, data.count - 1)).first(where: { data[$0] == 13 && data[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: data[i..<lineEnd], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { break }
            if size == 0 { break }
            let start = lineEnd + 2
            out += data[start..<min(data.count, start + size)]
            i = start + size + 2
        }
        return out
    }
}

extension JSONValue {
    var arrayItems: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
}
