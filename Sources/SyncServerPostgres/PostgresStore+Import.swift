import Foundation
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// Tables ``importTables(head:chunks:)`` fills, each row keyed by column name; the embedded
    /// store's export has the same names (its `change_log` is carried as `log_head` and the audit).
    static let importableTables: Set<String> = [
        "store_meta", "schools", "principals", "records", "conflicts", "replicas", "replica_owners", "user_replicas",
        "device_sync", "sessions", "audit",
    ]

    /// Fills this store, which must hold no principal and no record yet, with another store's rows,
    /// in one transaction: the same epoch, sequence numbers, receipts, replica owners, principals
    /// with their token hashes, sessions, audit and conflicts, so that devices go on syncing with
    /// their cursors, receipts and tokens and nothing is sent again (issue 14 §3).
    ///
    /// - Parameters:
    ///   - head: the source's highest change-log sequence number; the next change is numbered after it.
    ///   - chunks: `(table, json)` in parent-before-child order, each `json` an array of objects
    ///     keyed by column name in PostgreSQL's input forms (`SQLiteStore.exportTables`).
    /// - Throws: ``StoreError`` `.alreadyExists` when this database holds principals or records,
    ///   `.invalid` for a table it does not have; postgres-nio's `PSQLError` for a row it refuses
    ///   (then nothing is kept).
    public func importTables(head: UInt64, chunks: [(table: String, json: String)]) async throws {
        try await write { connection in
            let rows = try await connection.query("SELECT (SELECT count(*) FROM principals) + (SELECT count(*) FROM records)", logger: logger)
            for try await count in rows.decode(Int64.self) where count > 0 {
                throw StoreError(.alreadyExists, "the PostgreSQL database already holds principals or records; migrate into an empty database")
            }
            // The epoch this store minted when it was made gives way to the source's, which every
            // device's cursor and receipt carry.
            try await connection.query("DELETE FROM store_meta", logger: logger)
            for (table, json) in chunks {
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
