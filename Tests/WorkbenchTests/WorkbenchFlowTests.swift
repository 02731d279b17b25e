import Foundation
import GRDB
import HTTPTypes
import Reporting
import SchoolReports
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import SyncServer
import Testing

@testable import Workbench

/// The school's round in the workbench, in process against a live server: fill in offline,
/// validation before saving, stale forms, submit, sync, the bureau's return, conflicts and proposals.
///
/// Serialized: each test runs a live server and a fixture (see WorkbenchHostileTests).
@Suite(.serialized, .timeLimit(.minutes(3))) struct WorkbenchFlowTests {
    @Test func homeListsTheMeasureLateFirstWithItsState() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let home = try await browser.get("/")
                #expect(home.status == .ok)
                #expect(home.html.contains("2025-S1 本校措施"))
                #expect(home.html.contains("新建2所公办幼儿园"))
                #expect(home.html.contains("逾期"))
                #expect(home.html.contains("未填写"))
                #expect(home.html.contains("/report?period=2025-S1&amp;measure=qixing-2024/m6.1"))
            }
        }
    }

    @Test func aZeroDenominatorIsRefusedBeforeSavingAndNothingIsWritten() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                #expect(page.status == .ok)
                let refused = try await browser.saveReport(
                    from: page,
                    [("status", "in_progress"), ("narrative", "已完成选址"), ("n:\(School.rate)", "1126"), ("d:\(School.rate)", "0"), ("v:\(School.count)", "-1")]
                )
                #expect(refused.status == .badRequest)
                #expect(refused.html.contains("分母不能为0"))
                #expect(refused.html.contains("不能为负数"))
                // What was typed stays in the form.
                #expect(refused.html.contains("已完成选址"))
                #expect(try await school.office.record(RecordKey(collection: "reports", id: School.reportID)) == nil)
                #expect(try await school.office.status().pending == 0)
                let notANumber = try await browser.saveReport(from: page, [("n:\(School.rate)", "一千"), ("d:\(School.rate)", "1000")])
                #expect(notANumber.status == .badRequest && notANumber.html.contains("不是数字"))
            }
        }
    }

    @Test func aSaveWorksOfflineAndWritesOnlyWhatChangedInOneSpelling() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                let saved = try await browser.saveReport(
                    from: page,
                    [
                        ("status", "in_progress"), ("narrative", "已完成选址\r\n东园开工"), ("n:\(School.rate)", " 1126.0 "), ("d:\(School.rate)", "1e3"),
                        ("v:\(School.count)", ""), ("f:\(School.milestone)", "true"),
                    ]
                )
                #expect(saved.status == .seeOther, "\(saved.html)")
                let value = try await school.office.read { db in
                    try String.fetchOne(db, sql: "SELECT value FROM indicator_values WHERE indicator_id = ?", arguments: [School.rate])
                }
                #expect(value == #"{"denominator":1000,"numerator":1126}"#)
                let flag = try await school.office.read { db in
                    try String.fetchOne(db, sql: "SELECT value FROM indicator_values WHERE indicator_id = ?", arguments: [School.milestone])
                }
                #expect(flag == #"{"value":true}"#)
                // A blank count is no value, not zero.
                #expect(try await school.office.record(RecordKey(collection: "indicator_values", id: "\(Fixture.schoolA)/2025-S1/\(School.count)")) == nil)
                let report = try #require(try await school.office.record(RecordKey(collection: "reports", id: School.reportID)))
                #expect(report.state.value(of: "narrative") == .string("已完成选址\n东园开工"))
                #expect(report.state.value(of: "workflow") == .string("draft"))
                let shown = try await browser.report()
                #expect(shown.html.contains("112.6%"))
                #expect(shown.html.contains("待发送"))
                // The same form again writes nothing.
                let again = try await browser.saveReport(
                    from: shown, [("status", "in_progress"), ("narrative", "已完成选址\n东园开工"), ("n:\(School.rate)", "1126"), ("d:\(School.rate)", "1000"), ("f:\(School.milestone)", "true")])
                #expect(again.status == .seeOther)
                #expect(again.location?.removingPercentEncoding?.contains("没有需要保存的修改") == true, "\(again.location ?? "")")
            }
        }
    }

    @Test func aFormOpenedBeforeAPlainSQLEditIsRefusedAndShowsTheNewValues() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let first = try await browser.report()
                #expect(try await browser.saveReport(from: first, [("narrative", "第一版")]).status == .seeOther)
                let opened = try await browser.report()
                try await school.office.read { db in
                    try db.execute(sql: "UPDATE reports SET narrative = '另一个程序改的' WHERE id = ?", arguments: [School.reportID])
                }
                // The page shows the other program's edit as soon as it is reloaded.
                #expect(try await browser.report().html.contains("另一个程序改的"))
                let stale = try await browser.saveReport(from: opened, [("narrative", "我的修改")])
                #expect(stale.status == .conflict)
                #expect(stale.html.contains("另一个程序改的"))
                #expect(stale.html.contains("我的修改"))  // what was typed is shown, not lost silently
                let report = try #require(try await school.office.record(RecordKey(collection: "reports", id: School.reportID)))
                #expect(report.state.value(of: "narrative") == .string("另一个程序改的"))
                // A damaged or missing `seen` is stale too, never a crash.
                var broken = opened
                broken = Browser.Page(status: opened.status, html: opened.html.replacingOccurrences(of: opened.hidden("seen") ?? "", with: "%%%not-base64"), location: nil)
                #expect(try await browser.saveReport(from: broken, [("narrative", "再改")]).status == .conflict)
            }
        }
    }

    @Test func submitSyncReturnAndEditAgain() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                #expect(!page.html.contains("id=\"submit\""))  // nothing saved yet: nothing to submit
                _ = try await browser.saveReport(from: page, [("status", "done"), ("n:\(School.rate)", "1126"), ("d:\(School.rate)", "1000")])
                let saved = try await browser.report()
                let submitted = try await browser.post(
                    "/report/submit",
                    [("csrf", saved.hidden("csrf") ?? ""), ("seen", saved.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure)]
                )
                #expect(submitted.status == .seeOther)
                #expect(try await browser.report().html.contains("已提交"))
                let synced = try await browser.post("/sync", [("csrf", saved.hidden("csrf") ?? ""), ("back", "/")])
                #expect(synced.status == .seeOther)
                #expect(synced.location?.removingPercentEncoding?.contains("同步完成") == true, "\(synced.location ?? "")")
                #expect(try await school.office.status().pending == 0)
                let stored = try #require(try await school.fixture.store.records(in: ["reports"]).first { $0.key.id == School.reportID })
                #expect(stored.state.value(of: "workflow") == .string("submitted"))

                // The bureau returns it with a comment; after the school's sync the page shows it, editable.
                let bureau = try LocalReplica(path: school.fixture.path("bureau.sqlite"), schemas: DomainSchema.all)
                try await school.sync(bureau)
                let key = RecordKey(collection: "reports", id: School.reportID)
                let fields = try ReportWorkflow.return(try await bureau.record(key)?.state, reportID: key.id, comment: "请补充东园照片", reviewer: "区教育局")
                try await bureau.write(key, fields)
                try await school.sync(bureau)
                _ = try await browser.post("/sync", [("csrf", saved.hidden("csrf") ?? ""), ("back", "/")])
                let returned = try await browser.report()
                #expect(returned.html.contains("请补充东园照片"))
                #expect(returned.html.contains("已退回"))
                #expect(returned.html.contains("id=\"save\""))
                let home = try await browser.get("/")
                #expect(home.html.contains("请补充东园照片"))
            }
        }
    }

    @Test func anApprovedReportIsShownLockedAndRefusesEdits() async throws {
        try await School.with { school in
            try await school.browse { browser in
                _ = try await browser.saveReport(from: try await browser.report(), [("status", "done")])
                try await school.workbench.book.submit(measure: School.measure, period: School.period)
                try await school.sync(school.office)
                let bureau = try LocalReplica(path: school.fixture.path("bureau.sqlite"), schemas: DomainSchema.all)
                try await school.sync(bureau)
                let key = RecordKey(collection: "reports", id: School.reportID)
                try await bureau.write(key, try ReportWorkflow.approve(try await bureau.record(key)?.state, reportID: key.id, reviewer: "区教育局"))
                try await school.sync(bureau)
                try await school.sync(school.office)
                let page = try await browser.report()
                #expect(page.html.contains("已审核通过"))
                #expect(!page.html.contains("id=\"save\""))
                let refused = try await browser.saveReport(from: page, [("narrative", "审核后又改")])
                #expect(refused.status == .badRequest)
                #expect(refused.html.contains("锁定"))
                #expect(try await school.office.status().pending == 0)
            }
        }
    }

    @Test func aConflictIsShownSideBySideAndTheSchoolsProposalIsWritten() async throws {
        try await School.with { school in
            let principal = try await school.principal()
            try await school.browse { browser in
                _ = try await browser.saveReport(from: try await browser.report(), [("narrative", "教务处的说明")])
                try await school.sync(school.office)
                try await school.sync(principal)
                let key = RecordKey(collection: "reports", id: School.reportID)
                try await principal.write(key, ["narrative": .string("校长室的说明")])
                _ = try await browser.saveReport(from: try await browser.report(), [("narrative", "教务处的新说明")])
                try await school.sync(school.office)
                try await school.sync(principal)
                try await school.sync(school.office)
                let page = try await browser.report()
                #expect(page.html.contains("冲突（等待管理员处理）"))
                #expect(page.html.contains("教务处的新说明") && page.html.contains("校长室的说明"))
                // Who wrote which: the names came with the workbench's sync (GET /v1/school/replicas).
                _ = try await browser.post("/sync", [("csrf", page.hidden("csrf") ?? ""), ("back", "/")])
                let named = try await browser.report()
                #expect(named.html.contains("本机（卓然 教务处 PC）填写") && named.html.contains("卓然 校长室 PC 填写"), "\(named.html)")
                // The conflicted field cannot be saved over, whatever the form says.
                let overwrite = try await browser.saveReport(from: page, [("narrative", "覆盖")])
                #expect(overwrite.status == .seeOther || overwrite.status == .badRequest)
                let conflict = try #require(try await school.office.record(key)?.state.conflict)
                #expect(conflict.fields["narrative"]?.count == 2)
                // The proposal names the chosen value and the school's words.
                let fresh = try await browser.report()
                let choice = try #require(
                    school.workbench.book.sheetIndex(of: "校长室的说明", in: try await school.workbench.book.sheet(measure: School.measure, period: School.period))
                )
                let proposed = try await browser.post(
                    "/report/propose",
                    [
                        ("csrf", fresh.hidden("csrf") ?? ""), ("seen", fresh.hidden("seen") ?? ""), ("period", School.period), ("measure", School.measure),
                        ("prefer.0", "\(choice)"), ("proposal", "用校长室的，内容更完整"),
                    ]
                )
                #expect(proposed.status == .seeOther, "\(proposed.html)")
                guard case .string(let text)? = try await school.office.record(key)?.state.value(of: "proposal") else {
                    Issue.record("no proposal written")
                    return
                }
                #expect(text.contains("«校长室的说明»") && text.contains("用校长室的，内容更完整"), "\(text)")
                #expect(try await browser.report().html.contains("用校长室的，内容更完整"))
                // It reaches the server with the next sync, for the administrator.
                _ = try await browser.post("/sync", [("csrf", fresh.hidden("csrf") ?? ""), ("back", "/")])
                let stored = try #require(try await school.fixture.store.records(in: ["reports"]).first { $0.key.id == School.reportID })
                #expect(stored.state.value(of: "proposal") == .string(text))
            }
        }
    }

    @Test func evidenceIsPickedCheckedAndQueuedForUpload() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let photo = Data([0xFF, 0xD8, 0xFF, 0xE0] + (0..<8).flatMap { _ in (0...255).map { UInt8($0) } })
                let attached = try await browser.attach(from: try await browser.report(), name: "东园.jpg", bytes: photo)
                #expect(attached.status == .seeOther, "\(attached.html)")
                let page = try await browser.report()
                #expect(page.html.contains("东园.jpg"))
                #expect(page.html.contains("等待上传"))
                #expect(try await school.office.status().evidenceWaiting.count == 1)
                let refused = try await browser.attach(from: page, name: "脚本.sh", bytes: Data("#!/bin/sh\nrm -rf /\n".utf8))
                #expect(refused.status == .unprocessableContent)
                #expect(refused.html.contains("文件不能添加"))
                _ = try await browser.post("/sync", [("csrf", page.hidden("csrf") ?? ""), ("back", "/")])
                #expect(try await school.office.status().evidenceWaiting.isEmpty)
                #expect(try await browser.report().html.contains("已上传"))
            }
        }
    }

    @Test func hostileFormsGetPagesNeverCrashes() async throws {
        try await School.with { school in
            try await school.browse { browser in
                let page = try await browser.report()
                let csrf = page.hidden("csrf") ?? ""
                #expect(try await browser.get("/report?period=2025-S1&measure=qixing-2024/none").status == .notFound)
                #expect(try await browser.get("/report?period=spring&measure=\(School.measure)").status == .notFound)
                #expect(try await browser.get("/report").status == .badRequest)
                #expect(try await browser.post("/report/save", [("csrf", csrf), ("seen", page.hidden("seen") ?? ""), ("period", "2025-S1"), ("measure", "a\nb")]).status == .notFound)
                #expect(try await browser.post("/report/save", [("csrf", csrf), ("period", "2025-S1"), ("measure", School.measure), ("narrative", "x")]).status == .conflict)
                #expect(try await browser.post("/report/save", [("csrf", csrf), ("period", "2025\n")]).status == .badRequest)
                let huge = try await browser.post("/report/save", [("csrf", csrf), ("narrative", String(repeating: "长", count: 400_000))])
                #expect(huge.status == .contentTooLarge)
                let long = try await browser.saveReport(from: page, [("narrative", String(repeating: "长", count: ReportBook.maxNarrativeLength + 1))])
                #expect(long.status == .badRequest && long.html.contains("工作说明最多"))
                let bomb = try await browser.saveReport(from: page, [("n:\(School.rate)", "1e308"), ("d:\(School.rate)", "1e-308"), ("v:\(School.count)", "18446744073709551615")])
                #expect(bomb.status == .badRequest)
                #expect(try await browser.post("/discard", [("csrf", csrf), ("collection", "sync_meta"), ("id", "x")]).status == .badRequest)
                let offsite = try await browser.post("/sync", [("csrf", csrf), ("back", "//evil.example/")])
                #expect(offsite.location?.hasPrefix("/?notice=") == true, "\(offsite.location ?? "")")
                #expect(try await school.office.status().pending == 0)
            }
        }
    }

    @Test func theStatusPageListsRejectedRecordsWithAWayOut() async throws {
        try await School.with { school in
            try await school.browse { browser in
                // Another program writes a value the server refuses (a negative count).
                try await school.office.read { db in
                    try db.execute(
                        sql: "INSERT INTO indicator_values (id, school_id, indicator_id, measure_id, period, value) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: ["\(Fixture.schoolA)/2025-S1/\(School.count)", Fixture.schoolA, School.count, School.measure, "2025-S1", #"{"value":-2}"#]
                    )
                }
                let home = try await browser.get("/")
                _ = try await browser.post("/sync", [("csrf", home.hidden("csrf") ?? ""), ("back", "/")])
                let status = try await browser.get("/status")
                #expect(status.html.contains("被拒收"))
                #expect(status.html.contains("不能为负数"))
                #expect(status.html.contains("放弃本机的修改"))
                #expect(status.html.contains("href=\"/report?period=2025-S1&amp;measure=qixing-2024/m6.1\">去改正"), "the way out: the report page that fixes it")
                let discarded = try await browser.post(
                    "/discard",
                    [("csrf", home.hidden("csrf") ?? ""), ("collection", "indicator_values"), ("id", "\(Fixture.schoolA)/2025-S1/\(School.count)"), ("back", "/status")]
                )
                #expect(discarded.status == .seeOther)
                _ = try await browser.post("/sync", [("csrf", home.hidden("csrf") ?? ""), ("back", "/")])
                #expect(try await school.office.status().rejected.isEmpty)
            }
        }
    }
}

extension ReportBook {
    /// The index of the candidate holding `value` in the sheet's first conflict.
    func sheetIndex(of value: String, in sheet: ReportSheet) -> Int? {
        sheet.conflicts.first?.candidates.firstIndex { $0.value == value }
    }
}
