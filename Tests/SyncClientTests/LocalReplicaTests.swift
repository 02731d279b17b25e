import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncClient

/// The local database alone: library writes, plain-SQL capture, guards on conflicted columns.
struct LocalReplicaTests {
    /// Another program's connection to the same file.
    func otherProgram(_ fixture: Fixture, _ name: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(path: fixture.path(name), configuration: configuration)
    }

    func enrolOffline(_ replica: LocalReplica) async throws {
        let session = try JSONDecoder().decode(
            SessionInfo.self,
            from: Data(
                #"{"epoch":"0123456789abcdef0123456789abcdef","principal":{"kind":"device","name":"PC","school":"qx-zhuoran"},"readScopes":[],"writeScopes":[],"limits":{"maxBatchRecords":500,"maxBodyBytes":1,"maxPullLimit":1000}}"#
                    .utf8
            )
        )
        try await replica.enrol(serverURL: "http://127.0.0.1:9", token: "ss_x", session: session)
    }

    @Test func libraryWritesAreVersionedAndShownInOrdinaryTables() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            try await replica.write(report(), ["status": .string("in_progress"), "narrative": .string("初稿"), "school_id": .string("qx-zhuoran")])
            let row = try await otherProgram(fixture, "a.sqlite").read { db in
                try Row.fetchOne(db, sql: "SELECT status, narrative FROM reports WHERE id = ?", arguments: [report().id])
            }
            #expect(row?["status"] == "in_progress")
            #expect(row?["narrative"] == "初稿")
            let record = try #require(try await replica.record(report()))
            #expect(record.hasLocalChanges)
            #expect(record.scope == (try Scope.school("qx-zhuoran")))
            #expect(record.state.context[try #require(try await replica.settings()).replica] == 1)
        }
    }

    @Test func plainSQLInsertsUpdatesAndDeletesBecomeVersionedWrites() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            let sql = try otherProgram(fixture, "a.sqlite")
            try await sql.write { db in
                try db.execute(sql: "INSERT INTO reports (id, school_id, status) VALUES ('r1', 'qx-zhuoran', 'not_started')")
                try db.execute(sql: "INSERT INTO reports (id, school_id, status) VALUES ('r2', 'qx-zhuoran', 'done')")
                try db.execute(sql: "INSERT INTO reports (id, school_id, status) VALUES ('r3', 'qx-zhuoran', 'done')")
                try db.execute(sql: "DELETE FROM reports WHERE id = 'r3'")  // made and unmade before anyone looked: nothing to sync
            }
            _ = try await replica.status()  // the library looks: the inserts become writes
            try await sql.write { db in
                try db.execute(sql: "UPDATE reports SET status = 'at_risk', narrative = '资金未到位' WHERE id = 'r1'")
                try db.execute(sql: "DELETE FROM reports WHERE id = 'r2'")
            }
            let r1 = try #require(try await replica.record(report("r1")))
            #expect(r1.state.currentValues?["status"] == .string("at_risk"))
            #expect(r1.state.currentValues?["narrative"] == .string("资金未到位"))
            #expect(r1.hasLocalChanges)
            // A valid id gets a tombstone even if this database believes it unsent: a push whose
            // answer was lost, or a restored copy, may have put it on the server.
            let r2 = try #require(try await replica.record(report("r2")))
            #expect(r2.state.isDeleted)
            #expect(r2.hasLocalChanges)
            #expect(try await replica.record(report("r3")) == nil)
            let captured = try await replica.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_captured") }
            #expect(captured == 0)
        }
    }

    @Test func anUnchangedUpdateIsNotAnEdit() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            try await replica.write(report(), ["status": .string("done"), "school_id": .string("qx-zhuoran")])
            let before = try #require(try await replica.record(report())).state
            try await otherProgram(fixture, "a.sqlite").write { db in try db.execute(sql: "UPDATE reports SET status = status") }
            #expect(try await replica.record(report())?.state == before)
        }
    }

    @Test func conflictedColumnsRefusePlainSQLEditsButOtherColumnsDoNot() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            let base = try RecordState().writingForTest(
                ["status": .string("in_progress"), "school_id": .string("qx-zhuoran")],
                by: ReplicaID(high: 1, low: 1)
            )
            let one = try base.writingForTest(["status": .string("done")], by: ReplicaID(high: 2, low: 2))
            let two = try base.writingForTest(["status": .string("at_risk")], by: ReplicaID(high: 3, low: 3))
            let scope = try Scope.school("qx-zhuoran")
            let epoch = try Epoch(parsing: "0123456789abcdef0123456789abcdef")
            func page(_ state: RecordState, seq: UInt64) -> PullResponse {
                PullResponse(
                    epoch: epoch,
                    records: [SyncRecord(key: report(), scope: scope, state: state)],
                    next: Cursor(epoch: epoch, seq: seq),
                    more: false
                )
            }
            _ = try await replica.apply(page(one, seq: 1))
            _ = try await replica.apply(page(two, seq: 2))
            let sql = try otherProgram(fixture, "a.sqlite")
            let shown = try await sql.read { db in try String.fetchOne(db, sql: "SELECT status FROM reports WHERE id = ?", arguments: [report().id]) }
            #expect(shown == nil, "a conflicted column must not show one value as settled")
            await #expect(throws: DatabaseError.self) {
                try await sql.write { db in try db.execute(sql: "UPDATE reports SET status = 'done' WHERE id = ?", arguments: [report().id]) }
            }
            await #expect(throws: DatabaseError.self) {
                try await sql.write { db in try db.execute(sql: "DELETE FROM reports WHERE id = ?", arguments: [report().id]) }
            }
            try await sql.write { db in try db.execute(sql: "UPDATE reports SET narrative = '仍可编辑' WHERE id = ?", arguments: [report().id]) }
            let record = try #require(try await replica.record(report()))
            #expect(record.state.value(of: "narrative") == .string("仍可编辑"))
            #expect(record.state.conflictingFields == ["status"])
            await #expect(throws: SyncClientError.self) { try await replica.write(report(), ["status": .string("done")]) }

            // An administrator's resolution arrives: the column shows it and takes plain edits again.
            var resolved = try one.joined(with: two)
            _ = try resolved.resolve(.write(["status": .string("done")]), by: ReplicaID(high: 4, low: 4))
            _ = try await replica.apply(page(resolved, seq: 3))
            #expect(try await replica.conflicts().isEmpty)
            let settled = try await sql.read { db in try String.fetchOne(db, sql: "SELECT status FROM reports WHERE id = ?", arguments: [report().id])
            }
            #expect(settled == "done")
            try await sql.write { db in try db.execute(sql: "UPDATE reports SET status = 'at_risk' WHERE id = ?", arguments: [report().id]) }
            #expect(try await replica.record(report())?.state.value(of: "status") == .string("at_risk"))
        }
    }

    @Test func pulledChangesAreNotCapturedAsLocalEdits() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            let epoch = try Epoch(parsing: "0123456789abcdef0123456789abcdef")
            let state = try RecordState().writingForTest(["title": .string("新建2所公办幼儿园")], by: ReplicaID(high: 9, low: 9))
            _ = try await replica.apply(
                PullResponse(
                    epoch: epoch,
                    records: [SyncRecord(key: Catalog.measure, scope: .catalog, state: state)],
                    next: Cursor(epoch: epoch, seq: 1),
                    more: false
                )
            )
            let record = try #require(try await replica.record(Catalog.measure))
            #expect(!record.hasLocalChanges)
            #expect(record.state == state)
            #expect(try await replica.status().pending == 0)
        }
    }

    @Test func discardWritesBackWhatTheServerHadAsANewWrite() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            let epoch = try Epoch(parsing: "0123456789abcdef0123456789abcdef")
            let server = try RecordState().writingForTest(
                ["status": .string("in_progress"), "school_id": .string("qx-zhuoran")],
                by: ReplicaID(high: 9, low: 9)
            )
            _ = try await replica.apply(
                PullResponse(
                    epoch: epoch,
                    records: [SyncRecord(key: report(), scope: try .school("qx-zhuoran"), state: server)],
                    next: Cursor(epoch: epoch, seq: 1),
                    more: false
                )
            )
            try await replica.write(report(), ["status": .string("done"), "narrative": .string("误填")])
            try await replica.discard(report())
            let record = try #require(try await replica.record(report()))
            #expect(record.state.value(of: "status") == .string("in_progress"))
            #expect(record.state.value(of: "narrative") == .null)
            let me = try #require(try await replica.settings()).replica
            #expect(record.state.context[me] == 2, "the discard is a second write, not a rollback")
            #expect(record.hasLocalChanges)
        }
    }

    /// Enrolling again under another principal after the server's epoch changed offers the records
    /// the new principal may write: the reset sees the new school, not the old one.
    @Test func reEnrollingAfterAnEpochChangeOffersTheNewPrincipalsRecords() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            func session(_ epoch: String, kind: String, school: String?) throws -> SessionInfo {
                let school = school.map { #","school":"\#($0)""# } ?? ""
                return try JSONDecoder().decode(
                    SessionInfo.self,
                    from: Data(
                        #"{"epoch":"\#(epoch)","principal":{"kind":"\#(kind)","name":"PC"\#(school)},"readScopes":[],"writeScopes":[],"limits":{"maxBatchRecords":500,"maxBodyBytes":1,"maxPullLimit":1000}}"#
                            .utf8
                    )
                )
            }
            let first = "0123456789abcdef0123456789abcdef"
            try await replica.enrol(serverURL: "http://127.0.0.1:9", token: "ss_bureau", session: try session(first, kind: "bureau", school: nil))
            let measure = RecordKey(collection: "measures", id: "qixing-2024/m1")
            try await replica.write(measure, ["title": .string("措施一")], scope: .catalog)
            try await replica.write(report(), ["status": .string("in_progress"), "school_id": .string("qx-zhuoran")])
            let pending = try #require(try await replica.preparePush(maxRecords: 10))
            let answer = PushResponse(
                batch: pending.request.batch,
                receipt: PushReceipt(epoch: try Epoch(parsing: first), sequence: 1),
                results: pending.request.records.map { PushResult(key: $0.key, status: .applied) }
            )
            _ = try await replica.acknowledge(pending, with: answer)
            #expect(try await replica.status().pending == 0)
            let restored = "fedcba9876543210fedcba9876543210"
            try await replica.enrol(serverURL: "http://127.0.0.1:9", token: "ss_device", session: try session(restored, kind: "device", school: "qx-zhuoran"))
            let offered = try #require(try await replica.preparePush(maxRecords: 10))
            #expect(offered.request.records.map(\.key) == [report()], "the school's record, not the catalog a device may only read")
        }
    }

    @Test func aPushAnsweredAfterAnotherEditLeavesTheRecordDirty() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            try await replica.write(report(), ["status": .string("in_progress"), "school_id": .string("qx-zhuoran")])
            let pending = try #require(try await replica.preparePush(maxRecords: 10))
            try await replica.write(report(), ["narrative": .string("推送途中又改了")])
            let epoch = try Epoch(parsing: "0123456789abcdef0123456789abcdef")
            let response = PushResponse(
                batch: pending.request.batch,
                receipt: PushReceipt(epoch: epoch, sequence: 1),
                results: [PushResult(key: report(), status: .applied)]
            )
            _ = try await replica.acknowledge(pending, with: response)
            let record = try #require(try await replica.record(report()))
            #expect(record.hasLocalChanges, "the edit made during the push must still be sent")
            #expect(try await replica.preparePush(maxRecords: 10)?.request.records.first?.state == record.state)
        }
    }

    @Test func theUnansweredPushIsOfferedAgainWithTheSameBatchID() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            try await replica.write(report(), ["status": .string("in_progress"), "school_id": .string("qx-zhuoran")])
            let first = try #require(try await replica.preparePush(maxRecords: 10))
            // The process dies here; a new one opens the same file.
            let reopened = try fixture.replica("a.sqlite")
            let again = try #require(try await reopened.preparePush(maxRecords: 10))
            #expect(again.request == first.request)
            #expect(try await reopened.status().unansweredPush != nil)
        }
    }

    /// Version 0.1 saved the unanswered push as one object; after an upgrade it is still retried
    /// with its batch id, and acknowledging it clears the record's dirty mark.
    @Test func anUnansweredPushSavedByTheFirstVersionIsStillRetried() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await enrolOffline(replica)
            try await replica.write(report(), ["status": .string("in_progress"), "school_id": .string("qx-zhuoran")])
            let built = try #require(try await replica.preparePush(maxRecords: 10))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let request = String(decoding: try encoder.encode(built.request), as: UTF8.self)
            let legacy = #"{"editSeqs":{"reports/\#(report().id)":\#(built.editSeqs[0])},"request":\#(request)}"#
            try await otherProgram(fixture, "a.sqlite").write { db in
                try db.execute(sql: "UPDATE sync_state SET pending_push = ?, pending_push_edit_seqs = NULL", arguments: [legacy])
            }
            let again = try #require(try await replica.preparePush(maxRecords: 10))
            #expect(again.request == built.request)
            #expect(again.editSeqs == built.editSeqs)
            let answer = PushResponse(
                batch: again.request.batch,
                receipt: PushReceipt(epoch: try Epoch(parsing: "0123456789abcdef0123456789abcdef"), sequence: 1),
                results: [PushResult(key: report(), status: .applied)]
            )
            _ = try await replica.acknowledge(again, with: answer)
            #expect(try await replica.pendingCount() == 0)
            #expect(try await replica.hasPendingPush() == false)
        }
    }
}

extension RecordState {
    func writingForTest(_ values: [String: Value], by replica: ReplicaID) throws -> RecordState {
        var copy = self
        try copy.write(values, by: replica)
        return copy
    }
}
