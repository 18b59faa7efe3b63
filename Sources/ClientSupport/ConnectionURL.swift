// ConnectionURL: the parts of a server URL (scheme://user:password@host:port/path?query).
//
// Each client turns these parts into its own configuration; this type only splits and
// percent-decodes, and says which part is wrong when a URL does not parse. Its description
// never shows the password.

/// A URL that failed to parse; `part` names what is wrong.
public struct URLParseError: Error, CustomStringConvertible, Equatable {
    public let part: String
    public let reason: String
    public init(part: String, reason: String) {
        self.part = part
        self.reason = reason
    }
    public var description: String { "invalid URL: \(part): \(reason)" }
}

/// A parsed server URL.
public struct ConnectionURL: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var user: String?
    public var password: String?
    public var host: String
    public var port: Int?
    /// Every `host:port` of the authority, in order: `h1:5672,h2:5673` names a cluster (libpq's
    /// multi-host form). `host` and `port` are the first one.
    public var hosts: [Host]
    /// The decoded path without its leading slash ("" when absent).
    public var path: String
    public var query: [(String, String)]

    /// One server of a (possibly multi-host) URL.
    public struct Host: Sendable, Equatable {
        public var name: String
        public var port: Int?
        public init(name: String, port: Int?) {
            self.name = name
            self.port = port
        }
    }

    public static func == (a: ConnectionURL, b: ConnectionURL) -> Bool {
        a.scheme == b.scheme && a.user == b.user && a.password == b.password && a.hosts == b.hosts
            && a.path == b.path
            && a.query.map { "\($0.0)=\($0.1)" } == b.query.map { "\($0.0)=\($0.1)" }
    }

    /// Parses `text`, accepting only the given schemes.
    public init(parsing text: String, schemes: [String]) throws(URLParseError) {
        guard let schemeEnd = text.range(of: "://") else {
            throw URLParseError(part: "scheme", reason: "expected \(schemes[0])://…")
        }
        let scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        guard schemes.contains(scheme) else {
            throw URLParseError(part: "scheme", reason: "'\(scheme)' is not one of \(schemes.joined(separator: ", "))")
        }
        self.scheme = scheme
        var rest = Substring(text[schemeEnd.upperBound...])

        var queryText: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var pathText: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            pathText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        // userinfo@hostport; the last '@' separates, as passwords may contain '@' unencoded.
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], part: "user")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], part: "password")
            } else {
                user = try Self.decode(userInfo, part: "user")
            }
            if user == "" { user = nil }
        }
        var hosts: [Host] = []
        let items = hostPort.split(separator: ",", omittingEmptySubsequences: false)
        for item in items {
            if items.count > 1 && item.isEmpty {
                throw URLParseError(part: "host", reason: "empty entry in the host list (expected h1:port,h2:port)")
            }
            hosts.append(try Self.host(item))
        }
        self.hosts = hosts
        host = hosts[0].name
        port = hosts[0].port
        path = try Self.decode(pathText, part: "path")
        query = []
        for pair in queryText.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(kv[0], part: "query")
            let value = kv.count > 1 ? try Self.decode(kv[1], part: "query parameter '\(key)'") : ""
            query.append((key, value))
        }
    }

    /// The first value of a query parameter.
    public func queryValue(_ key: String) -> String? {
        query.first { $0.0 == key }?.1
    }

    /// The URL with the password masked: safe for logs and error messages.
    public var description: String {
        var s = scheme + "://"
        if let user { s += user + (password != nil ? ":***" : "") + "@" }
        s += hosts.map { h in
            (h.name.contains(":") ? "[\(h.name)]" : h.name) + (h.port.map { ":\($0)" } ?? "")
        }.joined(separator: ",")
        if !path.isEmpty { s += "/" + path }
        return s
    }

    /// `host:port` for messages that name an endpoint.
    public func endpoint(defaultPort: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port ?? defaultPort)"
    }

    /// One `host[:port]` or `[v6][:port]` item of the authority; an empty host is `localhost`.
    private static func host(_ item: Substring) throws(URLParseError) -> Host {
        var hostPort = item
        var name: String
        var port: Int?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw URLParseError(part: "host", reason: "unterminated IPv6 literal")
            }
            name = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            hostPort = hostPort[hostPort.index(after: close)...]
            if hostPort.hasPrefix(":") {
                port = try Self.port(hostPort.dropFirst())
            } else if !hostPort.isEmpty {
                throw URLParseError(part: "host", reason: "unexpected text after IPv6 literal")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            name = try Self.decode(hostPort[..<colon], part: "host")
            port = try Self.port(hostPort[hostPort.index(after: colon)...])
        } else {
            name = try Self.decode(hostPort, part: "host")
        }
        if name.isEmpty { name = "localhost" }
        return Host(name: name, port: port)
    }

    private static func port(_ text: Substring) throws(URLParseError) -> Int? {
        if text.isEmpty { return nil }
        guard let p = Int(text), (1...65535).contains(p) else {
            throw URLParseError(part: "port", reason: "'\(text)' is not a port number (1-65535)")
        }
        return p
    }

    /// Percent-decodes `text`; a malformed escape is an error naming `part` (never its value,
    /// which may be a password).
    static func decode(_ text: Substring, part: String) throws(URLParseError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                    throw URLParseError(part: part, reason: "malformed percent-escape")
                }
                bytes.append(hv << 4 | lv)
            } else {
                bytes.append(b)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw URLParseError(part: part, reason: "percent-escapes do not form UTF-8")
        }
        return s
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
