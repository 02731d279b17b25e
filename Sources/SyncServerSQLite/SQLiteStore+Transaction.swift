import Foundation
import GRDB
import SyncCore
import SyncServer

/// One SQLite transaction (a write, or a pull's read snapshot) as `StoreAlgorithms` sees it: the
/// SQL of each step, nothing of the rules.
struct SQLiteTransaction: StoreTransaction {
    let db: Database
    /// The time every change of this transaction is stamped with, and its column text, formatted
    /// once: GRDB formats a `Date` through `DateFormatter` (ICU), which cost a push about a tenth of
    /// its server CPU when done for every record's audit entry.
    let changeTime: (date: Date, column: DatabaseValue)?

    /// A transaction whose changes may all carry `changeTime` (a push's or a resolution's time).
    init(db: Database, changeTime: Date? = nil) {
        self.db = db
        self.changeTime = changeTime.map { ($0, $0.databaseValue) }
    }

    func replicaProgress(_ replica: ReplicaID) throws -> PushRules.ReplicaProgress? {
        try SQLiteStore.replicaProgress(replica, db)
    }

    func replicaOwner(_ replica: ReplicaID) throws -> Int64? {
        try SQLiteStore.replicaOwner(replica, db)
    }

    func setReplicaOwner(_ replica: ReplicaID, to principalID: Int64) throws {
        try db.cachedStatement(sql: "INSERT INTO replica_owners (replica, principal_id) VALUES (?, ?)")
            .execute(arguments: [replica.description, principalID])
    }

    func lastResponse(of replica: ReplicaID) throws -> PushResponse {
        let text = try String.fetchOne(
            db.cachedStatement(sql: "SELECT last_response FROM replicas WHERE replica = ?"),
            arguments: [replica.description]
        )
        return try SQLiteStore.decodeStored(PushResponse.self, from: text ?? "")
    }

    func saveReceipt(of replica: ReplicaID, sequence: UInt64, batch: BatchID, response: PushResponse, principalID: Int64, at time: Date) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO replicas (replica, sequence, last_batch, last_response, principal_id, last_seen)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (replica) DO UPDATE SET
                    sequence = excluded.sequence, last_batch = excluded.last_batch,
                    last_response = excluded.last_response, principal_id = excluded.principal_id,
                    last_seen = excluded.last_seen
                """
        ).execute(arguments: [
            replica.description, Int64(clamping: sequence), batch.rawValue,
            String(decoding: try CanonicalJSON.encode(response), as: UTF8.self), principalID, time,
        ])
    }

    func record(_ key: RecordKey) throws -> (scope: Scope, state: RecordState)? {
        try SQLiteStore.storedRecord(key, db)
    }

    func store(_ state: RecordState, for key: RecordKey, in scope: Scope, before: RecordState?, change: AuditEntry.Change, pushedBy: ReplicaID?) throws {
        // Another time than the transaction's (none today) is formatted as GRDB always did.
        let time = changeTime.flatMap { $0.date == change.time ? $0.column : nil } ?? change.time.databaseValue
        try SQLiteStore.store(state, for: key, in: scope, before: before, change: change, at: time, pushedBy: pushedBy, db)
    }

    func serverReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID {
        try SQLiteStore.serverReplica(for: principal, epoch: epoch, db)
    }

    func mintServerReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID {
        try SQLiteStore.mintServerReplica(for: principal, epoch: epoch, db)
    }

    func lastLiveContent(_ key: RecordKey) throws -> [String: Value]? {
        try SQLiteStore.lastLiveContent(key, db)
    }
}
