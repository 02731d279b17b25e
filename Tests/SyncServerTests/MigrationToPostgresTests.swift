import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import SyncServerSQLite
import Testing

@testable import SyncServer
@testable import SyncServerPostgres

/// Issue 14 §3: a county moves from SQLite to PostgreSQL with `schoolsync-server migrate`, and its
/// devices go on syncing against the new servers with their cursors, receipts and tokens.
struct MigrationToPostgresTests {
    /// The export hands over one bounded chunk at a time, from a spool it removes afterwards,
    /// also when the receiver stops it: a county's history never has to fit in memory at once.
    @Test func theExportHandsOverBoundedChunksAndLeavesNoSpool() async throws {
        try await Fixture.with(store: .sqlite) { fixture in
            let writer = ReplicaID(high: 0x3b, low: 1)
            let bureau = try await fixture.principal(fixture.bureau)
            let plans = try (0..<7).map { try Make.plan("plan-\($0)", values: ["n": .int(Int64($0))], by: writer) }
            _ = try await fixture.store.push(try Make.push(plans, replica: writer), by: bureau, rules: .protocolOnly, at: Date())
            let store = try #require(fixture.store as? SQLiteStore)
            var recordChunks: [Int] = []
            var tables: [String] = []
            let head = try await store.exportTables(chunkSize: 3) { table, json in
                if tables.last != table { tables.append(table) }
                if table == "records" {
                    let rows = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [Any]
                    recordChunks.append(rows?.count ?? -1)
                }
            }
            #expect(head == 7)
            #expect(recordChunks == [3, 3, 1])
            #expect(tables.firstIndex(of: "schools") ?? .max < tables.firstIndex(of: "principals") ?? -1, "parents before children")
            struct Stop: Error {}
            await #expect(throws: Stop.self) { _ = try await store.exportTables { _, _ in throw Stop() } }
            // The spool has no name from the moment it is open, so no crash can leave it behind.
            let spool = try await store.spoolTables()
            #expect(!FileManager.default.fileExists(atPath: spool.path))
            var chunks = 0
            try await spool.forEachChunk { _, _ in chunks += 1 }
            #expect(chunks > 0)
        }
    }

    @Test(.timeLimit(.minutes(2))) func devicesKeepTheirCursorsReceiptsAndTokensAcrossTheMove() async throws {
        try await Fixture.with(store: .sqlite) { fixture in
            let writerA = ReplicaID(high: 0x3a, low: 1)
            let writerA2 = ReplicaID(high: 0x3a, low: 2)
            var receiptA: PushReceipt?
            var cursorA2: SyncCore.Cursor?
            let sqliteServer = try await ServerProcess(database: fixture.databasePath)
            try await HTTPClient.withHTTPClient { http in
                let a = HTTPSyncTransport(http: http, baseURL: sqliteServer.baseURL, token: fixture.bureau)
                let a2 = HTTPSyncTransport(http: http, baseURL: sqliteServer.baseURL, token: fixture.bureau)
                // Two replicas of the bureau edit the same field: a conflict to carry over.
                receiptA = try await a.push(
                    try Make.push(
                        [try Make.plan("qixing-2024", values: ["title": .string("教务处的标题")], by: writerA)], replica: writerA)
                ).receipt
                _ = try await a2.push(
                    try Make.push(
                        [try Make.plan("qixing-2024", values: ["title": .string("另一台的标题")], by: writerA2)], replica: writerA2)
                )
                cursorA2 = try await a2.pull(PullRequest(since: nil, limit: 100, replica: nil, receipt: nil)).next
            }
            await sqliteServer.stop(with: SIGTERM)
            // An evidence file of 卓然学校 (two chunk rows) and an upload left half done go along too.
            let photo = EvidenceRouteTests.photo(300_000, seed: 41)
            let uploads = EvidenceUploads(store: fixture.store, clock: { Date() })
            let finished = try await uploads.create(school: Fixture.schoolA, sha256: EvidenceRouteTests.sha256(photo), length: 300_000, filename: "照片.jpg")
            _ = try await uploads.patch(finished.upload, at: 0, body: SlicedBody(slices: [ByteBuffer(bytes: photo)]), checksum: nil)
            let half = EvidenceRouteTests.photo(100_000, seed: 42)
            let pending = try await uploads.create(school: Fixture.schoolA, sha256: EvidenceRouteTests.sha256(half), length: 100_000, filename: nil)
            _ = try await uploads.patch(pending.upload, at: 0, body: SlicedBody(slices: [ByteBuffer(bytes: half[0..<40_000])]), checksum: nil)
            let sqliteEpoch = fixture.store.epoch
            #expect(try await fixture.store.openConflictCount() == 1)

            // A name from before NUL was refused (PostgreSQL's text cannot hold one) does not stop the
            // move: SQLite hands text over up to its first NUL, and that is what is carried.
            let database = try DatabaseQueue(path: fixture.databasePath)
            try await database.write { db in try db.execute(sql: "UPDATE schools SET name = name || char(0) || '旧' WHERE id = ?", arguments: [Fixture.schoolB]) }
            try database.close()

            let url = try await StoreKind.postgres.databaseURL(named: "moved", in: fixture.directory)
            let result = await try RunningCommand("schoolsync-server", ["migrate", "--from", fixture.databasePath, "--to", url]).wait()
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            // A second run finds the data there and refuses, changing nothing.
            let again = await try RunningCommand("schoolsync-server", ["migrate", "--from", fixture.databasePath, "--to", url]).wait()
            #expect(again.status == 1)
            #expect(again.stderr.contains("already holds"), "\(again.stderr)")

            let moved = try await PostgresStore(configuration: .init(url: url, poolSize: 2))
            defer { Task { await moved.close() } }
            #expect(moved.epoch == sqliteEpoch, "the epoch is kept: cursors and receipts stay valid")
            #expect(try await moved.headSequence() == (try await fixture.store.headSequence()))
            #expect(try await moved.openConflictCount() == 1)
            let history = try await moved.history(RecordKey(collection: "plans", id: "qixing-2024"), after: 0, limit: 10)
            #expect(history.entries.count == 2)
            #expect(try await moved.schools().first { $0.id == Fixture.schoolB }?.name == "火炬中学")
            var copy: [UInt8] = []
            try await EvidenceUploads(store: moved, clock: { Date() }).forEachChunk(of: .file(EvidenceRouteTests.sha256(photo)), from: 0, to: 300_000) {
                copy += $0
            }
            #expect(copy == photo)
            #expect(try await moved.evidenceAccess(sha256: EvidenceRouteTests.sha256(photo), school: Fixture.schoolA))
            #expect(try await moved.evidenceUpload(id: pending.upload.id)?.offset == 40_000)

            let pgServer = try await ServerProcess(store: ["--database-url", url])
            try await HTTPClient.withHTTPClient { http in
                let a = HTTPSyncTransport(http: http, baseURL: pgServer.baseURL, token: fixture.bureau)
                let a2 = HTTPSyncTransport(http: http, baseURL: pgServer.baseURL, token: fixture.bureau)
                // The same token, replica and receipt: the next push follows on, not stale.
                let next = try await a.push(
                    try Make.push([try Make.plan("qixing-2027", values: ["title": .string("新的")], by: writerA)], replica: writerA, receipt: receiptA)
                )
                #expect(next.receipt.epoch == receiptA?.epoch)
                #expect(next.receipt.sequence == (receiptA?.sequence ?? 0) + 1)
                // The other device's cursor goes on: only what is new since.
                let page = try await a2.pull(PullRequest(since: cursorA2, limit: 100, replica: nil, receipt: nil))
                #expect(page.records.map(\.key.id) == ["qixing-2027"])
            }
            await pgServer.stop(with: SIGTERM)
            // Principals enrolled after the move get new ids, after the carried ones.
            let (later, _) = try await moved.createPrincipal(kind: .device, name: "新设备", schoolID: Fixture.schoolB, at: Date())
            let carried = try await fixture.store.devices().map(\.id).max() ?? 0
            #expect(later.id > carried)
        }
    }
}
