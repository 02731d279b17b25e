import Foundation
import SyncCore
import Testing

@testable import SyncServer

/// The store-independent algorithms against a store that is a few dictionaries: what a second store
/// (PostgreSQL) must implement is ``StoreTransaction``, and every rule comes with it unchanged.
struct StoreAlgorithmsTests {
    /// A store in memory, as small as the protocol allows; a class so the algorithm's writes are seen.
    final class MemoryStore: StoreTransaction {
        var records: [RecordKey: (scope: Scope, state: RecordState)] = [:]
        var changeLog: [RecordKey] = []
        var audit: [(key: RecordKey, change: AuditEntry.Change)] = []
        var progress: [ReplicaID: (PushRules.ReplicaProgress, PushResponse)] = [:]
        var owners: [ReplicaID: Int64] = [:]
        var userReplicas: [Int64: ReplicaID] = [:]

        func replicaProgress(_ replica: ReplicaID) throws -> PushRules.ReplicaProgress? { progress[replica]?.0 }
        func replicaOwner(_ replica: ReplicaID) throws -> Int64? { owners[replica] }
        func setReplicaOwner(_ replica: ReplicaID, to principalID: Int64) throws { owners[replica] = principalID }
        func lastResponse(of replica: ReplicaID) throws -> PushResponse {
            guard let response = progress[replica]?.1 else { throw StoreError(.damaged, "no stored answer") }
            return response
        }
        func saveReceipt(of replica: ReplicaID, sequence: UInt64, batch: BatchID, response: PushResponse, principalID: Int64, at time: Date) throws {
            progress[replica] = (PushRules.ReplicaProgress(sequence: sequence, lastBatch: batch.rawValue), response)
        }
        func record(_ key: RecordKey) throws -> (scope: Scope, state: RecordState)? { records[key] }
        func store(_ state: RecordState, for key: RecordKey, in scope: Scope, before: RecordState?, change: AuditEntry.Change, pushedBy: ReplicaID?) throws {
            records[key] = (scope, state)
            changeLog.append(key)
            audit.append((key, change))
        }
        func serverReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID {
            if let replica = userReplicas[principal.id] { return replica }
            return try mintServerReplica(for: principal, epoch: epoch)
        }
        func mintServerReplica(for principal: Principal, epoch: Epoch) throws -> ReplicaID {
            let fresh = ReplicaID.random()
            userReplicas[principal.id] = fresh
            owners[fresh] = principal.id
            return fresh
        }
        func lastLiveContent(_ key: RecordKey) throws -> [String: Value]? { nil }
    }

    let epoch = Epoch.random()
    let device = Principal(id: 7, kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran")
    let admin = Principal(id: 1, kind: .admin, name: "管理员", schoolID: nil)
    let key = RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/m1")

    func record(_ values: [String: Value], by replica: ReplicaID, over base: RecordState = RecordState()) throws -> SyncRecord {
        var state = base
        try state.write(values, by: replica)
        return SyncRecord(key: key, scope: try .school("qx-zhuoran"), state: state)
    }

    func push(_ records: [SyncRecord], _ replica: ReplicaID, batch: String, receipt: PushReceipt?, by principal: Principal? = nil, into store: MemoryStore) throws
        -> PushOutcome
    {
        let request = PushRequest(batch: try BatchID(parsing: batch), replica: replica, receipt: receipt, records: records)
        return try StoreAlgorithms.push(request, by: principal ?? device, rules: .protocolOnly, epoch: epoch, at: Date(), in: store)
    }

    @Test func aPushIsJoinedLoggedAuditedAndItsReceiptKept() throws {
        let store = MemoryStore()
        let replica = ReplicaID(high: 0xa, low: 1)
        guard case .accepted(let response, let changed) = try push([try record(["narrative": .string("一")], by: replica)], replica, batch: "b1", receipt: nil, into: store) else {
            return #expect(Bool(false), "a first push is accepted")
        }
        #expect(changed == 1)
        #expect(response.receipt == PushReceipt(epoch: epoch, sequence: 1))
        #expect(store.changeLog == [key] && store.audit.count == 1 && store.owners[replica] == device.id)
        // The same batch again, with the receipt it was built with: the stored answer, nothing written.
        guard case .replayed(let again) = try push([try record(["narrative": .string("一")], by: replica)], replica, batch: "b1", receipt: nil, into: store) else {
            return #expect(Bool(false), "a retried batch is replayed")
        }
        #expect(again == response && store.changeLog.count == 1)
        // A forgotten receipt is stale; another principal's replica id is foreign.
        guard case .replicaStale = try push([], replica, batch: "b2", receipt: nil, into: store) else { return #expect(Bool(false)) }
        let other = Principal(id: 8, kind: .device, name: "火炬 PC", schoolID: "qx-huoju")
        guard case .replicaForeign = try push([], replica, batch: "b3", receipt: response.receipt, by: other, into: store) else { return #expect(Bool(false)) }
    }

    @Test func concurrentWritesBecomeAConflictThatAResolutionSettles() throws {
        let store = MemoryStore()
        let a = ReplicaID(high: 0xa, low: 1)
        let b = ReplicaID(high: 0xb, low: 1)
        _ = try push([try record(["narrative": .string("甲")], by: a)], a, batch: "a1", receipt: nil, into: store)
        guard case .accepted(let answer, _) = try push([try record(["narrative": .string("乙")], by: b)], b, batch: "b1", receipt: nil, into: store) else {
            return #expect(Bool(false))
        }
        #expect(answer.results.first?.status == .conflict)
        let stored = try #require(store.records[key]?.state)
        let resolution = ResolutionRequest(seen: stored.context, values: ["narrative": .string("甲乙")], delete: nil, reason: "合并")
        guard case .resolved(let resolved) = try StoreAlgorithms.resolve(key, resolution, by: admin, epoch: epoch, at: Date(), in: store) else {
            return #expect(Bool(false), "the resolution is written")
        }
        #expect(resolved.state.value(of: "narrative") == .string("甲乙"))
        #expect(!resolved.state.isConflicted)
        #expect(store.audit.last?.change.kind == .resolve && store.audit.last?.change.reason == "合并")
        guard case .notFound = try StoreAlgorithms.resolve(RecordKey(collection: "reports", id: "qx-zhuoran/x/y"), resolution, by: admin, epoch: epoch, at: Date(), in: store) else {
            return #expect(Bool(false))
        }
    }

    @Test func aPullsReceiptIsCheckedLikeAPushes() throws {
        let store = MemoryStore()
        let replica = ReplicaID(high: 0xc, low: 1)
        let check = PullingReplica.verify(.init(replica: replica, receipt: PushReceipt(epoch: epoch, sequence: 3), principal: device))
        guard case .answer(.replicaStale) = try StoreAlgorithms.checkPull(check, epoch: epoch, in: store) else {
            return #expect(Bool(false), "a receipt the store never gave is stale")
        }
        guard case .proceed(let echoes) = try StoreAlgorithms.checkPull(.verified(replica), epoch: epoch, in: store) else { return #expect(Bool(false)) }
        #expect(echoes == replica)
    }
}
