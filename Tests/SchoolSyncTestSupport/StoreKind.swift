import Crypto
import Foundation
import SyncServer
import SyncServerPostgres
import SyncServerSQLite

/// Every kind of server store the tests run against. A store test takes one as its argument,
/// `@Test(arguments: StoreKind.allCases)`, so a new store joins every such test by adding a case.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `SQLiteStore`: one database file.
    case sqlite
    /// `PostgresStore`: a database of its own in the tests' PostgreSQL cluster (``TestPostgres``).
    case postgres

    public var description: String { rawValue }

    /// Opens the store called `name` that belongs to `directory`, creating it if it does not exist yet.
    ///
    /// Opening the same name again gives a second, independent handle on the same data, as a
    /// second server process (or a restarted one) would have.
    public func openStore(named name: String = "server", in directory: URL) async throws -> any SyncStore {
        switch self {
        case .sqlite:
            try SQLiteStore(path: Self.sqlitePath(named: name, in: directory))
        case .postgres:
            await TestPostgres.shared.track(
                try await PostgresStore(configuration: .init(url: try await databaseURL(named: name, in: directory), poolSize: 4)),
                owner: directory
            )
        }
    }

    /// What a `schoolsync-server` process is given to open the store called `name`: a file path
    /// (`--database`) for SQLite, a URL (`--database-url`) for PostgreSQL.
    public func serverArguments(named name: String = "server", in directory: URL) async throws -> [String] {
        switch self {
        case .sqlite: ["--db", Self.sqlitePath(named: name, in: directory)]
        case .postgres: ["--database-url", try await databaseURL(named: name, in: directory)]
        }
    }

    /// The URL of the PostgreSQL database of the store called `name` in `directory`, made if needed.
    public func databaseURL(named name: String = "server", in directory: URL) async throws -> String {
        try await TestPostgres.shared.database(Self.databaseName(named: name, in: directory), owner: directory)
    }

    /// Every byte the store called `name` holds, as its own tools see it: the SQLite file with its
    /// write-ahead log (where recent commits are), or `pg_dump`'s plain-text dump of the database.
    public func rawContent(named name: String = "server", in directory: URL) async throws -> Data {
        switch self {
        case .sqlite:
            let path = Self.sqlitePath(named: name, in: directory)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            if let log = FileManager.default.contents(atPath: path + "-wal") { bytes.append(log) }
            return bytes
        case .postgres:
            let dump = try await PostgresCluster.runTool("pg_dump", ["--dbname", try await databaseURL(named: name, in: directory)])
            return Data(dump.utf8)
        }
    }

    /// Removes what the stores of `directory` keep outside it (PostgreSQL databases).
    public func removeStores(in directory: URL) async {
        if self == .postgres { await TestPostgres.shared.dropDatabases(of: directory) }
    }

    /// The file of the SQLite store called `name` in `directory`, for what opens it by path: the
    /// `schoolsync-server` executable, a backup, another program's SQL.
    public static func sqlitePath(named name: String = "server", in directory: URL) -> String {
        directory.appendingPathComponent("\(name).sqlite").path
    }

    /// A database name that is the same for the same directory and store name, and differs otherwise.
    static func databaseName(named name: String, in directory: URL) -> String {
        let digest = SHA256.hash(data: Data("\(directory.standardizedFileURL.path)\u{0}\(name)".utf8))
        return "ss_" + digest.prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}
