import Foundation
import GRDB
import SyncCore
import SyncServer

extension SQLiteStore {
    /// Copies the live database to `path` with SQLite's online backup, while the server keeps serving.
    public func backup(to path: String) throws {
        let destination = try DatabaseQueue(path: path)
        try pool.backup(to: destination)
        try destination.close()
    }

    /// Restores a backup over the database at `path` (no server may be running on it) and starts a
    /// new epoch (DESIGN §4 invariant 9): cursors and push receipts of the old life stop being valid,
    /// so every client pulls from the beginning and offers its records again, and server-side users
    /// write under new replica ids. Returns the new epoch.
    public static func restore(from backupPath: String, to path: String) throws -> Epoch {
        guard FileManager.default.fileExists(atPath: backupPath) else {
            throw StoreError(.notFound, "no backup at \(backupPath)")
        }
        var readOnly = Configuration()
        readOnly.readonly = true
        // Who owns which replica id outlives the restore (PROTOCOL.md §5): a replica first used
        // after the backup must not become free for anyone to claim in the new epoch.
        var owners: [(replica: String, principal: Int64)] = []
        if FileManager.default.fileExists(atPath: path) {
            let current = try DatabaseQueue(path: path, configuration: readOnly)
            owners = try current.read { db in
                guard try db.tableExists("replica_owners") else { return [] }
                return try Row.fetchAll(db, sql: "SELECT replica, principal_id FROM replica_owners").map {
                    (try $0.stored("replica", as: String.self), try $0.stored("principal_id", as: Int64.self))
                }
            }
            try current.close()
        }
        let source = try DatabaseQueue(path: backupPath, configuration: readOnly)
        let destination = try DatabaseQueue(path: path)
        try source.backup(to: destination)
        try source.close()
        let epoch = Epoch.random()
        try SQLiteStore.migrator.migrate(destination)
        try destination.write { db in
            try db.execute(sql: "UPDATE store_meta SET value = ? WHERE key = 'epoch'", arguments: [epoch.description])
            // Receipts belong to the old life; sessions are signed out.
            try db.execute(sql: "DELETE FROM replicas")
            try db.execute(sql: "DELETE FROM sessions")
            // Without receipts nothing shows whether a replica still holds what it pushed before
            // the backup, so pulls send it everything again (no echo is skipped).
            try db.execute(sql: "UPDATE records SET pushed_by = NULL")
            for owner in owners {
                // Only principals the backup knows: one enrolled after it has no token any more.
                try db.execute(
                    sql: """
                        INSERT INTO replica_owners (replica, principal_id) SELECT ?, id FROM principals WHERE id = ?
                        ON CONFLICT (replica) DO UPDATE SET principal_id = excluded.principal_id
                        """,
                    arguments: [owner.replica, owner.principal]
                )
            }
        }
        try destination.close()
        return epoch
    }
}
