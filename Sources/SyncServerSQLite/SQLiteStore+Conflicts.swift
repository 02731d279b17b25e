import Foundation
import GRDB
import SyncCore
import SyncServer

extension SQLiteStore {
    /// Open conflicts whose `since` (the change-log sequence number at which each arose) is after `after`,
    /// oldest first, at most `limit`; only in `scope`, in `collection` or detected before `detectedBefore`
    /// when those are given.
    ///
    /// - Throws: ``StoreError`` `.damaged` for a row that cannot be read; GRDB's `DatabaseError`.
    public func conflicts(scope: Scope?, collection: String?, detectedBefore: Date?, after: Int64, limit: Int) async throws -> [ConflictSummary] {
        try await pool.read { db in
            var sql = "SELECT * FROM conflicts WHERE since_seq > ?"
            var arguments: StatementArguments = [after]
            if let scope {
                sql += " AND scope = ?"
                arguments += [scope.rawValue]
            }
            if let collection {
                sql += " AND collection = ?"
                arguments += [collection]
            }
            if let detectedBefore {
                sql += " AND detected_at < ?"
                arguments += [detectedBefore]
            }
            sql += " ORDER BY since_seq LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                ConflictSummary(
                    collection: try row.stored("collection"),
                    id: try row.stored("id"),
                    scope: try row.stored("scope"),
                    fields: try row.stored("fields", as: String.self).split(separator: ",").map(String.init),
                    deleteConflict: try row.stored("delete_conflict"),
                    since: try row.stored("since_seq"),
                    detectedAt: try row.stored("detected_at")
                )
            }
        }
    }

    /// The record `key` in conflict, each conflicting value beside its dot and the name of its writer, with
    /// its settled fields and, for an edit-vs-delete conflict, its last content (PROTOCOL.md §3.5, §12);
    /// `nil` when there is no such record or it is not in conflict.
    ///
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read; GRDB's `DatabaseError`.
    public func conflictDetail(_ key: RecordKey) async throws -> ConflictDetail? {
        try await pool.read { db in
            guard let (scope, state) = try Self.storedRecord(key, db) else { return nil }
            return try StoreAlgorithms.conflictDetail(key, scope: scope, state: state, writers: try Self.writerNames(db), in: SQLiteTransaction(db: db))
        }
    }

    /// Resolves `key` as `request` says, at `principal`'s server-side replica (a fresh one when that
    /// replica's counter is used up), in one write transaction with the check that the resolver saw every
    /// contested value (PROTOCOL.md §3.5). Keeping a record deleted on one side re-writes its full content
    /// (DESIGN §4 invariant 6).
    ///
    /// - Returns: `.resolved` with the stored record, `.notFound` when there is no such record, or
    ///   `.refused` with the `SyncCoreError` of `RecordState.resolve` (`notInConflict`,
    ///   `staleResolution`, `unresolvedFields`); nothing is written then.
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read; GRDB's `DatabaseError`
    ///   (`SQLITE_BUSY` past the busy timeout is answered 503 `unavailable`).
    public func resolve(_ key: RecordKey, _ request: ResolutionRequest, by principal: Principal, at time: Date) async throws -> ResolveOutcome {
        let epoch = self.epoch
        return try await pool.write { db in
            try StoreAlgorithms.resolve(key, request, by: principal, epoch: epoch, at: time, in: SQLiteTransaction(db: db, changeTime: time))
        }
    }

    /// The accepted changes of `key` with a sequence number after `seq`, oldest first: at most `limit`,
    /// ending early after the entry that takes the page's before and after views past 8 MiB (PROTOCOL.md §12).
    ///
    /// - Throws: ``StoreError`` `.damaged` for an entry that cannot be read; GRDB's `DatabaseError`.
    public func history(_ key: RecordKey, after seq: Int64, limit: Int) async throws -> HistoryPage {
        try await pool.read { db in
            // Each entry holds two views of up to a whole state (1 MiB), and a device can add
            // entries by pushing: pages end after `limit` entries or after 8 MiB of views.
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT a.*, p.name AS principal_name FROM audit a LEFT JOIN principals p ON p.id = a.principal_id
                    WHERE a.collection = ? AND a.record_id = ? AND a.seq > ? ORDER BY a.seq, a.id
                    """,
                arguments: [key.collection, key.id, seq]
            )
            var rows: [Row] = []
            var bytes = 0
            var more = false
            while let row = try cursor.next() {
                if rows.count >= limit || (!rows.isEmpty && bytes >= Self.pageByteBudget) {
                    more = true
                    break
                }
                bytes += try row.stored("after", as: String.self).utf8.count + (try row.stored("before", as: String?.self)?.utf8.count ?? 0)
                rows.append(row.copy())
            }
            let anyEntry = try Bool.fetchOne(
                db,
                sql: "SELECT 1 FROM audit WHERE collection = ? AND record_id = ? LIMIT 1",
                arguments: [key.collection, key.id]
            )
            let exists = !rows.isEmpty || anyEntry == true
            let entries = try rows.map { row in
                AuditEntry(
                    seq: try row.stored("seq"),
                    kind: AuditEntry.Kind(rawValue: try row.stored("kind")) ?? .push,
                    principal: try row.stored("principal_name"),
                    replica: try row.stored("replica"),
                    at: try row.stored("at"),
                    before: try row.stored("before", as: String?.self).map { try Self.decodeStored(AuditEntry.View.self, from: $0) },
                    after: try Self.decodeStored(AuditEntry.View.self, from: try row.stored("after")),
                    reason: try row.stored("reason")
                )
            }
            return HistoryPage(entries: entries, more: more, exists: exists)
        }
    }

    /// The replica a server-side user writes under in this epoch: made on first use, never reused
    /// across epochs (DESIGN §4 invariant 9), so the server itself never invents versions.
    static func serverReplica(for principal: Principal, epoch: Epoch, _ db: Database) throws -> ReplicaID {
        if let text = try String.fetchOne(
            db,
            sql: "SELECT replica FROM user_replicas WHERE principal_id = ? AND epoch = ?",
            arguments: [principal.id, epoch.description]
        ) {
            do {
                return try ReplicaID(parsing: text)
            } catch {
                throw StoreError(.damaged, "a stored server-side replica id is not one: \(error.message)")
            }
        }
        return try mintServerReplica(for: principal, epoch: epoch, db)
    }

    /// Gives the user a fresh, unowned server-side replica for this epoch, in place of any it had
    /// (an old one stays owned by the user, so its dots keep their writer's name). A device may
    /// already have pushed under any id it liked; the server's own must be unowned.
    static func mintServerReplica(for principal: Principal, epoch: Epoch, _ db: Database) throws -> ReplicaID {
        var fresh = ReplicaID.random()
        while try String.fetchOne(db, sql: "SELECT replica FROM replica_owners WHERE replica = ?", arguments: [fresh.description]) != nil {
            fresh = ReplicaID.random()
        }
        try db.execute(
            sql: """
                INSERT INTO user_replicas (principal_id, epoch, replica) VALUES (?, ?, ?)
                ON CONFLICT (principal_id, epoch) DO UPDATE SET replica = excluded.replica
                """,
            arguments: [principal.id, epoch.description, fresh.description]
        )
        try db.execute(sql: "INSERT INTO replica_owners (replica, principal_id) VALUES (?, ?)", arguments: [fresh.description, principal.id])
        return fresh
    }

    /// Replica id → the name of the device or user that pushes or writes under it.
    static func writerNames(_ db: Database) throws -> [String: String] {
        var names: [String: String] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT o.replica, p.name FROM replica_owners o JOIN principals p ON p.id = o.principal_id
                """
        ) {
            names[try row.stored("replica", as: String.self)] = try row.stored("name", as: String.self)
        }
        return names
    }

    /// The last content the history shows for a record while it was not deleted.
    static func lastLiveContent(_ key: RecordKey, _ db: Database) throws -> [String: Value]? {
        for text in try String.fetchAll(
            db,
            sql: "SELECT after FROM audit WHERE collection = ? AND record_id = ? ORDER BY id DESC",
            arguments: [key.collection, key.id]
        ) {
            let view = try decodeStored(AuditEntry.View.self, from: text)
            if !view.deleted, !view.fields.isEmpty {
                return view.fields.compactMapValues { $0.count == 1 ? $0.first : nil }
            }
        }
        return nil
    }
}
