import AsyncHTTPClient
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Reporting
import SchoolReports
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import SyncServer
import Testing

@testable import Workbench

/// A live server with the domain's rules, a bureau that published one plan's measures, and the
/// office PC of 卓然学校 enrolled and synced, with its workbench in process.
struct School: Sendable {
    let fixture: Fixture
    let url: String
    let http: HTTPClient
    let office: LocalReplica
    let workbench: Workbench

    static let measure = "qixing-2024/m6.1"
    static let rate = "qixing-2024/i1"
    static let count = "qixing-2024/i2"
    static let milestone = "qixing-2024/i3"
    static let period = "2025-S1"
    static var reportID: String { "\(Fixture.schoolA)/\(period)/\(measure)" }

    /// The workbench's clock: 2025-08-01, after the period's due date, so unsubmitted reports are late.
    static let today = Date(timeIntervalSince1970: 1_754_006_400)

    static func with(_ body: @escaping @Sendable (School) async throws -> Void) async throws {
        try await Fixture.with(configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient { http in
                    let bureau = try LocalReplica(path: fixture.path("bureau.sqlite"), schemas: DomainSchema.all)
                    try await enrol(bureau, url: url, token: fixture.bureau, http: http)
                    try await bureau.write([
                        (RecordKey(collection: "plans", id: "qixing-2024"), ["title": .string("七星区2024—2026年教育行动计划")]),
                        (
                            RecordKey(collection: "measures", id: measure),
                            [
                                "plan_id": .string("qixing-2024"), "code": .string("6.1"), "area": .string("学前教育"),
                                "title": .string("新建2所公办幼儿园"), "lead_unit": .string("区教育局"),
                            ]
                        ),
                        (
                            RecordKey(collection: "indicators", id: rate),
                            [
                                "plan_id": .string("qixing-2024"), "measure_id": .string(measure), "name": .string("学前教育毛入园率"),
                                "unit": .string("%"), "target": .string("100"), "comparison": .string(">="), "value_kind": .string("ratio"),
                            ]
                        ),
                        (
                            RecordKey(collection: "indicators", id: count),
                            [
                                "plan_id": .string("qixing-2024"), "measure_id": .string(measure), "name": .string("新建幼儿园数"),
                                "unit": .string("所"), "target": .string("2"), "value_kind": .string("count"),
                            ]
                        ),
                        (
                            RecordKey(collection: "indicators", id: milestone),
                            [
                                "plan_id": .string("qixing-2024"), "measure_id": .string(measure), "name": .string("完成选址"),
                                "value_kind": .string("boolean"),
                            ]
                        ),
                        (
                            RecordKey(collection: "assignments", id: "\(Fixture.schoolA)/\(measure)"),
                            ["school_id": .string(Fixture.schoolA), "measure_id": .string(measure)]
                        ),
                        (
                            RecordKey(collection: "periods", id: period),
                            ["kind": .string("term"), "starts": .string("2025-02-01"), "ends": .string("2025-07-31"), "due": .string("2025-07-15")]
                        ),
                    ])
                    _ = try await engine(bureau, http: http).sync()
                    let office = try LocalReplica(path: fixture.path("office.sqlite"), schemas: DomainSchema.all)
                    try await enrol(office, url: url, token: fixture.deviceA, http: http)
                    _ = try await engine(office, http: http).sync()
                    let workbench = try Workbench(
                        book: ReportBook(replica: office, clock: { today }),
                        logger: Logger(label: "workbench-test"),
                        sync: Workbench.httpSync(replica: office, http: http, uploadTime: .seconds(10), timeout: .seconds(10), attempts: 1, logger: Logger(label: "t"))
                    )
                    try await body(School(fixture: fixture, url: url, http: http, office: office, workbench: workbench))
                }
            }
        }
    }

    static func enrol(_ replica: LocalReplica, url: String, token: String, http: HTTPClient) async throws {
        let transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(10))
        try await replica.enrol(serverURL: url, token: token, session: try await transport.session())
    }

    static func engine(_ replica: LocalReplica, http: HTTPClient) async throws -> SyncEngine {
        guard let settings = try await replica.settings() else { throw FixtureError("not enrolled") }
        let transport = HTTPSyncTransport(http: http, baseURL: settings.serverURL, token: settings.token, timeout: .seconds(10))
        return SyncEngine(replica: replica, transport: transport, retry: RetryPolicy(maxAttempts: 1), sleep: { _ in })
    }

    /// A second device of the same school (校长室 PC), enrolled and synced.
    func principal() async throws -> LocalReplica {
        let replica = try LocalReplica(path: fixture.path("principal.sqlite"), schemas: DomainSchema.all)
        try await Self.enrol(replica, url: url, token: fixture.deviceA2, http: http)
        _ = try await Self.engine(replica, http: http).sync()
        return replica
    }

    func sync(_ replica: LocalReplica) async throws { _ = try await Self.engine(replica, http: http).sync() }

    /// Runs `body` with a browser-like client of the workbench: signed in, with its cookie.
    func browse(_ body: @escaping @Sendable (Browser) async throws -> Void) async throws {
        let app = Application(router: workbench.router())
        try await app.test(.router) { client in
            let opened = try await client.execute(uri: "/open?key=\(workbench.session.launchKey)", method: .get)
            #expect(opened.status == .seeOther)
            let cookie = try #require(opened.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            try await body(Browser(client: client, cookie: cookie))
        }
    }
}

/// The workbench seen from a browser: pages, their hidden fields, and form posts.
struct Browser: Sendable {
    let client: any TestClientProtocol
    let cookie: String

    struct Page: Sendable {
        let status: HTTPResponse.Status
        let html: String
        let location: String?

        /// The value of the first hidden input named `name`.
        func hidden(_ name: String) -> String? {
            guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
            let rest = html[range.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
    }

    func get(_ uri: String) async throws -> Page {
        let response = try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie])
        return Page(status: response.status, html: String(buffer: response.body), location: response.headers[.location])
    }

    func report() async throws -> Page {
        try await get("/report?period=\(School.period)&measure=\(School.measure)")
    }

    /// Posts a form as a browser does (urlencoded), with the page's CSRF token unless `fields` names one.
    func post(_ path: String, _ fields: [(String, String)], extraHeaders: HTTPFields = [:]) async throws -> Page {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let body = fields.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")=\($0.1.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")" }
            .joined(separator: "&")
        var headers: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
        headers.append(contentsOf: extraHeaders)
        let response = try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
        return Page(status: response.status, html: String(buffer: response.body), location: response.headers[.location])
    }

    /// The report form's own fields as the page shows them, then `changes` over them.
    func saveReport(from page: Page, _ changes: [(String, String)]) async throws -> Page {
        var fields: [(String, String)] = [
            ("csrf", page.hidden("csrf") ?? ""), ("seen", page.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure),
        ]
        fields += changes
        return try await post("/report/save", fields)
    }

    /// A multipart post of one file, as a browser sends the evidence form.
    func attach(from page: Page, name: String, bytes: Data) async throws -> Page {
        let boundary = "----schoolsync-test-boundary"
        var body = ""
        for (field, value) in [("csrf", page.hidden("csrf") ?? ""), ("seen", page.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure)] {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"\r\n\r\n\(value)\r\n"
        }
        var buffer = ByteBuffer(string: body + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        buffer.writeBytes(bytes)
        buffer.writeString("\r\n--\(boundary)--\r\n")
        let response = try await client.execute(
            uri: "/report/evidence", method: .post,
            headers: [.cookie: cookie, .contentType: "multipart/form-data; boundary=\(boundary)"], body: buffer
        )
        return Page(status: response.status, html: String(buffer: response.body), location: response.headers[.location])
    }
}
