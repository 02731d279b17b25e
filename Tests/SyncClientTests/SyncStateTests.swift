import Foundation
import GRDB
import Reporting
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncClient

/// The replica's protocol state is one typed row of `sync_state` (`SyncState` is its only writer):
/// databases from before it keep every value, and a row another program damaged or deleted never
/// stops a command.
struct SyncStateTests {
    /// A database made by a client before v3 (its `sync_meta` key-value rows) opens with every
    /// value in its column, and `sync_meta` is gone.
    @Test func aKeyValueDatabaseMigratesIntoTheTypedRow() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("old.sqlite").path
        let replica = ReplicaID(high: 0xa1, low: 2)
        let epoch = Epoch.random()
        do {
            let queue = try DatabaseQueue(path: path)
            try LocalReplica.migrator.migrate(queue, upTo: "v2: dirty records in push order")
            try queue.write { db in
                let rows: [(String, String)] = [
                    ("replica", replica.description), ("server_url", "http://127.0.0.1:9"),
                    ("device_name", "教务处 PC"), ("school_id", "qx-zhuoran"), ("epoch", epoch.description),
                    ("cursor", "\(epoch).41"), ("receipt", "\(epoch).7"), ("last_sync_at", "2026-01-02T03:04:05Z"),
                    ("last_error", "cannot reach"), ("reachable", "no"), ("remint_requested", "1"),
                ]
                for (key, value) in rows {
                    try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
                // Another program stored the token as bytes; the old reader read them as text, and so does v3.
                try db.execute(sql: "INSERT INTO sync_meta (key, value) VALUES ('token', ?)", arguments: [Data("ss_old".utf8)])
            }
            try queue.close()
        }
        let opened = try LocalReplica(path: path, schemas: DomainSchema.all)
        let state = try opened.pool.read { db in try SyncState.read(db) }
        #expect(state.replica == replica)
        #expect(state.serverURL == "http://127.0.0.1:9" && state.token == "ss_old" && state.deviceName == "教务处 PC")
        #expect(state.schoolID == "qx-zhuoran")
        #expect(state.epoch == epoch)
        #expect(state.cursor?.description == "\(epoch).41")
        #expect(state.receipt?.description == "\(epoch).7")
        #expect(state.lastSyncAt == "2026-01-02T03:04:05Z" && state.lastError == "cannot reach")
        #expect(state.reachable == false)
        #expect(state.remintRequested)
        #expect(state.limits == nil)
        #expect(try opened.pool.read { db in try db.tableExists("sync_meta") } == false)
    }

    /// A fresh database migrates too (no key-value rows: no state row until the first write).
    @Test func aFreshDatabaseHasNoStateUntilItsFirstWrite() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("fresh.sqlite")
            #expect(try await replica.settings() == nil)
            let state = try await replica.pool.read { db in try SyncState.read(db) }
            #expect(state.replica != nil, "settings() ran a transaction, which made the replica id")
            #expect(state.serverURL == nil)
        }
    }

    /// Another program deleting the row (or the whole state) leaves a database that is not enrolled:
    /// commands say so, nothing traps, and enrolling again works.
    @Test func aDeletedStateRowReadsAsNotEnrolled() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            try await replica.write(
                RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/m1"),
                ["narrative": .string("在"), "school_id": .string("qx-zhuoran")]
            )
            let other = try DatabaseQueue(path: fixture.path("a.sqlite"))
            try await other.write { db in try db.execute(sql: "DELETE FROM sync_state") }
            try other.close()
            #expect(try await replica.settings() == nil)
            let status = try await replica.status()
            #expect(status.pending == 1)
            #expect(status.lastSyncAt == nil)
        }
    }

    /// Writing is one row, read back exactly; an update that changes nothing writes nothing.
    @Test func theRowRoundTrips() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            var written = SyncState()
            written.replica = ReplicaID(high: 1, low: 2)
            written.serverURL = "http://127.0.0.1:1"
            written.token = "ss_t"
            written.schoolID = "qx-huoju"
            written.limits = SessionInfo.Limits(maxBatchRecords: 50, maxBodyBytes: 1 << 20, maxPullLimit: 100)
            written.epoch = Epoch.random()
            written.reachable = true
            written.remintRequested = true
            let toWrite = written
            try await replica.pool.write { db in try toWrite.write(db) }
            let read = try await replica.pool.read { db in try SyncState.read(db) }
            #expect(read == written)
            let count = try await replica.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_state") }
            #expect(count == 1)
        }
    }
}
