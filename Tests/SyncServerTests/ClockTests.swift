import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The server reads one clock, ``SyncServerConfiguration/clock``: pushes, audit entries,
/// resolutions, conflict detection and device activity all carry its time.
struct ClockTests {
    /// A time no test machine's own clock reads.
    static let fixed = Date(timeIntervalSince1970: 1_928_376_306)  // 2031-02-09T04:05:06Z

    @Test(arguments: StoreKind.allCases) func auditActivityAndResolutionTimesComeFromTheConfiguredClock(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.clock = { ClockTests.fixed } }) { fixture in
            try await fixture.withRouter { client in
                let office = ReplicaID(high: 0x0c, low: 1)
                let principalPC = ReplicaID(high: 0x0c, low: 2)
                let id = "qx-zhuoran/2025-S1/clock"
                let one = try Make.report(id, values: ["narrative": .string("东园")], by: office)
                let two = try Make.report(id, values: ["narrative": .string("西园")], by: principalPC)
                _ = try await client.push(try Make.push([one], replica: office), token: fixture.deviceA)
                let second = try await client.push(try Make.push([two], replica: principalPC), token: fixture.deviceA2)
                #expect(second.results.first?.status == .conflict)
                _ = try await client.pull(token: fixture.deviceA)

                struct List: Decodable { let conflicts: [ConflictSummary] }
                let conflicts = try (try await client.send(.get, "/v1/conflicts", token: fixture.admin)).decode(List.self).conflicts
                #expect(conflicts.map(\.detectedAt) == [Self.fixed])

                let path = "/v1/conflicts/reports/\(id)"
                let detail = try (try await client.send(.get, path, token: fixture.admin)).decode(ConflictDetail.self)
                let resolution = ResolutionRequest(seen: detail.context, values: ["narrative": .string("西园")], delete: nil, reason: "以校长室为准")
                let resolved = try await client.send(.post, path, token: fixture.admin, body: try Make.body(resolution))
                #expect(resolved.status == .ok)

                struct History: Decodable { let history: [AuditEntry] }
                let history = try (try await client.send(.get, "/v1/history/reports/\(id)", token: fixture.admin)).decode(History.self).history
                #expect(history.map(\.kind) == [.push, .push, .resolve])
                #expect(history.map(\.at) == [Self.fixed, Self.fixed, Self.fixed])

                struct Devices: Decodable { let devices: [DeviceInfo] }
                let devices = try (try await client.send(.get, "/v1/devices", token: fixture.admin)).decode(Devices.self).devices
                let deviceA = try #require(devices.first { $0.name == "卓然 教务处 PC" })
                #expect(deviceA.lastPushAt == Self.fixed)
                #expect(deviceA.lastPullAt == Self.fixed)
                #expect(deviceA.lastSeenAt == Self.fixed)
            }
        }
    }
}
