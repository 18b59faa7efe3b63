// AMQPTLSConfiguration: how an `amqps://` connection verifies the broker and proves itself.
//
// The names are those of RabbitMQ's URI query parameters and its Erlang, Java and Python clients:
// `cacertfile` (PEM CA bundle the broker's chain must lead to; the system's trusted CAs when
// absent), `certfile` + `keyfile` (a client certificate, for brokers with `fail_if_no_peer_cert`),
// `verify` (`verify_peer`, the default, checks the chain and that the certificate names the host
// connected to; `verify_none` checks nothing and is for tests only). Files are read by OpenSSL at
// connect time; only their paths are kept here, and no description shows them.

import ClientSupport

/// TLS settings of an AMQP connection (`AMQPConfiguration.tls`).
public struct AMQPTLSConfiguration: Sendable, Equatable {
    /// PEM file of the CA certificates to trust; nil means the system's trusted CAs.
    public var caCertificateFile: String?
    /// PEM client certificate (chain), sent when the broker asks for one.
    public var certificateFile: String?
    /// PEM private key of `certificateFile` (unencrypted).
    public var keyFile: String?
    /// Check the broker's certificate chain against the CAs. Default true.
    public var verifyPeer: Bool
    /// Check that the broker's certificate names the host connected to (subjectAltName DNS or
    /// IP entry, else the common name). Default true.
    public var verifyHostname: Bool

    public init(caCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
                verifyPeer: Bool = true, verifyHostname: Bool = true) {
        self.caCertificateFile = caCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
        self.verifyHostname = verifyHostname
    }

    /// The URL query parameters this type reads.
    static let parameters = ["cacertfile", "certfile", "keyfile", "verify"]

    /// Applies one query parameter of an `amqps://` URL.
    mutating func set(_ key: String, _ value: String) throws(URLParseError) {
        let part = "query parameter '\(key)'"
        switch key {
        case "cacertfile", "certfile", "keyfile":
            guard value.hasPrefix("/") else {
                throw URLParseError(part: part, reason: "expected an absolute path to a PEM file")
            }
            switch key {
            case "cacertfile": caCertificateFile = value
            case "certfile": certificateFile = value
            default: keyFile = value
            }
        case "verify":
            switch value {
            case "verify_peer": (verifyPeer, verifyHostname) = (true, true)
            case "verify_none": (verifyPeer, verifyHostname) = (false, false)
            default: throw URLParseError(part: part, reason: "'\(value)' is not verify_peer or verify_none")
            }
        default:
            throw URLParseError(part: part, reason: "not a TLS parameter")
        }
    }

    /// Checks what a URL alone cannot: a client certificate needs its key and the reverse.
    func validate() throws(URLParseError) {
        if (certificateFile == nil) != (keyFile == nil) {
            throw URLParseError(part: certificateFile == nil ? "query parameter 'certfile'" : "query parameter 'keyfile'",
                                reason: "certfile and keyfile go together (a client certificate and its key)")
        }
    }
}
