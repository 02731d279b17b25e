import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Administrators see conflicts side by side, resolve them, and read history.
struct ConflictRouteTests {
    let office = ReplicaID(high: 0x0f, low: 1)
    let principalPC = ReplicaID(high: 0x0f, low: 2)

    /// Two devices of school A edit the same report's narrative offline; returns the key.
    func makeConflict(_ client: any TestClientProtocol, _ fixture: Fixture) async throws -> RecordKey {
        let base = try Make.report("qx-zhuoran/2025-S1/m1", values: ["status": .string("in_progress"), "narrative": .string("初稿")], by: office)
        let receipt = try await client.push(try Make.push([base], replica: office), token: fixture.deviceA).receipt
        var one = base
        try one.state.write(["narrative": .string("东园主体完工")], by: office)
        var two = base
        try two.state.write(["narrative": .string("东园主体完工，西园延期")], by: principalPC)
        _ = try await client.push(try Make.push([one], replica: office, receipt: receipt), token: fixture.deviceA)
        let result = try await client.push(try Make.push([two], replica: principalPC), token: fixture.deviceA2)
        #expect(result.results.first?.status == .conflict)
        return base.key
    }

    func body(_ value: some Encodable) throws -> ByteBuffer { try Make.body(value) }

    @Test(arguments: StoreKind.allCases) func anAdministratorSeesBothValuesAndResolvesOnceWithAReason(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let key = try await makeConflict(client, fixture)
                struct List: Decodable { let conflicts: [ConflictSummary] }
                let list = try (try await client.send(.get, "/v1/conflicts?school=qx-zhuoran", token: fixture.admin)).decode(List.self)
                #expect(list.conflicts.map(\.id) == [key.id])
                #expect(list.conflicts.first?.fields == ["narrative"])
                #expect(try (try await client.send(.get, "/v1/conflicts?school=qx-huoju", token: fixture.admin)).decode(List.self).conflicts.isEmpty)
                #expect(
                    try (try await client.send(.get, "/v1/conflicts?before=2000-01-01T00:00:00Z", token: fixture.admin)).decode(List.self).conflicts
                        .isEmpty
                )
                #expect(
                    try (try await client.send(.get, "/v1/conflicts?before=2999-01-01T00:00:00Z", token: fixture.admin)).decode(List.self).conflicts
                        .count == 1
                )
                #expect(try await client.send(.get, "/v1/conflicts?before=yesterday", token: fixture.admin).status == .badRequest)

                let path = "/v1/conflicts/reports/\(key.id)"
                let detail = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                let candidates = try #require(detail.conflicts["narrative"])
                #expect(Set(candidates.map(\.writer)) == ["卓然 教务处 PC", "卓然 校长室 PC"])
                #expect(Set(candidates.map(\.value)) == [.string("东园主体完工"), .string("东园主体完工，西园延期")])
                #expect(detail.settled["status"] == .string("in_progress"))

                // A third value arrives after the administrator looked: the resolution is refused.
                var late = try Make.report(key.id, values: ["status": .string("in_progress"), "narrative": .string("初稿")], by: office)
                late.state = try RecordState().writing(["narrative": .string("第三种说法")], by: ReplicaID(high: 0x0f, low: 3))
                _ = try await client.push(try Make.push([late], replica: ReplicaID(high: 0x0f, low: 3)), token: fixture.deviceA2)
                let choice = ResolutionRequest(seen: detail.context, values: ["narrative": .string("东园主体完工，西园延期")], delete: nil, reason: "以校长室为准")
                let stale = try await client.send(.post, path, token: fixture.admin, body: try body(choice))
                #expect(stale.status == .conflict)
                #expect(try stale.error().error == .conflictStale)

                // Looked at again, it resolves.
                let fresh = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                #expect(fresh.conflicts["narrative"]?.count == 3)
                let resolved = try await client.send(
                    .post,
                    path,
                    token: fixture.admin,
                    body: try body(
                        ResolutionRequest(seen: fresh.context, values: ["narrative": .string("东园主体完工，西园延期")], delete: nil, reason: "以校长室为准")
                    )
                )
                #expect(resolved.status == .ok, "\(String(buffer: resolved.body))")
                let again = try await client.send(
                    .post,
                    path,
                    token: fixture.admin,
                    body: try body(ResolutionRequest(seen: fresh.context, values: ["narrative": .string("x")], delete: nil, reason: "again"))
                )
                #expect(again.status == .conflict)
                #expect(try again.error().error == .notInConflict)
                #expect(try (try await client.send(.get, "/v1/conflicts", token: fixture.admin)).decode(List.self).conflicts.isEmpty)
                #expect(try await client.send(.get, path, token: fixture.admin).status == .notFound)

                // Every device gets the resolution on its next pull, and the conflict is gone.
                let state = try #require(try await client.pull(token: fixture.deviceA).records.first { $0.key == key }?.state)
                #expect(!state.isConflicted)
                #expect(state.value(of: "narrative") == .string("东园主体完工，西园延期"))

                struct History: Decodable { let history: [AuditEntry] }
                let history = try (try await client.send(.get, "/v1/history/reports/\(key.id)", token: fixture.bureau)).decode(History.self).history
                #expect(history.map(\.kind) == [.push, .push, .push, .push, .resolve])
                #expect(history.last?.reason == "以校长室为准")
                #expect(history.last?.principal == "管理员")
                #expect(history.last?.before?.fields["narrative"]?.count == 3)
                #expect(history.last?.after.fields["narrative"] == [.string("东园主体完工，西园延期")])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func rolesAndBadResolutionsAreRefusedClearly(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let key = try await makeConflict(client, fixture)
                let path = "/v1/conflicts/reports/\(key.id)"
                let detail = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                #expect(try await client.send(.get, "/v1/conflicts", token: fixture.deviceA).status == .forbidden)
                #expect(try await client.send(.get, "/v1/history/reports/\(key.id)", token: fixture.deviceA).status == .forbidden)
                let valid = ResolutionRequest(seen: detail.context, values: ["narrative": .string("x")], delete: nil, reason: "r")
                #expect(try await client.send(.post, path, token: fixture.bureau, body: try body(valid)).status == .forbidden)
                #expect(try await client.send(.post, path, token: fixture.deviceA, body: try body(valid)).status == .forbidden)
                let noReason = ResolutionRequest(seen: detail.context, values: ["narrative": .string("x")], delete: nil, reason: "  ")
                #expect(try await client.send(.post, path, token: fixture.admin, body: try body(noReason)).status == .badRequest)
                let nothing = ResolutionRequest(seen: detail.context, values: nil, delete: nil, reason: "r")
                #expect(try await client.send(.post, path, token: fixture.admin, body: try body(nothing)).status == .badRequest)
                let partial = ResolutionRequest(seen: detail.context, values: ["status": .string("done")], delete: nil, reason: "r")
                let unresolved = try await client.send(.post, path, token: fixture.admin, body: try body(partial))
                #expect(unresolved.status == .badRequest)
                #expect(try unresolved.error().error == .unresolvedFields)
                #expect(try await client.send(.post, "/v1/conflicts/reports/nope", token: fixture.admin, body: try body(valid)).status == .notFound)
                #expect(try await client.send(.get, "/v1/history/reports/nope", token: fixture.admin).status == .notFound)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aRecordDeletedOnOneDeviceAndEditedOnAnotherIsKeptWithItsLastContent(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let base = try Make.report(
                    "qx-zhuoran/2025-S1/m2",
                    values: ["status": .string("in_progress"), "narrative": .string("初稿")],
                    by: office
                )
                let receipt = try await client.push(try Make.push([base], replica: office), token: fixture.deviceA).receipt
                var deleted = base
                try deleted.state.delete(by: office)
                var edited = base
                try edited.state.write(["status": .string("done")], by: principalPC)
                _ = try await client.push(try Make.push([deleted], replica: office, receipt: receipt), token: fixture.deviceA)
                _ = try await client.push(try Make.push([edited], replica: principalPC), token: fixture.deviceA2)
                let path = "/v1/conflicts/reports/\(base.key.id)"
                let detail = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                #expect(detail.deletedBy == ["卓然 教务处 PC"])
                // The last content before the delete, with the concurrent edit laid over it (PROTOCOL.md §3.5).
                #expect(detail.lastContent == ["status": .string("done"), "narrative": .string("初稿")])
                // "keep" re-writes the full content even when the resolver names no field (DESIGN §4 invariant 6).
                let resolved = try await client.send(
                    .post,
                    path,
                    token: fixture.admin,
                    body: try body(ResolutionRequest(seen: detail.context, values: [:], delete: nil, reason: "误删，保留"))
                )
                #expect(resolved.status == .ok)
                let state = try resolved.decode(SyncRecord.self).state
                #expect(state.currentValues == ["status": .string("done"), "narrative": .string("初稿")])
            }
        }
    }
}
