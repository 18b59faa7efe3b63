// TestCertificates: a throwaway certificate authority and a server certificate for
// `localhost` / 127.0.0.1 signed by it, made with the openssl CLI in a temporary folder, plus
// a second, unrelated CA (the "wrong CA" a client must refuse) and a client certificate signed by
// the first CA (for servers that ask for one). For the TLS tests only.

import Foundation

public struct TestCertificates: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.crt" }
    public var wrongCACertificate: String { directory + "/wrong-ca.crt" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.crt" }
    public var clientKey: String { directory + "/client.key" }

    /// Makes the files; `owner` (a user name) gets them, for servers running as another user.
    public static func make(owner: String? = nil) async throws -> TestCertificates {
        let dir = NSTemporaryDirectory() + "sluice-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(dir)'
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=sluice test CA' -keyout ca.key -out ca.crt 2>/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=sluice wrong CA' -keyout wrong-ca.key -out wrong-ca.crt 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj '/CN=sluice test client' -keyout client.key -out client.csr 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt 2>/dev/null
            chmod 600 server.key client.key
            chmod 755 .
            chmod 644 ca.crt wrong-ca.crt server.crt client.crt
            \(owner.map { "chown \($0) server.key server.crt" } ?? "")
            """
        let (status, output) = try await runProcess("/bin/bash", ["-c", script])
        guard status == 0 else { throw ServerError(message: "making test certificates failed: \(output)") }
        return TestCertificates(directory: dir)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
