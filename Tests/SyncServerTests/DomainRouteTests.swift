import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Reporting
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The domain's rules as the server applies them, the bureau summary and the bureau's pages.
struct DomainRouteTests {
    let bureauReplica = ReplicaID(high: 0xb0, low: 1)
    let schoolReplica = ReplicaID(high: 0x5c, low: 1)
    let rate = "qixing-2024.goals.preschool-gross-enrollment"
    let count = "qixing-2024.goals.new-public-kindergartens"
    let measure = "qixing-2024.goals.m1"

    func record(_ collection: String, _ id: String, _ scope: Scope, _ values: [String: Value], by replica: ReplicaID) throws -> SyncRecord {
        var state = RecordState()
        try state.write(values, by: replica)
        return SyncRecord(key: RecordKey(collection: collection, id: id), scope: scope, state: state)
    }

    /// The bureau publishes one measure with a rate and a count, two schools, a period and an assignment of school A.
    func publish(_ client: any TestClientProtocol, _ fixture: Fixture) async throws {
        let school = try Scope.school(Fixture.schoolA)
        let records = [
            try record("measures", measure, .catalog, ["title": .string("工作目标"), "plan_id": .string("qixing-2024")], by: bureauReplica),
            try record(
                "indicators",
                rate,
                .catalog,
                [
                    "measure_id": .string(measure), "name": .string("学前教育毛入园率"), "value_kind": .string("ratio"), "target": .string("100"),
                    "comparison": .string(">="), "unit": .string("%"),
                ],
                by: bureauReplica
            ),
            try record(
                "indicators",
                count,
                .catalog,
                [
                    "measure_id": .string(measure), "name": .string("新建公办幼儿园"), "value_kind": .string("count"), "target": .string("2"),
                    "comparison": .string("="),
                ],
                by: bureauReplica
            ),
            try record("schools", Fixture.schoolA, .catalog, ["name": .string("卓然学校"), "township": .string("七星街道")], by: bureauReplica),
            try record("periods", "2025-S1", .catalog, ["due": .string("2025-07-15")], by: bureauReplica),
            try record(
                "assignments",
                "\(Fixture.schoolA)/\(measure)",
                school,
                ["school_id": .string(Fixture.schoolA), "measure_id": .string(measure)],
                by: bureauReplica
            ),
        ]
        let response = try await client.push(try Make.push(records, replica: bureauReplica), token: fixture.bureau)
        #expect(response.results.allSatisfy { $0.status == .applied })
    }

    func value(_ json: String, indicator: String? = nil, school: String = Fixture.schoolA) throws -> SyncRecord {
        let indicator = indicator ?? rate
        return try record(
            "indicator_values",
            "\(school)/2025-S1/\(indicator)",
            try .school(school),
            ["indicator_id": .string(indicator), "value": .string(json), "school_id": .string(school)],
            by: schoolReplica
        )
    }

    func report(_ values: [String: Value], measure: String? = nil, school: String = Fixture.schoolA) throws -> SyncRecord {
        try record("reports", "\(school)/2025-S1/\(measure ?? self.measure)", try .school(school), values, by: schoolReplica)
    }

    @Test(arguments: StoreKind.allCases) func reportsAndValuesAreCheckedAgainstTheCatalogWithReasonsPerRecord(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await publish(client, fixture)
                let records = [
                    try report(["status": .string("done"), "workflow": .string("draft")]),
                    try report(["status": .string("done")], measure: "qixing-2024.nope"),
                    try value(#"{"numerator":1126,"denominator":1000}"#),
                    try value(#"{"numerator":5,"denominator":0}"#, indicator: rate, school: Fixture.schoolA).renamed(
                        "\(Fixture.schoolA)/2025-S2/\(rate)"
                    ),
                    try value(#"{"value":-1}"#, indicator: count),
                    try value(#"{"value":95}"#).renamed("\(Fixture.schoolA)/2024/\(rate)"),
                    try report(["status": .string("finished")]).renamed("\(Fixture.schoolA)/2024/\(measure)"),
                    try report(["workflow": .string("approved")]).renamed("\(Fixture.schoolA)/2025-S2/\(measure)"),
                    try report(["status": .string("done")]).renamed("\(Fixture.schoolA)/spring/\(measure)"),
                ]
                let response = try await client.push(try Make.push(records, replica: schoolReplica), token: fixture.deviceA)
                let outcome = response.results.map { $0.status == .rejected ? ($0.reason?.code.rawValue ?? "?") : $0.status.rawValue }
                #expect(
                    outcome == [
                        "applied", "unknown_measure", "applied", "validation", "validation", "validation", "validation", "validation", "validation",
                    ]
                )
                let messages = response.results.compactMap(\.reason?.message)
                #expect(messages.contains { $0.contains("denominator must be greater than 0") })
                #expect(messages.contains { $0.contains("cannot be negative") })
                #expect(messages.contains { $0.contains("numerator and denominator") })
                #expect(messages.contains { $0.contains("only the bureau approves") })
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aSchoolCannotReportOnAMeasureNotAssignedToIt(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await publish(client, fixture)
                let replica = ReplicaID(high: 0x5d, low: 2)
                var other = try report(["status": .string("done")], school: Fixture.schoolB)
                other.state = try RecordState().writing(["status": .string("done")], by: replica)
                let response = try await client.push(try Make.push([other], replica: replica), token: fixture.deviceB)
                #expect(response.results.first?.reason?.code == .notAssigned)
                let assignment = try record(
                    "assignments",
                    "\(Fixture.schoolB)/x",
                    try .school(Fixture.schoolB),
                    ["school_id": .string(Fixture.schoolB)],
                    by: replica
                )
                let own = try await client.push(try Make.push([assignment], replica: replica, receipt: response.receipt), token: fixture.deviceB)
                #expect(own.results.first?.reason?.message.contains("made by the bureau") == true)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func anApprovedReportRefusesLaterEditsButNotADiscard(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await publish(client, fixture)
                var submitted = try report(["status": .string("done"), "workflow": .string("submitted")])
                var receipt = try await client.push(try Make.push([submitted], replica: schoolReplica), token: fixture.deviceA).receipt
                // The bureau approves what it saw.
                var approved = submitted
                try approved.state.write(
                    [
                        "workflow": .string("approved"), "approval": .string(RecordRules.approvalJSON(for: submitted.state.context)),
                        "reviewer": .string("区教育局"),
                    ],
                    by: bureauReplica
                )
                _ = try await client.push(
                    try Make.push([approved], replica: bureauReplica, receipt: PushReceipt(epoch: fixture.store.epoch, sequence: 1)),
                    token: fixture.bureau
                )
                // The school's offline edit, made before it heard of the approval.
                try submitted.state.write(["narrative": .string("审核后才到的修改")], by: schoolReplica)
                let refused = try await client.push(try Make.push([submitted], replica: schoolReplica, receipt: receipt), token: fixture.deviceA)
                #expect(refused.results.first?.reason?.code == .reportLocked)
                receipt = refused.receipt
                // The school discards: a new write of what the server has. It changes no content, so it passes.
                var discarded = submitted
                try discarded.state.join(approved.state)
                try discarded.state.revert(to: approved.state, by: schoolReplica)
                let accepted = try await client.push(try Make.push([discarded], replica: schoolReplica, receipt: receipt), token: fixture.deviceA)
                #expect(accepted.results.first?.status == .applied)
                // A new indicator value after the approval is an edit too.
                let late = try await client.push(
                    try Make.push([try value(#"{"numerator":1,"denominator":2}"#)], replica: schoolReplica, receipt: accepted.receipt),
                    token: fixture.deviceA
                )
                #expect(late.results.first?.reason?.code == .reportLocked)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func theSummaryEndpointAggregatesAndIsForTheBureauOnly(kind: StoreKind) async throws {
        try await Fixture.with(
            store: kind,
            configure: {
                $0.collections = .schoolSync
                $0.clock = { Date(timeIntervalSince1970: 1_753_000_000) }
            }
        ) { fixture in
            try await fixture.withRouter { client in
                try await publish(client, fixture)
                _ = try await client.push(
                    try Make.push(
                        [
                            try value(#"{"numerator":1126,"denominator":1000}"#),
                            try report(["status": .string("done"), "workflow": .string("draft")]),
                        ],
                        replica: schoolReplica
                    ),
                    token: fixture.deviceA
                )
                let response = try await client.send(.get, "/v1/bureau/summary?period=2025-S1", token: fixture.bureau)
                #expect(response.status == .ok)
                let summary = try response.decode(BureauSummary.self)
                let indicator = try #require(summary.indicators.first { $0.id == rate })
                #expect(indicator.county.numerator == 1126 && indicator.county.denominator == 1000)
                #expect(indicator.standing == .onTrack)
                #expect(summary.asOf == "2025-07-20")
                #expect(summary.measures.first?.late == [Fixture.schoolA], "a draft after its due date is late")
                #expect(try await client.send(.get, "/v1/bureau/summary?period=2025-S1", token: fixture.deviceA).status == .forbidden)
                #expect(try await client.send(.get, "/v1/bureau/summary", token: fixture.bureau).status == .badRequest)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func theBureauPageNeedsASessionAndShowsTheNumbers(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await publish(client, fixture)
                _ = try await client.push(
                    try Make.push([try value(#"{"numerator":1126,"denominator":1000}"#)], replica: schoolReplica),
                    token: fixture.deviceA
                )
                let anonymous = try await client.send(.get, "/bureau?period=2025-S1", token: nil)
                #expect(anonymous.status == .seeOther)
                #expect(anonymous.headers[.location]?.hasPrefix("/login?next=") == true)
                let form = try await client.send(.get, "/login?next=/bureau", token: nil)
                #expect(String(buffer: form.body).contains("<form method=\"post\" action=\"/login\">"))
                let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                let bad = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=wrong&next=/bureau"),
                    headers: formHeaders
                )
                #expect(bad.status == .unauthorized)
                let device = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=\(fixture.deviceA)"),
                    headers: formHeaders
                )
                #expect(device.status == .forbidden)
                let redirectAway = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=\(fixture.bureau)&next=//evil.example"),
                    headers: formHeaders
                )
                #expect(redirectAway.headers[.location] == "/bureau")
                let signedIn = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=\(fixture.bureau)&next=%2Fbureau%3Fperiod%3D2025-S1"),
                    headers: formHeaders
                )
                #expect(signedIn.status == .seeOther)
                #expect(signedIn.headers[.location] == "/bureau?period=2025-S1")
                let cookie = try #require(signedIn.headers[.setCookie])
                #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
                let session = try #require(cookie.split(separator: ";").first.map(String.init))
                let page = try await client.send(.get, "/bureau?period=2025-S1", token: nil, headers: [.cookie: session])
                #expect(page.status == .ok)
                let html = String(buffer: page.body)
                #expect(html.contains("学前教育毛入园率"))
                #expect(html.contains("112.6%"))
                #expect(html.contains("1126 / 1000"))
                #expect(html.contains("<meta name=\"viewport\""))
                #expect(!html.contains("<script"))
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                let csv = try await client.send(.get, "/bureau?period=2025-S1&format=csv", token: nil, headers: [.cookie: session])
                #expect(String(buffer: csv.body).hasPrefix("\u{FEFF}section"))
                // The API never takes the cookie.
                #expect(
                    try await client.send(.get, "/v1/bureau/summary?period=2025-S1", token: nil, headers: [.cookie: session]).status == .unauthorized
                )
                // Logging out needs the page's CSRF token.
                let forged = try await client.send(
                    .post,
                    "/logout",
                    token: nil,
                    body: ByteBuffer(string: "csrf=guess"),
                    headers: formHeaders.merging([.cookie: session])
                )
                #expect(forged.status == .forbidden)
                let csrf = try #require(html.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
                let out = try await client.send(
                    .post,
                    "/logout",
                    token: nil,
                    body: ByteBuffer(string: "csrf=\(csrf)"),
                    headers: formHeaders.merging([.cookie: session])
                )
                #expect(out.status == .seeOther)
                #expect(try await client.send(.get, "/bureau", token: nil, headers: [.cookie: session]).status == .seeOther)
            }
        }
    }
}

extension SyncRecord {
    /// The same record under another id (for building invalid cases).
    func renamed(_ id: String) -> SyncRecord {
        SyncRecord(key: RecordKey(collection: key.collection, id: id), scope: scope, state: state)
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var copy = self
        copy.append(contentsOf: other)
        return copy
    }
}
