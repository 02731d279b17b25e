import Foundation
import SyncServer
import SyncServerSQLite

/// Every kind of server store the tests run against. A store test takes one as its argument,
/// `@Test(arguments: StoreKind.allCases)`, so a new store joins every such test by adding a case.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `SQLiteStore`: one database file.
    case sqlite

    public var description: String { rawValue }

    /// Opens the store called `name` that belongs to `directory`, creating it if it does not exist yet.
    ///
    /// Opening the same name again gives a second, independent handle on the same data, as a
    /// second server process (or a restarted one) would have.
    public func openStore(named name: String = "server", in directory: URL) throws -> any SyncStore {
        switch self {
        case .sqlite: try SQLiteStore(path: Self.sqlitePath(named: name, in: directory))
        }
    }

    /// The file of the SQLite store called `name` in `directory`, for what opens it by path: the
    /// `schoolsync-server` executable, a backup, another program's SQL.
    public static func sqlitePath(named name: String = "server", in directory: URL) -> String {
        directory.appendingPathComponent("\(name).sqlite").path
    }
}
