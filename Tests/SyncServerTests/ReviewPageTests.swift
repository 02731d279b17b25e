import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Reporting
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The bureau's review pages: the list with its filters and pages, one report with its values and
/// evidence, and approve/return through forms (CSRF, the context shown, the same workflow as the CLI).
struct ReviewPageTests {
    let domain = DomainRouteTests()
    let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
    let photoBytes = EvidenceRouteTests.photo(20_000, seed: 51)
    let planBytes = Array("%PDF-1.4\n".utf8) + EvidenceRouteTests.photo(5_000, seed: 52)
    var photo: String { EvidenceRouteTests.sha256(photoBytes) }
    var plan: String { EvidenceRouteTests.sha256(planBytes) }
    let later = String(repeating: "ef", count: 32)
    var reportID: String { "\(Fixture.schoolA)/2025-S1/\(domain.measure)" }

    func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }

    /// A fixture with the domain rules on, a fixed clock after the period's due date, and the photo
    /// and the plan uploaded by the school (the third evidence file is not).
    func withReviewFixture(_ kind: StoreKind, _ body: @escaping @Sendable (any TestClientProtocol, Fixture) async throws -> Void) async throws {
        let (photoBytes, planBytes) = (photoBytes, planBytes)
        try await Fixture.with(
            store: kind,
            configure: {
                $0.collections = .schoolSync
                $0.clock = { Date(timeIntervalSince1970: 1_754_006_400) }  // 2025-08-01
            }
        ) { fixture in
            try await fixture.withRouter { client in
                for file in [photoBytes, planBytes] { try await EvidenceRouteTests.upload(client, fixture.deviceA, file) }
                try await body(client, fixture)
            }
        }
    }

    /// The catalog of DomainRouteTests, school B described and assigned too, and school A's report.
    func publish(_ client: any TestClientProtocol, _ fixture: Fixture, workflow: String = "submitted") async throws {
        try await domain.publish(client, fixture)
        let bureauReplica = ReplicaID(high: 0xb0, low: 2)
        let schoolB = try domain.record(
            "schools",
            Fixture.schoolB,
            .catalog,
            ["name": .string("火炬中学"), "township": .string("朝阳乡")],
            by: bureauReplica
        )
        let assignment = try domain.record(
            "assignments",
            "\(Fixture.schoolB)/\(domain.measure)",
            try .school(Fixture.schoolB),
            ["school_id": .string(Fixture.schoolB), "measure_id": .string(domain.measure)],
            by: bureauReplica
        )
        _ = try await client.push(try Make.push([schoolB, assignment], replica: bureauReplica), token: fixture.bureau)
        let evidence = """
            [{"name":"操场.jpg","sha256":"\(photo)","type":"image/jpeg"},{"name":"规划.pdf","sha256":"\(plan)","type":"application/pdf"},\
            {"name":"验收.png","sha256":"\(later)","type":"image/png"}]
            """
        let report = try domain.report([
            "narrative": .string("东园主体完工"), "status": .string("done"), "workflow": .string(workflow), "evidence": .string(evidence),
            "school_id": .string(Fixture.schoolA),
        ])
        let response = try await client.push(try Make.push([report, try domain.value(#"{"denominator":1000,"numerator":1126}"#)], replica: domain.schoolReplica), token: fixture.deviceA)
        #expect(response.results.allSatisfy { $0.status == .applied }, "\(response.results)")
    }

    func signIn(_ client: any TestClientProtocol, token: String) async throws -> String {
        let response = try await client.send(.post, "/login", token: nil, body: ByteBuffer(string: "token=\(token)&next=/review"), headers: form)
        #expect(response.status == .seeOther)
        return try #require(response.headers[.setCookie]?.split(separator: ";").first.map(String.init))
    }

    func page(_ client: any TestClientProtocol, _ uri: String, _ cookie: String) async throws -> (HTTPResponse.Status, String) {
        let response = try await client.send(.get, uri, token: nil, headers: [.cookie: cookie])
        return (response.status, String(buffer: response.body))
    }

    /// The CSRF token and the context a report page's forms carry.
    func formFields(_ html: String) throws -> (csrf: String, seen: String) {
        let csrf = try #require(html.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
        let seen = try #require(html.firstMatch(of: /name="seen" value="([^"]+)"/)?.1).replacingOccurrences(of: "&quot;", with: "\"")
        return (String(csrf), seen)
    }

    func post(_ client: any TestClientProtocol, _ cookie: String, _ body: String) async throws -> TestResponse {
        try await client.send(
            .post,
            "/review/reports/\(Fixture.schoolA)/2025-S1/\(domain.measure)",
            token: nil,
            body: ByteBuffer(string: body),
            headers: form.merging([.cookie: cookie])
        )
    }

    @Test(arguments: StoreKind.allCases) func theListFiltersByMeasureSchoolTownshipAndState(kind: StoreKind) async throws {
        try await withReviewFixture(kind) { client, fixture in
            try await publish(client, fixture)
            #expect(try await client.send(.get, "/review?period=2025-S1", token: nil).status == .seeOther)
            let cookie = try await signIn(client, token: fixture.bureau)
            let link = "/review/reports/\(Fixture.schoolA)/2025-S1/\(domain.measure)"
            let (status, all) = try await page(client, "/review?period=2025-S1", cookie)
            #expect(status == .ok)
            #expect(all.contains(link) && all.contains("卓然学校") && all.contains("火炬中学") && all.contains("未填 missing"))
            let submitted = try await page(client, "/review?period=2025-S1&state=submitted", cookie).1
            #expect(submitted.contains(link) && !submitted.contains("火炬中学 ·"))
            let missing = try await page(client, "/review?period=2025-S1&state=missing", cookie).1
            #expect(missing.contains("火炬中学 ·") && !missing.contains(link))
            // Past the due date, the school that did not submit is late, as in the summary.
            #expect(try await page(client, "/review?period=2025-S1&state=late", cookie).1.contains("火炬中学 ·"))
            let township = try await page(client, "/review?period=2025-S1&township=\(encode("七星街道"))", cookie).1
            #expect(township.contains(link) && !township.contains("火炬中学 ·"))
            let school = try await page(client, "/review?period=2025-S1&school=\(Fixture.schoolB)&measure=\(domain.measure)", cookie).1
            #expect(school.contains("火炬中学 ·") && !school.contains(link))
            #expect(try await page(client, "/review?period=2025-S1&state=approved", cookie).1.contains("No reports match"))
            // The bureau page links here.
            #expect(try await page(client, "/bureau?period=2025-S1", cookie).1.contains("/review?period=2025-S1"))
        }
    }

    @Test(
        arguments: [
            ("period=2025-S9", "period must be"), ("period=2025-S1&state=pending", "state must be one of"),
            ("period=2025-S1&page=0", "page must be"), ("period=2025-S1&page=x", "page must be"),
            ("period=2025-S1&page=99999999999999999999", "page must be"), ("period=2025-S1&measure=nope", "no such measure"),
            ("period=2025-S1&school=nope", "no such school"), ("period=2025-S1&township=%E6%9C%88", "No school is in that township"),
        ]
    )
    func badParametersAnswerAPageThatSaysWhy(query: String, message: String) async throws {
        try await withReviewFixture(.sqlite) { client, fixture in
            try await domain.publish(client, fixture)
            let cookie = try await signIn(client, token: fixture.bureau)
            let (status, html) = try await page(client, "/review?\(query)", cookie)
            #expect(status == .badRequest)
            #expect(html.contains(message) && html.contains("<html"), "\(html)")
        }
    }

    @Test func theListIsPagedAndThePagesKeepTheFilters() async throws {
        try await withReviewFixture(.sqlite) { client, fixture in
            try await domain.publish(client, fixture)
            let replica = ReplicaID(high: 0xb0, low: 3)
            var records: [SyncRecord] = []
            for index in 0..<119 {
                let school = String(format: "s%03d", index)
                records.append(try domain.record("schools", school, .catalog, ["name": .string("学校\(index)"), "township": .string("朝阳乡")], by: replica))
                records.append(
                    try domain.record(
                        "assignments",
                        "\(school)/\(domain.measure)",
                        try .school(school),
                        ["school_id": .string(school), "measure_id": .string(domain.measure)],
                        by: replica
                    )
                )
            }
            _ = try await client.push(try Make.push(records, replica: replica), token: fixture.bureau)
            let cookie = try await signIn(client, token: fixture.bureau)
            let filter = "period=2025-S1&township=\(encode("朝阳乡"))&state=missing"
            let first = try await page(client, "/review?\(filter)", cookie).1
            #expect(first.contains("共 119 条 · 第 1 / 3 页"))
            #expect(first.components(separatedBy: "class=\"card\"><span class=\"name\">").count - 1 == 50)
            #expect(first.contains("/review?period=2025-S1&amp;township=\(encode("朝阳乡"))&amp;state=missing&amp;page=2\""))
            let last = try await page(client, "/review?\(filter)&page=3", cookie).1
            #expect(last.contains("第 3 / 3 页") && last.contains("学校118") && !last.contains("学校49 ·"))
            #expect(last.components(separatedBy: "class=\"card\"><span class=\"name\">").count - 1 == 19)
            #expect(!last.contains("下一页") && last.contains("page=2"))
            let beyond = try await page(client, "/review?\(filter)&page=4", cookie)
            #expect(beyond.0 == .ok && beyond.1.contains("No reports match"))
        }
    }

    @Test(arguments: StoreKind.allCases) func aBureauApprovesThenReturnsAReportThroughTheForms(kind: StoreKind) async throws {
        try await withReviewFixture(kind) { client, fixture in
            try await publish(client, fixture)
            let cookie = try await signIn(client, token: fixture.bureau)
            let (status, html) = try await page(client, "/review/reports/\(Fixture.schoolA)/2025-S1/\(domain.measure)", cookie)
            #expect(status == .ok)
            #expect(html.contains("东园主体完工") && html.contains("已提交 submitted") && html.contains("学前教育毛入园率"))
            #expect(html.contains("1126 / 1000 (112.6%)") && html.contains("&gt;= 100%"))
            #expect(html.contains(#"<img src="/review/evidence/\#(photo)" alt="操场.jpg" style="max-width:100%">"#))
            #expect(html.contains(#"<a href="/review/evidence/\#(plan)" download="规划.pdf">"#))
            #expect(!html.contains("/review/evidence/\(later)") && html.contains("待上传 pending upload"))
            let csp = try await client.send(.get, "/review/reports/\(reportID)", token: nil, headers: [.cookie: cookie]).headers[.contentSecurityPolicy]
            #expect(csp?.contains("img-src 'self'") == true && csp?.contains("default-src 'none'") == true)
            #expect(!html.contains("<script"))
            let (csrf, seen) = try formFields(html)

            // Without the page's CSRF token nothing happens; a return needs a comment.
            #expect(try await post(client, cookie, "csrf=guess&seen=\(encode(seen))&action=approve").status == .forbidden)
            let noComment = try await post(client, cookie, "csrf=\(csrf)&seen=\(encode(seen))&action=return&comment=%20")
            #expect(noComment.status == .badRequest && String(buffer: noComment.body).contains("退回时请填写意见"))
            // A form that showed another context is refused and the report shown again.
            let stale = try await post(client, cookie, "csrf=\(csrf)&seen=%7B%7D&action=approve")
            #expect(stale.status == .conflict)
            #expect(String(buffer: stale.body).contains("changed since you opened it") && String(buffer: stale.body).contains("东园主体完工"))

            let approved = try await post(client, cookie, "csrf=\(csrf)&seen=\(encode(seen))&action=approve")
            #expect(approved.status == .seeOther, "\(String(buffer: approved.body))")
            #expect(approved.headers[.location] == "/review/reports/\(reportID)?done=approved")
            let afterApproval = try await page(client, try #require(approved.headers[.location]), cookie).1
            #expect(afterApproval.contains("已通过。") && afterApproval.contains("已通过 approved") && afterApproval.contains("审核人 Reviewer: 区教育局"))
            let key = RecordKey(collection: "reports", id: reportID)
            let state = try #require(try await client.pull(token: fixture.deviceA).records.first { $0.key == key }?.state)
            #expect(state.value(of: "workflow") == .string("approved") && state.value(of: "reviewer") == .string("区教育局"))
            let shown = try CanonicalJSON.decode(VersionVector.self, from: Data(seen.utf8))
            #expect(state.value(of: "approval") == .string(RecordRules.approvalJSON(for: shown)))
            // The approval locks the report for the school, as the CLI's does.
            var edit = state
            let lateReplica = ReplicaID(high: 0x5c, low: 2)
            try edit.write(["narrative": .string("审核后又改")], by: lateReplica)
            let locked = try await client.push(
                try Make.push([SyncRecord(key: key, scope: try .school(Fixture.schoolA), state: edit)], replica: lateReplica),
                token: fixture.deviceA
            )
            #expect(locked.results.first?.reason?.code == .reportLocked)

            // Approving again is refused: it is not submitted any more.
            let (again, againSeen) = try formFields(afterApproval)
            #expect(!afterApproval.contains(#"name="action" value="approve""#))
            let twice = try await post(client, cookie, "csrf=\(again)&seen=\(encode(againSeen))&action=approve")
            #expect(twice.status == .conflict && String(buffer: twice.body).contains("approving needs it submitted"))

            let returned = try await post(client, cookie, "csrf=\(again)&seen=\(encode(againSeen))&action=return&comment=\(encode("请补充照片"))")
            #expect(returned.status == .seeOther, "\(String(buffer: returned.body))")
            let afterReturn = try await page(client, "/review/reports/\(reportID)", cookie).1
            #expect(afterReturn.contains("退回意见 Comment:</span> 请补充照片") && afterReturn.contains("已退回 returned"))
            let pulled = try #require(try await client.pull(token: fixture.deviceA).records.first { $0.key == key }?.state)
            #expect(pulled.value(of: "workflow") == .string("returned") && pulled.value(of: "review_comment") == .string("请补充照片"))

            // Each review is in the record's history as the bureau user's write, at the configured clock.
            let history = try await fixture.store.history(key, after: 0, limit: 100).entries
            let reviews = history.filter { $0.principal == "区教育局" }
            #expect(reviews.map { $0.after.fields["workflow"] } == [[.string("approved")], [.string("returned")]])
            #expect(reviews.allSatisfy { $0.at == Date(timeIntervalSince1970: 1_754_006_400) && $0.kind == .push })
            #expect(afterReturn.contains("workflow=returned"))
        }
    }

    @Test(arguments: StoreKind.allCases) func aDraftCannotBeApprovedAndADeviceCannotSignIn(kind: StoreKind) async throws {
        try await withReviewFixture(kind) { client, fixture in
            try await publish(client, fixture, workflow: "draft")
            let device = try await client.send(.post, "/login", token: nil, body: ByteBuffer(string: "token=\(fixture.deviceA)&next=/review"), headers: form)
            #expect(device.status == .forbidden && device.headers[.setCookie] == nil)
            let cookie = try await signIn(client, token: fixture.admin)
            let html = try await page(client, "/review/reports/\(reportID)", cookie).1
            #expect(html.contains("草稿 draft") && !html.contains(#"value="approve""#) && !html.contains(#"value="return""#))
            // The page offers no review form, but a hand-made one is refused by the same workflow rules.
            let session = try #require(html.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
            let context = try #require(try await client.pull(token: fixture.deviceA).records.first { $0.key.id == reportID }?.state.context)
            let seenText = String(decoding: try CanonicalJSON.encode(context), as: UTF8.self)
            let refused = try await post(client, cookie, "csrf=\(session)&seen=\(encode(seenText))&action=approve")
            #expect(refused.status == .conflict)
            #expect(String(buffer: refused.body).contains("is draft; approving needs it submitted"))
            // A report that does not exist, and a malformed link, are pages that say so.
            #expect(try await page(client, "/review/reports/\(Fixture.schoolB)/2025-S1/\(domain.measure)", cookie).0 == .notFound)
            #expect(try await page(client, "/review/reports/\(Fixture.schoolA)/20x5/\(domain.measure)", cookie).0 == .badRequest)
            #expect(try await page(client, "/review/reports/%FF/2025-S1/m", cookie).0 == .badRequest)
        }
    }

    /// The store's operation itself, on both stores: a stale context, a missing report, and the
    /// domain rules a push would meet (a report whose assignment the bureau withdrew).
    @Test(arguments: StoreKind.allCases) func aReviewMeetsTheSameRulesAsAPush(kind: StoreKind) async throws {
        try await withReviewFixture(kind) { client, fixture in
            try await publish(client, fixture)
            let bureau = try await fixture.principal(fixture.bureau)
            let key = RecordKey(collection: "reports", id: reportID)
            let records = try await client.pull(token: fixture.bureau).records
            let report = try #require(records.first { $0.key == key })
            let time = Date(timeIntervalSince1970: 1_754_006_400)
            let stale = try await fixture.store.review(
                key,
                expecting: VersionVector(),
                transition: .approve(reviewer: bureau.name),
                by: bureau,
                rules: .schoolSync,
                at: time
            )
            guard case .stale(let current) = stale else { throw WorkflowPageError("expected stale, got \(stale)") }
            #expect(current.state == report.state)
            let missing = try await fixture.store.review(
                RecordKey(collection: "reports", id: "\(Fixture.schoolB)/2025-S1/\(domain.measure)"),
                expecting: VersionVector(),
                transition: .approve(reviewer: bureau.name),
                by: bureau,
                rules: .schoolSync,
                at: time
            )
            guard case .refused(let error) = missing, error.code == .missing else { throw WorkflowPageError("expected missing, got \(missing)") }
            // The bureau withdraws the assignment: approving the report now breaks DOMAIN-PROTOCOL §6.4 rule 7.
            let assignment = try #require(records.first { $0.key.collection == "assignments" && $0.key.id.hasPrefix(Fixture.schoolA) })
            var withdrawn = assignment.state
            let replica = ReplicaID(high: 0xb0, low: 9)
            try withdrawn.delete(by: replica)
            let deleted = try await client.push(
                try Make.push([SyncRecord(key: assignment.key, scope: assignment.scope, state: withdrawn)], replica: replica),
                token: fixture.bureau
            )
            #expect(deleted.results.first?.status == .applied)
            let rejected = try await fixture.store.review(
                key,
                expecting: report.state.context,
                transition: .approve(reviewer: bureau.name),
                by: bureau,
                rules: .schoolSync,
                at: time
            )
            guard case .rejected(let reason) = rejected else { throw WorkflowPageError("expected a rejection, got \(rejected)") }
            #expect(reason.code == .notAssigned)
            let unchanged = try await client.pull(token: fixture.deviceA).records.first { $0.key == key }
            #expect(unchanged?.state == report.state)
        }
    }
}

struct WorkflowPageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
