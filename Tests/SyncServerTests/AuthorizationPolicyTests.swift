import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Each route group states once who may call it (PROTOCOL.md §5, §12): without a valid token the
/// answer is 401 `unauthorized`, with a token of another role 403 `forbidden`, both in one shape.
struct AuthorizationPolicyTests {
    enum Caller: CaseIterable {
        case nobody, device, bureau, admin
    }

    /// An endpoint and the callers it serves; everyone else is refused.
    struct Endpoint: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let body: String?
        let allowed: Set<Caller>
    }

    static let endpoints: [Endpoint] = [
        Endpoint(method: .get, path: "/v1/session", body: nil, allowed: [.device, .bureau, .admin]),
        Endpoint(method: .get, path: "/v1/pull", body: nil, allowed: [.device, .bureau, .admin]),
        Endpoint(method: .get, path: "/v1/devices", body: nil, allowed: [.bureau, .admin]),
        Endpoint(method: .get, path: "/v1/school/replicas", body: nil, allowed: [.device]),
        Endpoint(method: .get, path: "/v1/conflicts", body: nil, allowed: [.bureau, .admin]),
        Endpoint(method: .get, path: "/v1/conflicts/reports/qx-zhuoran/2025-S1/m1", body: nil, allowed: [.bureau, .admin]),
        Endpoint(method: .get, path: "/v1/history/reports/qx-zhuoran/2025-S1/m1", body: nil, allowed: [.bureau, .admin]),
        Endpoint(method: .get, path: "/v1/bureau/summary?period=2025-S1", body: nil, allowed: [.bureau, .admin]),
        Endpoint(method: .get, path: "/v1/admin/schools", body: nil, allowed: [.admin]),
        Endpoint(method: .post, path: "/v1/admin/schools", body: #"{"id":"qx-new","name":"新校"}"#, allowed: [.admin]),
        Endpoint(method: .post, path: "/v1/admin/users", body: #"{"name":"x","role":"bureau"}"#, allowed: [.admin]),
        Endpoint(method: .post, path: "/v1/admin/principals/999/revoke", body: nil, allowed: [.admin]),
    ]

    func token(_ caller: Caller, _ fixture: Fixture) -> String? {
        switch caller {
        case .nobody: nil
        case .device: fixture.deviceA
        case .bureau: fixture.bureau
        case .admin: fixture.admin
        }
    }

    @Test func everyGroupRefusesWhomItDoesNotServeInOneShape() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                var unauthorizedMessages: Set<String> = []
                for endpoint in Self.endpoints {
                    for caller in Caller.allCases {
                        let response = try await client.send(
                            endpoint.method,
                            endpoint.path,
                            token: token(caller, fixture),
                            body: endpoint.body.map { ByteBuffer(string: $0) }
                        )
                        let what = "\(endpoint.method) \(endpoint.path) as \(caller): \(response.status)"
                        if endpoint.allowed.contains(caller) {
                            #expect(response.status != .unauthorized && response.status != .forbidden, "\(what)")
                        } else if caller == .nobody {
                            #expect(response.status == .unauthorized, "\(what)")
                            let body = try response.error()
                            #expect(body.error == .unauthorized)
                            unauthorizedMessages.insert(body.message)
                        } else {
                            #expect(response.status == .forbidden, "\(what)")
                            let body = try response.error()
                            #expect(body.error == .forbidden)
                            #expect(body.message.hasPrefix("Only "), "\(body.message)")
                            let who =
                                endpoint.allowed == [.device]
                                ? "schools' devices" : endpoint.allowed.contains(.bureau) ? "bureau and admin users" : "admin users"
                            #expect(body.message.hasPrefix("Only \(who) may"), "\(body.message)")
                        }
                    }
                }
                #expect(unauthorizedMessages.count == 1, "one 401 body for every endpoint: \(unauthorizedMessages)")
            }
        }
    }

    @Test func pagesSendVisitorsWithoutAStaffSessionToTheSignInForm() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                for path in ["/bureau", "/admin/conflicts", "/admin/conflicts/reports/qx-zhuoran%2F2025-S1%2Fm1"] {
                    let response = try await client.send(.get, path, token: nil)
                    #expect(response.status == .seeOther, "\(path)")
                    #expect(response.headers[.location]?.hasPrefix("/login?next=") == true, "\(path)")
                }
            }
        }
    }

    /// Who may resolve reads the server's configured collections, not a global table.
    @Test func whoMayResolveFollowsTheConfiguredCollectionRules() throws {
        let bureau = Principal(id: 1, kind: .bureau, name: "区教育局", schoolID: nil)
        let admin = Principal(id: 2, kind: .admin, name: "管理员", schoolID: nil)
        let device = Principal(id: 3, kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran")
        let rules = CollectionRules.schoolSync
        #expect(bureau.mayResolve(in: "plans", rules: rules))
        #expect(!bureau.mayResolve(in: "reports", rules: rules))
        #expect(admin.mayResolve(in: "reports", rules: rules))
        #expect(!device.mayResolve(in: "reports", rules: rules))
        #expect(!bureau.mayResolve(in: "no_such_collection", rules: rules))

        var configured = rules
        configured.kinds["reports"] = .catalog
        configured.kinds["plans"] = .school
        #expect(bureau.mayResolve(in: "reports", rules: configured))
        #expect(!bureau.mayResolve(in: "plans", rules: configured))
        #expect(configured.resolvers(of: "plans") == [.admin])
    }
}
