import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Reporting
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncServer

/// The questions an independent client had to guess at (issue 12), each with the answer
/// PROTOCOL.md now gives and the server keeps.
struct SpecAnswerTests {
    let office = ReplicaID(high: 0x0e, low: 1)
    let principalPC = ReplicaID(high: 0x0e, low: 2)

    /// §4 "Query parameters": an unknown parameter, or one given twice, is refused by name.
    @Test(arguments: [
        ("/v1/pull?scope=school:qx-huoju", "scope"),
        ("/v1/pull?foo=bar", "foo"),
        ("/v1/pull?limit=5&limit=6", "limit"),
        ("/v1/session?verbose=1", "verbose"),
        ("/v1/conflicts?schol=qx-zhuoran", "schol"),
        ("/v1/history/reports/qx-zhuoran/2025-S1/m1?page=2", "page"),
        ("/v1/bureau/summary?period=2025-S1&format=csv", "format"),
        ("/v1/pull/?scope=school:qx-huoju", "scope"),  // the router ignores empty segments; so does the check
        ("//v1/pull?scope=school:qx-huoju", "scope"),
    ])
    func unknownQueryParametersAreRefusedByName(_ uri: String, _ parameter: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let response = try await client.send(.get, uri, token: fixture.admin)
                #expect(response.status == .badRequest)
                let error = try response.error()
                #expect(error.error == .invalidParameter)
                #expect(error.details?["parameter"] == parameter)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func theParametersAnEndpointDefinesStillWork(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                for uri in ["/v1/pull?limit=5&wait=0", "/v1/conflicts?limit=10&after=0", "/v1/session", "/v1/bureau/summary?period=2025-S1"] {
                    let status = try await client.send(.get, uri, token: fixture.admin).status
                    #expect(status == .ok, "\(uri)")
                }
            }
        }
    }

    /// §6.3: a retried first push (no receipt) whose answer was lost gets the stored answer again.
    @Test(arguments: StoreKind.allCases) func aRetriedFirstPushIsReplayed(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let record = try Make.report("qx-zhuoran/2025-S1/m1", values: ["status": .string("done")], by: office)
                let push = try Make.push([record], replica: office, batch: "first-push")
                let first = try await client.sendPush(push, token: fixture.deviceA)
                let again = try await client.sendPush(push, token: fixture.deviceA)
                #expect(first.status == .ok)
                #expect(again.status == .ok)
                #expect(String(buffer: again.body) == String(buffer: first.body), "byte for byte (§6.5)")
            }
        }
    }

    /// §6.2 step 3: the last batch id with the *current* receipt is a new push reusing an id — 409
    /// `batch_reused`, and none of its records is applied.
    @Test(arguments: StoreKind.allCases) func theSameBatchIDWithTheCurrentReceiptIsRefused(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let one = try Make.report("qx-zhuoran/2025-S1/m1", values: ["status": .string("done")], by: office)
                let answer = try await client.push(try Make.push([one], replica: office, batch: "b-1"), token: fixture.deviceA)
                let other = try Make.report("qx-zhuoran/2025-S1/m2", values: ["status": .string("done")], by: office, on: one.state)
                let reused = try await client.sendPush(try Make.push([other], replica: office, receipt: answer.receipt, batch: "b-1"), token: fixture.deviceA)
                #expect(reused.status == .conflict)
                #expect(try reused.error().error == .batchReused)
                #expect(try await fixture.store.records(in: ["reports"]).map(\.key.id) == ["qx-zhuoran/2025-S1/m1"])
                // A fresh id goes through, with the same receipt.
                let fresh = try await client.push(try Make.push([other], replica: office, receipt: answer.receipt, batch: "b-2"), token: fixture.deviceA)
                #expect(fresh.results.map(\.status) == [.applied])
            }
        }
    }

    /// §12: a resolution without a `reason` key is `invalid_parameter` naming `reason`, like an empty one.
    @Test(arguments: StoreKind.allCases) func aResolutionWithoutAReasonIsAnInvalidParameter(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let path = "/v1/conflicts/reports/qx-zhuoran/2025-S1/m1"
                for body in [#"{"seen":{},"values":{}}"#, #"{"seen":{},"values":{},"reason":""}"#] {
                    let response = try await client.send(.post, path, token: fixture.admin, body: ByteBuffer(string: body))
                    #expect(response.status == .badRequest)
                    #expect(try response.error().error == .invalidParameter)
                    #expect(try response.error().details?["parameter"] == "reason")
                }
            }
        }
    }

    /// §3.5: a resolution may not overwrite a settled value that arrived after the conflict was shown.
    @Test(arguments: StoreKind.allCases) func aResolutionNamingAFieldThatChangedUnseenIsStale(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let base = try Make.report("qx-zhuoran/2025-S1/m1", values: ["status": .string("in_progress"), "narrative": .string("初稿")], by: office)
                let receipt = try await client.push(try Make.push([base], replica: office), token: fixture.deviceA).receipt
                var one = base
                try one.state.write(["narrative": .string("甲")], by: office)
                var two = base
                try two.state.write(["narrative": .string("乙")], by: principalPC)
                let second = try await client.push(try Make.push([one], replica: office, receipt: receipt), token: fixture.deviceA).receipt
                let pcReceipt = try await client.push(try Make.push([two], replica: principalPC), token: fixture.deviceA2).receipt
                let path = "/v1/conflicts/reports/\(base.key.id)"
                let shown = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                // After the conflict was shown, a device settles a new status.
                var later = two
                try later.state.write(["status": .string("at_risk")], by: principalPC)
                _ = try await client.push(try Make.push([later], replica: principalPC, receipt: pcReceipt), token: fixture.deviceA2)
                let overwriting = ResolutionRequest(seen: shown.context, values: ["narrative": .string("甲"), "status": .string("done")], delete: nil, reason: "以甲为准")
                let stale = try await client.send(.post, path, token: fixture.admin, body: try Make.body(overwriting))
                #expect(stale.status == .conflict)
                #expect(try stale.error().error == .conflictStale)
                // Stale is checked before completeness: a stale resolution missing a field is still stale.
                let incomplete = ResolutionRequest(seen: shown.context, values: ["status": .string("done")], delete: nil, reason: "只改状态")
                #expect(try (try await client.send(.post, path, token: fixture.admin, body: try Make.body(incomplete))).error().error == .conflictStale)
                // Naming only the conflicting field is not stale: the new status is kept.
                let fair = ResolutionRequest(seen: shown.context, values: ["narrative": .string("甲")], delete: nil, reason: "以甲为准")
                let resolved = try await client.send(.post, path, token: fixture.admin, body: try Make.body(fair))
                #expect(resolved.status == .ok)
                #expect(try resolved.decode(SyncRecord.self).state.currentValues == ["narrative": .string("甲"), "status": .string("at_risk")])
                _ = second
            }
        }
    }

    /// §3.5: keeping a record in edit-vs-delete conflict restores its content from history, but a
    /// field that is also in conflict is the resolver's to choose — never taken from history.
    @Test(arguments: StoreKind.allCases) func keepLeavesAFieldInConflictToTheResolver(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let third = ReplicaID(high: 0x0e, low: 3)
                let base = try Make.report("qx-zhuoran/2025-S1/m3", values: ["status": .string("in_progress"), "narrative": .string("初稿")], by: office)
                let receipt = try await client.push(try Make.push([base], replica: office), token: fixture.deviceA).receipt
                var one = base
                try one.state.write(["narrative": .string("甲")], by: office)
                _ = try await client.push(try Make.push([one], replica: office, receipt: receipt), token: fixture.deviceA)
                var deleted = base
                try deleted.state.delete(by: principalPC)
                _ = try await client.push(try Make.push([deleted], replica: principalPC), token: fixture.deviceA2)
                var two = base
                try two.state.write(["narrative": .string("乙")], by: third)
                _ = try await client.push(try Make.push([two], replica: third), token: fixture.deviceA)
                let path = "/v1/conflicts/reports/\(base.key.id)"
                let detail = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                #expect(detail.lastContent?["narrative"] == nil, "the narrative is contested: not offered from history")
                #expect(detail.lastContent?["status"] == .string("in_progress"))
                let silent = ResolutionRequest(seen: detail.context, values: [:], delete: nil, reason: "保留")
                let refused = try await client.send(.post, path, token: fixture.admin, body: try Make.body(silent))
                #expect(try refused.error().error == .unresolvedFields)
                let chosen = ResolutionRequest(seen: detail.context, values: ["narrative": .string("乙")], delete: nil, reason: "保留乙")
                let resolved = try await client.send(.post, path, token: fixture.admin, body: try Make.body(chosen))
                #expect(resolved.status == .ok)
                #expect(try resolved.decode(SyncRecord.self).state.currentValues == ["status": .string("in_progress"), "narrative": .string("乙")])
            }
        }
    }

    /// §6.4 with the domain rules on: a school device writing an assignment is `not_assigned`.
    @Test func aSchoolWritingAnAssignmentIsNotAssigned() async throws {
        try await Fixture.with(configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                var state = RecordState()
                try state.write(["school_id": .string(Fixture.schoolA), "measure_id": .string("m1")], by: office)
                let assignment = SyncRecord(key: RecordKey(collection: "assignments", id: "qx-zhuoran/m1"), scope: Make.scope(Fixture.schoolA), state: state)
                let answer = try await client.push(try Make.push([assignment], replica: office), token: fixture.deviceA)
                #expect(answer.results.first?.status == .rejected)
                #expect(answer.results.first?.reason?.code == .notAssigned)
            }
        }
    }

    /// §6.4: one record past the body limit makes the whole request 413; one whose joined state
    /// passes `maxStateBytes` inside an acceptable body is rejected alone with `too_large`.
    @Test func anOversizedRecordIsA413AloneAndTooLargeInABatch() async throws {
        try await Fixture.with(configure: { $0.maxBodyBytes = 64 * 1024 }) { fixture in
            try await fixture.withRouter { client in
                let big = try Make.report("qx-zhuoran/2025-S1/big", values: ["narrative": .string(String(repeating: "x", count: 65_000))], by: office)
                let small = try Make.report("qx-zhuoran/2025-S1/small", values: ["narrative": .string("小")], by: office)
                let whole = try await client.sendPush(try Make.push([small, big], replica: office), token: fixture.deviceA)
                #expect(whole.status == .contentTooLarge)
                #expect(try whole.error().error == .bodyTooLarge)
                #expect(try await fixture.store.records(in: ["reports"]).isEmpty, "nothing of a refused request is applied")
            }
        }
    }
}
