import AsyncHTTPClient
import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import SyncServerSQLite
import Testing

@testable import SyncClient

/// Devices syncing through a real server on 127.0.0.1.
struct SyncFlowTests {
    @Test(arguments: StoreKind.allCases) func twoDevicesOfOneSchoolMergeDifferentFieldsAndSeeTheSameFieldConflict(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let bureau = try await Device.enrol(try fixture.replica("bureau.sqlite"), url: url, token: fixture.bureau, http: http)
                    try await Catalog.publish(with: bureau)
                    let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
                    let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    try await a.replica.write(
                        report(),
                        ["status": .string("in_progress"), "narrative": .string("初稿"), "school_id": .string(Fixture.schoolA)]
                    )
                    _ = try await a.sync()
                    _ = try await b.sync()
                    #expect(try await b.replica.record(report())?.state.value(of: "narrative") == .string("初稿"))
                    #expect(try await b.replica.record(Catalog.measure)?.state.value(of: "title") == .string("新建2所公办幼儿园"))

                    // Offline on both, different fields: merged everywhere, no conflict.
                    try await a.replica.write(report(), ["narrative": .string("已完成选址")])
                    try await b.replica.write(report(), ["status": .string("done")])
                    for device in [a, b, a] { _ = try await device.sync() }
                    for device in [a, b] {
                        let state = try #require(try await device.replica.record(report())).state
                        #expect(state.conflict == nil)
                        #expect(state.value(of: "narrative") == .string("已完成选址"))
                        #expect(state.value(of: "status") == .string("done"))
                    }

                    // Offline on both, the same field: a conflict both devices see, with both values.
                    try await a.replica.write(report(), ["narrative": .string("A 写的")])
                    try await b.replica.write(report(), ["narrative": .string("B 写的")])
                    for device in [a, b, a] { _ = try await device.sync() }
                    for device in [a, b] {
                        let conflicts = try await device.replica.conflicts()
                        #expect(conflicts.count == 1)
                        #expect(Set(conflicts.first?.fields["narrative"] ?? []) == ["A 写的", "B 写的"])
                    }
                    #expect(try await a.replica.record(report())?.state == (try await b.replica.record(report())?.state))
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aRejectedRecordStaysWithItsReasonAndTheRestSyncs(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
                    try await a.replica.write(report(), ["status": .string("done"), "school_id": .string(Fixture.schoolA)])
                    // A record in another school's scope: the server refuses it, the rest goes through.
                    let foreign = report("qx-huoju/2025-S1/m")
                    try await a.replica.write(foreign, ["status": .string("done")], scope: try .school(Fixture.schoolB))
                    let first = try await a.sync()
                    #expect(first.pushed.applied == 1)
                    #expect(first.pushed.rejected == 1)
                    let status = try await a.replica.status()
                    #expect(status.rejected.map(\.code) == [.scopeDenied])
                    #expect(status.pending == 1)
                    // Not re-sent while unchanged: the next sync makes progress and does not wedge.
                    let second = try await a.sync()
                    #expect(second.pushed.sent == 0)
                    try await a.replica.write(report(), ["narrative": .string("继续")])
                    #expect(try await a.sync().pushed.applied == 1)
                    #expect(try await a.replica.status().rejected.count == 1)
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aLostAnswerIsRetriedWithTheSameBatchAndNothingIsAppliedTwice(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let flaky = LockedBox<FlakyTransport?>(nil)
                    let a = try await Device.enrol(
                        try fixture.replica("a.sqlite"),
                        url: url,
                        token: fixture.deviceA,
                        http: http,
                        wrap: { inner in
                            let transport = FlakyTransport(inner, pushFaults: [.dropAnswer, .dropRequest])
                            flaky.set(transport)
                            return transport
                        },
                        retry: .none
                    )
                    for index in 0..<5 {
                        try await a.replica.write(
                            report("qx-zhuoran/2025-S1/m\(index)"),
                            ["n": .int(Int64(index)), "school_id": .string(Fixture.schoolA)]
                        )
                    }
                    await #expect(throws: SyncClientError.self) { try await a.engine.push() }  // committed, answer lost
                    await #expect(throws: SyncClientError.self) { try await a.engine.push() }  // cut before sending
                    #expect(try await a.replica.status().unansweredPush != nil)
                    let report = try await a.sync()
                    #expect(report.pushed.sent == 5)
                    let transport = try #require(flaky.value)
                    #expect(Set(transport.batches).count == 1, "every attempt reused the batch id")
                    let status = try await a.replica.status()
                    #expect(status.pending == 0)
                    #expect(status.unansweredPush == nil)
                    #expect(status.lastError == nil)
                    let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    _ = try await b.sync()
                    let count = try await b.replica.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reports") }
                    #expect(count == 5)
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aCopiedDatabaseIsReMintedAndLosesNoEdit(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
                    try await a.replica.write(report(), ["status": .string("in_progress"), "school_id": .string(Fixture.schoolA)])
                    _ = try await a.sync()
                    // Someone copies the school's database to a second PC (SQLite folds its WAL in first, as on close).
                    try await DatabaseQueue(path: fixture.path("a.sqlite")).writeWithoutTransaction { try $0.checkpoint(.truncate) }
                    try FileManager.default.copyItem(atPath: fixture.path("a.sqlite"), toPath: fixture.path("copy.sqlite"))
                    let copy = try await Device.enrol(try fixture.replica("copy.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    let original = try #require(try await a.replica.settings()).replica
                    #expect(try await copy.replica.settings()?.replica == original)
                    // Both mint the same next dot for different fields.
                    try await a.replica.write(report(), ["narrative": .string("原电脑写的")])
                    try await copy.replica.write(report(), ["status": .string("done")])
                    _ = try await a.sync()
                    _ = try await copy.sync()
                    let fresh = try #require(try await copy.replica.settings()).replica
                    #expect(fresh != original, "the copy took a new replica id")
                    _ = try await a.sync()
                    for device in [a, copy] {
                        let state = try #require(try await device.replica.record(report())).state
                        #expect(state.value(of: "narrative") == .string("原电脑写的"))
                        #expect(state.value(of: "status") == .string("done"))
                    }
                }
            }
        }
    }

    /// A power cut takes the server's last commits (same epoch, older receipts): the device's receipt
    /// is ahead, it takes a new replica id and offers every record again, so acknowledged edits the
    /// server lost come back.
    @Test func editsTheServerLostInAPowerCutAreOfferedAgain() async throws {
        try await Fixture.with { fixture in
            let a = try fixture.replica("a.sqlite")
            let other = RecordKey(collection: "reports", id: "\(Fixture.schoolA)/2025-S1/qixing-2024/m2.2")
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let bureau = try await Device.enrol(try fixture.replica("bureau.sqlite"), url: url, token: fixture.bureau, http: http)
                    try await Catalog.publish(with: bureau)
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    try await a.write(report(), ["status": .string("in_progress"), "school_id": .string(Fixture.schoolA)])
                    _ = try await device.sync()
                }
            }
            // The disk as it was before the next commits reached it.
            try await DatabaseQueue(path: fixture.databasePath).writeWithoutTransaction { try $0.checkpoint(.truncate) }
            try FileManager.default.copyItem(atPath: fixture.databasePath, toPath: fixture.path("before-power-cut.sqlite"))
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    try await a.write(report(), ["status": .string("done")])
                    try await a.write(other, ["status": .string("in_progress"), "school_id": .string(Fixture.schoolA)])
                    let report = try await device.sync()
                    #expect(report.pushed.applied == 2)
                    #expect(try await a.pendingCount() == 0, "both edits were acknowledged")
                }
            }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: fixture.databasePath + suffix) }
            try FileManager.default.copyItem(atPath: fixture.path("before-power-cut.sqlite"), toPath: fixture.databasePath)
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    let original = try #require(try await a.settings()).replica
                    _ = try await device.sync()
                    #expect(try await a.settings()?.replica != original, "a new replica id after the receipt mismatch")
                    #expect(try await a.status().rejected.isEmpty, "the catalog this device may only read is not offered back")
                    #expect(try await a.pendingCount() == 0)
                    let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    _ = try await b.sync()
                    #expect(try await b.replica.record(report())?.state.value(of: "status") == .string("done"))
                    #expect(try await b.replica.record(other)?.state.value(of: "status") == .string("in_progress"))
                }
            }
        }
    }

    @Test func aRestoredServerIsSyncedAgainFromScratch() async throws {
        try await Fixture.with { fixture in
            let a = try fixture.replica("a.sqlite")
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    try await a.write(report(), ["status": .string("done"), "school_id": .string(Fixture.schoolA)])
                    _ = try await device.sync()
                }
            }
            // The server's database is restored from a backup taken before the push: a new epoch, no records.
            let server = try DatabaseQueue(path: fixture.databasePath)
            try await server.write { db in
                try db.execute(sql: "UPDATE store_meta SET value = 'ffffffffffffffffffffffffffffffff' WHERE key = 'epoch'")
                try db.execute(sql: "DELETE FROM records; DELETE FROM replicas; DELETE FROM conflicts")
            }
            try server.close()
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    _ = try await device.sync()
                    #expect(try await a.settings()?.epoch?.description == "ffffffffffffffffffffffffffffffff")
                    let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    _ = try await b.sync()
                    #expect(try await b.replica.record(report())?.state.value(of: "status") == .string("done"))
                }
            }
        }
    }

    /// DESIGN §4 invariant 9 with the real commands: a backup taken before some pushes is restored;
    /// the new epoch makes the device offer everything again, so nothing pushed after the backup is lost.
    @Test func restoringABackupStartsANewEpochAndTheSchoolsRefillIt() async throws {
        try await Fixture.with { fixture in
            let a = try fixture.replica("a.sqlite")
            let backup = fixture.path("backup.sqlite")
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    try await a.write(report("qx-zhuoran/2025-S1/before"), ["status": .string("done"), "school_id": .string(Fixture.schoolA)])
                    _ = try await device.sync()
                }
            }
            let oldEpoch = try SQLiteStore(path: fixture.databasePath).epoch
            try SQLiteStore(path: fixture.databasePath).backup(to: backup)
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    try await a.write(report("qx-zhuoran/2025-S1/after"), ["status": .string("in_progress"), "school_id": .string(Fixture.schoolA)])
                    _ = try await device.sync()
                }
            }
            let newEpoch = try SQLiteStore.restore(from: backup, to: fixture.databasePath)
            #expect(newEpoch != oldEpoch)
            #expect(try SQLiteStore(path: fixture.databasePath).epoch == newEpoch)
            #expect(try await SQLiteStore(path: fixture.databasePath).records(in: ["reports"]).map(\.key.id) == ["qx-zhuoran/2025-S1/before"])
            // Without receipts a replica cannot be shown to still hold what it pushed: no echo is skipped.
            let marked = try await DatabaseQueue(path: fixture.databasePath).read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records WHERE pushed_by IS NOT NULL")
            }
            #expect(marked == 0)
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let device = try await Device.enrol(a, url: url, token: fixture.deviceA, http: http)
                    _ = try await device.sync()
                    #expect(try await a.settings()?.epoch == newEpoch)
                    let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceA2, http: http)
                    _ = try await b.sync()
                    let ids = try await b.replica.read { db in try String.fetchAll(db, sql: "SELECT id FROM reports ORDER BY id") }
                    #expect(ids == ["qx-zhuoran/2025-S1/after", "qx-zhuoran/2025-S1/before"])
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func tooLargeBatchesAreSplitAndAnOversizedRecordIsSetAside(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withLiveServer(configure: { $0.maxBodyBytes = 6_000 }) { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http, batchSize: 50)
                    for index in 0..<20 {
                        try await a.replica.write(
                            report("qx-zhuoran/2025-S1/m\(index)"),
                            ["narrative": .string(String(repeating: "进展", count: 40)), "school_id": .string(Fixture.schoolA)]
                        )
                    }
                    // Random text barely compresses, so this one record stays too large.
                    var generator = SystemRandomNumberGenerator()
                    let noise = (0..<8_000).map { _ in String(UnicodeScalar(UInt8.random(in: 65...90, using: &generator))) }.joined()
                    try await a.replica.write(report("qx-zhuoran/2025-S1/huge"), ["narrative": .string(noise), "school_id": .string(Fixture.schoolA)])
                    let result = try await a.sync()
                    #expect(result.pushed.applied == 20)
                    let status = try await a.replica.status()
                    #expect(status.rejected.map(\.code) == [.tooLarge])
                    #expect(status.rejected.first?.id == "qx-zhuoran/2025-S1/huge")
                }
            }
        }
    }

    @Test func theDevicesWallClockChangesNothing() async throws {
        let clocks: [Date] = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 4_102_444_800), Date()]
        var outcomes: [[String: Value]] = []
        for clock in clocks {
            let outcome = try await Fixture.with { fixture in
                try await fixture.withLiveServer { url in
                    try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                        let a = try await Device.enrol(
                            try fixture.replica("a.sqlite", clock: { clock }),
                            url: url,
                            token: fixture.deviceA,
                            http: http
                        )
                        let b = try await Device.enrol(
                            try fixture.replica("b.sqlite", clock: { Date() }),
                            url: url,
                            token: fixture.deviceA2,
                            http: http
                        )
                        try await a.replica.write(report(), ["status": .string("in_progress"), "school_id": .string(Fixture.schoolA)])
                        _ = try await a.sync()
                        _ = try await b.sync()
                        try await b.replica.write(report(), ["status": .string("done")])
                        try await a.replica.write(report(), ["narrative": .string("时钟不对也一样")])
                        for device in [b, a, b] { _ = try await device.sync() }
                        let state = try #require(try await b.replica.record(report())).state
                        #expect(
                            try await a.replica.status().lastSyncAt?.hasPrefix(clock == clocks[0] ? "1970" : clock == clocks[1] ? "2100" : "20")
                                == true
                        )
                        return try #require(state.currentValues)
                    }
                }
            }
            outcomes.append(outcome)
        }
        #expect(outcomes.count == 3)
        #expect(Set(outcomes).count == 1)
    }

    @Test(arguments: StoreKind.allCases) func anUnreachableServerKeepsChangesAndSaysSo(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    _ = try await Device.enrol(replica, url: url, token: fixture.deviceA, http: http)
                }
            }
            try await replica.write(report(), ["status": .string("done"), "school_id": .string(Fixture.schoolA)])
            try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                // Nothing listens on loopback port 1: the link is down.
                let device = try await Device.enrol(replica, url: "http://127.0.0.1:1", token: fixture.deviceA, http: http)
                let error = await #expect(throws: SyncClientError.self) { try await device.sync() }
                #expect(error?.code == .unreachable)
                #expect(error?.message.contains("changes are kept locally") == true)
            }
            let status = try await replica.status()
            #expect(status.serverReachable == false)
            #expect(status.pending == 1)
            #expect(status.lastError?.contains("cannot reach") == true)
        }
    }

    @Test(arguments: StoreKind.allCases) func aRefusedTokenIsNotRetried(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let replica = try fixture.replica("a.sqlite")
                    _ = try await Device.enrol(replica, url: url, token: fixture.deviceA, http: http)
                    let counting = LockedBox<FlakyTransport?>(nil)
                    let transport = FlakyTransport(HTTPSyncTransport(http: http, baseURL: url, token: "ss_revoked"))
                    counting.set(transport)
                    let engine = SyncEngine(
                        replica: replica,
                        transport: transport,
                        retry: RetryPolicy(maxAttempts: 5, baseDelay: .zero),
                        sleep: { _ in }
                    )
                    let error = await #expect(throws: SyncClientError.self) { try await engine.pull() }
                    #expect(error?.code == .unauthorized)
                    #expect(transport.pullCalls == 1)
                }
            }
        }
    }
}

/// A tiny lock-protected box for test doubles captured by @Sendable closures.
final class LockedBox<T: Sendable>: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func set(_ value: T) { lock.withLock { stored = value } }
}
