import Foundation
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// Open conflicts whose `since` (the change-log sequence number at which each arose) is after
    /// `after`, oldest first, at most `limit`; only in `scope`, in `collection` or detected before
    /// `detectedBefore` when those are given.
    public func conflicts(scope: Scope?, collection: String?, detectedBefore: Date?, after: Int64, limit: Int) async throws -> [ConflictSummary] {
        try await read { connection in
            let rows = try await connection.query(
                """
                SELECT collection, id, scope, fields, delete_conflict, since_seq, detected_at FROM conflicts
                WHERE since_seq > \(after)
                  AND (\(scope?.rawValue)::text IS NULL OR scope = \(scope?.rawValue))
                  AND (\(collection)::text IS NULL OR collection = \(collection))
                  AND (\(detectedBefore)::timestamptz IS NULL OR detected_at < \(detectedBefore))
                ORDER BY since_seq LIMIT \(Int64(limit))
                """,
                logger: logger
            )
            var conflicts: [ConflictSummary] = []
            for try await (collection, id, scope, fields, deleteConflict, since, detectedAt) in rows.decode(
                (String, String, String, String, Bool, Int64, Date?).self
            ) {
                conflicts.append(
                    ConflictSummary(
                        collection: collection, id: id, scope: scope, fields: fields.split(separator: ",").map(String.init),
                        deleteConflict: deleteConflict, since: since, detectedAt: detectedAt
                    )
                )
            }
            return conflicts
        }
    }

    /// The record `key` in conflict, each conflicting value beside its dot and the name of its
    /// writer, with its settled fields and, for an edit-vs-delete conflict, its last content
    /// (PROTOCOL.md §3.5, §12); `nil` when there is no such record or it is not in conflict.
    public func conflictDetail(_ key: RecordKey) async throws -> ConflictDetail? {
        try await read { connection in
            let plan = PlannedTransaction()
            try await fetchRecords([key], into: plan, connection)
            guard let (scope, state) = try plan.record(key), state.isConflicted else { return nil }
            let writers = try await writerNames(Array(StoreAlgorithms.writerReplicas(of: state)), connection)
            if state.isDeleteConflict { plan.liveContents[key] = .some(try await lastLiveContent(key, connection)) }
            return try StoreAlgorithms.conflictDetail(key, scope: scope, state: state, writers: writers, in: plan)
        }
    }

    /// Resolves `key` as `request` says, at `principal`'s server-side replica (a fresh one when that
    /// replica's counter is used up), in one transaction holding the record's lock, with the check
    /// that the resolver saw every contested value (PROTOCOL.md §3.5). Keeping a record deleted on one
    /// side re-writes its full content (DESIGN §4 invariant 6).
    ///
    /// - Returns: `.resolved` with the stored record, `.notFound` when there is no such record, or
    ///   `.refused` with the `SyncCoreError` of `RecordState.resolve`; nothing is written then.
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read; postgres-nio's `PSQLError`.
    public func resolve(_ key: RecordKey, _ request: ResolutionRequest, by principal: Principal, at time: Date) async throws -> ResolveOutcome {
        let epoch = self.epoch
        return try await write { connection in
            // The record's scope is its lock: read it, lock it, then read the record for good.
            let plan = PlannedTransaction()
            try await fetchRecords([key], into: plan, connection)
            guard let scope = try plan.record(key)?.scope else { return .notFound }
            try await Self.lock(principal: principal, connection, logger)
            try await Self.lock(replicas: [], scopes: [scope], connection, logger)
            plan.records = [:]
            try await fetchRecords([key], into: plan, connection)
            let outcome = try await runPlanned(plan, connection) {
                try StoreAlgorithms.resolve(key, request, by: principal, epoch: epoch, at: time, in: plan)
            }
            if !plan.mintedServerReplicas.isEmpty {
                // A fresh id must be nobody's: the one place a collision could only be seen in the table.
                let minted = plan.mintedServerReplicas.map(\.replica.description)
                for try await _ in try await connection.query("SELECT 1 FROM replica_owners WHERE replica = ANY(\(minted)::text[])", logger: logger) {
                    throw StoreError(.busy, "a freshly drawn replica id was taken; try again")
                }
            }
            try await apply([plan], connection)
            return outcome
        }
    }

    /// The accepted changes of `key` with a sequence number after `seq`, oldest first: at most
    /// `limit`, ending early after the entry that takes the page's before and after views past 8 MiB
    /// (PROTOCOL.md §12).
    public func history(_ key: RecordKey, after seq: Int64, limit: Int) async throws -> HistoryPage {
        try await read { connection in
            let rows = try await connection.query(
                """
                SELECT a.seq, a.kind, p.name, a.replica, a.at, a.before, a.after, a.reason
                FROM audit a LEFT JOIN principals p ON p.id = a.principal_id
                WHERE a.collection = \(key.collection) AND a.record_id = \(key.id) AND a.seq > \(seq)
                ORDER BY a.seq, a.id LIMIT \(Int64(limit) + 1)
                """,
                logger: logger
            )
            var entries: [AuditEntry] = []
            var bytes = 0
            var more = false
            for try await (entrySeq, kind, name, replica, at, before, after, reason) in rows.decode(
                (Int64, String, String?, String, Date, String?, String, String?).self
            ) {
                // Each entry holds two views of up to a whole state (1 MiB), and a device can add
                // entries by pushing: pages end after `limit` entries or after 8 MiB of views.
                if entries.count >= limit || (!entries.isEmpty && bytes >= Self.pageByteBudget) {
                    more = true
                    break
                }
                bytes += after.utf8.count + (before?.utf8.count ?? 0)
                entries.append(
                    AuditEntry(
                        seq: entrySeq,
                        kind: AuditEntry.Kind(rawValue: kind) ?? .push,
                        principal: name,
                        replica: replica,
                        at: at,
                        before: try before.map { try Self.decodeStored(AuditEntry.View.self, from: $0) },
                        after: try Self.decodeStored(AuditEntry.View.self, from: after),
                        reason: reason
                    )
                )
            }
            var exists = !entries.isEmpty
            if !exists {
                let any = try await connection.query(
                    "SELECT 1 FROM audit WHERE collection = \(key.collection) AND record_id = \(key.id) LIMIT 1",
                    logger: logger
                )
                for try await _ in any { exists = true }
            }
            return HistoryPage(entries: entries, more: more, exists: exists)
        }
    }

    /// Replica id → the name of the device or user that pushes or writes under it, for `replicas`.
    func writerNames(_ replicas: [String], _ connection: PostgresConnection) async throws -> [String: String] {
        var names: [String: String] = [:]
        let rows = try await connection.query(
            "SELECT o.replica, p.name FROM replica_owners o JOIN principals p ON p.id = o.principal_id WHERE o.replica = ANY(\(replicas)::text[])",
            logger: logger
        )
        for try await (replica, name) in rows.decode((String, String).self) { names[replica] = name }
        return names
    }

    /// The last content the history shows for a record while it was not deleted.
    func lastLiveContent(_ key: RecordKey, _ connection: PostgresConnection) async throws -> [String: Value]? {
        let rows = try await connection.query(
            "SELECT after FROM audit WHERE collection = \(key.collection) AND record_id = \(key.id) ORDER BY id DESC",
            logger: logger
        )
        for try await text in rows.decode(String.self) {
            let view = try Self.decodeStored(AuditEntry.View.self, from: text)
            if !view.deleted, !view.fields.isEmpty {
                return view.fields.compactMapValues { $0.count == 1 ? $0.first : nil }
            }
        }
        return nil
    }
}
