import AsyncHTTPClient
import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

@testable import SyncClient

/// Another program writes the sync tables themselves (issue 12, from a hostile run): nothing it
/// writes there may crash a command, make a sync run for ever, or leave a record without a way out.
struct TamperedDatabaseTests: DeviceScenarios {
    @Test func bytesWhereTextBelongsNeverCrashStatus() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("一"), "school_id": .string(Fixture.schoolA)])
            try await a.replica.write(report("qx-zhuoran/2025-S1/two"), ["narrative": .string("二"), "school_id": .string(Fixture.schoolA)])
            try await sql(path, "UPDATE sync_records SET rejected_code = 'x', rejected_message = x'ff' WHERE id = ?", [report().id])
            try await sql(path, "UPDATE sync_records SET rejected_code = x'fe', id = x'ff' WHERE id = ?", ["qx-zhuoran/2025-S1/two"])
            let status = try await a.replica.status()
            #expect(status.rejected.count == 2)
        }
    }

    /// An id stored as a BLOB in `sync_records` could never be acknowledged (the answer is matched
    /// by text): the record is held back as damaged and the sync ends.
    @Test func aSyncRowWhoseIdIsABlobIsHeldBackAndTheSyncEnds() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("三"), "school_id": .string(Fixture.schoolA)])
            try await a.replica.write(report("qx-zhuoran/2025-S1/fine"), ["narrative": .string("好"), "school_id": .string(Fixture.schoolA)])
            try await sql(path, "UPDATE sync_records SET id = CAST(id AS BLOB) WHERE id = ?", [report().id])
            let result = try await a.sync()
            #expect(result.pushed.applied == 1)
            #expect(try await a.replica.status().rejected.map(\.code) == [.damaged])
            #expect(try await a.sync().pushed.sent == 0)
        }
    }

    /// A report that names another school is refused by the server; deleting its row forgets it
    /// (no server would take its tombstone either), and fixing `school_id` of a record the server
    /// never accepted moves it to the right scope.
    @Test func aRecordTheServerNeverAcceptedHasAWayOut() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await sql(path, "INSERT INTO reports (id, school_id, narrative) VALUES ('qx-huoju/2025-S1/m1', 'qx-huoju', '别校')")
            try await sql(path, "INSERT INTO reports (id, school_id, narrative) VALUES ('qx-zhuoran/2025-S2/m2', 'qx-huoju', '填错了学校')")
            #expect(try await a.sync().pushed.rejected == 2)
            #expect(try await a.replica.status().rejected.map(\.code) == [.scopeDenied, .scopeDenied])
            try await sql(path, "DELETE FROM reports WHERE id = 'qx-huoju/2025-S1/m1'")
            try await sql(path, "UPDATE reports SET school_id = 'qx-zhuoran', narrative = '已修正' WHERE id = 'qx-zhuoran/2025-S2/m2'")
            let fixed = try await a.sync()
            #expect(fixed.pushed.applied == 1)
            let status = try await a.replica.status()
            #expect(status.rejected.isEmpty)
            #expect(status.pending == 0)
            #expect(try await a.replica.record(report("qx-huoju/2025-S1/m1")) == nil)
        }
    }

    /// The control row that tells the triggers whether the engine is writing: deleted, or left
    /// set, capture still happens.
    @Test(arguments: ["DELETE FROM sync_control", "UPDATE sync_control SET applying = 1"])
    func plainSQLEditsAreCapturedWhateverTheControlRowSays(_ tamper: String) async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("前"), "school_id": .string(Fixture.schoolA)])
            _ = try await a.sync()
            try await sql(path, tamper)
            try await sql(path, "UPDATE reports SET narrative = '后' WHERE id = ?", [report().id])
            _ = try await a.sync()
            let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
            _ = try await b.sync()
            if tamper.hasPrefix("DELETE") {
                #expect(try await b.replica.record(report())?.state.value(of: "narrative") == .string("后"))
            } else {
                // Left set by another program while it edited: that one edit was not seen, but the
                // flag is cleared at once, so the next edit is.
                try await sql(path, "UPDATE reports SET narrative = '再后' WHERE id = ?", [report().id])
                _ = try await a.sync()
                _ = try await b.sync()
                #expect(try await b.replica.record(report())?.state.value(of: "narrative") == .string("再后"))
            }
        }
    }

    /// Damaged protocol state — any column of `sync_state` holding text it never writes, a BLOB or a
    /// number: every command still works, and the sync recovers (from the beginning, or by re-minting).
    @Test(arguments: [
        ("cursor", "'garbage'"), ("receipt", "'garbage'"), ("epoch", "'garbage'"), ("replica", "'garbage'"),
        ("replica", "X'00ff'"), ("cursor", "12"), ("epoch", "X'41'"), ("receipt", "-1"),
        ("pending_push", "X'7b'"), ("pending_push_edit_seqs", "'[1,2'"), ("remint_requested", "'yes'"),
        ("max_batch_records", "'many'"), ("max_pull_limit", "0"), ("max_body_bytes", "X'00'"),
        ("reachable", "'maybe'"), ("last_error", "X'ff'"),
    ])
    func aDamagedSyncSettingIsForgottenNotFatal(_ column: String, _ garbage: String) async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("在"), "school_id": .string(Fixture.schoolA)])
            _ = try await a.sync()
            try await sql(path, "UPDATE sync_state SET \(column) = \(garbage)")
            try await a.replica.write(report(), ["narrative": .string("还在")])
            _ = try await a.replica.status()
            _ = try await a.sync()
            #expect(try await a.replica.status().pending == 0)
            let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
            _ = try await b.sync()
            #expect(try await b.replica.record(report())?.state.value(of: "narrative") == .string("还在"))
        }
    }
}
