import Foundation
import Testing

@testable import SyncCore

struct RecordStateTests {
    let a = Replicas.a
    let b = Replicas.b
    let admin = Replicas.admin

    @Test func aNewStateIsEmptyAndNotDeleted() {
        let state = RecordState()
        #expect(state.isEmpty)
        #expect(!state.isDeleted)
        #expect(!state.isConflicted)
        #expect(state.currentValues == [:])
    }

    @Test func writeReturnsTheDotItMinted() throws {
        var state = RecordState()
        #expect(try state.write(["x": .int(1)], by: a) == Dot(replica: a, counter: 1))
        #expect(try state.write(["y": .int(2)], by: a) == Dot(replica: a, counter: 2))
        #expect(state.fields["x"]?.dots == [Dot(replica: a, counter: 1)])
        #expect(state.value(of: "y") == .int(2))
    }

    @Test func concurrentSameFieldEditsShowNoSettledValue() throws {
        let base = try RecordState.report()
        let merged = try base.writing(["enrolment": .int(420)], by: a).joined(with: try base.writing(["enrolment": .int(418)], by: b))
        #expect(merged.isConflicted)
        #expect(merged.conflictingFields == ["enrolment"])
        #expect(merged.currentValues == nil)
        #expect(merged.value(of: "enrolment") == nil)
        #expect(merged.value(of: "narrative") == .string("初稿"))
        #expect(merged.fields["enrolment"]?.distinctValues == [.int(420), .int(418)])
        let conflict = try #require(merged.conflict)
        #expect(conflict.fields.keys.sorted() == ["enrolment"])
        #expect(!conflict.isDeleteConflict)
    }

    @Test func conflictErrorsNameTheFieldsAndTheWayOut() throws {
        let base = try RecordState.report()
        var merged = try base.writing(["enrolment": .int(420)], by: a).joined(with: try base.writing(["enrolment": .int(418)], by: b))
        let error = #expect(throws: SyncCoreError.self) { try merged.write(["enrolment": .int(1)], by: a) }
        #expect(error?.code == .conflicted)
        #expect(error?.message.contains("enrolment") == true)
        #expect(error?.message.contains("resolve") == true)
        #expect(throws: SyncCoreError.self) { try merged.delete(by: a) }
    }

    @Test func resolutionCarriesTheResolversDotAndSettlesEverywhere() throws {
        let base = try RecordState.report()
        let atA = try base.writing(["enrolment": .int(420)], by: a)
        let atB = try base.writing(["enrolment": .int(418)], by: b)
        var atServer = try atA.joined(with: atB)
        let shown = atServer.context
        let dot = try atServer.resolve(.write(["enrolment": .int(420)]), by: admin, seen: shown)
        #expect(dot == Dot(replica: admin, counter: 1))
        #expect(!atServer.isConflicted)
        for device in [atA, atB] {
            #expect(try device.joined(with: atServer).value(of: "enrolment") == .int(420))
        }
    }

    @Test func resolutionIsRefusedWhenNewValuesArrivedAfterTheAdminLooked() throws {
        let base = try RecordState.report()
        var atServer = try base.writing(["enrolment": .int(420)], by: a).joined(with: try base.writing(["enrolment": .int(418)], by: b))
        let shown = atServer.context
        try atServer.join(try base.writing(["enrolment": .int(417)], by: Replicas.c))
        let error = #expect(throws: SyncCoreError.self) {
            try atServer.resolve(.write(["enrolment": .int(420)]), by: admin, seen: shown)
        }
        #expect(error?.code == .staleResolution)
    }

    @Test func newValuesInSettledFieldsDoNotMakeAResolutionStale() throws {
        let base = try RecordState.report()
        var atServer = try base.writing(["enrolment": .int(420)], by: a).joined(with: try base.writing(["enrolment": .int(418)], by: b))
        let shown = atServer.context
        try atServer.join(try atServer.writing(["narrative": .string("补充")], by: Replicas.c))
        try atServer.resolve(.write(["enrolment": .int(420)]), by: admin, seen: shown)
        #expect(atServer.currentValues?["narrative"] == .string("补充"))
    }

    @Test func editVersusDeleteRefusesWritesUntilResolved() throws {
        let base = try RecordState.report()
        var merged = try base.deleting(by: a).joined(with: try base.writing(["narrative": .string("仍在修改")], by: b))
        #expect(merged.isDeleteConflict)
        #expect(merged.conflict?.deletes.count == 1)
        #expect(!merged.isDeleted)
        #expect(throws: SyncCoreError.self) { try merged.write(["status": .string("done")], by: b) }
        try merged.resolve(.write(["status": .string("in_progress"), "enrolment": .int(412), "narrative": .string("仍在修改")]), by: admin)
        #expect(merged.currentValues?.count == 3)
    }

    @Test func deletedRecordHasNoValuesButRemembersItsContext() throws {
        let deleted = try RecordState.report().deleting(by: b)
        #expect(deleted.isDeleted)
        #expect(deleted.currentValues == nil)
        #expect(deleted.value(of: "status") == nil)
        #expect(deleted.context == VersionVector([a: 1, b: 1]))
    }

    @Test func decodingRefusesStatesThatBreakTheModel() throws {
        let dot = #"{"replica":"\#(a)","counter":2,"value":{"int":1}}"#
        let cases = [
            #"{"context":{"\#(a)":1},"fields":{"x":[\#(dot)]},"deleted":[]}"#,  // dot outside its context
            #"{"context":{"\#(a)":2},"fields":{"x":[\#(dot),\#(dot)]},"deleted":[]}"#,  // dot twice
            #"{"context":{"\#(a)":2},"fields":{"x":[]},"deleted":[]}"#,  // empty register
            #"{"context":{"\#(a)":2},"fields":{"x":[\#(dot)]},"deleted":[{"replica":"\#(a)","counter":2}]}"#,  // writes and deletes
            #"{"context":{"\#(a)":2},"fields":{"bad name":[\#(dot)]},"deleted":[]}"#,
            #"{"context":{"\#(a)":2},"fields":{},"deleted":[],"extra":1}"#,
            #"{"context":{"\#(a)":2},"fields":{}}"#,
            #"{"context":{"\#(a)":2},"fields":{"x":[{"replica":"\#(a)","counter":0,"value":{"int":1}}]},"deleted":[]}"#,
        ]
        for json in cases {
            #expect(throws: DecodingError.self, "\(json)") { try CanonicalJSON.decode(RecordState.self, from: Data(json.utf8)) }
        }
    }

    @Test func tooManyFieldsAreRefused() throws {
        var values: [String: Value] = [:]
        for index in 0...SyncLimits.maxFields { values["f\(index)"] = .int(Int64(index)) }
        var state = RecordState()
        #expect(throws: SyncCoreError.self) { try state.write(values, by: a) }
        #expect(state.isEmpty)
    }

    @Test func failedWritesLeaveTheStateUntouched() throws {
        var state = try RecordState.report()
        let before = state
        #expect(throws: SyncCoreError.self) { try state.write(["bad name": .int(1)], by: a) }
        #expect(throws: SyncCoreError.self) { try state.write(["x": .double(.nan)], by: a) }
        #expect(state == before)
    }

    @Test func registerEntriesStaySortedWhateverTheJoinOrder() throws {
        let base = try RecordState.report(by: Replicas.c)
        let merged = try base.writing(["x": .int(2)], by: b).joined(with: try base.writing(["x": .int(1)], by: a))
        #expect(merged.fields["x"]?.dots == [Dot(replica: a, counter: 1), Dot(replica: b, counter: 1)])
    }
}
