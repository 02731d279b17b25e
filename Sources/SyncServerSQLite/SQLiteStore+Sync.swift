import Foundation
import GRDB
import SyncCore
import SyncServer

extension SQLiteStore {
    /// Checks the push's replica, receipt and batch id (PROTOCOL.md §5 "Ownership", §6.2, §6.3), then joins
    /// its records (§6.2) and writes their change-log entries and the new receipt, in one write transaction;
    /// pushes that arrive meanwhile share its commit (`GroupCommit`), each in its own savepoint.
    ///
    /// - Returns: `.accepted` with the answer and how many records changed, `.replayed` with the stored
    ///   answer of the same batch, or why the push may not be joined.
    /// - Throws: ``StoreError`` `.damaged` when stored data cannot be read; GRDB's `DatabaseError`
    ///   (`SQLITE_BUSY` past the busy timeout is answered 503 `unavailable`).
    public func push(_ request: PushRequest, by principal: Principal, rules: CollectionRules, at time: Date) async throws -> PushOutcome {
        let epoch = self.epoch
        return try await pushes.run { db in
            try StoreAlgorithms.push(request, by: principal, rules: rules, epoch: epoch, at: time, in: SQLiteTransaction(db: db, changeTime: time))
        }
    }

    /// A page of the records in `scopes` (`nil`: every scope) changed after sequence number `seq`, in one
    /// snapshot (PROTOCOL.md §7.2): at most `limit` records, ending after the record whose state takes the
    /// page past 8 MiB. With `replica`, its receipt is checked first (§6.3) unless this request checked it
    /// already (`.verified`), and the states it pushed are left out (§7.2).
    ///
    /// - Throws: ``StoreError`` `.damaged` when stored data cannot be read; GRDB's `DatabaseError`.
    public func pull(after seq: UInt64, limit: Int, scopes: [Scope]?, replica: PullingReplica?) async throws -> PullOutcome {
        let epoch = self.epoch
        return try await pulls.run { db in
            let echoesOf: ReplicaID?
            switch try StoreAlgorithms.checkPull(replica, epoch: epoch, in: SQLiteTransaction(db: db)) {
            case .answer(let outcome): return outcome
            case .proceed(let replica): echoesOf = replica
            }
            // Read the head first: in this snapshot every sequence number up to it is committed.
            let head = try Self.head(db)
            var sql = "SELECT collection, id, scope, state, seq FROM records WHERE seq > ?"
            // Cursors are checked to fit a signed 64-bit integer; clamping keeps this total anyway.
            var arguments: StatementArguments = [Int64(clamping: seq)]
            if let echoesOf {
                // No echo: the replica holds exactly the states it pushed (PROTOCOL.md §7.2).
                sql += " AND (pushed_by IS NULL OR pushed_by != ?)"
                arguments += [echoesOf.description]
            }
            if let scopes {
                sql += " AND scope IN (\(databaseQuestionMarks(count: scopes.count)))"
                arguments += StatementArguments(scopes.map(\.rawValue))
            }
            sql += " ORDER BY seq LIMIT ?"
            arguments += [limit + 1]
            let rows = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
            // A page ends at `limit` records or after the record that takes it past the byte
            // budget (PROTOCOL.md §7.2), so large records cannot make one answer huge.
            var page: [Row] = []
            var bytes = 0
            for row in rows.prefix(limit) where page.isEmpty || bytes < Self.pageByteBudget {
                page.append(row)
                bytes += try row.stored("state", as: String.self).utf8.count
            }
            let records = try page.map { try $0.storedRecord() }
            if rows.count > page.count, let last = page.last {
                return .page(PullPage(records: records, next: try Self.sequence(try last.stored("seq")), more: true, head: head))
            }
            return .page(PullPage(records: records, next: max(head, seq), more: false, head: head))
        }
    }

    /// The current states of every record in `collections`, by collection and id; with a `period`, the
    /// records of `periodCollections` only where their id holds `/<period>/`.
    ///
    /// - Throws: ``StoreError`` `.damaged` when a stored record cannot be read; GRDB's `DatabaseError`.
    public func records(in collections: [String], periodCollections: Set<String>, period: String?) async throws -> [SyncRecord] {
        let whole = collections.filter { period == nil || !periodCollections.contains($0) }
        let ofPeriod = period == nil ? [] : collections.filter { periodCollections.contains($0) }
        return try await pool.read { db in
            var sql = "SELECT collection, id, scope, state FROM records WHERE collection IN (\(databaseQuestionMarks(count: whole.count)))"
            var arguments = StatementArguments(whole)
            if let period, !ofPeriod.isEmpty {
                // instr, not LIKE: a period is matched as text, whatever characters it holds.
                sql += " OR (collection IN (\(databaseQuestionMarks(count: ofPeriod.count))) AND instr(id, ?) > 0)"
                arguments += StatementArguments(ofPeriod)
                arguments += ["/\(period)/"]
            }
            return try Row.fetchAll(db.cachedStatement(sql: sql + " ORDER BY collection, id"), arguments: arguments).map { try $0.storedRecord() }
        }
    }

    /// The current state of the record `key`, or `nil` when the store holds none.
    ///
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read; GRDB's `DatabaseError`.
    public func record(_ key: RecordKey) async throws -> SyncRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT collection, id, scope, state FROM records WHERE collection = ? AND id = ?"),
                arguments: [key.collection, key.id]
            )?
            .storedRecord()
        }
    }

    /// Writes devices' pulls and pushes to the device list in one transaction, in the order given; users'
    /// activity is skipped and a client name is cut to 64 characters.
    public func recordActivity(_ activities: [DeviceActivity]) async throws {
        try await pool.write { db in
            for activity in activities where activity.principal.kind == .device {
                var pull: (cursor: String, at: Date)?
                var push: (batch: String, at: Date)?
                switch activity.kind {
                case .pull(let cursor): pull = (cursor.description, activity.time)
                case .push(let batch): push = (batch.rawValue, activity.time)
                }
                // A pull leaves the push columns as they were, and a push the pull columns.
                try db.cachedStatement(
                    sql: """
                        INSERT INTO device_sync (principal_id, last_pull_cursor, last_pull_at, last_push_batch, last_push_at, last_seen_at, client)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (principal_id) DO UPDATE SET
                            last_pull_cursor = COALESCE(excluded.last_pull_cursor, last_pull_cursor),
                            last_pull_at = COALESCE(excluded.last_pull_at, last_pull_at),
                            last_push_batch = COALESCE(excluded.last_push_batch, last_push_batch),
                            last_push_at = COALESCE(excluded.last_push_at, last_push_at),
                            last_seen_at = excluded.last_seen_at,
                            client = COALESCE(excluded.client, client)
                        """
                ).execute(arguments: [
                    activity.principal.id, pull?.cursor, pull?.at, push?.batch, push?.at, activity.time,
                    activity.client.map { String($0.prefix(64)) },
                ])
            }
        }
    }

    /// The state bytes after which a pull page ends (PROTOCOL.md §7.2): the default body limit.
    static let pageByteBudget = 8 * 1024 * 1024

    // MARK: Rows

    static func replicaProgress(_ replica: ReplicaID, _ db: Database) throws -> PushRules.ReplicaProgress? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT sequence, last_batch FROM replicas WHERE replica = ?"),
                arguments: [replica.description]
            )
        else { return nil }
        return PushRules.ReplicaProgress(sequence: try sequence(try row.stored("sequence")), lastBatch: try row.stored("last_batch"))
    }

    /// The principal that owns a replica id, or nil while nobody has used it.
    static func replicaOwner(_ replica: ReplicaID, _ db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT principal_id FROM replica_owners WHERE replica = ?"), arguments: [replica.description])
    }

    static func storedRecord(_ key: RecordKey, _ db: Database) throws -> (scope: Scope, state: RecordState)? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT scope, state FROM records WHERE collection = ? AND id = ?"),
                arguments: [key.collection, key.id]
            )
        else { return nil }
        do {
            return (try Scope(parsing: try row.stored("scope")), try row.storedState())
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.damaged, "the stored scope of \(key.collection)/\(key.id.prefix(128)) cannot be read: \(error)")
        }
    }

    /// Writes a record's new state, appends its change-log entry and its audit entry, and keeps the
    /// conflicts index in step — all inside the caller's transaction. `time` is `change.time` as
    /// its column holds it (`Date.databaseValue`), which the caller formats once for many records.
    static func store(
        _ state: RecordState,
        for key: RecordKey,
        in scope: Scope,
        before: RecordState?,
        change: AuditEntry.Change,
        at time: DatabaseValue,
        pushedBy: ReplicaID? = nil,
        _ db: Database
    ) throws {
        // Worked out once: each is a walk over every register comparing values.
        let conflicted = state.isConflicted
        try db.cachedStatement(sql: "INSERT INTO change_log (collection, id, scope) VALUES (?, ?, ?)").execute(arguments: [
            key.collection, key.id, scope.rawValue,
        ])
        let seq = db.lastInsertedRowID
        try db.cachedStatement(
            sql: """
                INSERT INTO records (collection, id, scope, state, seq, conflicted, pushed_by) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (collection, id) DO UPDATE SET
                    state = excluded.state, seq = excluded.seq, conflicted = excluded.conflicted, pushed_by = excluded.pushed_by
                """
        ).execute(arguments: [
            key.collection, key.id, scope.rawValue, String(decoding: try CanonicalJSON.encode(state), as: UTF8.self), seq,
            conflicted, pushedBy?.description,
        ])
        if conflicted {
            try db.cachedStatement(
                sql: """
                    INSERT INTO conflicts (collection, id, scope, fields, delete_conflict, since_seq, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (collection, id) DO UPDATE SET fields = excluded.fields, delete_conflict = excluded.delete_conflict
                    """
            ).execute(arguments: [
                key.collection, key.id, scope.rawValue, state.conflictingFields.joined(separator: ","), state.isDeleteConflict, seq, time,
            ])
        } else if before?.isConflicted == true {
            // The index holds exactly the conflicted records, so only a record that was one has a row to drop.
            try db.cachedStatement(sql: "DELETE FROM conflicts WHERE collection = ? AND id = ?").execute(arguments: [key.collection, key.id])
        }
        try db.cachedStatement(
            sql:
                "INSERT INTO audit (seq, collection, record_id, principal_id, replica, at, kind, before, after, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [
            seq, key.collection, key.id, change.principalID, change.replica.description, time, change.kind.rawValue,
            try before.map(AuditEntry.view), try AuditEntry.view(state), change.reason,
        ])
    }
}
