import Foundation
import Logging
import PostgresNIO
import SyncServerPostgres
import Synchronization

/// The PostgreSQL cluster the tests' stores live in, one database per store.
///
/// `Scripts/test.sh` starts one (`Scripts/postgres.sh`) and names it in `SCHOOLSYNC_TEST_POSTGRES_URL`
/// (a superuser's URL); without it, as under a bare `swift test`, the first test that needs one
/// starts a ``PostgresCluster`` of the test process's own, which is stopped when the process exits.
public actor TestPostgres {
    /// The one per test process.
    public static let shared = TestPostgres()

    /// Started once: the actor lets other callers in while the first one waits for the cluster.
    private var server: Task<(url: URLComponents, admin: PostgresClient), any Error>?
    private var databases: [String: Set<String>] = [:]
    private var stores: [String: [PostgresStore]] = [:]
    private let logger = Logger(label: "SchoolSync.TestPostgres")

    /// A cluster this process started, stopped at exit; `atexit` takes no context, so it reads this.
    private static let started = Mutex<PostgresCluster?>(nil)

    /// The superuser URL of the cluster, started first if this process must start its own.
    public func serverURL() async throws -> URLComponents {
        try await connect().url
    }

    /// The URL of database `name`, made if it does not exist; `owner` is the test directory whose
    /// end drops it (``dropDatabases(of:)``).
    public func database(_ name: String, owner: URL) async throws -> String {
        let (url, admin) = try await connect()
        if databases[owner.path]?.contains(name) != true {
            do {
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P04" {
                // Made already (by another handle on the same store): that is the one wanted.
            }
            databases[owner.path, default: []].insert(name)
        }
        var database = url
        database.path = "/\(name)"
        database.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
        return database.string ?? ""
    }

    /// Keeps `store` to be closed when the test directory `owner` ends, whoever still holds it.
    public func track(_ store: PostgresStore, owner: URL) -> PostgresStore {
        stores[owner.path, default: []].append(store)
        return store
    }

    /// Closes the stores of `owner` (so nothing holds their databases, e.g. for a restore).
    public func closeStores(of owner: URL) async {
        for store in stores.removeValue(forKey: owner.path) ?? [] { await store.close() }
    }

    /// Closes the stores of `owner` and drops their databases.
    public func dropDatabases(of owner: URL) async {
        for store in stores.removeValue(forKey: owner.path) ?? [] { await store.close() }
        guard let names = databases.removeValue(forKey: owner.path), let (_, admin) = try? await connect() else { return }
        for name in names {
            _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    private func connect() async throws -> (url: URLComponents, admin: PostgresClient) {
        if let server { return try await server.value }
        let starting = Task { try await Self.start() }
        server = starting
        return try await starting.value
    }

    private static func start() async throws -> (url: URLComponents, admin: PostgresClient) {
        let text: String
        if let configured = ProcessInfo.processInfo.environment["SCHOOLSYNC_TEST_POSTGRES_URL"], !configured.isEmpty {
            text = configured
        } else {
            let cluster = try await PostgresCluster.start()
            Self.started.withLock { $0 = cluster }
            atexit { TestPostgres.started.withLock { $0?.stop() } }
            text = cluster.url
        }
        guard let url = URLComponents(string: text), let host = url.host, let user = url.user else {
            throw FixtureError("SCHOOLSYNC_TEST_POSTGRES_URL is not a postgres:// URL: \(text)")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let admin = PostgresClient(
            configuration: .init(host: host, port: url.port ?? 5432, username: user, password: url.password, database: database.isEmpty ? "postgres" : database, tls: .disable)
        )
        // Runs for the rest of the test process, as the cluster does.
        Task { await admin.run() }
        return (url, admin)
    }
}
