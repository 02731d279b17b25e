import SyncCore
import Testing

@testable import SyncServer

/// PROTOCOL.md §6.3's receipt table and §6.4's per-record decisions, without I/O.
struct PushRulesTests {
    let epoch = try! Epoch(parsing: "0123456789abcdef0123456789abcdef")
    let otherEpoch = try! Epoch(parsing: "fedcba9876543210fedcba9876543210")
    let batch = try! BatchID(parsing: "batch-7")
    let device = Principal(id: 3, kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran")
    let bureau = Principal(id: 2, kind: .bureau, name: "区教育局", schoolID: nil)
    let replica = ReplicaID(high: 1, low: 1)

    func receipt(_ sequence: UInt64, _ epoch: Epoch? = nil) -> PushReceipt { PushReceipt(epoch: epoch ?? self.epoch, sequence: sequence) }

    @Test func firstPushOfAReplicaIsAccepted() {
        #expect(PushRules.checkReceipt(nil, batch: batch, stored: nil, owner: nil, principal: device, epoch: epoch) == .proceed(nextSequence: 1))
    }

    @Test func matchingReceiptIsAcceptedAndAdvances() {
        let stored = PushRules.ReplicaProgress(sequence: 4, lastBatch: "older")
        #expect(PushRules.checkReceipt(receipt(4), batch: batch, stored: stored, owner: nil, principal: device, epoch: epoch) == .proceed(nextSequence: 5))
    }

    @Test func retryOfTheLastBatchWhoseAnswerWasLostIsAReplay() {
        let stored = PushRules.ReplicaProgress(sequence: 5, lastBatch: "batch-7")
        #expect(PushRules.checkReceipt(receipt(4), batch: batch, stored: stored, owner: nil, principal: device, epoch: epoch) == .replay)
        let first = PushRules.ReplicaProgress(sequence: 1, lastBatch: "batch-7")
        #expect(PushRules.checkReceipt(nil, batch: batch, stored: first, owner: nil, principal: device, epoch: epoch) == .replay)
    }

    @Test func aCopiedDatabaseIsStale() {
        // Two PCs share receipt 4; the first pushed (server now at 5), the second pushes another batch.
        let stored = PushRules.ReplicaProgress(sequence: 5, lastBatch: "from-the-first-pc")
        #expect(PushRules.checkReceipt(receipt(4), batch: batch, stored: stored, owner: nil, principal: device, epoch: epoch) == .stale(expected: receipt(5)))
        // And pulls carry no batch, so they can never pass as a replay.
        #expect(PushRules.checkReceipt(receipt(4), batch: nil, stored: stored, owner: nil, principal: device, epoch: epoch) == .stale(expected: receipt(5)))
    }

    @Test func aDatabaseRestoredFromBeforeItsFirstPushIsStale() {
        let stored = PushRules.ReplicaProgress(sequence: 2, lastBatch: "x")
        #expect(PushRules.checkReceipt(nil, batch: batch, stored: stored, owner: nil, principal: device, epoch: epoch) == .stale(expected: receipt(2)))
    }

    @Test func aReceiptTheServerNeverIssuedIsStale() {
        #expect(PushRules.checkReceipt(receipt(3), batch: batch, stored: nil, owner: nil, principal: device, epoch: epoch) == .stale(expected: nil))
        let stored = PushRules.ReplicaProgress(sequence: 2, lastBatch: "x")
        #expect(PushRules.checkReceipt(receipt(9), batch: batch, stored: stored, owner: nil, principal: device, epoch: epoch) == .stale(expected: receipt(2)))
    }

    @Test func aReceiptFromAnotherEpochMeansTheStoreWasRestored() {
        let stored = PushRules.ReplicaProgress(sequence: 2, lastBatch: "x")
        #expect(PushRules.checkReceipt(receipt(2, otherEpoch), batch: batch, stored: stored, owner: nil, principal: device, epoch: epoch) == .epochChanged)
    }

    func report(
        _ school: String,
        by writer: ReplicaID = ReplicaID(high: 1, low: 1),
        values: [String: Value] = ["status": .string("done")]
    ) throws -> SyncRecord {
        try Make.report("r1", school: school, values: values, by: writer)
    }

    @Test func devicesWriteOnlyTheirOwnSchool() throws {
        guard case .store = try PushRules.decide(try report("qx-zhuoran"), stored: nil, principal: device, rules: .protocolOnly) else {
            Issue.record("own school refused")
            return
        }
        guard case .reject(let reason) = try PushRules.decide(try report("qx-huoju"), stored: nil, principal: device, rules: .protocolOnly) else {
            Issue.record("other school accepted")
            return
        }
        #expect(reason.code == .scopeDenied)
        let plan = SyncRecord(
            key: RecordKey(collection: "plans", id: "qixing-2024"),
            scope: .catalog,
            state: try .init().writing(["x": .int(1)], by: replica)
        )
        guard case .reject(let catalogReason) = try PushRules.decide(plan, stored: nil, principal: device, rules: .protocolOnly) else {
            Issue.record("device wrote the catalog")
            return
        }
        #expect(catalogReason.code == .scopeDenied)
        guard case .store = try PushRules.decide(plan, stored: nil, principal: bureau, rules: .protocolOnly) else {
            Issue.record("bureau could not write the catalog")
            return
        }
    }

    @Test func collectionsLiveInTheirKindOfScope() throws {
        let misplaced = SyncRecord(key: RecordKey(collection: "reports", id: "r"), scope: .catalog, state: try .init().writing([:], by: replica))
        guard case .reject(let reason) = try PushRules.decide(misplaced, stored: nil, principal: bureau, rules: .protocolOnly) else {
            Issue.record("report in catalog accepted")
            return
        }
        #expect(reason.code == .wrongScopeKind)
        let unknown = SyncRecord(key: RecordKey(collection: "photos", id: "p"), scope: .catalog, state: RecordState())
        guard case .reject(let unknownReason) = try PushRules.decide(unknown, stored: nil, principal: bureau, rules: .protocolOnly) else {
            Issue.record("unknown collection accepted")
            return
        }
        #expect(unknownReason.code == .unknownCollection)
    }

    @Test func aRecordKeepsTheScopeItWasFirstStoredIn() throws {
        let record = try report("qx-zhuoran")
        guard
            case .reject(let reason) = try PushRules.decide(
                record,
                stored: (try .school("qx-huoju"), record.state),
                principal: bureau,
                rules: .protocolOnly
            )
        else {
            Issue.record("scope change accepted")
            return
        }
        #expect(reason.code == .scopeMismatch)
    }

    @Test func joinsDecideAppliedUnchangedAndIntegrity() throws {
        let stored = try report("qx-zhuoran")
        guard case .unchanged = try PushRules.decide(stored, stored: (stored.scope, stored.state), principal: device, rules: .protocolOnly) else {
            Issue.record("identical state not unchanged")
            return
        }
        var newer = stored
        try newer.state.write(["narrative": .string("更新")], by: replica)
        guard case .store(let joined) = try PushRules.decide(newer, stored: (stored.scope, stored.state), principal: device, rules: .protocolOnly)
        else {
            Issue.record("newer state not stored")
            return
        }
        #expect(joined == newer.state)
        let reused = try report("qx-zhuoran", values: ["status": .string("at_risk")])  // the same dot (1:1) with another value
        guard case .reject(let reason) = try PushRules.decide(reused, stored: (stored.scope, stored.state), principal: device, rules: .protocolOnly)
        else {
            Issue.record("reused dot accepted")
            return
        }
        #expect(reason.code == .integrity)
    }

    @Test func resultsReportConflictsWithTheirFields() throws {
        let base = try RecordState().writing(["enrolment": .int(1)], by: ReplicaID(high: 9, low: 9))
        let merged = try base.writing(["enrolment": .int(2)], by: replica).joined(
            with: try base.writing(["enrolment": .int(3)], by: ReplicaID(high: 2, low: 2))
        )
        let result = PushRules.result(for: RecordKey(collection: "reports", id: "r"), state: merged, changed: false)
        #expect(result.status == .conflict)
        #expect(result.conflictFields == ["enrolment"])
        #expect(PushRules.result(for: RecordKey(collection: "reports", id: "r"), state: base, changed: true).status == .applied)
        #expect(PushRules.result(for: RecordKey(collection: "reports", id: "r"), state: base, changed: false).status == .unchanged)
    }
}

extension RecordState {
    func writing(_ values: [String: Value], by replica: ReplicaID) throws -> RecordState {
        var copy = self
        try copy.write(values, by: replica)
        return copy
    }
}
