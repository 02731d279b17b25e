import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import Testing

@testable import Workbench

/// The workbench's session is this process's alone: no cookie, a wrong key, another host name, a
/// post without the CSRF token or from another site — each is refused before any handler runs.
@Suite struct WorkbenchGuardTests {
    @Test func secretsDifferPerProcessStart() {
        let a = WorkbenchSession()
        let b = WorkbenchSession()
        #expect(a.launchKey != b.launchKey)
        #expect(a.cookieName != b.cookieName)
        #expect(a.launchKey.count == 64)
        #expect(WorkbenchSession.same(a.launchKey, a.launchKey))
        #expect(!WorkbenchSession.same(b.launchKey, a.launchKey))
        #expect(!WorkbenchSession.same(nil, a.launchKey))
        #expect(!WorkbenchSession.same(String(a.launchKey.dropLast()), a.launchKey))
    }

    @Test(arguments: [
        ("127.0.0.1:8123", true), ("localhost:8123", true), ("LOCALHOST", true), ("[::1]:8123", true),
        ("evil.example:8123", false), ("127.0.0.1.evil.example", false), ("localhost.evil.example:80", false), ("", false),
    ])
    func onlyLoopbackHostNamesAreServed(authority: String, served: Bool) {
        let request = Request(
            head: HTTPRequest(method: .get, scheme: "http", authority: authority.isEmpty ? nil : authority, path: "/"),
            body: RequestBody(buffer: ByteBuffer())
        )
        #expect(WorkbenchSession.isLoopbackHost(request) == served)
    }

    @Test func crossSiteMarksAreRefused() {
        func request(_ fields: HTTPFields) -> Request {
            Request(head: HTTPRequest(method: .post, scheme: "http", authority: "127.0.0.1:8123", path: "/sync", headerFields: fields), body: RequestBody(buffer: ByteBuffer()))
        }
        guard let site = HTTPField.Name("Sec-Fetch-Site"), let origin = HTTPField.Name("Origin") else {
            Issue.record("header names")
            return
        }
        #expect(!WorkbenchSession.isCrossSite(request([:])))
        #expect(!WorkbenchSession.isCrossSite(request([site: "same-origin"])))
        #expect(!WorkbenchSession.isCrossSite(request([origin: "http://127.0.0.1:8123"])))
        #expect(WorkbenchSession.isCrossSite(request([site: "cross-site"])))
        #expect(WorkbenchSession.isCrossSite(request([site: "same-site"])))
        #expect(WorkbenchSession.isCrossSite(request([origin: "http://evil.example"])))
        #expect(WorkbenchSession.isCrossSite(request([origin: "null"])))
        #expect(WorkbenchSession.isCrossSite(request([origin: "http://127.0.0.1:9999"])))
    }

    @Test(.timeLimit(.minutes(2))) func withoutTheSessionNothingIsShownOrChanged() async throws {
        try await School.with { school in
            let app = Application(router: school.workbench.router())
            try await app.test(.router) { client in
                #expect(try await client.execute(uri: "/", method: .get).status == .unauthorized)
                #expect(try await client.execute(uri: "/open?key=00", method: .get).status == .unauthorized)
                #expect(try await client.execute(uri: "/open", method: .get).status == .unauthorized)
                let stale = try await client.execute(uri: "/", method: .get, headers: [.cookie: "\(school.workbench.session.cookieName)=\(WorkbenchSession().sessionID)"])
                #expect(stale.status == .unauthorized)
                let post = try await client.execute(uri: "/sync", method: .post, body: ByteBuffer(string: "csrf=\(school.workbench.session.csrf)"))
                #expect(post.status == .unauthorized)
            }
            try await school.browse { browser in
                let home = try await browser.get("/")
                #expect(home.status == .ok)
                let csrf = try #require(home.hidden("csrf"))
                // A post without the token, with another token, or marked cross-site changes nothing.
                let page = try await browser.report()
                let fields = [("seen", page.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure), ("narrative", "被伪造的")]
                #expect(try await browser.post("/report/save", fields).status == .forbidden)
                #expect(try await browser.post("/report/save", [("csrf", String(repeating: "0", count: 64))] + fields).status == .forbidden)
                guard let site = HTTPField.Name("Sec-Fetch-Site") else { return }
                #expect(try await browser.post("/report/save", [("csrf", csrf)] + fields, extraHeaders: [site: "cross-site"]).status == .forbidden)
                #expect(try await school.office.record(RecordKey(collection: "reports", id: School.reportID)) == nil)
            }
        }
    }
}
