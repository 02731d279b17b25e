import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// `/v1/push` and `/v1/pull` through the router, in process.
struct PushPullRouteTests {
    let laptop = ReplicaID(high: 0xa, low: 1)
    let desktop = ReplicaID(high: 0xb, low: 2)

    @Test(arguments: StoreKind.allCases) func pushAppliesThenReportsUnchangedAndPullReturnsTheState(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let record = try Make.report("qx-zhuoran/2025-S1/m1", values: ["status": .string("in_progress"), "enrolment": .int(412)], by: laptop)
                let first = try await client.push(try Make.push([record], replica: laptop), token: fixture.deviceA)
                #expect(first.results.map(\.status) == [.applied])
                #expect(first.receipt.sequence == 1)
                let again = try await client.push(try Make.push([record], replica: laptop, receipt: first.receipt), token: fixture.deviceA)
                #expect(again.results.map(\.status) == [.unchanged])
                #expect(again.receipt.sequence == 2)
                let page = try await client.pull(token: fixture.deviceA2)
                #expect(page.records == [record])
                #expect(page.epoch == fixture.store.epoch)
                #expect(!page.more)
            }
        }
    }

    /// A replica's own pushes do not come back to it: it holds them already. A state that a join
    /// made (its push met another's) does, and every other replica gets everything.
    @Test(arguments: StoreKind.allCases) func aPullSkipsTheStatesThePullingReplicaPushedItself(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let mine = try Make.report("r1", values: ["status": .string("in_progress")], by: laptop)
                let theirs = try Make.report("r2", values: ["status": .string("done")], by: desktop)
                let first = try await client.push(try Make.push([mine], replica: laptop), token: fixture.deviceA)
                _ = try await client.push(try Make.push([theirs], replica: desktop), token: fixture.deviceA2)
                var merged = try Make.report("r2", values: ["narrative": .string("笔记本补充")], by: laptop)
                let second = try await client.push(try Make.push([merged], replica: laptop, receipt: first.receipt), token: fixture.deviceA)
                #expect(second.results.map(\.status) == [.applied])
                try merged.state.join(theirs.state)

                let own = try await client.pull("replica=\(laptop)&receipt=\(second.receipt)", token: fixture.deviceA)
                #expect(own.records.map(\.key.id) == ["r2"], "r1 is exactly what this replica pushed")
                #expect(own.records.first?.state == merged.state)
                #expect(own.next.seq == 3, "the cursor still passes the skipped change")
                let other = try await client.pull(
                    "replica=\(desktop)&receipt=\(PushReceipt(epoch: fixture.store.epoch, sequence: 1))",
                    token: fixture.deviceA2
                )
                #expect(Set(other.records.map(\.key.id)) == ["r1", "r2"])
                let tool = try await client.pull(token: fixture.deviceA)
                #expect(Set(tool.records.map(\.key.id)) == ["r1", "r2"], "a read-only tool names no replica and gets everything")
            }
        }
    }

    /// A long poll looks again without a second receipt check (the replica may not push while it
    /// waits, so its receipt would be behind), still leaving out the replica's own pushes.
    @Test(arguments: StoreKind.allCases) func lookingAgainInALongPollLeavesOutEchoesWithoutARecheck(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let first = try await client.push(
                    try Make.push([try Make.report("r0", values: ["status": .string("in_progress")], by: laptop)], replica: laptop),
                    token: fixture.deviceA
                )
                let start = try await client.pull("replica=\(laptop)&receipt=\(first.receipt)", token: fixture.deviceA)
                _ = try await client.push(
                    try Make.push(
                        [try Make.report("mine", values: ["status": .string("done")], by: laptop)],
                        replica: laptop,
                        receipt: first.receipt
                    ),
                    token: fixture.deviceA
                )
                _ = try await client.push(
                    try Make.push([try Make.report("theirs", values: ["status": .string("done")], by: desktop)], replica: desktop),
                    token: fixture.deviceA2
                )
                let store = fixture.store
                let stale = try await store.pull(
                    after: start.next.seq,
                    limit: 100,
                    scopes: nil,
                    replica: .verify(ReplicaReceipt(replica: laptop, receipt: first.receipt, principal: try await fixture.principal(fixture.deviceA)))
                )
                guard case .replicaStale = stale else {
                    Issue.record("the receipt from before the last push is stale: \(stale)")
                    return
                }
                guard case .page(let again) = try await store.pull(after: start.next.seq, limit: 100, scopes: nil, replica: .verified(laptop)) else {
                    Issue.record("looking again is never refused")
                    return
                }
                #expect(again.records.map(\.key.id) == ["theirs"])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func concurrentEditsOfDifferentFieldsMergeAndOfTheSameFieldConflict(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let base = try Make.report(
                    "r1",
                    values: ["status": .string("in_progress"), "enrolment": .int(412), "narrative": .string("初稿")],
                    by: laptop
                )
                let receipt = try await client.push(try Make.push([base], replica: laptop), token: fixture.deviceA).receipt
                // Both devices start from the same state, offline.
                var onLaptop = base
                try onLaptop.state.write(["enrolment": .int(415)], by: laptop)
                var onDesktop = base
                try onDesktop.state.write(["narrative": .string("已完成选址")], by: desktop)
                _ = try await client.push(try Make.push([onLaptop], replica: laptop, receipt: receipt), token: fixture.deviceA)
                let merged = try await client.push(try Make.push([onDesktop], replica: desktop), token: fixture.deviceA2)
                #expect(merged.results.map(\.status) == [.applied])
                let state = try #require(try await client.pull(token: fixture.deviceA).records.first?.state)
                #expect(state.currentValues == ["status": .string("in_progress"), "enrolment": .int(415), "narrative": .string("已完成选址")])

                var clash = onDesktop
                try clash.state.join(state)
                try clash.state.write(["status": .string("done")], by: desktop)
                var other = onLaptop
                try other.state.join(state)
                try other.state.write(["status": .string("at_risk")], by: laptop)
                let laptopReceipt = PushReceipt(epoch: fixture.store.epoch, sequence: 2)
                _ = try await client.push(try Make.push([other], replica: laptop, receipt: laptopReceipt), token: fixture.deviceA)
                let conflicted = try await client.push(
                    try Make.push([clash], replica: desktop, receipt: PushReceipt(epoch: fixture.store.epoch, sequence: 1)),
                    token: fixture.deviceA2
                )
                #expect(conflicted.results.first?.status == .conflict)
                #expect(conflicted.results.first?.conflictFields == ["status"])
                let pulled = try #require(try await client.pull(token: fixture.deviceA).records.first?.state)
                #expect(pulled.fields["status"]?.distinctValues.count == 2)
                #expect(try await fixture.store.openConflictCount() == 1)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func replayingTheSameBatchAnswersTheStoredResponseByteForByte(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let request = try Make.push([try Make.report("r1", values: ["x": .int(1)], by: laptop)], replica: laptop, batch: "lost-answer")
                let body = try Make.body(request)
                let first = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body)
                // The answer was lost; the client retries the same batch with the receipt it still holds (none).
                let retry = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body)
                #expect(first.status == .ok && retry.status == .ok)
                #expect(first.body == retry.body)
                #expect(try retry.decode(PushResponse.self).receipt.sequence == 1)
                #expect(try await fixture.store.headSequence() == 1)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aCopiedDatabaseIsStoppedBeforeItCanReuseDots(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let shared = laptop  // the same replica id on two PCs: a copied database
                let base = try Make.report("r1", values: ["status": .string("in_progress")], by: shared)
                let receipt = try await client.push(try Make.push([base], replica: shared), token: fixture.deviceA).receipt
                var first = base
                try first.state.write(["enrolment": .int(415)], by: shared)
                var copy = base
                try copy.state.write(["narrative": .string("复制的电脑")], by: shared)  // mints the same dot (shared, 2)
                _ = try await client.push(try Make.push([first], replica: shared, receipt: receipt), token: fixture.deviceA)
                // The copy syncs with the same device token (the file carries it).
                let refused = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA,
                    body: try Make.body(try Make.push([copy], replica: shared, receipt: receipt))
                )
                #expect(refused.status == .conflict)
                #expect(try refused.error().error == .replicaStale)
                #expect(try refused.error().details?["expected"] == PushReceipt(epoch: fixture.store.epoch, sequence: 2).description)
                let pullRefused = try await client.send(.get, "/v1/pull?replica=\(shared)&receipt=\(receipt)", token: fixture.deviceA)
                #expect(pullRefused.status == .conflict)
                #expect(try pullRefused.error().error == .replicaStale)
                // Enrolled as another device, the copy meets the ownership rule first (PROTOCOL.md §5).
                let foreign = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA2,
                    body: try Make.body(try Make.push([copy], replica: shared, receipt: receipt))
                )
                #expect(foreign.status == .forbidden)
                #expect(try foreign.error().error == .replicaForeign)
                // The first PC's write is intact.
                #expect(try await client.pull(token: fixture.deviceA).records.first?.state.value(of: "enrolment") == .int(415))
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func receiptsAndCursorsFromAnotherEpochAreRefused(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let stranger = Epoch.random()
                let push = try Make.push([], replica: laptop, receipt: PushReceipt(epoch: stranger, sequence: 3))
                let refused = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: try Make.body(push))
                #expect(refused.status == .conflict)
                #expect(try refused.error().error == .epochChanged)
                #expect(try refused.error().details?["epoch"] == fixture.store.epoch.description)
                let pull = try await client.send(.get, "/v1/pull?since=\(stranger).5", token: fixture.deviceA)
                #expect(pull.status == .conflict)
                #expect(try pull.error().error == .epochChanged)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func devicesSeeTheCatalogAndTheirOwnSchoolOnly(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let bureauReplica = ReplicaID(high: 0xe, low: 0xe)
                let plan = SyncRecord(
                    key: RecordKey(collection: "plans", id: "qixing-2024"),
                    scope: .catalog,
                    state: try RecordState().writing(["title": .string("七星区推进教育提质三年行动计划")], by: bureauReplica)
                )
                let a = try Make.report("a", school: Fixture.schoolA, values: ["x": .int(1)], by: laptop)
                let b = try Make.report("b", school: Fixture.schoolB, values: ["x": .int(2)], by: desktop)
                _ = try await client.push(try Make.push([plan], replica: bureauReplica), token: fixture.bureau)
                _ = try await client.push(try Make.push([a], replica: laptop), token: fixture.deviceA)
                _ = try await client.push(try Make.push([b], replica: desktop), token: fixture.deviceB)
                #expect(Set(try await client.pullAll(token: fixture.deviceA).records.map(\.key.id)) == ["qixing-2024", "a"])
                #expect(Set(try await client.pullAll(token: fixture.deviceB).records.map(\.key.id)) == ["qixing-2024", "b"])
                #expect(Set(try await client.pullAll(token: fixture.bureau).records.map(\.key.id)) == ["qixing-2024", "a", "b"])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func writesOutsideTheDevicesScopeAreRejectedPerRecordAndTheRestProceeds(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let own = try Make.report("own", school: Fixture.schoolA, values: ["x": .int(1)], by: laptop)
                let foreign = try Make.report("foreign", school: Fixture.schoolB, values: ["x": .int(1)], by: laptop)
                let plan = SyncRecord(
                    key: RecordKey(collection: "plans", id: "p"),
                    scope: .catalog,
                    state: try RecordState().writing(["x": .int(1)], by: laptop)
                )
                let response = try await client.push(try Make.push([foreign, own, plan], replica: laptop), token: fixture.deviceA)
                #expect(response.results.map(\.status) == [.rejected, .applied, .rejected])
                #expect(response.results.compactMap(\.reason?.code) == [.scopeDenied, .scopeDenied])
                #expect(try await client.pullAll(token: fixture.bureau).records.map(\.key.id) == ["own"])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func pullPagesFollowTheChangeLogWithoutDuplicates(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                var receipt: PushReceipt?
                var records: [SyncRecord] = []
                for index in 0..<25 {
                    records.append(try Make.report("r\(index)", values: ["n": .int(Int64(index))], by: laptop))
                }
                receipt = try await client.push(try Make.push(records, replica: laptop), token: fixture.deviceA).receipt
                // Edit r0 again: it must come once, at its latest position.
                var edited = records[0]
                try edited.state.write(["n": .int(100)], by: laptop)
                _ = try await client.push(try Make.push([edited], replica: laptop, receipt: receipt), token: fixture.deviceA)
                var seen: [String] = []
                var query = "limit=10"
                var pages = 0
                while true {
                    let page = try await client.pull(query, token: fixture.deviceA2)
                    pages += 1
                    seen += page.records.map(\.key.id)
                    query = "limit=10&since=\(page.next)"
                    if !page.more { break }
                }
                #expect(pages == 3)
                #expect(seen.count == 25)
                #expect(Set(seen).count == 25)
                #expect(seen.last == "r0")
                let tail = try await client.pull(query, token: fixture.deviceA2)
                #expect(tail.records.isEmpty && !tail.more)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func longPollReturnsAsSoonAsAChangeArrives(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let start = try await client.pull(token: fixture.deviceA)
                async let waiting = client.pull("since=\(start.next)&wait=30", token: fixture.deviceA2)
                _ = try await client.push(
                    try Make.push([try Make.report("r1", values: ["x": .int(1)], by: laptop)], replica: laptop),
                    token: fixture.deviceA
                )
                let page = try await waiting
                #expect(page.records.map(\.key.id) == ["r1"])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func gzipRequestAndResponseBodies(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                var records: [SyncRecord] = []
                for index in 0..<20 {
                    records.append(try Make.report("r\(index)", values: ["narrative": .string(String(repeating: "学校进展 ", count: 20))], by: laptop))
                }
                var plain = try Make.body(try Make.push(records, replica: laptop))
                let plainSize = plain.readableBytes
                let compressed = try plain.compress(with: .gzip())
                #expect(compressed.readableBytes < plainSize / 3)
                let pushed = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: compressed, headers: [.contentEncoding: "gzip"])
                #expect(pushed.status == .ok)
                let pulled = try await client.send(.get, "/v1/pull", token: fixture.deviceA, headers: [.acceptEncoding: "gzip"])
                #expect(pulled.headers[.contentEncoding] == "gzip")
                var body = pulled.body
                let page = try CanonicalJSON.decode(PullResponse.self, from: Data(try body.decompress(with: .gzip()).readableBytesView))
                #expect(page.records.count == 20)
            }
        }
    }
}
