import AsyncHTTPClient
import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

@testable import SyncClient

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12: a write accepted on a school's PC never vanishes, and no school is stuck behind one record.
struct NoLostWriteTests: DeviceScenarios {
    func narrative(_ device: Device, _ key: RecordKey = report()) async throws -> Value? {
        try await device.replica.record(key)?.state.value(of: "narrative")
    }

    /// Every narrative the record holds: one when settled, all kept values when in conflict.
    func keptNarratives(_ device: Device) async throws -> Set<String> {
        let register = try await device.replica.record(report())?.state.fields["narrative"]
        return Set(register?.entries.compactMap { if case .string(let text) = $0.value { text } else { nil } } ?? [])
    }

    /// Copies a closed-over database file aside, as a person copying `school.sqlite` to a USB stick would.
    func copy(_ from: String, to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    func checkpoint(_ path: String) async throws {
        let queue = try otherProgram(path)
        try await queue.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try queue.close()
    }

    /// Puts an old copy back over a database no one has open.
    func restore(_ copy: String, over path: String) throws {
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        try self.copy(copy, to: path)
    }

    enum Operation: String, CaseIterable, Sendable { case sync, pull }

    /// The reproduction, step for step: the restored copy forgets a push, another program
    /// edits the narrative, and the re-mint that follows must carry that edit (DESIGN §4 invariant 3).
    @Test(arguments: Operation.allCases)
    func aPlainSQLEditOnARestoredReplicaSurvivesTheReMint(_ operation: Operation) async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            var a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("A"), "school_id": .string(Fixture.schoolA)])
            _ = try await a.sync()
            try await a.replica.write(report(), ["narrative": .string("B")])  // (2) not synced
            try await checkpoint(path)
            try copy(path, to: fixture.path("old.sqlite"))  // (3)
            try await a.replica.write(report(), ["status": .string("done")])  // (4)
            _ = try await a.sync()
            let forgotten = try #require(try await a.replica.settings()).replica
            try a.replica.pool.close()
            try restore(fixture.path("old.sqlite"), over: path)  // (5)
            try await sql(path, "UPDATE reports SET narrative = 'C' WHERE id = ?", [report().id])  // (6)
            a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            switch operation {  // (7)
            case .sync: _ = try await a.sync()
            case .pull: _ = try await a.engine.pull()
            }
            #expect(try await a.replica.settings()?.replica != forgotten, "the restored copy re-minted")
            // B (restored with the copy) and the forgotten push's B are one dot the re-minted
            // replica can no longer vouch for, so C and B are kept side by side for an
            // administrator: C is one of the kept values, never silently gone.
            #expect(try await keptNarratives(a) == ["B", "C"], "C is kept on the device")
            _ = try await a.sync()
            let status = try await a.replica.status()
            #expect(status.pending == 0)
            #expect(status.rejected.isEmpty)
            #expect(status.conflicts.map(\.id) == [report().id])
            let other = try await Device.enrol(try fixture.replica("a2.sqlite"), url: url, token: fixture.deviceA2, http: http)
            _ = try await other.sync()
            #expect(try await keptNarratives(other) == ["B", "C"], "C reached the server and the school's other device")
            #expect(try await other.replica.record(report())?.state.value(of: "status") == .string("done"))
        }
    }

    /// Every path that rewrites the domain tables from sync state meets a plain-SQL edit made just
    /// before it, and the edit survives: applying a pull (same record, same field), an epoch
    /// reset, and a discard of another record.
    @Test func everyPathThatRewritesTablesKeepsAPlainSQLEditMadeJustBefore() async throws {
        try await Fixture.with { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let path = fixture.path("a.sqlite")
                    let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
                    let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    let other = report("qx-zhuoran/2025-S1/other")
                    try await a.replica.write(report(), ["narrative": .string("起"), "school_id": .string(Fixture.schoolA)])
                    try await a.replica.write(other, ["narrative": .string("另一条"), "school_id": .string(Fixture.schoolA)])
                    _ = try await a.sync()
                    _ = try await b.sync()

                    // A pull that changes another field of the same record.
                    try await b.replica.write(report(), ["status": .string("at_risk")])
                    _ = try await b.sync()
                    try await sql(path, "UPDATE reports SET narrative = '拉取前' WHERE id = ?", [report().id])
                    _ = try await a.engine.pull()
                    #expect(try await narrative(a) == .string("拉取前"))
                    #expect(try await a.replica.record(report())?.state.value(of: "status") == .string("at_risk"))

                    // A pull that changes the same field: both values are kept side by side.
                    try await b.replica.write(report(), ["narrative": .string("乙")])
                    _ = try await b.sync()
                    try await sql(path, "UPDATE reports SET narrative = '甲' WHERE id = ?", [report().id])
                    _ = try await a.sync()
                    let conflict = try #require(try await a.replica.record(report())?.state.conflict)
                    #expect(Set(conflict.fields["narrative"]?.map(\.value) ?? []) == [.string("甲"), .string("乙")])

                    // A discard of another record.
                    try await a.replica.write(other, ["narrative": .string("不要了")])
                    try await sql(path, "UPDATE reports SET status = 'done' WHERE id = ?", [report().id])
                    try await a.replica.discard(other)
                    #expect(try await a.replica.record(report())?.state.value(of: "status") == .string("done"))
                    #expect(try await narrative(a, other) == .string("另一条"))
                }
            }
            // The server's store is restored (a new epoch), and a plain-SQL edit waits for the reset.
            let server = try DatabaseQueue(path: fixture.databasePath)
            try await server.write { db in
                try db.execute(sql: "UPDATE store_meta SET value = 'ffffffffffffffffffffffffffffffff' WHERE key = 'epoch'")
            }
            try server.close()
            let path = fixture.path("a.sqlite")
            try await sql(path, "UPDATE reports SET narrative = '恢复前' WHERE id = ?", [report("qx-zhuoran/2025-S1/other").id])
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
                    _ = try await a.sync()
                    #expect(try await a.replica.settings()?.epoch?.description == "ffffffffffffffffffffffffffffffff")
                    let c = try await Device.enrol(try fixture.replica("c.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    _ = try await c.sync()
                    #expect(try await narrative(c, report("qx-zhuoran/2025-S1/other")) == .string("恢复前"))
                }
            }
        }
    }

    /// A delete of a record this restored copy never saw acknowledged is still a delete: the
    /// server has the record (the forgotten push), so the delete must reach it, never be dropped.
    @Test func aPlainSQLDeleteOnARestoredCopyReachesTheServer() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            var a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("新建"), "school_id": .string(Fixture.schoolA)])
            try await checkpoint(path)
            try copy(path, to: fixture.path("old.sqlite"))
            _ = try await a.sync()  // the server now has the record; the copy does not know
            try a.replica.pool.close()
            try restore(fixture.path("old.sqlite"), over: path)
            try await sql(path, "DELETE FROM reports WHERE id = ?", [report().id])
            a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            _ = try await a.sync()
            _ = try await a.sync()
            // The re-minted replica cannot vouch for the forgotten dot, so its delete meets
            // the server's copy as an edit-vs-delete conflict: kept side by side, not dropped.
            let other = try await Device.enrol(try fixture.replica("a2.sqlite"), url: url, token: fixture.deviceA2, http: http)
            _ = try await other.sync()
            for device in [a, other] {
                let state = try #require(try await device.replica.record(report())?.state)
                #expect(state.isDeleteConflict, "the delete reached the server and is kept beside the edit")
            }
        }
    }

    /// Ids another program cannot give a record: a BLOB or a NUL is refused at the table; an id
    /// that is not valid UTF-8 is held back (never looked up under a repaired spelling), and
    /// deleting the row forgets it. Text values with such bytes are held back too.
    @Test func idsAndTextsThatAreNotUTF8AreRefusedOrHeldBack() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            for statement in [
                "INSERT INTO reports (id, school_id) VALUES (x'71782d7a68756f72616e2f31', 'qx-zhuoran')",  // a BLOB id
                "INSERT INTO reports (id, school_id) VALUES ('qx-zhuoran/a' || char(0) || 'b', 'qx-zhuoran')",  // a NUL
            ] {
                await #expect(throws: DatabaseError.self) { try await sql(path, statement) }
            }
            try await sql(path, "INSERT INTO reports (id, school_id) VALUES (CAST(x'71782d7a68756f72616e2fff' AS TEXT), 'qx-zhuoran')")
            try await sql(path, "INSERT INTO reports (id, school_id, narrative) VALUES ('qx-zhuoran/2025-S1/bytes', 'qx-zhuoran', CAST(x'e4b8ad' || x'ff' AS TEXT))")
            try await a.replica.write(report(), ["narrative": .string("正常"), "school_id": .string(Fixture.schoolA)])
            #expect(try await a.sync().pushed.applied == 1)
            let held = try await a.replica.status().rejected
            #expect(held.count == 2)
            #expect(held.allSatisfy { $0.code == .invalidRow })
            #expect(held.contains { $0.message.contains("the id is not valid UTF-8") })
            #expect(held.contains { $0.message.contains("narrative holds") })
            try await sql(path, "DELETE FROM reports WHERE CAST(id AS BLOB) = x'71782d7a68756f72616e2fff'")
            try await sql(path, "UPDATE reports SET narrative = '中' WHERE id = 'qx-zhuoran/2025-S1/bytes'")
            #expect(try await a.replica.status().rejected.isEmpty)
            #expect(try await a.sync().pushed.applied == 1)
            #expect(try await a.replica.status().pending == 0)
        }
    }

    /// Only a refusal that names a record's content splits a batch: a 400 about the body in transit
    /// (`invalid_body`) leaves every record as it was, to be sent again.
    @Test func aRefusalOfTheBodyInTransitHoldsNothingBack() async throws {
        try await scenario { fixture, url, http in
            let a = try await Device.enrol(
                try fixture.replica("a.sqlite"),
                url: url,
                token: fixture.deviceA,
                http: http,
                wrap: { RefusingTransport($0, refusing: report(), code: .invalidBody) }
            )
            try await a.replica.write(report(), ["narrative": .string("一"), "school_id": .string(Fixture.schoolA)])
            await #expect(throws: SyncClientError.self) { try await a.sync() }
            let status = try await a.replica.status()
            #expect(status.rejected.isEmpty)
            #expect(status.pending == 1)
        }
    }

    /// The reproduction: another program inserts a row whose id ends in a newline; the
    /// school's normal edit still goes through, the bad row is held back with its reason, `status`
    /// and `record` still answer, and deleting the row is the way out.
    @Test func aRowWithAnInvalidIdIsHeldBackAloneAndDeletingItIsTheWayOut() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
            try await sql(path, "INSERT INTO reports (id, school_id, status) VALUES (?, 'qx-zhuoran', 'done')", ["qx-zhuoran/2025-S1/bad\n"])
            try await a.replica.write(report(), ["narrative": .string("正常"), "school_id": .string(Fixture.schoolA)])
            try await b.replica.write(report("qx-zhuoran/2025-S1/from-b"), ["narrative": .string("乙机"), "school_id": .string(Fixture.schoolA)])
            _ = try await b.sync()
            let result = try await a.sync()
            #expect(result.pushed.applied == 1)
            #expect(try await narrative(a, report("qx-zhuoran/2025-S1/from-b")) == .string("乙机"), "other devices' edits still arrive")
            let status = try await a.replica.status()
            #expect(status.rejected.map(\.code) == [.invalidRow])
            #expect(status.rejected.first?.id == "qx-zhuoran/2025-S1/bad\n")
            #expect(status.rejected.first?.message.contains("control characters") == true)
            #expect(status.pending == 1)
            #expect(status.unansweredPush == nil)
            #expect(try await a.sync().pushed.sent == 0, "held back, not re-sent")
            try await sql(path, "DELETE FROM reports WHERE id = ?", ["qx-zhuoran/2025-S1/bad\n"])
            let clean = try await a.replica.status()
            #expect(clean.rejected.isEmpty)
            #expect(clean.pending == 0)
            _ = try await a.sync()
            _ = try await b.sync()
            #expect(try await narrative(b) == .string("正常"))
        }
    }

    /// Fixing the row is a way out too, and a value no replica can carry (infinity, bytes) is held
    /// back the same way instead of turning into null.
    @Test func badValuesAreHeldBackWithTheirReasonUntilTheRowIsFixed() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            let huge = String(repeating: "长", count: SyncLimits.maxStringBytes / 3 + 1)
            try await sql(path, "INSERT INTO reports (id, school_id, narrative) VALUES ('qx-zhuoran/2025-S1/long', 'qx-zhuoran', ?)", [huge])
            try await sql(path, "INSERT INTO reports (id, school_id, narrative) VALUES ('qx-zhuoran/2025-S1/blob', 'qx-zhuoran', x'00ff')")
            try await sql(path, "INSERT INTO reports (id, school_id, status) VALUES ('qx-zhuoran/2025-S1/ok', 'qx-zhuoran', 'done')")
            #expect(try await a.sync().pushed.applied == 1)
            let status = try await a.replica.status()
            #expect(status.rejected.map(\.id) == ["qx-zhuoran/2025-S1/blob", "qx-zhuoran/2025-S1/long"])
            #expect(status.rejected.allSatisfy { $0.code == .invalidRow })
            #expect(status.rejected.first?.message.contains("binary data") == true)
            #expect(status.rejected.last?.message.contains("exceeds the limit") == true)
            try await sql(path, "UPDATE reports SET narrative = '改短了' WHERE id IN ('qx-zhuoran/2025-S1/long', 'qx-zhuoran/2025-S1/blob')")
            #expect(try await a.replica.status().rejected.isEmpty)
            #expect(try await a.sync().pushed.applied == 2)
            #expect(try await a.replica.status().pending == 0)
        }
    }

    /// A stored push an older version saved with a record today's rules refuse, or damaged text, is
    /// rebuilt from the dirty marks instead of wedging the replica.
    @Test func aStoredPushThatCanNoLongerBeReadIsRebuilt() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("待发"), "school_id": .string(Fixture.schoolA)])
            try await sql(path, "UPDATE sync_state SET pending_push = '{\"batch\":\"x\"', pending_push_edit_seqs = '[1]'")
            #expect(try await a.replica.status().unansweredPush == nil)
            #expect(try await a.sync().pushed.applied == 1)
            #expect(try await a.replica.status().pending == 0)
        }
    }

    /// A server that refuses a whole batch (400) because of one record it will never take: halving
    /// finds the record, which is held back with the server's reason, and the rest is applied.
    @Test func aBatchTheServerRefusesWholeIsSplitUntilTheOneBadRecordIsFound() async throws {
        try await scenario { fixture, url, http in
            let poisoned = report("qx-zhuoran/2025-S1/m13")
            let a = try await Device.enrol(
                try fixture.replica("a.sqlite"),
                url: url,
                token: fixture.deviceA,
                http: http,
                wrap: { RefusingTransport($0, refusing: poisoned) },
                batchSize: 50
            )
            for index in 0..<40 {
                try await a.replica.write(report("qx-zhuoran/2025-S1/m\(index)"), ["narrative": .string("第\(index)条"), "school_id": .string(Fixture.schoolA)])
            }
            let result = try await a.sync()
            #expect(result.pushed.applied == 39)
            let status = try await a.replica.status()
            #expect(status.rejected.map(\.id) == [poisoned.id])
            #expect(status.rejected.map(\.code) == [.refusedWhole])
            #expect(status.pending == 1)
            #expect(status.unansweredPush == nil)
        }
    }

    /// A damaged sync row (another program wrote over `sync_records.state`) blocks neither reading
    /// nor the other records, and `discard` replaces it with the server's copy.
    @Test func aDamagedSyncRowIsHeldBackAndDiscardBringsBackTheServersCopy() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report(), ["narrative": .string("服务器有"), "school_id": .string(Fixture.schoolA)])
            _ = try await a.sync()
            try await sql(path, "UPDATE sync_records SET state = 'garbage', dirty = 1 WHERE id = ?", [report().id])
            try await a.replica.write(report("qx-zhuoran/2025-S1/fine"), ["narrative": .string("照常"), "school_id": .string(Fixture.schoolA)])
            #expect(try await a.sync().pushed.applied == 1)
            let shown = try #require(try await a.replica.record(report()))
            #expect(shown.rejection?.code == .damaged)
            #expect(try await a.replica.status().rejected.map(\.code) == [.damaged])
            try await a.replica.discard(report())
            _ = try await a.sync()
            #expect(try await narrative(a) == .string("服务器有"))
            #expect(try await a.replica.status().rejected.isEmpty)
        }
    }

    /// PROTOCOL.md §2.2: values compare by their exact UTF-8 bytes. A rewrite from NFC to NFD is an
    /// edit, so every replica ends with the same bytes.
    @Test func aRewriteThatOnlyChangesNormalisationIsAnEdit() async throws {
        let nfc = "caf\u{E9} r\u{E9}sum\u{E9}"
        let nfd = "cafe\u{301} re\u{301}sume\u{301}"
        #expect(nfc == nfd, "Swift's String == normalises; that is why Value does not use it")
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
            try await a.replica.write(report(), ["narrative": .string(nfc), "school_id": .string(Fixture.schoolA)])
            _ = try await a.sync()
            _ = try await b.sync()
            try await sql(path, "UPDATE reports SET narrative = ? WHERE id = ?", [nfd, report().id])
            #expect(try await a.replica.status().pending == 1)
            #expect(try await a.sync().pushed.applied == 1)
            _ = try await b.sync()
            let bytes = try await b.replica.read { db in
                try Data.fetchOne(db, sql: "SELECT CAST(narrative AS BLOB) FROM reports WHERE id = ?", arguments: [report().id])
            }
            #expect(bytes == Data(nfd.utf8))
        }
    }

    /// PROTOCOL.md §6.1: one sync at a time per database file. A second sync while one runs exits
    /// with `busy` at once (or after `lockWait`); the lock goes with the holder.
    @Test func aSecondSyncOfTheSameFileIsRefusedWhileOneRuns() async throws {
        try await scenario { fixture, url, http in
            let path = fixture.path("a.sqlite")
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            let holder = try await SyncLock.acquire(for: path, wait: .zero, sleep: { _ in })
            await #expect {
                try await a.sync()
            } throws: { error in
                (error as? SyncClientError)?.code == .busy && "\(error)".contains("process \(getpid())")
            }
            var waiting = a.engine
            waiting.lockWait = .seconds(5)
            // The injected sleep releases the lock on the first wait: the waiting sync then goes on.
            waiting.sleep = { _ in holder.release() }
            _ = try await waiting.sync()
            _ = try await a.sync()
        }
    }

    /// A full disk while applying a pull: a clear `storage` error, nothing applied by halves, and
    /// the next sync after space is freed finishes.
    @Test func aFullDiskWhileApplyingAPullSaysWhatToDoAndLosesNothing() async throws {
        try await scenario { fixture, url, http in
            let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
            for index in 0..<300 {
                try await b.replica.write(
                    report("qx-zhuoran/2025-S1/m\(index)"),
                    ["narrative": .string(String(repeating: "进展顺利", count: 50)), "school_id": .string(Fixture.schoolA)]
                )
            }
            _ = try await b.sync()
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            try await a.replica.write(report("qx-zhuoran/2025-S1/mine"), ["narrative": .string("本机"), "school_id": .string(Fixture.schoolA)])
            // SQLite answers SQLITE_FULL when the file would grow past max_page_count: a full disk.
            try await a.replica.pool.writeWithoutTransaction { db in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                try db.execute(sql: "PRAGMA max_page_count = \(pages + 2)")
            }
            await #expect {
                try await a.engine.pull()
            } throws: { error in
                let error = error as? SyncClientError
                return error?.code == .storage && error?.message.contains("full") == true && error?.message.contains("free some space") == true
            }
            try await a.replica.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
            _ = try await a.sync()
            let count = try await a.replica.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reports") }
            #expect(count == 301)
            #expect(try await a.replica.status().pending == 0)
        }
    }
}

/// A transport standing for a server stricter than this client: it refuses any push carrying one
/// given record with 400, the way a server refuses a batch it cannot decode.
struct RefusingTransport: SyncTransport {
    let inner: any SyncTransport
    let refused: RecordKey
    let code: ErrorCode

    init(_ inner: any SyncTransport, refusing key: RecordKey, code: ErrorCode = .invalidJSON) {
        self.inner = inner
        refused = key
        self.code = code
    }

    func session() async throws(SyncClientError) -> SessionInfo { try await inner.session() }

    func push(_ request: PushRequest) async throws(SyncClientError) -> PushResponse {
        if request.records.contains(where: { $0.key == refused }) {
            throw SyncClientError(
                .badRequest,
                "the server refused the request (400 \(code)): records[0].id: not accepted",
                status: 400,
                body: ErrorBody(error: code, message: "records[0].id: not accepted")
            )
        }
        return try await inner.push(request)
    }

    func pull(_ request: PullRequest) async throws(SyncClientError) -> PullResponse { try await inner.pull(request) }
}
