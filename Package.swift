// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "schoolsync",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncCore", targets: ["SyncCore"]),
        .library(name: "SyncServer", targets: ["SyncServer"]),
        .library(name: "SyncServerSQLite", targets: ["SyncServerSQLite"]),
        .library(name: "SyncServerPostgres", targets: ["SyncServerPostgres"]),
        .library(name: "SyncClient", targets: ["SyncClient"]),
        .library(name: "Reporting", targets: ["Reporting"]),
        .library(name: "SchoolReports", targets: ["SchoolReports"]),
        .library(name: "Workbench", targets: ["Workbench"]),
        .executable(name: "schoolsync-server", targets: ["schoolsync-server"]),
        .executable(name: "schoolsync", targets: ["schoolsync"]),
        .executable(name: "schoolsync-bench", targets: ["schoolsync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        // Pure sync engine: no I/O, no dependency but Foundation.
        .target(name: "SyncCore", swiftSettings: swiftSettings),
        // The domain: the plan catalog, assignments, reports, validation and aggregation. No I/O.
        .target(name: "Reporting", dependencies: ["SyncCore"], swiftSettings: swiftSettings),
        // The client library a school application embeds: the local SQLite replica and push/pull/sync.
        .target(
            name: "SyncClient",
            dependencies: [
                "SyncCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A school's reports over its local replica: what is due, one report as a form shows it, and
        // save/submit/propose with the domain's rules first. The one write path of the CLI and the workbench.
        .target(
            name: "SchoolReports",
            dependencies: ["SyncClient", "SyncCore", "Reporting", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // The school's offline workbench (`schoolsync ui`): server-rendered pages on 127.0.0.1 over
        // the local replica, through SchoolReports and SyncClient. No dependency on the server.
        .target(
            name: "Workbench",
            dependencies: [
                "SchoolReports",
                "SyncClient",
                "SyncCore",
                "Reporting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded store: SQLite through GRDB (one file, WAL, group commit). Shares SyncServer's
        // internals through `package` access, as NIOPosix does NIOCore's.
        .target(
            name: "SyncServerSQLite",
            dependencies: [
                "SyncServer",
                "SyncCore",
                "Reporting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The store for N servers on one PostgreSQL database, through postgres-nio's PostgresClient.
        // Shares SyncServer's internals through `package` access, like SyncServerSQLite.
        .target(
            name: "SyncServerPostgres",
            dependencies: [
                "SyncServer",
                "SyncCore",
                "Reporting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The central server: Hummingbird routes and pages, auth, the SyncStore protocol and the
        // store-independent algorithms (StoreAlgorithms over StoreTransaction). No database engine.
        .target(
            name: "SyncServer",
            dependencies: [
                "SyncCore",
                "Reporting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "schoolsync-server",
            dependencies: [
                "SyncServer",
                "SyncServerSQLite",
                "SyncServerPostgres",
                "SyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "schoolsync",
            dependencies: [
                "SyncClient",
                "Reporting",
                "SchoolReports",
                "Workbench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark: real server processes on loopback (one on SQLite, one on PostgreSQL, two on
        // PostgreSQL behind HAProxy), real clients, and a raw-SQLite baseline.
        .executableTarget(
            name: "schoolsync-bench",
            dependencies: [
                "SyncCore",
                "SyncClient",
                "SyncServer",
                "SyncServerSQLite",
                "SyncServerPostgres",
                "Reporting",
                "FaultProxy",
                "SchoolSyncTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A loopback TCP proxy that cuts, black-holes, stalls and rate-limits connections on a
        // seeded plan: the fault harness of the tests and the benchmark's field row.
        .target(
            name: "FaultProxy",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Tests/FaultProxy",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FaultProxyTests",
            dependencies: [
                "FaultProxy",
                "SchoolSyncTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // What every test target and the benchmark share: the server store and its principals
        // (`Fixture`) on each kind of store (`StoreKind`), the built executables as child processes
        // (`ServerProcess`, `RunningCommand`) and a seeded generator. No Swift Testing here: the
        // benchmark, an executable, links it too.
        .target(
            name: "SchoolSyncTestSupport",
            dependencies: [
                "SyncCore",
                "SyncServer",
                "SyncServerSQLite",
                "SyncServerPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SchoolSyncTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SyncCoreTests",
            dependencies: ["SyncCore", "SchoolSyncTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "SyncCore", "SchoolSyncTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SyncServerTests",
            dependencies: [
                "SyncServer",
                "SyncServerSQLite",
                "SyncServerPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "SyncClient",
                "Reporting",
                "SchoolSyncTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SyncClientTests",
            dependencies: [
                "SyncClient",
                "SyncServer",
                "SyncServerSQLite",
                "Reporting",
                "SchoolSyncTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WorkbenchTests",
            dependencies: [
                "Workbench",
                "SchoolReports",
                "SyncClient",
                "SyncServer",
                "SyncServerSQLite",
                "Reporting",
                "SchoolSyncTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "SyncServer",
                "SyncServerSQLite",
                "SyncClient",
                "SchoolSyncTestSupport",
                "FaultProxy",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
