import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The administrator's pages: sign in, list, side by side, resolve with a form.
struct AdminPageTests {
    let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    func signIn(_ client: any TestClientProtocol, token: String) async throws -> String {
        let response = try await client.send(
            .post,
            "/login",
            token: nil,
            body: ByteBuffer(string: "token=\(token)&next=/admin/conflicts"),
            headers: form
        )
        #expect(response.status == .seeOther)
        return try #require(response.headers[.setCookie]?.split(separator: ";").first.map(String.init))
    }

    func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }

    @Test(arguments: StoreKind.allCases) func anAdministratorResolvesAConflictThroughTheForms(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let key = try await ConflictRouteTests().makeConflict(client, fixture)
                #expect(try await client.send(.get, "/admin/conflicts", token: nil).status == .seeOther)
                let cookie = try await signIn(client, token: fixture.admin)
                let list = String(buffer: try await client.send(.get, "/admin/conflicts", token: nil, headers: [.cookie: cookie]).body)
                // The id travels as one percent-encoded segment, its "/" too.
                let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
                #expect(list.contains("/admin/conflicts/reports/\(key.id.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")\""))
                let page = try await client.send(.get, "/admin/conflicts/reports/\(key.id)", token: nil, headers: [.cookie: cookie])
                let html = String(buffer: page.body)
                #expect(html.contains("«东园主体完工»") && html.contains("«东园主体完工，西园延期»"))
                #expect(html.contains("卓然 教务处 PC") && html.contains("卓然 校长室 PC"))
                #expect(html.contains(#"type="radio" name="choice.narrative""#))
                let csrf = try #require(html.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
                let seen = try #require(html.firstMatch(of: /name="seen" value="([^"]+)"/)?.1).replacingOccurrences(of: "&quot;", with: "\"")
                // The first candidate is pre-selected; choose it.
                let choice = "0"

                // Without the page's CSRF token, nothing happens.
                let forged = try await client.send(
                    .post,
                    "/admin/conflicts/reports/\(key.id)",
                    token: nil,
                    body: ByteBuffer(string: "csrf=x&seen=\(encode(seen))&choice.narrative=0&reason=r"),
                    headers: form.merging([.cookie: cookie])
                )
                #expect(forged.status == .forbidden)
                // Without a reason, the form comes back with a message.
                let noReason = try await client.send(
                    .post,
                    "/admin/conflicts/reports/\(key.id)",
                    token: nil,
                    body: ByteBuffer(string: "csrf=\(csrf)&seen=\(encode(seen))&choice.narrative=0&reason="),
                    headers: form.merging([.cookie: cookie])
                )
                #expect(noReason.status == .badRequest)
                #expect(String(buffer: noReason.body).contains("理由"))
                let done = try await client.send(
                    .post,
                    "/admin/conflicts/reports/\(key.id)",
                    token: nil,
                    body: ByteBuffer(string: "csrf=\(csrf)&seen=\(encode(seen))&choice.narrative=\(choice)&reason=\(encode("以校长室为准"))"),
                    headers: form.merging([.cookie: cookie])
                )
                #expect(done.status == .seeOther, "\(String(buffer: done.body))")
                #expect(done.headers[.location]?.hasPrefix("/admin/conflicts?resolved=") == true)
                let after = String(buffer: try await client.send(.get, "/admin/conflicts", token: nil, headers: [.cookie: cookie]).body)
                #expect(after.contains("No open conflicts"))
                let state = try #require(try await client.pull(token: fixture.deviceA2).records.first { $0.key == key }?.state)
                #expect(!state.isConflicted)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aStaleFormIsRefusedAndTheBureauMayLookButNotResolve(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let key = try await ConflictRouteTests().makeConflict(client, fixture)
                let bureau = try await signIn(client, token: fixture.bureau)
                let page = String(
                    buffer: try await client.send(.get, "/admin/conflicts/reports/\(key.id)", token: nil, headers: [.cookie: bureau]).body
                )
                let csrf = try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
                let refused = try await client.send(
                    .post,
                    "/admin/conflicts/reports/\(key.id)",
                    token: nil,
                    body: ByteBuffer(string: "csrf=\(csrf)&seen=%7B%7D&choice.narrative=0&reason=r"),
                    headers: form.merging([.cookie: bureau])
                )
                #expect(refused.status == .forbidden)
                let admin = try await signIn(client, token: fixture.admin)
                let adminPage = String(
                    buffer: try await client.send(.get, "/admin/conflicts/reports/\(key.id)", token: nil, headers: [.cookie: admin]).body
                )
                let adminCSRF = try #require(adminPage.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
                // The form says the administrator saw nothing: newer values exist, so it is stale.
                let stale = try await client.send(
                    .post,
                    "/admin/conflicts/reports/\(key.id)",
                    token: nil,
                    body: ByteBuffer(string: "csrf=\(adminCSRF)&seen=%7B%7D&choice.narrative=0&reason=r"),
                    headers: form.merging([.cookie: admin])
                )
                #expect(stale.status == .conflict)
                #expect(String(buffer: stale.body).contains("New values arrived"))
            }
        }
    }
}
