import Foundation
import SyncCore

/// A ``StoreTransaction`` for a store whose driver is asynchronous (PostgreSQL): reads come from
/// values the store fetched ahead, and writes are collected as a plan the store then applies in its
/// own transaction, in a few statements for the whole push.
///
/// `StoreAlgorithms` are synchronous, and an asynchronous driver cannot answer a read in the middle
/// of one. So the store runs the algorithm, and when it reads what was not fetched:
/// - a missing record (a domain rule looking up an assignment or an indicator) reads as absent for
///   now, is noted in ``missingRecords``, and the run goes on, so one run finds every record it needs;
/// - anything else missing throws ``Missing``.
///
/// After a run with anything missing, the store fetches it and runs the algorithm again on a fresh
/// plan (``rerun()``), until a run reads only what it has. The algorithms are deterministic in what
/// they read, so the last run's plan is exactly what a synchronous transaction would have written.
/// The store holds the locks that make its reads stable (the records of the batch, the replica) for
/// the whole transaction (DESIGN §4 invariant 4).
package final class PlannedTransaction: StoreTransaction {
    /// What a run needed and did not have, other than records.
    package enum Missing: Error, Hashable {
        /// A replica's stored answer to its last push (a replay, §6.2).
        case lastResponse(ReplicaID)
        /// The user's server-side replica in an epoch.
        case serverReplica(principalID: Int64)
        /// A record's last live content, from its history.
        case lastLiveContent(RecordKey)
    }

    /// One record write of the plan, in the order the algorithm made them (the order of their
    /// change-log sequence numbers).
    package struct RecordWrite {
        package var key: RecordKey
        package var scope: Scope
        package var state: RecordState
        package var before: RecordState?
        package var change: AuditEntry.Change
        package var pushedBy: ReplicaID?
    }

    /// A replica's new receipt.
    package struct Receipt {
        package var replica: ReplicaID
        package var sequence: UInt64
        package var batch: BatchID
        package var response: PushResponse
        package var principalID: Int64
        package var time: Date
    }

    // Fetched ahead by the store; `nil` in the outer optional means "not fetched".
    package var progress: [ReplicaID: PushRules.ReplicaProgress?] = [:]
    package var owners: [ReplicaID: Int64?] = [:]
    package var responses: [ReplicaID: PushResponse] = [:]
    package var records: [RecordKey: (scope: Scope, state: RecordState)?] = [:]
    package var serverReplicas: [Int64: ReplicaID?] = [:]
    package var liveContents: [RecordKey: [String: Value]?] = [:]
    /// Stored rows the store fetched and could not read: the run that reads one throws its error,
    /// so only the push that needs it fails (one damaged row is not every school's problem).
    package var damagedRecords: [RecordKey: StoreError] = [:]
    package var damagedReplicas: [ReplicaID: StoreError] = [:]

    /// Records the last run read without having them; fetch them and ``rerun()``.
    package private(set) var missingRecords: Set<RecordKey> = []

    // The plan of the last run.
    package private(set) var writes: [RecordWrite] = []
    package private(set) var newOwners: [(replica: ReplicaID, principalID: Int64)] = []
    package private(set) var receipt: Receipt?
    package private(set) var mintedServerReplicas: [(principalID: Int64, epoch: Epoch, replica: ReplicaID)] = []
    private var written: [RecordKey: (scope: Scope, state: RecordState)] = [:]
    private var minted: [Int64: ReplicaID] = [:]

    package init() {}

    /// A plan with no writes that starts from everything this one fetched: the plans of pushes
    /// stored together (a group commit) share one fetch of their replicas and records.
    package func sharingFetched() -> PlannedTransaction {
        let plan = PlannedTransaction()
        plan.progress = progress
        plan.owners = owners
        plan.responses = responses
        plan.records = records
        plan.serverReplicas = serverReplicas
        plan.liveContents = liveContents
        plan.damagedRecords = damagedRecords
        plan.damagedReplicas = damagedReplicas
        return plan
    }

    /// Forgets the last run's plan and missing records, keeping everything fetched.
    package func rerun() {
        missingRecords = []
        writes = []
        newOwners = []
        receipt = nil
        mintedServerReplicas = []
        written = [:]
        minted = [:]
    }

    /// Whether the last run read only what it had: its plan is the one to apply.
    package var isComplete: Bool { missingRecords.isEmpty }

    package func replicaProgress(_ replica: ReplicaID) throws -> PushRules.ReplicaProgress? {
        if let damage = damagedReplicas[replica] { throw damage }
        guard let progress = progress[replica] else { throw StoreError(.damaged, "the store did not fetch replica \(replica)'s progress") }
        return progress
    }

    package func replicaOwner(_ replica: ReplicaID) throws -> Int64? {
        if let new = newOwners.last(where: { $0.replica == replica }) { return new.principalID }
        guard let owner = owners[replica] else { throw StoreError(.damaged, "the store did not fetch replica \(replica)'s owner") }
        return owner
    }

    package func setReplicaOwner(_ replica: ReplicaID, to principalID: Int64) throws {
        newOwners.append((replica, principalID))
    }

    package func lastResponse(of replica: ReplicaID) throws -> PushResponse {
        guard let response = responses[replica] else { throw Missing.lastResponse(replica) }
        return response
    }

    package func saveReceipt(of replica: ReplicaID, sequence: UInt64, batch: BatchID, response: PushResponse, principalID: Int64, at time: Date) throws {
        receipt = Receipt(replica: replica, sequence: sequence, batch: batch, response: response, principalID: principalID, time: time)
    }

    package func record(_ key: RecordKey) throws -> (scope: Scope, state: RecordState)? {
        if let written = written[key] { return written }
        if let damage = damagedRecords[key] { throw damage }
        guard let fetched = records[key] else {
            missingRecords.insert(key)
            return nil
        }
        return fetched
    }

    package func store(_ state: RecordState, for key: RecordKey, in scope: Scope, before: RecordState?, change: AuditEntry.Change, pushedBy: ReplicaID?) throws {
        writes.append(RecordWrite(key: key, scope: scope, state: state, before: before, change: change, pushedBy: pushedBy))
        written[key] = (scope, state)
    }

    package func serverReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID {
        if let minted = minted[principal.id] { return minted }
        guard let stored = serverReplicas[principal.id] else { throw Missing.serverReplica(principalID: principal.id) }
        return try stored ?? mintServerReplica(for: principal, epoch: epoch)
    }

    package func mintServerReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID {
        // Checked against the owners table by the store before it applies the plan.
        let fresh = ReplicaID.random()
        minted[principal.id] = fresh
        mintedServerReplicas.append((principal.id, epoch, fresh))
        newOwners.append((fresh, principal.id))
        return fresh
    }

    package func lastLiveContent(_ key: RecordKey) throws -> [String: Value]? {
        guard let content = liveContents[key] else { throw Missing.lastLiveContent(key) }
        return content
    }
}
