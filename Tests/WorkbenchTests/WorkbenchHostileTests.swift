import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Reporting
import SchoolReports
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import Testing

@testable import Workbench

/// The workbench under attack: tables another program wrote garbage into, forms a browser would
/// never send (or sends with its line breaks changed), bodies that are bombs, stale and racing
/// forms, spoofed notices, and a catalog of thousands of indicators. Every request gets a page
/// that says what to do — never a trap, never a 500, never a silent loss or a write outside the
/// school's own reports.
///
/// Serialized: each test runs a live server and a fixture; thirty of them at once starved the other
/// suites' time limits on a 2-core machine.
@Suite(.serialized, .timeLimit(.minutes(3))) struct WorkbenchHostileTests {
    static let reportPath = "/report?period=\(School.period)&measure=\(School.measure)"
    static let reportKey = RecordKey(collection: "reports", id: School.reportID)
    static let countKey = RecordKey(collection: "indicator_values", id: "\(Fixture.schoolA)/\(School.period)/\(School.count)")
    static let photo = Data([0xFF, 0xD8, 0xFF, 0xE0] + (0..<64).map { UInt8($0) })

    // MARK: Tables another program wrote

    @Test func evidenceRowsAnotherProgramDamagedNeverTrapAPage() async throws {
        try await School.with { school in
            try await school.browse { browser in
                #expect(try await browser.attach(from: try await browser.report(), name: "东园.jpg", bytes: Self.photo).status == .seeOther)
                // Bytes that are not UTF-8 where text belongs, a number where bytes belong: GRDB's
                // `row["name"] as String` trapped on every page (the status line lists the files).
                try await school.office.read { db in
                    try db.execute(sql: "UPDATE evidence_files SET name = x'ff00fe', type = x'c3', held_back = NULL")
                    try db.execute(sql: "UPDATE evidence_chunks SET data = 123456")
                }
                for path in ["/", "/status", Self.reportPath] {
                    #expect(try await browser.get(path).status == .ok, "\(path)")
                }
                // The sync button reads the chunks to upload them: the copy no longer has its
                // SHA-256, so it is held back with why, never sent and never a crash.
                let home = try await browser.get("/")
                #expect(try await browser.post("/sync", [("csrf", home.hidden("csrf") ?? ""), ("back", "/")]).status == .seeOther)
                #expect(try await school.office.status().evidenceHeldBack.count == 1)
                #expect(try await browser.get("/status").html.contains("未能上传"))
            }
        }
    }

    @Test func absurdSizesAndCatalogValuesAreShownNotTrapped() async throws {
        try await School.with { school in
            try await school.browse { browser in
                #expect(try await browser.saveReport(from: try await browser.report(), [("narrative", "有佐证")]).status == .seeOther)
                let sha = String(repeating: "ab", count: 32)
                try await school.office.read { db in
                    // A size of 2^63−1 bytes trapped the report page (`bytes * 10` overflowed).
                    try db.execute(
                        sql: "UPDATE reports SET evidence = ? WHERE id = ?",
                        arguments: [#"[{"name":"大.pdf","sha256":"\#(sha)","size":9223372036854775807,"type":"application/pdf"}]"#, School.reportID]
                    )
                    try db.execute(
                        sql: "UPDATE indicators SET target = 1e307, approx = 'yes', value_kind = x'ff', name = 18446744073709551615 WHERE id = ?",
                        arguments: [School.count]
                    )
                    try db.execute(sql: "UPDATE periods SET due = x'00ff', starts = 1e307, kind = NULL")
                    try db.execute(sql: "UPDATE measures SET title = x'fffe', code = 2.5 WHERE id = ?", arguments: [School.measure])
                }
                let page = try await browser.report()
                #expect(page.status == .ok)
                #expect(page.html.contains("大.pdf"))
                #expect(try await browser.get("/").status == .ok)
                #expect(try await browser.get("/status").status == .ok)
                #expect(WorkbenchRoutes.size(.max) == "8796093022207.9 MB")
                #expect(WorkbenchRoutes.size(25 * 1024 * 1024) == "25.0 MB")
            }
        }
    }

    @Test func aRecordWhoseSyncDataWasDamagedGetsAPageAndAWayOut() async throws {
        try await School.with { school in
            try await school.browse { browser in
                #expect(try await browser.saveReport(from: try await browser.report(), [("narrative", "第一版")]).status == .seeOther)
                try await school.office.read { db in
                    try db.execute(sql: "UPDATE sync_records SET state = 'garbage' WHERE collection = 'reports'")
                }
                let page = try await browser.report()
                #expect(page.status == .ok)
                // Saving over it was an empty 500 (the state's decoding error reached Hummingbird).
                let saved = try await browser.saveReport(from: page, [("narrative", "第二版")])
                #expect(saved.status == .conflict, "\(saved.html)")
                #expect(saved.html.contains("已损坏"))
                #expect(saved.html.contains("第二版"))  // what was typed is still in the form
                // The way out: discard the local changes, which takes the server's copy again.
                let status = try await browser.get("/status")
                #expect(status.html.contains("放弃本机的修改"))
                let discarded = try await browser.post(
                    "/discard",
                    [("csrf", status.hidden("csrf") ?? ""), ("collection", "reports"), ("id64", status.hidden("id64") ?? ""), ("back", "/status")])
                #expect(discarded.status == .seeOther)
                #expect(try await browser.saveReport(from: try await browser.report(), [("narrative", "第三版")]).status == .seeOther)
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "narrative") == .string("第三版"))
            }
        }
    }

    @Test func aRecordWithALineBreakInItsIdCanBeDiscardedFromTheBrowser() async throws {
        try await School.with { school in
            let id = "\(Fixture.schoolA)/\(School.period)/坏\n行"
            try await school.office.read { db in
                try db.execute(
                    sql: "INSERT INTO indicator_values (id, school_id, indicator_id, measure_id, period, value) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [id, Fixture.schoolA, School.count, School.measure, School.period, #"{"value":1}"#]
                )
            }
            try await school.browse { browser in
                let status = try await browser.get("/status")
                #expect(status.html.contains("被拒收"))
                // What a browser posts: the hidden fields with every line break as CR LF. The id
                // alone no longer names the row; the page's base64 of it does.
                let fields = ["csrf", "collection", "id", "id64", "back"].map { ($0, Browser.submitted(status.hiddenText($0) ?? "")) }
                #expect(fields.first { $0.0 == "id" }?.1 == "\(Fixture.schoolA)/\(School.period)/坏\r\n行")
                let discarded = try await browser.post("/discard", fields)
                #expect(discarded.status == .seeOther)
                #expect(discarded.location?.removingPercentEncoding?.contains("已放弃本机的修改") == true, "\(discarded.location ?? "")")
                #expect(try await school.office.status().rejected.isEmpty)
                let left = try await school.office.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM indicator_values WHERE id = ?", arguments: [id]) }
                #expect(left == 0)
            }
        }
    }

    // MARK: Forms as browsers send them

    @Test func aNarrativesLineBreaksSurviveSavingAnotherField() async throws {
        try await School.with { school in
            try await school.browse { browser in
                #expect(try await browser.saveReport(from: try await browser.report(), [("narrative", "x")]).status == .seeOther)
                // Another device (or the CLI) wrote a narrative that starts with a line break and has a CR.
                let stored = "\n第一行\r第二行\r\n第三行"
                try await school.office.write(Self.reportKey, ["narrative": .string(stored)])
                let page = try await browser.report()
                let shown = try #require(page.textarea("narrative"))
                // The school changes only the status; the browser sends the textarea as it holds it.
                let saved = try await browser.saveReport(from: page, [("status", "done"), ("narrative", Browser.submitted(shown))])
                #expect(saved.status == .seeOther)
                let report = try #require(try await school.office.record(Self.reportKey))
                #expect(report.state.value(of: "status") == .string("done"))
                #expect(report.state.value(of: "narrative") == .string(stored))
                // A real change is still saved, with its line breaks as LF.
                _ = try await browser.saveReport(from: try await browser.report(), [("narrative", "\r\n新的\r\n一段")])
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "narrative") == .string("\n新的\n一段"))
            }
        }
    }

    @Test func aValueInAnotherSpellingIsNotRewrittenBySavingAnotherField() async throws {
        try await School.with { school in
            let rate = RecordKey(collection: "indicator_values", id: "\(Fixture.schoolA)/\(School.period)/\(School.rate)")
            try await school.browse { browser in
                #expect(try await browser.saveReport(from: try await browser.report(), [("n:\(School.rate)", "1126"), ("d:\(School.rate)", "1000")]).status == .seeOther)
                // Another program writes the same rate in its own spelling (keys unsorted, a decimal point).
                try await school.office.read { db in
                    try db.execute(sql: #"UPDATE indicator_values SET value = '{"numerator": 1126.0, "denominator": 1000}' WHERE id = ?"#, arguments: [rate.id])
                }
                let before = try #require(try await school.office.record(rate))
                let page = try await browser.report()
                // The form shows 1126 / 1000 and sends them back while the school edits the narrative.
                let saved = try await browser.saveReport(from: page, [("narrative", "只改说明"), ("n:\(School.rate)", "1126"), ("d:\(School.rate)", "1000")])
                #expect(saved.status == .seeOther)
                let after = try #require(try await school.office.record(rate))
                #expect(after.state.context == before.state.context, "the value was rewritten though nobody changed it")
                #expect(after.state.value(of: "value") == .string(#"{"numerator": 1126.0, "denominator": 1000}"#))
                // A changed value is still written.
                _ = try await browser.saveReport(from: try await browser.report(), [("n:\(School.rate)", "1127"), ("d:\(School.rate)", "1000")])
                #expect(try await school.office.record(rate)?.state.value(of: "value") == .string(#"{"denominator":1000,"numerator":1127}"#))
            }
        }
    }

    @Test func aNarrativeOfFewCharactersButManyBytesIsRefusedWithTheFormKept() async throws {
        try await School.with { school in
            try await school.browse { browser in
                // 17,000 characters (under 20,000) of 4 bytes each: more than a value's 64 KiB. The
                // replica refused it after the form's check passed, on a bare page that lost the text.
                let narrative = String(repeating: "😀", count: 17_000)
                let refused = try await browser.saveReport(from: try await browser.report(), [("narrative", narrative)])
                #expect(refused.status == .badRequest)
                #expect(refused.html.contains("工作说明最多"))
                #expect(refused.textarea("narrative") == narrative)
                #expect(try await school.office.record(Self.reportKey) == nil)
            }
        }
    }

    @Test func submittingAPageOpenedBeforeAValueChangedIsRefused() async throws {
        try await School.with { school in
            try await school.browse { browser in
                #expect(try await browser.saveReport(from: try await browser.report(), [("status", "done"), ("v:\(School.count)", "2")]).status == .seeOther)
                let opened = try await browser.report()
                // Another program changes the value after the page was opened: the report record itself does not change.
                try await school.office.read { db in
                    try db.execute(sql: "UPDATE indicator_values SET value = '{\"value\":3}' WHERE id = ?", arguments: [Self.countKey.id])
                }
                func submit(_ page: Browser.Page, seen: String? = nil) async throws -> Browser.Page {
                    try await browser.post(
                        "/report/submit",
                        [("csrf", page.hidden("csrf") ?? ""), ("seen", seen ?? page.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure)])
                }
                let stale = try await submit(opened)
                #expect(stale.status == .conflict, "\(stale.html)")
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "workflow") == .string("draft"))
                // A `seen` that names the report alone (the values left out) cannot vouch for them either.
                let fresh = try await browser.report()
                let sheet = try await school.workbench.book.sheet(measure: School.measure, period: School.period)
                let partial = WorkbenchForm.encode(seen: sheet.seen.filter { $0.key == Self.reportKey })
                #expect(try await submit(fresh, seen: partial).status == .conflict)
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "workflow") == .string("draft"))
                #expect(try await submit(fresh).status == .seeOther)
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "workflow") == .string("submitted"))
            }
        }
    }

    @Test func aProposalTooLongWithItsChosenValueIsRefusedAndWhatWasTypedKept() async throws {
        try await School.with { school in
            let principal = try await school.principal()
            try await school.browse { browser in
                _ = try await browser.saveReport(from: try await browser.report(), [("narrative", "教务处的说明")])
                try await school.sync(school.office)
                try await school.sync(principal)
                try await principal.write(Self.reportKey, ["narrative": .string("校长室的说明")])
                _ = try await browser.saveReport(from: try await browser.report(), [("narrative", "教务处的新说明")])
                try await school.sync(school.office)
                try await school.sync(principal)
                try await school.sync(school.office)
                let page = try await browser.report()
                #expect(page.html.contains("冲突（等待管理员处理）"))
                // The textarea takes 2,000 characters; with the chosen value quoted the proposal is longer.
                let note = String(repeating: "议", count: 1990)
                let fields = [
                    ("csrf", page.hidden("csrf") ?? ""), ("seen", page.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure),
                    ("prefer.0", "1"),
                ]
                let refused = try await browser.post("/report/propose", fields + [("proposal", note)])
                #expect(refused.status == .badRequest)
                #expect(refused.html.contains("最多2000字"))
                #expect(refused.textarea("proposal") == note, "the school's words are shown again, not lost")
                #expect(refused.html.contains(#"name="prefer.0" value="1" checked"#))
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "proposal") == nil)
                #expect(try await browser.post("/report/propose", fields + [("proposal", "用校长室的")]).status == .seeOther)
                guard case .string(let text)? = try await school.office.record(Self.reportKey)?.state.value(of: "proposal") else {
                    Issue.record("no proposal written")
                    return
                }
                #expect(text.hasSuffix("说明：用校长室的"))
            }
        }
    }

    @Test func multipartBodiesThatAreNotTheFormGetPages() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                func upload(_ type: String?, _ body: ByteBuffer) async throws -> HTTPResponse.Status {
                    var headers: HTTPFields = [.cookie: browser.cookie]
                    if let type { headers[.contentType] = type }
                    return try await browser.client.execute(uri: "/report/evidence", method: .post, headers: headers, body: body).status
                }
                #expect(try await upload(nil, ByteBuffer(string: "x")) == .badRequest)
                #expect(try await upload("multipart/form-data", ByteBuffer(string: "x")) == .badRequest)
                #expect(try await upload("multipart/form-data; boundary=", ByteBuffer(string: "x")) == .badRequest)
                let garbage = try await upload("multipart/form-data; boundary=zz", ByteBuffer(bytes: [0, 0xFF, 0x0D, 0x0A, 0x2D, 0x2D, 0x7A, 0x7A]))
                #expect(garbage == .badRequest || garbage == .forbidden)
                var huge = ByteBuffer(string: "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n")
                huge.writeRepeatingByte(0x25, count: 26 * 1024 * 1024)
                #expect(try await upload("multipart/form-data; boundary=b", huge) == .contentTooLarge)
                #expect(try await browser.attach(from: page, name: "空.pdf", bytes: Data()).status == .badRequest)
                // A file inside a nested multipart body is only bytes of no allowed type.
                let nested = Data("--inner\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--inner--\r\n".utf8)
                #expect(try await browser.attach(from: page, name: "套.pdf", bytes: nested).status == .unprocessableContent)
                // A name with `;` keeps it whole (it was cut at the `;`: `"报告`).
                let pdf = Data("%PDF-1.4\n%âãÏÓ\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".utf8)
                #expect(try await browser.attach(from: page, name: "报告;终稿.pdf", bytes: pdf).status == .seeOther)
                #expect(try await school.workbench.book.sheet(measure: School.measure, period: School.period).evidence.map(\.name) == ["报告;终稿.pdf"])
                #expect(try await browser.attach(from: try await browser.report(), name: "../../etc/passwd\u{0}.pdf", bytes: pdf).status != .internalServerError)
                #expect(try await school.office.status().pending == 1)
            }
        }
    }

    @Test func seenTokensThatAreBombsAreStaleAndWriteNothing() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                let replica = try #require(try await school.office.settings()?.replica.description)
                let bombs: [String] = [
                    Data(String(repeating: "[", count: 300_000).utf8).base64EncodedString(),
                    Data(#"[["reports","\#(School.reportID)","\#(String(repeating: "[", count: 200_000))"]]"#.utf8).base64EncodedString(),
                    Data(#"[["reports","\#(School.reportID)","{\"\#(replica)\":18446744073709551615}"]]"#.utf8).base64EncodedString(),
                    Data(#"[["reports","\#(School.reportID)","{\"\#(replica)\":1e307}"]]"#.utf8).base64EncodedString(),
                    Data(#"[[1,2,3]]"#.utf8).base64EncodedString(), Data(#"{"a":1}"#.utf8).base64EncodedString(), Data("[]".utf8).base64EncodedString(),
                    Data(#"[["reports","a\u0000\n",""]]"#.utf8).base64EncodedString(),
                    String(repeating: "A", count: 900_000), "%%%", "",
                ]
                for seen in bombs {
                    let posted = try await browser.post(
                        "/report/save",
                        [("csrf", page.hidden("csrf") ?? ""), ("seen", seen), ("period", School.period), ("measure", School.measure), ("narrative", "炸")])
                    #expect(posted.status == .conflict, "\(seen.prefix(60))")
                }
                #expect(try await school.office.status().pending == 0)
            }
        }
    }

    // MARK: Other pages in the same browser

    @Test func noticesShowOnlyWhatTheWorkbenchWrote() async throws {
        try await School.with { school in
            try await school.browse { browser in
                // Another page on this computer links here with words of its own.
                let spoofed = try await browser.get("/?notice=\("已保存，请到 http://evil.example 核对".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
                #expect(spoofed.status == .ok)
                #expect(!spoofed.html.contains("id=\"notice\""))
                #expect(!(try await browser.get("/?notice=x&sig=\(String(repeating: "0", count: 32))").html.contains("id=\"notice\"")))
                let saved = try await browser.saveReport(from: try await browser.report(), [("narrative", "真的保存了")])
                let location = try #require(saved.location)
                #expect(try await browser.get(location).html.contains("已保存在本机"))
                let altered = location.replacingOccurrences(of: "notice=", with: "notice=%E4%BC%AA")
                #expect(!(try await browser.get(altered).html.contains("id=\"notice\"")))
            }
        }
    }

    @Test(arguments: [
        "localhost.", "localhost.:8123", "127.0.0.1.nip.io", "127.0.0.1.nip.io:8123", "[::1].evil.example", "[::1]:8123@evil.example", "127.0.0.1:8123:evil", "0.0.0.0:8123", "127.1:8123",
    ])
    func reboundHostNamesAreRefused(authority: String) {
        let request = Request(head: HTTPRequest(method: .get, scheme: "http", authority: authority, path: "/"), body: RequestBody(buffer: ByteBuffer()))
        #expect(!WorkbenchSession.isLoopbackHost(request))
    }

    @Test func queryParametersWithControlCharactersGetPages() async throws {
        try await School.with { school in
            try await school.browse { browser in
                for uri in [
                    "/report?period=%00&measure=%FF%FE", "/report?period=2025-S1&measure=%0A%0D%00", "/?period=%FF%00&notice=%00%0A%3Cb%3E",
                    "/report?measure=\(String(repeating: "%FF", count: 2000))&period=2025-S1", "/report?period=2025-S1&measure=javascript:alert(1)",
                    "/status?x=%", "/?period=\(String(repeating: "9", count: 5000))",
                ] {
                    let page = try await browser.get(uri)
                    #expect([.ok, .badRequest, .notFound].contains(page.status), "\(uri.prefix(60)): \(page.status)")
                }
            }
        }
    }

    // MARK: Scope

    @Test func writesStayInTheSchoolsOwnReportsWhateverTheFormNames() async throws {
        try await School.with { school in
            // Catalog rows another program added: a measure assigned to another school, and an
            // indicator of a measure not assigned to this one.
            try await school.office.read { db in
                try db.execute(sql: "INSERT INTO measures (id, plan_id, title) VALUES ('qixing-2024/m9', 'qixing-2024', '别校的措施')")
                try db.execute(
                    sql: "INSERT INTO assignments (id, school_id, measure_id) VALUES (?, ?, 'qixing-2024/m9')",
                    arguments: ["\(Fixture.schoolB)/qixing-2024/m9", Fixture.schoolB])
                try db.execute(
                    sql: "INSERT INTO indicators (id, plan_id, measure_id, name, value_kind) VALUES ('qixing-2024/i9', 'qixing-2024', 'qixing-2024/m9', '别校的指标', 'count')")
            }
            try await school.browse { browser in
                let page = try await browser.report()
                #expect(try await browser.get("/report?period=\(School.period)&measure=qixing-2024/m9").status == .notFound)
                let other = try await browser.post(
                    "/report/save",
                    [("csrf", page.hidden("csrf") ?? ""), ("seen", page.hidden("seen") ?? ""), ("period", School.period), ("measure", "qixing-2024/m9"), ("narrative", "越权")])
                #expect(other.status == .notFound)
                // A value field of another measure's indicator on this measure's form is not this form's.
                #expect(try await browser.saveReport(from: page, [("v:qixing-2024/i9", "5"), ("narrative", "本校")]).status == .seeOther)
                let written = try await school.office.read { db in
                    try String.fetchAll(
                        db, sql: "SELECT collection || ' ' || id FROM sync_records WHERE dirty = 1 AND collection IN ('reports', 'indicator_values') ORDER BY 1")
                }
                #expect(written == ["reports \(School.reportID)"])
                var edit = ReportEdit(measure: School.measure, period: School.period)
                edit.values["qixing-2024/i9"] = .number("5")
                await #expect(throws: ReportBookError.self) { try await school.workbench.book.save(edit) }
            }
        }
    }

    // MARK: Concurrency and size

    @Test func twoSavesOfOnePageAtOnceWriteOneAndRefuseTheOther() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                async let first = browser.saveReport(from: page, [("narrative", "甲")])
                async let second = browser.saveReport(from: page, [("narrative", "乙")])
                let (a, b) = try await (first, second)
                #expect(Set([a.status.code, b.status.code]) == [303, 409])
                let winner = a.status == .seeOther ? "甲" : "乙"
                #expect(try await school.office.record(Self.reportKey)?.state.value(of: "narrative") == .string(winner))
                #expect((a.status == .conflict ? a : b).html.contains(winner == "甲" ? "乙" : "甲"), "the loser's words are shown, not lost")
            }
        }
    }

    @Test func aMeasureOfThousandsOfIndicatorsIsReadInOneTransaction() async throws {
        try await School.with { school in
            // Enough that one transaction per indicator would show; few enough to stay light in a parallel test run.
            let count = 300
            try await school.office.read { db in
                for index in 0..<count {
                    try db.execute(
                        sql: "INSERT INTO indicators (id, plan_id, measure_id, name, unit, value_kind) VALUES (?, 'qixing-2024', ?, ?, '所', 'count')",
                        arguments: ["qixing-2024/big\(index)", School.measure, "指标\(index)"]
                    )
                }
            }
            try await school.browse { browser in
                let page = try await browser.report()
                #expect(page.status == .ok)
                // Every transaction of the replica first writes its control row: the writes of the
                // connection count transactions. One per indicator was thousands per page.
                func changes() async throws -> Int { try await school.office.read { db in try Int.fetchOne(db, sql: "SELECT total_changes()") ?? 0 } }
                let before = try await changes()
                _ = try await school.workbench.book.sheet(measure: School.measure, period: School.period)
                let transactions = try await changes() - before
                #expect(transactions < 10, "\(transactions) transactions to read one sheet")
                let saved = try await browser.saveReport(from: page, (0..<count).map { ("v:qixing-2024/big\($0)", "\($0)") })
                #expect(saved.status == .seeOther)
                let values = try await school.office.read { db in
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_records WHERE dirty = 1 AND collection = 'indicator_values'")
                }
                #expect(values == count)
            }
        }
    }
}

extension Browser {
    /// A value as a browser submits it: every CR, LF and CR LF becomes CR LF (HTML's form encoding).
    static func submitted(_ value: String) -> String {
        value.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
    }
}

extension Browser.Page {
    /// The value of the hidden input `name` as a browser holds it: entities decoded, line breaks as LF.
    func hiddenText(_ name: String) -> String? {
        hidden(name).map { Self.parsed($0) }
    }

    /// The text of the textarea `name` as a browser holds it: entities decoded, line breaks as LF,
    /// and the one line break right after the start tag dropped, as HTML's parser does.
    func textarea(_ name: String) -> String? {
        guard let open = html.range(of: "<textarea name=\"\(name)\""), let end = html[open.upperBound...].firstIndex(of: ">"),
            let close = html[end...].range(of: "</textarea>")
        else { return nil }
        var text = Self.parsed(String(html[html.index(after: end)..<close.lowerBound]))
        if text.hasPrefix("\n") { text.removeFirst() }
        return text
    }

    static func parsed(_ raw: String) -> String {
        raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }
}
