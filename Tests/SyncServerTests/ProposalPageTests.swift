import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The administrator's conflict page shows the school's `proposal` (DOMAIN-PROTOCOL.md §6.2) of the
/// conflicted report, or of the report a conflicted indicator value belongs to, above the form.
struct ProposalPageTests {
    let office = ReplicaID(high: 0x0f, low: 1)
    let principalPC = ReplicaID(high: 0x0f, low: 2)
    let heading = "学校的建议 School's proposal"
    let inConflictToo = "The proposal is in conflict too"

    /// The conflict page of `key`, as the signed-in administrator sees it.
    func page(_ key: RecordKey, _ client: any TestClientProtocol, cookie: String) async throws -> String {
        let response = try await client.send(.get, "/admin/conflicts/\(key.collection)/\(key.id)", token: nil, headers: [.cookie: cookie])
        #expect(response.status == .ok)
        return String(buffer: response.body)
    }

    /// An indicator value of school A written by `replica` on top of `base`.
    func indicatorValue(_ id: String, values: [String: Value], by replica: ReplicaID, on base: RecordState = RecordState()) throws -> SyncRecord {
        var state = base
        try state.write(values, by: replica)
        return SyncRecord(key: RecordKey(collection: "indicator_values", id: id), scope: Make.scope(Fixture.schoolA), state: state)
    }

    @Test(arguments: StoreKind.allCases) func theConflictPageOfAReportShowsTheSchoolsProposal(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let key = try await ConflictRouteTests().makeConflict(client, fixture)
                let cookie = try await AdminPageTests().signIn(client, token: fixture.admin)
                let before = try await page(key, client, cookie: cookie)
                #expect(!before.contains(heading), "no proposal, no box")

                // A third device of the school sees the conflict and proposes how to settle it: another
                // field than the conflicting narrative, so the write merges.
                let seen = try #require(try await client.pull(token: fixture.deviceA).records.first { $0.key == key })
                let proposal = "建议采用 校长室 的数字：narrative=«东园主体完工，西园延期»。\n备注：<b>西园</b> & 东园都已开工。"
                let proposing = try Make.report(key.id, values: ["proposal": .string(proposal)], by: ReplicaID(high: 0x0f, low: 3), on: seen.state)
                let pushed = try await client.push(try Make.push([proposing], replica: ReplicaID(high: 0x0f, low: 3)), token: fixture.deviceA)
                #expect(pushed.results.first?.status == .conflict, "the narrative is still in conflict")

                let html = try await page(key, client, cookie: cookie)
                #expect(html.contains(heading))
                // Escaped, and with its line break kept for `white-space: pre-wrap`.
                #expect(html.contains("narrative=«东园主体完工，西园延期»。\n备注：&lt;b&gt;西园&lt;/b&gt; &amp; 东园都已开工。"))
                #expect(!html.contains("<b>西园"))
                #expect(!html.contains(inConflictToo))
                // Above the form, which still offers both narratives.
                let box = try #require(html.range(of: heading))
                let form = try #require(html.range(of: "<form method=\"post\" action=\"/admin/conflicts/"))
                #expect(box.lowerBound < form.lowerBound)
                #expect(html.contains("«东园主体完工»") && html.contains("«东园主体完工，西园延期»"))
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func theConflictPageOfAnIndicatorValueShowsItsReportsProposal(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let reportID = "qx-zhuoran/2025-S1/qixing-2024.goals.m1"
                let valueID = "qx-zhuoran/2025-S1/qixing-2024.goals.new-public-kindergartens"
                let report = try Make.report(reportID, values: ["status": .string("in_progress"), "narrative": .string("初稿")], by: office)
                let value = try indicatorValue(
                    valueID,
                    values: [
                        "school_id": .string("qx-zhuoran"), "period": .string("2025-S1"),
                        "indicator_id": .string("qixing-2024.goals.new-public-kindergartens"), "measure_id": .string("qixing-2024.goals.m1"),
                        "value": .string("1"),
                    ],
                    by: office
                )
                let receipt = try await client.push(try Make.push([report, value], replica: office), token: fixture.deviceA).receipt
                // Both devices change the value and propose, each without having seen the other.
                let officeReport = try Make.report(reportID, values: ["proposal": .string("采用教务处的数字 2")], by: office, on: report.state)
                let officeValue = try indicatorValue(valueID, values: ["value": .string("2")], by: office, on: value.state)
                _ = try await client.push(try Make.push([officeReport, officeValue], replica: office, receipt: receipt), token: fixture.deviceA)
                let principalReport = try Make.report(reportID, values: ["proposal": .string("采用校长室的数字 3")], by: principalPC, on: report.state)
                let principalValue = try indicatorValue(valueID, values: ["value": .string("3")], by: principalPC, on: value.state)
                let result = try await client.push(try Make.push([principalReport, principalValue], replica: principalPC), token: fixture.deviceA2)
                #expect(result.results.map(\.status) == [.conflict, .conflict])

                let cookie = try await AdminPageTests().signIn(client, token: fixture.admin)
                let html = try await page(RecordKey(collection: "indicator_values", id: valueID), client, cookie: cookie)
                #expect(html.contains(heading))
                // The proposal is in conflict itself: every value is shown.
                #expect(html.contains(inConflictToo))
                #expect(html.contains("采用教务处的数字 2") && html.contains("采用校长室的数字 3"))
                #expect(html.contains(#"type="radio" name="choice.value""#))

                // Once the report's proposal is settled, the value's page shows the one proposal.
                let reportPage = try await page(RecordKey(collection: "reports", id: reportID), client, cookie: cookie)
                #expect(reportPage.contains(heading) && reportPage.contains(inConflictToo))
                let csrf = try #require(reportPage.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
                let seen = try #require(reportPage.firstMatch(of: /name="seen" value="([^"]+)"/)?.1).replacingOccurrences(of: "&quot;", with: "\"")
                let index = try #require(
                    reportPage.firstMatch(of: /name="choice.proposal" value="(\d)"[^>]*> «采用校长室的数字 3»/)?.1
                )
                let encode = AdminPageTests().encode
                let done = try await client.send(
                    .post,
                    "/admin/conflicts/reports/\(reportID)",
                    token: nil,
                    body: ByteBuffer(string: "csrf=\(csrf)&seen=\(encode(seen))&choice.proposal=\(index)&reason=\(encode("按学校建议"))"),
                    headers: AdminPageTests().form.merging([.cookie: cookie])
                )
                #expect(done.status == .seeOther, "\(String(buffer: done.body))")
                let after = try await page(RecordKey(collection: "indicator_values", id: valueID), client, cookie: cookie)
                #expect(after.contains(heading) && after.contains("采用校长室的数字 3"))
                #expect(!after.contains("采用教务处的数字 2") && !after.contains(inConflictToo))
            }
        }
    }
}
