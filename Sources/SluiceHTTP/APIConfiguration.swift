// APIConfiguration: how `sluice api` listens and whom it lets in. Built by the executable from
// its options and the environment; the library reads no environment.

import Foundation

public struct APIConfiguration: Sendable {
    /// Listen address. Default 127.0.0.1.
    public var host: String
    /// Listen port; 0 picks a free one (tests). Default 8080.
    public var port: Int
    /// The bearer tokens (as hashes) and their scopes.
    public var tokens: TokenAuthority
    /// Largest request body accepted; past it: 413. Default 1 MiB.
    public var maxBodyBytes: Int
    /// Most jobs in one `POST /v1/jobs` batch. Default 1000.
    public var maxBatch: Int
    /// Signs dashboard session cookies; nil: a random key per process.
    public var sessionKey: [UInt8]?
    /// How long a dashboard login lasts. Default 12 h.
    public var sessionLifetime: Duration
    /// Set the cookie's Secure flag (serve the dashboard behind TLS). Default false.
    public var secureCookies: Bool
    /// How long a readiness probe or a fail-fast read waits for one server. Default 2 s.
    public var dependencyTimeout: Duration
    /// Uploads (`POST /v1/imports`) streamed at once; each holds a home-database connection
    /// while its body arrives. Past it: 503 with Retry-After. Default 2.
    public var maxConcurrentUploads: Int
    /// An upload that sends nothing for this long is dropped (400, nothing kept). Default 30 s.
    public var uploadIdleTimeout: Duration
    /// How often the overview's queue charts sample depth and the oldest waiting job. Default 15 s.
    public var queueSampleInterval: Duration

    public init(host: String = "127.0.0.1", port: Int = 8080, tokens: TokenAuthority, maxBodyBytes: Int = 1 << 20,
                maxBatch: Int = 1000, sessionKey: [UInt8]? = nil, sessionLifetime: Duration = .seconds(12 * 3600),
                secureCookies: Bool = false, dependencyTimeout: Duration = .seconds(2), maxConcurrentUploads: Int = 2,
                uploadIdleTimeout: Duration = .seconds(30), queueSampleInterval: Duration = .seconds(15)) {
        self.host = host
        self.port = port
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.maxBatch = maxBatch
        self.sessionKey = sessionKey
        self.sessionLifetime = sessionLifetime
        self.secureCookies = secureCookies
        self.dependencyTimeout = dependencyTimeout
        self.maxConcurrentUploads = maxConcurrentUploads
        self.uploadIdleTimeout = uploadIdleTimeout
        self.queueSampleInterval = queueSampleInterval
    }
}
