// TLS to Postgres with certificate verification: a private server (initdb on an ephemeral port,
// `hostssl` only) with a certificate from a CA this test creates. `sslmode=verify-full` with
// `sslrootcert` (passed to libpq as given in SLUICE_POSTGRES_URL) connects over TLS; the wrong
// CA is refused with an error that says the certificate failed verification and shows no
// certificate or key; plaintext is refused by the server.

import Foundation
import Testing
import TestSupport
@testable import Postgres

@Suite(.serialized) struct TLSTests {
    /// A private server: its port and a `stop` that removes it.
    static func startServer(_ certs: TestCertificates) async throws -> (port: Int, stop: @Sendable () async -> Void) {
        let port = try freeLoopbackPort()
        let dir = certs.directory + "/pg"
        let script = """
            set -e
            bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
            mkdir -p '\(dir)'
            chown postgres: '\(dir)'
            cd /
            runuser -u postgres -- "$bin/initdb" -D '\(dir)/data' -U sluice --auth=trust >'\(dir)/initdb.log' 2>&1
            cat >>'\(dir)/data/postgresql.conf' <<CONF
            listen_addresses = '127.0.0.1'
            port = \(port)
            unix_socket_directories = '\(dir)'
            ssl = on
            ssl_cert_file = '\(certs.serverCertificate)'
            ssl_key_file = '\(certs.serverKey)'
            fsync = off
            CONF
            printf 'local all all trust\\nhostssl all all 127.0.0.1/32 trust\\n' >'\(dir)/data/pg_hba.conf'
            # The server must not inherit this script's output pipe (the test reads it to its end),
            # whatever descriptor number it has.
            for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi; done
            runuser -u postgres -- "$bin/pg_ctl" -D '\(dir)/data' -l '\(dir)/server.log' -w -t 60 -s start \
                </dev/null >'\(dir)/pg_ctl.out' 2>&1
            """
        let (status, output) = try await runProcess("/bin/bash", ["-c", script])
        guard status == 0 else {
            let log = (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? ""
            throw ServerError(message: "the private TLS Postgres did not start: \(output)\n\(log)")
        }
        return (port, {
            _ = try? await runProcess("/bin/bash", ["-c", "cd / && runuser -u postgres -- $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl -D '\(dir)/data' -m immediate -s stop </dev/null >/dev/null 2>&1"])
        })
    }

    @Test("verify-full with the test CA connects over TLS; the wrong CA and plaintext are refused, naming the cause")
    func verifyFull() async throws {
        let certs = try await TestCertificates.make(owner: "postgres")
        defer { certs.remove() }
        let server = try await Self.startServer(certs)
        do {
            let url = "postgresql://sluice@localhost:\(server.port)/postgres?sslmode=verify-full&sslrootcert=\(certs.caCertificate)"
            let conn = try await PostgresConnection.connect(try PostgresConfiguration(url: url), logger: PG.logger)
            let rows = try await conn.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            #expect(try rows.first?.decode(0, as: Bool.self) == true)
            #expect(try rows.first?.decode(1, as: String.self).hasPrefix("TLS") == true)
            await conn.close()

            let wrong = "postgresql://sluice@localhost:\(server.port)/postgres?sslmode=verify-full&sslrootcert=\(certs.wrongCACertificate)"
            let refused = await expectPostgresError { _ = try await PostgresConnection.connect(try PostgresConfiguration(url: wrong), logger: PG.logger) }
            let e = try #require(refused)
            #expect(e.code == .connectionFailed)
            #expect(e.description.contains("certificate verify failed"), "\(e)")
            let key = try String(contentsOfFile: certs.serverKey, encoding: .utf8)
            #expect(!e.description.contains("BEGIN") && !e.description.contains(String(key.split(separator: "\n")[1])))

            let plain = "postgresql://sluice@localhost:\(server.port)/postgres?sslmode=disable"
            let noTLS = await expectPostgresError { _ = try await PostgresConnection.connect(try PostgresConfiguration(url: plain), logger: PG.logger) }
            #expect(noTLS?.description.contains("no encryption") == true, "\(String(describing: noTLS))")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
