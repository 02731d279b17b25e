import Foundation
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// Tables ``importTables(from:)`` fills, each row keyed by column name; the embedded
    /// store's export has the same names (its `change_log` is carried as `log_head` and the audit).
    static let importableTables: Set<String> = [
        "store_meta", "schools", "principals", "records", "conflicts", "replicas", "replica_owners", "user_replicas",
        "device_sync", "sessions", "audit", "evidence_files", "evidence_access", "evidence_uploads", "evidence_chunks",
    ]

    /// Fills this store, which must hold no principal and no record yet, with another store's rows,
    /// in one transaction: the same epoch, sequence numbers, receipts, replica owners, principals
    /// with their token hashes, sessions, audit and conflicts, so that devices go on syncing with
    /// their cursors, receipts and tokens and nothing is sent again (issue 14 §3).
    ///
    /// - Parameter export: hands the rows over through `insert`, one `(table, json)` chunk at a time
    ///   in parent-before-child order, each `json` an array of objects keyed by column name in
    ///   PostgreSQL's input forms (`SQLiteStore.exportTables`), and returns the source's highest
    ///   change-log sequence number, after which the next change is numbered. Each chunk is stored
    ///   as it comes, so only one is in memory at a time.
    /// - Throws: ``StoreError`` `.alreadyExists` when this database holds principals or records,
    ///   `.invalid` for a table it does not have; postgres-nio's `PSQLError` for a row it refuses;
    ///   whatever `export` throws (then nothing is kept).
    public func importTables(from export: (_ insert: (_ table: String, _ json: String) async throws -> Void) async throws -> UInt64) async throws {
        try await write { connection in
            let rows = try await connection.query("SELECT (SELECT count(*) FROM principals) + (SELECT count(*) FROM records)", logger: logger)
            for try await count in rows.decode(Int64.self) where count > 0 {
                throw StoreError(.alreadyExists, "the PostgreSQL database already holds principals or records; migrate into an empty database")
            }
            // The epoch this store minted when it was made gives way to the source's, which every
            // device's cursor and receipt carry.
            try await connection.query("DELETE FROM store_meta", logger: logger)
            let head = try await export { table, json in
                guard Self.importableTables.contains(table) else { throw StoreError(.invalid, "no table '\(table.prefix(64))' to import into") }
                try await connection.query(
                    PostgresQuery(unsafeSQL: "INSERT INTO \(table) SELECT * FROM json_populate_recordset(NULL::\(table), $1::json)", binds: try Self.binds(json)),
                    logger: logger
                )
            }
            // Ids the source gave keep being given after it.
            for table in ["principals", "audit"] {
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), GREATEST((SELECT max(id) FROM \(table)), 1))"),
                    logger: logger
                )
            }
            try await connection.query("UPDATE log_head SET seq = \(Int64(clamping: head))", logger: logger)
        }
    }

    private static func binds(_ json: String) throws -> PostgresBindings {
        var binds = PostgresBindings()
        try binds.append(json, context: .default)
        return binds
    }
}

extension PostgresStore {
    /// Who owns which replica id now (PROTOCOL.md §5 "Ownership").
    public func replicaOwners() async throws -> [(replica: String, principalID: Int64)] {
        try await read { connection in
            var owners: [(String, Int64)] = []
            for try await (replica, principal) in try await connection.query("SELECT replica, principal_id FROM replica_owners", logger: logger).decode((String, Int64).self) {
                owners.append((replica, principal))
            }
            return owners.map { (replica: $0.0, principalID: $0.1) }
        }
    }

    /// The table that marks a restore in progress and holds the replica owners of before it. No
    /// backup holds it (`schoolsync-server backup` leaves it out), so `pg_restore --clean` leaves
    /// it; only ``finishRestore()`` drops it.
    public static let restorePendingTable = "restore_pending_owners"

    /// What `schoolsync-server restore` does before `pg_restore`: marks the restore as begun and
    /// keeps who owns which replica id now, outside the tables the backup replaces. Until
    /// ``finishRestore()`` runs, the store refuses to open for anything but the restore
    /// (``PostgresStoreError``), so no server started after a restore cut off between `pg_restore`
    /// and its new epoch serves the backup under its old epoch (servers must be stopped during a
    /// restore; one left running notices the epoch change only once the new epoch is written);
    /// running the restore again finishes it. Run
    /// twice, it keeps the owners of both times.
    public func beginRestore() async throws {
        try await write { connection in
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS \(unescaped: Self.restorePendingTable) (replica text PRIMARY KEY, principal_id bigint NOT NULL)",
                logger: logger
            )
            try await connection.query(
                "INSERT INTO \(unescaped: Self.restorePendingTable) SELECT replica, principal_id FROM replica_owners ON CONFLICT (replica) DO NOTHING",
                logger: logger
            )
        }
    }

    /// What `schoolsync-server restore` does after `pg_restore` put a backup back, in one
    /// transaction: a new epoch (DESIGN §4 invariant 9), so cursors and receipts of the old life
    /// stop being valid and every client pulls from the beginning and offers its records again;
    /// receipts dropped, sessions signed out, no echo left out; the replica owners kept by
    /// ``beginRestore()`` put back, for principals the backup knows, so no replica id becomes free
    /// to claim; and the restore's mark removed. Run it with the servers stopped: a running server
    /// keeps the epoch it read until it restarts.
    ///
    /// - Returns: the new epoch.
    /// - Throws: ``StoreError`` `.notFound` when no restore was begun; postgres-nio's `PSQLError`.
    public func finishRestore() async throws -> Epoch {
        let epoch = Epoch.random()
        try await write { connection in
            var begun = false
            for try await exists in try await connection.query("SELECT to_regclass(\(Self.restorePendingTable)) IS NOT NULL", logger: logger).decode(Bool.self) {
                begun = exists
            }
            guard begun else { throw StoreError(.notFound, "no restore of this database was begun") }
            try await connection.query("UPDATE store_meta SET value = \(epoch.description) WHERE key = 'epoch'", logger: logger)
            try await connection.query("DELETE FROM replicas", logger: logger)
            try await connection.query("DELETE FROM sessions", logger: logger)
            try await connection.query("UPDATE records SET pushed_by = NULL WHERE pushed_by IS NOT NULL", logger: logger)
            try await connection.query(
                """
                INSERT INTO replica_owners (replica, principal_id)
                SELECT o.replica, o.principal_id FROM \(unescaped: Self.restorePendingTable) o
                WHERE EXISTS (SELECT 1 FROM principals p WHERE p.id = o.principal_id)
                ON CONFLICT (replica) DO UPDATE SET principal_id = excluded.principal_id
                """,
                logger: logger
            )
            try await connection.query("DROP TABLE \(unescaped: Self.restorePendingTable)", logger: logger)
        }
        return epoch
    }

    /// Whether a restore was begun and not finished (``beginRestore()``).
    static func restoreIsPending(_ client: PostgresClient, logger: Logger) async throws -> Bool {
        for try await exists in try await client.query("SELECT to_regclass(\(restorePendingTable)) IS NOT NULL", logger: logger).decode(Bool.self) {
            return exists
        }
        return false
    }
}
