import Foundation
import PostgresNIO
import Hummingbird
import HummingbirdTesting
import Logging
import SyncCore
import SyncServer

/// A server store in a temporary directory with an administrator, a bureau user and devices of
/// two schools: what the server, client and end-to-end tests start from.
public struct Fixture: Sendable {
    public let directory: URL
    public let kind: StoreKind
    public let store: any SyncStore
    /// The configuration of the servers the fixture starts: port 0 and protocol-only rules unless
    /// the test configures otherwise.
    public let configuration: SyncServerConfiguration
    public let metrics: SyncMetrics
    public let admin: String
    public let bureau: String
    /// A device of school `qx-zhuoran`.
    public let deviceA: String
    /// A second device of the same school.
    public let deviceA2: String
    /// A device of school `qx-huoju`.
    public let deviceB: String

    public static let schoolA = "qx-zhuoran"
    public static let schoolB = "qx-huoju"

    /// The SQLite database file, for the `schoolsync-server` executable and SQLite's own tools.
    public var databasePath: String { StoreKind.sqlitePath(in: directory) }

    /// A file in the fixture's directory, e.g. a client database.
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs `body` with a fresh fixture on a store of `kind` and removes its files afterwards.
    public static func with<T>(
        store kind: StoreKind = .sqlite,
        configure: (inout SyncServerConfiguration) -> Void = { _ in },
        _ body: (Fixture) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let result = try await run(kind, directory, configure, body)
            await kind.removeStores(in: directory)
            return result
        } catch let error as PSQLError {
            await kind.removeStores(in: directory)
            // postgres-nio's description hides the server's answer; a failed test must show it.
            throw FixtureError("PostgreSQL failed: \(String(reflecting: error))")
        } catch {
            await kind.removeStores(in: directory)
            throw error
        }
    }

    private static func run<T>(
        _ kind: StoreKind,
        _ directory: URL,
        _ configure: (inout SyncServerConfiguration) -> Void,
        _ body: (Fixture) async throws -> T
    ) async throws -> T {
        var configuration = SyncServerConfiguration()
        configuration.port = 0
        // The protocol tests use records without a catalog; domain tests switch the rules back on.
        configuration.collections = .protocolOnly
        configure(&configuration)
        let store = try await kind.openStore(in: directory)
        let now = Date()
        _ = try await store.createSchool(id: schoolA, name: "卓然学校", at: now)
        _ = try await store.createSchool(id: schoolB, name: "火炬中学", at: now)
        let fixture = Fixture(
            directory: directory,
            kind: kind,
            store: store,
            configuration: configuration,
            metrics: SyncMetrics(),
            admin: try await store.createPrincipal(kind: .admin, name: "管理员", schoolID: nil, at: now).token,
            bureau: try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).token,
            deviceA: try await store.createPrincipal(kind: .device, name: "卓然 教务处 PC", schoolID: schoolA, at: now).token,
            deviceA2: try await store.createPrincipal(kind: .device, name: "卓然 校长室 PC", schoolID: schoolA, at: now).token,
            deviceB: try await store.createPrincipal(kind: .device, name: "火炬 教务处 PC", schoolID: schoolB, at: now).token
        )
        return try await body(fixture)
    }

    /// The principal a fixture token belongs to.
    public func principal(_ token: String) async throws -> Principal {
        guard let principal = try await store.principal(forTokenHash: Token.hash(token)) else {
            throw FixtureError("no principal has this token: revoked, or not one of the fixture's")
        }
        return principal
    }

    /// The server on the fixture's database, through a store of its own: an application owns its
    /// store's lifetime and closes it when it stops (the store is one of its services), while the
    /// fixture's ``store`` stays open for the test to read.
    public func application() async throws -> some ApplicationProtocol {
        makeSyncServer(configuration: configuration, store: try await kind.openStore(in: directory), logger: Logger(label: "test"), metrics: metrics)
    }

    /// Runs `body` against the router in process (no sockets).
    public func withRouter<T: Sendable>(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await application().test(.router, body)
    }

    /// Runs `body` while a server listens on 127.0.0.1 and an ephemeral port; its argument is the
    /// server's address, for a real client.
    ///
    /// The server opens the store afresh, as a restarted server would: whatever the test did to
    /// the database since (a restore, another program's SQL) is what it serves.
    public func withLiveServer<T: Sendable>(
        configure: (inout SyncServerConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (String) async throws -> T
    ) async throws -> T {
        var configuration = configuration
        configure(&configuration)
        let app = makeSyncServer(configuration: configuration, store: try await kind.openStore(in: directory), logger: Logger(label: "test-server"))
        return try await app.test(.live) { client in
            guard let port = client.port else { throw FixtureError("the live server reported no port") }
            return try await body("http://127.0.0.1:\(port)")
        }
    }
}

/// A fixture that could not be set up as the test expects.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
