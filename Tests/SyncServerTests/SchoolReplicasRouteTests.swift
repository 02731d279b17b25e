import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// `GET /v1/school/replicas` (PROTOCOL.md §12): a school's device names the writers of its school's
/// values — every replica a device of its school owns, with the device's name — and nothing of
/// another school's; users are refused.
struct SchoolReplicasRouteTests {
    // Pushed in an order that is not the replicas' order, so the answer's sorting shows.
    let office = ReplicaID(high: 0xa0, low: 9)
    let officeAfterRemint = ReplicaID(high: 0xa0, low: 1)
    let principalPC = ReplicaID(high: 0x0a, low: 5)
    let huoju = ReplicaID(high: 0x0b, low: 1)
    let administrator = ReplicaID(high: 0x0c, low: 1)

    /// Pushes a report as `token` under `replica`.
    func push(_ client: any TestClientProtocol, _ id: String, school: String = Fixture.schoolA, by replica: ReplicaID, token: String) async throws {
        let record = try Make.report(id, school: school, values: ["narrative": .string("进展 \(replica)")], by: replica)
        let answer = try await client.push(try Make.push([record], replica: replica), token: token)
        #expect(answer.results.map(\.status) == [.applied])
    }

    func writers(_ client: any TestClientProtocol, token: String) async throws -> [SchoolReplicas.Writer] {
        let response = try await client.send(.get, "/v1/school/replicas", token: token)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try response.decode(SchoolReplicas.self).replicas
    }

    @Test(arguments: StoreKind.allCases)
    func aDeviceSeesItsOwnSchoolsReplicasWithNamesAndNoOneElses(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                try await push(client, "qx-zhuoran/2025-S1/m1", by: office, token: fixture.deviceA)
                try await push(client, "qx-zhuoran/2025-S1/m2", by: officeAfterRemint, token: fixture.deviceA)
                try await push(client, "qx-zhuoran/2025-S1/m3", by: principalPC, token: fixture.deviceA2)
                try await push(client, "qx-huoju/2025-S1/m1", school: Fixture.schoolB, by: huoju, token: fixture.deviceB)
                // A user's replica writing in the school's scope is no device of the school.
                try await push(client, "qx-zhuoran/2025-S1/m4", by: administrator, token: fixture.admin)

                let expected = [
                    SchoolReplicas.Writer(replica: principalPC.description, name: "卓然 校长室 PC"),
                    SchoolReplicas.Writer(replica: officeAfterRemint.description, name: "卓然 教务处 PC"),
                    SchoolReplicas.Writer(replica: office.description, name: "卓然 教务处 PC"),
                ]
                #expect(try await writers(client, token: fixture.deviceA) == expected)
                #expect(try await writers(client, token: fixture.deviceA2) == expected)
                #expect(try await writers(client, token: fixture.deviceB) == [SchoolReplicas.Writer(replica: huoju.description, name: "火炬 教务处 PC")])

                // A revoked device's values may still be in conflicts: it is still named.
                let revoked = try await fixture.principal(fixture.deviceA2)
                #expect(try await fixture.store.revokePrincipal(id: revoked.id, at: Date()))
                #expect(try await writers(client, token: fixture.deviceA) == expected)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aSchoolWhoseDevicesNeverPushedHasNoReplicas(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                try await push(client, "qx-zhuoran/2025-S1/m1", by: office, token: fixture.deviceA)
                #expect(try await writers(client, token: fixture.deviceB).isEmpty)
                let raw = try await client.send(.get, "/v1/school/replicas", token: fixture.deviceB)
                #expect(String(buffer: raw.body) == #"{"replicas":[]}"#)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func usersAreForbiddenAndNoTokenIsUnauthorized(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                try await push(client, "qx-zhuoran/2025-S1/m1", by: office, token: fixture.deviceA)
                for token in [fixture.bureau, fixture.admin] {
                    let response = try await client.send(.get, "/v1/school/replicas", token: token)
                    #expect(response.status == .forbidden)
                    let error = try response.error()
                    #expect(error.error == .forbidden)
                    #expect(error.message.hasPrefix("Only schools' devices may"), "\(error.message)")
                    #expect(!String(buffer: response.body).contains(office.description))
                }
                let anonymous = try await client.send(.get, "/v1/school/replicas", token: nil)
                #expect(anonymous.status == .unauthorized)
                #expect(try anonymous.error().error == .unauthorized)
                let unknownParameter = try await client.send(.get, "/v1/school/replicas?school=qx-huoju", token: fixture.deviceA)
                #expect(unknownParameter.status == .badRequest)
                #expect(try unknownParameter.error().error == .invalidParameter)
            }
        }
    }
}
