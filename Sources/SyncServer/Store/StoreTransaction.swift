import Foundation
import SyncCore

/// What one transaction of a store offers the store-independent algorithms (``StoreAlgorithms``):
/// reads of records and replicas, and the writes that go together (a record with its change-log,
/// audit and conflicts-index entries; a replica's receipt with its stored answer).
///
/// A store runs an algorithm inside one of its transactions (a write transaction for a push or a
/// resolution, the pull's read snapshot for its receipt check) and hands it a value of this
/// protocol; everything it reads and writes commits or rolls back together (DESIGN §4 invariant 4:
/// the join of one record is atomic). The SQL lives in the stores, the rules here.
///
/// The methods are synchronous, as GRDB's transactions are. A store whose driver is asynchronous
/// (postgres-nio) cannot block on them; for it the algorithms will be split into a read phase, a
/// pure decision and a plan of writes (the next step of the PostgreSQL store).
package protocol StoreTransaction {
    /// What the store remembers of a replica's pushes in the current epoch, or `nil` for none yet.
    func replicaProgress(_ replica: ReplicaID) throws -> PushRules.ReplicaProgress?

    /// The principal that owns a replica id, or `nil` while nobody has used it (PROTOCOL.md §5 "Ownership").
    func replicaOwner(_ replica: ReplicaID) throws -> Int64?

    /// Makes `principalID` the owner of an unowned replica id.
    func setReplicaOwner(_ replica: ReplicaID, to principalID: Int64) throws

    /// The answer stored with a replica's last accepted push, replayed for the same batch (§6.2).
    /// - Throws: ``StoreError`` `.damaged` when it is missing or cannot be read.
    func lastResponse(of replica: ReplicaID) throws -> PushResponse

    /// Records an accepted push: the replica's new sequence, batch id and answer (§6.2, §6.3).
    func saveReceipt(of replica: ReplicaID, sequence: UInt64, batch: BatchID, response: PushResponse, principalID: Int64, at time: Date) throws

    /// A record's scope and state, or `nil` when the store has never held it.
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read.
    func record(_ key: RecordKey) throws -> (scope: Scope, state: RecordState)?

    /// Writes a record's new state with its change-log entry (a new sequence number), its audit entry
    /// and its row of the conflicts index; `pushedBy` marks a state exactly as a replica pushed it, so
    /// pulls leave that replica's echo out (§7.2).
    func store(_ state: RecordState, for key: RecordKey, in scope: Scope, before: RecordState?, change: AuditEntry.Change, pushedBy: ReplicaID?) throws

    /// The replica id `principal` writes resolutions under in `epoch`, made on first use
    /// (DESIGN §4 invariant 9).
    func serverReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID

    /// A fresh, unowned server-side replica for `principal` in `epoch`, replacing any it had.
    func mintServerReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID

    /// The last content the history shows for a record while it was not deleted, or `nil`.
    func lastLiveContent(_ key: RecordKey) throws -> [String: Value]?
}
