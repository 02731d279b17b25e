import Foundation
import SyncCore
import Testing

/// One test per DESIGN.md §4 invariant that the pure engine can enforce on its own. Invariants 4,
/// 8 and 9 (atomic joins on the store, approvals, epochs) belong to the server and are tested there.
struct InvariantTests {
    let a = Replicas.a
    let b = Replicas.b
    let admin = Replicas.admin

    /// Invariant 1: a restored copy of replica A mints (A, 2) again. Join must refuse to pick a value.
    @Test func invariant1_joinRefusesADotThatCarriesTwoValues() throws {
        let base = try RecordState.report()
        let original = try base.writing(["enrolment": .int(500)], by: a)
        let restoredCopy = try base.writing(["enrolment": .int(501)], by: a)
        let error = #expect(throws: SyncCoreError.self) { try original.joined(with: restoredCopy) }
        #expect(error?.code == .integrity)
        let deletingCopy = try base.deleting(by: a)
        #expect(throws: SyncCoreError.self) { try original.joined(with: deletingCopy) }
    }

    /// Invariant 1: a replica's counter never goes back, whatever it joins.
    @Test func invariant1_countersNeverDecrease() throws {
        var state = try RecordState.report().writing(["x": .int(1)], by: a)
        try state.join(try RecordState.report())
        #expect(state.context[a] == 2)
        #expect(try state.write(["x": .int(2)], by: a).counter == 3)
    }

    /// Invariant 2: the whole state travels. A field this replica has never heard of survives
    /// decoding, joining and re-encoding byte for byte.
    @Test func invariant2_unknownFieldsSurviveEveryRoundTrip() throws {
        let newerClient = try RecordState.report().writing(["photoHash": .string("sha256:ab12")], by: b)
        let wire = try CanonicalJSON.encode(newerClient)
        var olderServer = try CanonicalJSON.decode(RecordState.self, from: wire)
        try olderServer.join(try RecordState.report())
        #expect(try CanonicalJSON.encode(olderServer) == wire)
        #expect(olderServer.value(of: "photoHash") == .string("sha256:ab12"))
    }

    /// Invariant 2: a record whose JSON carries a key the protocol does not define is refused, not
    /// silently trimmed.
    @Test func invariant2_unknownTopLevelKeysAreRefused() throws {
        let record = SyncRecord(key: RecordKey(collection: "reports", id: "r1"), scope: try .school("s1"), state: try .report())
        var object = try #require(try JSONSerialization.jsonObject(with: try CanonicalJSON.encode(record)) as? [String: Any])
        object["changedOnly"] = true
        let tampered = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(SyncRecord.self, from: tampered) }
    }

    /// Invariant 3: a conflicted field never shows one value as settled, and a plain edit of it is refused.
    @Test func invariant3_conflictedFieldsHaveNoSettledValueAndRefusePlainEdits() throws {
        let base = try RecordState.report()
        var merged = try base.writing(["status": .string("done")], by: a).joined(with: try base.writing(["status": .string("at_risk")], by: b))
        #expect(merged.value(of: "status") == nil)
        #expect(merged.fields["status"]?.settledValue == nil)
        #expect(merged.currentValues == nil)
        let error = #expect(throws: SyncCoreError.self) { try merged.write(["status": .string("done")], by: a) }
        #expect(error?.code == .conflicted)
    }

    /// Invariant 5: discarding a local edit is a new write of the previous values. The counter moves
    /// on, and the discard wins at a replica that already received the discarded edit.
    @Test func invariant5_discardIsANewWriteThatWinsEverywhere() throws {
        let acknowledged = try RecordState.report()
        var local = try acknowledged.writing(["enrolment": .int(999), "extra": .string("typo")], by: a)
        let leaked = local  // e.g. the server took it before rejecting a later batch
        let dot = try #require(try local.revert(to: acknowledged, by: a))
        #expect(dot.counter == 3)
        #expect(local.context[a] == 3)
        #expect(local.value(of: "enrolment") == .int(412))
        #expect(local.value(of: "extra") == .null)
        #expect(try leaked.joined(with: local).value(of: "enrolment") == .int(412))
        var unchanged = acknowledged
        #expect(try unchanged.revert(to: acknowledged, by: a) == nil)
    }

    /// Invariant 5: discarding a local delete re-creates the record; discarding a local creation deletes it.
    @Test func invariant5_discardUndoesDeletesAndCreations() throws {
        let acknowledged = try RecordState.report()
        var deletedLocally = try acknowledged.deleting(by: a)
        try deletedLocally.revert(to: acknowledged, by: a)
        #expect(deletedLocally.currentValues == acknowledged.currentValues)
        var createdLocally = try RecordState().writing(["x": .int(1)], by: a)
        try createdLocally.revert(to: RecordState(), by: a)
        #expect(createdLocally.isDeleted)
    }

    /// Invariant 6: while edit and delete stand side by side, every plain write is refused; keeping
    /// the record re-writes its full content and wins over the delete everywhere.
    @Test func invariant6_editVersusDeleteNeedsAnExplicitKeep() throws {
        let base = try RecordState.report()
        let deleter = try base.deleting(by: a)
        let editor = try base.writing(["narrative": .string("仍在修改")], by: b)
        var server = try deleter.joined(with: editor)
        #expect(server.isDeleteConflict)
        #expect(throws: SyncCoreError.self) { try server.write(["anything": .int(1)], by: b) }
        #expect(throws: SyncCoreError.self) { try server.write([:], by: b) }
        var fullContent = try #require(base.currentValues)
        fullContent["narrative"] = .string("仍在修改")
        try server.resolve(.write(fullContent), by: admin)
        #expect(try deleter.joined(with: server).currentValues == fullContent)
        #expect(try editor.joined(with: server).currentValues == fullContent)
    }

    /// Invariant 7: a ratio kept as two fields merges concurrent edits into a pair nobody entered;
    /// kept as one field, the same edits conflict.
    @Test func invariant7_valuesThatBelongTogetherAreOneField() throws {
        var base = RecordState()
        try base.write(["numerator": .int(90), "denominator": .int(100), "ratio": .string(#"{"den":100,"num":90}"#)], by: admin)
        let schoolA = try base.writing(["numerator": .int(95), "ratio": .string(#"{"den":100,"num":95}"#)], by: a)
        let schoolB = try base.writing(["denominator": .int(120), "ratio": .string(#"{"den":120,"num":90}"#)], by: b)
        let merged = try schoolA.joined(with: schoolB)
        #expect(merged.value(of: "numerator") == .int(95))
        #expect(merged.value(of: "denominator") == .int(120))  // 95/120: entered by nobody
        #expect(merged.conflictingFields == ["ratio"])  // the single field keeps both real pairs
    }
}
