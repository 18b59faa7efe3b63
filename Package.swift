// swift-tools-version:6.1
import PackageDescription

// Dependencies point one way: C shims -> ClientSupport -> clients -> SluiceCore -> runtime -> CLI.
// Keep the package list short: every package costs CI build minutes.
let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .executable(name: "sluice-dev", targets: ["sluice-dev"]),
        .library(name: "Postgres", targets: ["Postgres"]),
        .library(name: "RabbitMQ", targets: ["RabbitMQ"]),
        .library(name: "Redis", targets: ["Redis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "ClientSupport"),
        // Plain C loops over the three libraries: the reference `sluice bench clients` compares with.
        .target(name: "CBenchLoops", linkerSettings: [
            .linkedLibrary("pq"), .linkedLibrary("rabbitmq"), .linkedLibrary("hiredis"),
        ]),
        .target(name: "Postgres", dependencies: [
            "CLibPQ", "ClientSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "RabbitMQ", dependencies: [
            "CRabbitMQ", "ClientSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Redis", dependencies: [
            "CHiredis", "ClientSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceCore", dependencies: ["ClientSupport"]),
        // The reviewed catalog under jobs/: the model (what is declared) and its static rules; no I/O, no YAML.
        .target(name: "SluiceCatalog", dependencies: ["SluiceCore", "ClientSupport"]),
        // Reads and checks the catalog's YAML files into the model (the only target that links Yams).
        .target(name: "SluiceCatalogLoader", dependencies: [
            "SluiceCatalog", "SluiceCore", "ClientSupport", .product(name: "Yams", package: "Yams"),
        ]),
        // The job kinds (maintenance/, refresh/, …: one kind per file) and their registry (Kinds.swift).
        .target(name: "SluiceJobs", dependencies: [
            "SluiceCore", "SluiceCatalog", "SluiceRuntime", "Postgres", "Redis", "ClientSupport", "CZlib",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The job pipeline: topology, ledger, producer, worker pool, result store, leadership.
        .target(name: "SluiceRuntime", dependencies: [
            "SluiceCore", "SluiceCatalog", "Postgres", "RabbitMQ", "Redis", "ClientSupport", "SluiceMetrics",
            .product(name: "Logging", package: "swift-log"),
            // HMAC-SHA256 of signed envelopes (EnvelopeSigner).
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        // The demo platform's data loader (not linked by `sluice`).
        .target(name: "SluiceDemo", dependencies: [
            "SluiceCore", "SluiceCatalog", "Postgres", "ClientSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        // What both executables share: settings from the environment, runtime options and assembly.
        .target(name: "SluiceCLI", dependencies: [
            "SluiceJobs", "SluiceCatalog", "SluiceCatalogLoader", "SluiceRuntime", "Postgres", "RabbitMQ", "Redis", "SluiceCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Metrics the runtime and the API record (swift-metrics API only; the executable bootstraps Prometheus).
        .target(name: "SluiceMetrics", dependencies: [
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // `/metrics` and `/healthz` of a worker or scheduler on their own port (the assembly's
        // metrics role): what those processes need of HTTP, without the API (SluiceHTTP).
        .target(name: "SluiceMetricsServer", dependencies: [
            "SluiceMetrics", "SluiceRuntime",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `sluice api`: the HTTP API, its OpenAPI document, bearer-token auth, the dashboard.
        // docs/openapi.json, the API's only description, is embedded at build time (EmbedOpenAPI).
        .target(name: "SluiceHTTP", dependencies: [
            "SluiceRuntime", "SluiceJobs", "SluiceCore", "SluiceCatalog", "SluiceMetrics", "Postgres", "RabbitMQ", "Redis",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], plugins: ["EmbedOpenAPI"]),
        // Build-time only: writes docs/openapi.json into a Swift source of SluiceHTTP.
        .executableTarget(name: "sluice-embed"),
        .plugin(name: "EmbedOpenAPI", capability: .buildTool(), dependencies: ["sluice-embed"]),
        .executableTarget(name: "sluice", dependencies: [
            "SluiceCLI", "SluiceJobs", "SluiceCatalog", "SluiceCatalogLoader", "SluiceRuntime", "SluiceHTTP", "SluiceMetrics",
            "SluiceMetricsServer", "Postgres", "RabbitMQ", "Redis", "SluiceCore", "ClientSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Demo data and benchmarks: `sluice demo …` / `sluice bench …` exec this.
        .executableTarget(name: "sluice-dev", dependencies: [
            "CBenchLoops", "SluiceCLI", "SluiceDemo", "SluiceJobs", "SluiceCatalog", "SluiceCatalogLoader", "SluiceRuntime",
            "Postgres", "RabbitMQ", "Redis", "SluiceCore", "ClientSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Shared by the integration tests: server URLs, unique names, offPool for blocking test code.
        .target(name: "TestSupport", dependencies: ["ClientSupport"], path: "Tests/TestSupport"),
        .testTarget(name: "ClientSupportTests", dependencies: ["ClientSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "RabbitMQTests", dependencies: ["RabbitMQ", "TestSupport"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"]),
        .testTarget(name: "SluiceJobsTests", dependencies: [
            "SluiceJobs", "SluiceCatalogLoader", "SluiceDemo", "SluiceRuntime", "TestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SluiceCatalogTests", dependencies: ["SluiceCatalog", "SluiceCatalogLoader", "TestSupport"]),
        .testTarget(name: "SluiceRuntimeTests", dependencies: [
            "SluiceRuntime", "TestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SluiceHTTPTests", dependencies: [
            "SluiceHTTP", "SluiceJobs", "SluiceRuntime", "SluiceMetrics", "SluiceMetricsServer", "SluiceCatalog", "SluiceCatalogLoader",
            "TestSupport",
            // Hummingbird's router test mode: validation, auth and error shapes without servers.
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ],
        // The browser test's selenium script is run from the repository, not built.
        exclude: ["Browser"]),
    ]
)
