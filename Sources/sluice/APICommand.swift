// `sluice api [--host H] [--port P]`: the HTTP API, the web dashboard, /metrics, /healthz and
// /readyz, until SIGTERM or SIGINT (then it stops accepting, finishes open requests and exits).
// Tokens come from SLUICE_API_TOKENS (`scope:sha256hex,…`, scopes read, enqueue, admin); the
// dashboard's cookie key from SLUICE_API_SESSION_KEY (hex, ≥ 32 bytes; random per process when
// unset). `sluice api token SCOPE` makes a token and prints the line to configure.

import ArgumentParser
import Foundation
import Logging
import Redis
import ServiceLifecycle
import SluiceCLI
import SluiceCore
import SluiceHTTP
import SluiceMetrics
import SluiceRuntime

struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Serve the HTTP API, the dashboard and /metrics.",
        subcommands: [APIServeCommand.self, APITokenCommand.self, APIOpenAPICommand.self], defaultSubcommand: APIServeCommand.self)
}

struct APIServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the API (the default).")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "Listen address (env SLUICE_API_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Listen port (env SLUICE_API_PORT, default 8080).") var port: Int?
    @Option(help: "Largest request body in bytes.") var maxBody = 1 << 20
    @Option(help: "Catalog folder for schedules (default SLUICE_CATALOG or jobs).") var catalog: String?
    @Flag(help: "Mark the session cookie Secure (serve the dashboard behind TLS).") var secureCookies = false
    @Option(help: "Uploads (POST /v1/imports) streamed at once; each holds a database connection.") var maxUploads = 2
    @Option(help: "Drop an upload that sends nothing for this long (e.g. 30s).") var uploadIdleTimeout = "30s"

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.api", catalogPath: catalog)
        let settings = services.settings
        let tokens: TokenAuthority
        do {
            tokens = try TokenAuthority(parsing: settings.apiTokens)
        } catch {
            throw CommandFailure(description: "SLUICE_API_TOKENS: \(error)")
        }
        if tokens.entries.isEmpty {
            services.logger.warning("SLUICE_API_TOKENS is empty: every authenticated route answers 401 (make one with `sluice api token admin`)")
        }
        var sessionKey: [UInt8]?
        if let hex = settings.apiSessionKey {
            guard let bytes = TokenAuthority.hexBytes(hex), bytes.count >= 32 else {
                throw CommandFailure(description: "SLUICE_API_SESSION_KEY: expected at least 64 hex digits")
            }
            sessionKey = bytes
        }
        let configuration = APIConfiguration(
            host: host ?? settings.apiHost ?? "127.0.0.1", port: port ?? settings.apiPort ?? 8080,
            tokens: tokens, maxBodyBytes: maxBody, sessionKey: sessionKey, secureCookies: secureCookies,
            maxConcurrentUploads: maxUploads, uploadIdleTimeout: try parseDuration(uploadIdleTimeout, option: "upload-idle-timeout"))
        // Schedules: only when there is a catalog; the API serves everything else without one. The
        // API lists and fires them on request and never leads (`sluice scheduler` does). A catalog
        // whose schedules cannot run, or a scheduler that cannot be built, stops the start with
        // the reason.
        let schedules = try services.catalog.map { _ in
            ScheduleRole(jobs: try ScheduleCommand.loadJobs(catalog, settings: services.settings).jobs, lead: false)
        }
        let host = configuration.host
        let process = try services.assemble(ProcessRoles(
            schedules: schedules, metrics: MetricsRegistry(),
            attached: [APIRole(configuration: configuration, catalog: services.catalog) { port in
                FileHandle.standardError.write(Data("sluice api: dashboard at http://\(host):\(port)/ (API under /v1, document at /openapi.json)\n".utf8))
            }]))
        // SIGTERM / SIGINT → graceful shutdown: the server stops accepting and finishes open requests.
        try await process.run()
    }
}

struct APITokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Make a token: prints it once, and the SLUICE_API_TOKENS entry (its hash) to configure.")
    @Argument(help: "read, enqueue or admin.") var scope: String
    @Option(help: "Who holds it (jobs it enqueues record enqueued_by = api:NAME); default: the scope.") var name: String?

    func run() throws {
        guard let s = APIScope(rawValue: scope) else { throw ValidationError("scope: expected read, enqueue or admin") }
        let holder = name ?? s.rawValue
        guard IdentityName.isValid(holder) else { throw ValidationError("--name: \(IdentityName.rule)") }
        let token = TokenAuthority.generate()
        print("token: \(token)")
        print("SLUICE_API_TOKENS entry: \(holder):\(s.rawValue):\(TokenAuthority.hash(token))")
    }
}

struct APIOpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the OpenAPI document.")
    func run() throws { print(OpenAPIDocument.json) }
}
