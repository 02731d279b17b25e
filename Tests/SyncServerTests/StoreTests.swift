import Foundation
import GRDB
import PostgresNIO
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncServer
@testable import SyncServerPostgres
@testable import SyncServerSQLite

/// Every kind of store itself: atomic joins across processes, a change log without holes, epochs.
struct StoreTests {
    /// DESIGN §4 invariant 4: two server processes on one database push concurrent edits of the
    /// same records; every edit survives because each read-join-write is one transaction that
    /// excludes the other writers (IMMEDIATE in SQLite).
    @Test(arguments: StoreKind.allCases) func twoStoresOnOneDatabaseLoseNoConcurrentEdits(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let second = try await kind.openStore(in: fixture.directory)  // a second "server process"
            #expect(second.epoch == fixture.store.epoch)
            let principal = try await fixture.principal(fixture.deviceA)
            let writers = (0..<8).map { ReplicaID(high: 0xf00, low: UInt64($0)) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, writer) in writers.enumerated() {
                    let store = index.isMultiple(of: 2) ? fixture.store : second
                    group.addTask {
                        var receipt: PushReceipt?
                        for round in 0..<10 {
                            // Every writer edits its own field of the same five records, never having seen the others.
                            let records = try (0..<5).map { id in
                                try Make.report(
                                    "shared-\(id)",
                                    values: ["w\(index)": .int(Int64(round))],
                                    by: writer,
                                    on: Self.priorState(writer: writer, field: "w\(index)", rounds: round)
                                )
                            }
                            let request = try Make.push(records, replica: writer, receipt: receipt)
                            // A store that waited past its lock timeout answers busy (503 on the wire),
                            // and the client sends the same batch again, as here.
                            var outcome: PushOutcome?
                            while outcome == nil {
                                do {
                                    outcome = try await store.push(request, by: principal, rules: .protocolOnly, at: Date())
                                } catch  where store.storeError(for: error)?.code == .busy {
                                    continue
                                }
                            }
                            guard case .accepted(let response, _) = outcome else {
                                Issue.record("push refused")
                                return
                            }
                            receipt = response.receipt
                        }
                    }
                }
                try await group.waitForAll()
            }
            guard case .page(let page) = try await fixture.store.pull(after: 0, limit: 100, scopes: nil, replica: nil) else {
                Issue.record("a pull without a replica is never refused")
                return
            }
            #expect(page.records.count == 5)
            for record in page.records {
                let values = try #require(record.state.currentValues)
                #expect(values.count == writers.count, "\(record.key) lost a writer's field: \(values.keys.sorted())")
                #expect(values.values.allSatisfy { $0 == .int(9) })
            }
            try await Self.expectNoHoles(in: fixture.store, kind: kind)
        }
    }

    /// A writer's own history of one field: each round's write on top of the previous ones.
    static func priorState(writer: ReplicaID, field: String, rounds: Int) throws -> RecordState {
        var state = RecordState()
        for round in 0..<rounds { try state.write([field: .int(Int64(round))], by: writer) }
        return state
    }

    /// The change log numbers changes 1, 2, 3… without a gap, and every record points at its latest
    /// change. Read in the store's own terms, so each kind says how.
    static func expectNoHoles(in store: any SyncStore, kind: StoreKind) async throws {
        switch kind {
        case .sqlite:
            let pool = try #require(store as? SQLiteStore).pool
            let sequences = try await pool.read { db in try Int64.fetchAll(db, sql: "SELECT seq FROM change_log ORDER BY seq") }
            #expect(sequences == Array(1...Int64(sequences.count)))
            let latest = try await pool.read { db in
                try Int64.fetchOne(
                    db,
                    sql:
                        "SELECT COUNT(*) FROM records r WHERE r.seq != (SELECT MAX(seq) FROM change_log c WHERE c.collection = r.collection AND c.id = r.id)"
                )
            }
            #expect(latest == 0)
        case .postgres:
            // No change-log table: every change has its audit entry under its sequence number.
            let store = try #require(store as? PostgresStore)
            let sequences = try await store.client.query("SELECT seq FROM audit ORDER BY seq").collect().map { try $0.decode(Int64.self) }
            #expect(sequences == Array(1...Int64(sequences.count)))
            #expect(try await store.headSequence() == UInt64(sequences.count))
            let latest = try await store.client.query(
                "SELECT count(*) FROM records r WHERE r.seq <> (SELECT max(seq) FROM audit a WHERE a.collection = r.collection AND a.record_id = r.id)"
            ).collect().map { try $0.decode(Int64.self) }
            #expect(latest == [0])
        }
    }

    @Test(arguments: StoreKind.allCases) func theEpochSurvivesReopeningAndDiffersBetweenStores(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let reopened = try await kind.openStore(in: fixture.directory)
            #expect(reopened.epoch == fixture.store.epoch)
            let other = try await kind.openStore(named: "other", in: fixture.directory)
            #expect(other.epoch != fixture.store.epoch)
        }
    }

    /// An acknowledged push must survive power loss, not only a crash of the process: every
    /// commit waits for the disk (GRDB's WAL default, NORMAL, does not).
    @Test(arguments: StoreKind.allCases) func commitsAreDurableAgainstPowerLoss(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            switch kind {
            case .sqlite:
                let pool = try #require(fixture.store as? SQLiteStore).pool
                let level = try await pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
                #expect(level == 2, "PRAGMA synchronous is FULL (2)")
            case .postgres:
                let store = try #require(fixture.store as? PostgresStore)
                let setting = try await store.client.query("SHOW synchronous_commit").collect().map { try $0.decode(String.self) }
                #expect(setting == ["on"], "a commit returns after its WAL is flushed")
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aRejectedBatchStillAdvancesTheReceiptAndStoresNothing(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let replica = ReplicaID(high: 1, low: 2)
            let foreign = try Make.report("f", school: Fixture.schoolB, values: ["x": .int(1)], by: replica)
            guard
                case .accepted(let response, let changed) = try await fixture.store.push(
                    try Make.push([foreign], replica: replica),
                    by: try await fixture.principal(fixture.deviceA),
                    rules: .protocolOnly,
                    at: Date()
                )
            else {
                Issue.record("push not accepted")
                return
            }
            #expect(changed == 0)
            #expect(response.results.first?.status == .rejected)
            #expect(try await fixture.store.headSequence() == 0)
        }
    }

    @Test(arguments: StoreKind.allCases) func theConflictIndexFollowsEveryJoin(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let a = ReplicaID(high: 1, low: 1)
            let b = ReplicaID(high: 2, low: 2)
            let admin = ReplicaID(high: 9, low: 9)
            let base = try Make.report("r", values: ["status": .string("in_progress")], by: a)
            var left = base
            try left.state.write(["status": .string("done")], by: a)
            var right = base
            try right.state.write(["status": .string("at_risk")], by: b)
            let bureau = try await fixture.principal(fixture.bureau)
            _ = try await fixture.store.push(try Make.push([left], replica: a), by: bureau, rules: .protocolOnly, at: Date())
            _ = try await fixture.store.push(try Make.push([right], replica: b), by: bureau, rules: .protocolOnly, at: Date())
            #expect(try await fixture.store.openConflictCount() == 1)
            var resolved = try left.state.joined(with: right.state)
            try resolved.resolve(.write(["status": .string("done")]), by: admin)
            _ = try await fixture.store.push(
                try Make.push([SyncRecord(key: left.key, scope: left.scope, state: resolved)], replica: admin),
                by: bureau,
                rules: .protocolOnly,
                at: Date()
            )
            #expect(try await fixture.store.openConflictCount() == 0)
        }
    }

    /// `record(_:)` reads one record as it is stored — in conflict or deleted — and `nil` for a key
    /// the store does not hold (the admin conflict page reads a report's `proposal` so).
    @Test(arguments: StoreKind.allCases) func oneRecordIsReadAsItIsStored(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let a = ReplicaID(high: 1, low: 1)
            let b = ReplicaID(high: 2, low: 2)
            let base = try Make.report("qx-zhuoran/2025-S1/m1", values: ["proposal": .string("采用教务处的数字")], by: a)
            var left = base
            try left.state.write(["proposal": .string("采用教务处的数字 2")], by: a)
            var right = base
            try right.state.write(["proposal": .string("采用校长室的数字 3")], by: b)
            var deleted = try Make.report("qx-zhuoran/2025-S1/m2", values: ["narrative": .string("初稿")], by: a)
            try deleted.state.delete(by: a)
            let bureau = try await fixture.principal(fixture.bureau)
            _ = try await fixture.store.push(try Make.push([left, deleted], replica: a), by: bureau, rules: .protocolOnly, at: Date())
            _ = try await fixture.store.push(try Make.push([right], replica: b), by: bureau, rules: .protocolOnly, at: Date())

            let read = try #require(try await fixture.store.record(base.key))
            #expect(read.scope == base.scope)
            #expect(read.state == (try left.state.joined(with: right.state)))
            #expect(Set(read.state.fields["proposal"]?.distinctValues ?? []) == [.string("采用教务处的数字 2"), .string("采用校长室的数字 3")])
            #expect(try await fixture.store.record(deleted.key)?.state.isDeleted == true)
            #expect(try await fixture.store.record(RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/m3")) == nil)
            #expect(try await fixture.store.record(RecordKey(collection: "indicator_values", id: base.key.id)) == nil)
        }
    }
}
