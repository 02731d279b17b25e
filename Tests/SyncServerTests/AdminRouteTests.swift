import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Enrolment, users, the device list, session, health and metrics.
struct AdminRouteTests {
    struct Issued: Decodable {
        let id: Int64
        let kind: String
        let name: String
        let school: String?
        let token: String
    }

    @Test(arguments: StoreKind.allCases) func anAdminEnrolsASchoolAndADeviceWhoseTokenWorks(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let school = try await client.send(
                    .post,
                    "/v1/admin/schools",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"id":"qx-tashan","name":"塔山小学"}"#)
                )
                #expect(school.status == .created)
                let device = try await client.send(
                    .post,
                    "/v1/admin/devices",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"school":"qx-tashan","name":"教务处 PC"}"#)
                )
                #expect(device.status == .created)
                let issued = try device.decode(Issued.self)
                #expect(issued.token.hasPrefix("ss_") && issued.token.count == 67)
                let session = try await client.send(.get, "/v1/session", token: issued.token)
                let text = String(buffer: session.body)
                #expect(text.contains(#""writeScopes":["school:qx-tashan"]"#))
                #expect(text.contains(#""readScopes":["catalog","school:qx-tashan"]"#))
                #expect(text.contains(#""maxBatchRecords":500"#))
                let user = try await client.send(
                    .post,
                    "/v1/admin/users",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"name":"督导室","role":"bureau"}"#)
                )
                #expect(user.status == .created)
                let bureauSession = try await client.send(.get, "/v1/session", token: try user.decode(Issued.self).token)
                #expect(String(buffer: bureauSession.body).contains(#""readScopes":["*"]"#))
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func tokensAreStoredOnlyAsHashes(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            let hashes = try await fixture.store.principal(forTokenHash: Token.hash(fixture.deviceA))
            #expect(hashes?.schoolID == Fixture.schoolA)
            let raw = try await store.rawContent(in: fixture.directory)
            #expect(raw.range(of: Data(fixture.deviceA.utf8)) == nil)
            #expect(raw.count > 10_000, "the whole store was read (\(raw.count) bytes)")
        }
    }

    @Test(arguments: StoreKind.allCases) func onlyAdminsMayAdminister(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                for token in [fixture.deviceA, fixture.bureau] {
                    let response = try await client.send(
                        .post,
                        "/v1/admin/schools",
                        token: token,
                        body: ByteBuffer(string: #"{"id":"x","name":"x"}"#)
                    )
                    #expect(response.status == .forbidden)
                    #expect(try response.error().error == .forbidden)
                }
                #expect(try await client.send(.get, "/v1/devices", token: fixture.deviceA).status == .forbidden)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func administrationMistakesAre4xx(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let duplicate = try await client.send(
                    .post,
                    "/v1/admin/schools",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"id":"qx-zhuoran","name":"again"}"#)
                )
                #expect(duplicate.status == .conflict)
                #expect(try duplicate.error().error == .alreadyExists)
                let badID = try await client.send(
                    .post,
                    "/v1/admin/schools",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"id":"has space","name":"x"}"#)
                )
                #expect(badID.status == .badRequest)
                let noSchool = try await client.send(
                    .post,
                    "/v1/admin/devices",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"school":"nowhere","name":"x"}"#)
                )
                #expect(noSchool.status == .notFound)
                let badRole = try await client.send(
                    .post,
                    "/v1/admin/users",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"name":"x","role":"device"}"#)
                )
                #expect(badRole.status == .badRequest)
                let emptyName = try await client.send(
                    .post,
                    "/v1/admin/users",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"name":"  ","role":"admin"}"#)
                )
                #expect(emptyName.status == .badRequest)
                let missing = try await client.send(.post, "/v1/admin/principals/999/revoke", token: fixture.admin)
                #expect(missing.status == .notFound)
                let notNumber = try await client.send(.post, "/v1/admin/principals/abc/revoke", token: fixture.admin)
                #expect(notNumber.status == .badRequest)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func theDeviceListShowsWhoSyncedWhen(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let replica = ReplicaID(high: 3, low: 3)
                _ = try await client.push(
                    try Make.push([try Make.report("r", values: ["x": .int(1)], by: replica)], replica: replica),
                    token: fixture.deviceA
                )
                let page = try await client.pull(token: fixture.deviceA)
                struct Body: Decodable { let devices: [DeviceInfo] }
                let list = try (try await client.send(.get, "/v1/devices", token: fixture.bureau)).decode(Body.self).devices
                #expect(list.count == 3)
                let active = try #require(list.first { $0.name == "卓然 教务处 PC" })
                #expect(active.lastPullCursor == page.next.description)
                #expect(active.lastPushAt != nil && active.lastSeenAt != nil)
                #expect(active.client == "tests/1")
                let idle = try #require(list.first { $0.name == "火炬 教务处 PC" })
                #expect(idle.lastSeenAt == nil)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func healthAndMetricsNeedNoToken(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let health = try await client.send(.get, "/healthz", token: nil)
                #expect(health.status == .ok)
                #expect(String(buffer: health.body) == #"{"status":"ok"}"#)
                let replica = ReplicaID(high: 3, low: 3)
                _ = try await client.push(
                    try Make.push([try Make.report("r", values: ["x": .int(1)], by: replica)], replica: replica),
                    token: fixture.deviceA
                )
                let metrics = String(buffer: try await client.send(.get, "/metrics", token: nil).body)
                #expect(metrics.contains("schoolsync_push_records_total 1"))
                #expect(metrics.contains("schoolsync_conflicts_open 0"))
                #expect(metrics.contains(#"schoolsync_http_requests_total{method="POST",route="/v1/push",status="200"} 1"#))
                #expect(metrics.contains("schoolsync_http_request_duration_seconds_bucket"))
            }
        }
    }
}
