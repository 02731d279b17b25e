import Foundation
import GRDB
import Hummingbird
import Logging
import Mustache
import MultipartKit
import NIOCore
import Reporting
import SchoolReports
import SyncClient
import SyncCore

/// The workbench's handlers. Every failure becomes a page that says what to do — a refused value
/// shows the form again with its message, a stale form shows the new values — never a bare 500.
struct WorkbenchRoutes: Sendable {
    let workbench: Workbench
    var book: ReportBook { workbench.book }
    var csrf: String { workbench.session.csrf }

    /// The largest urlencoded form: a report's narrative and values with room to spare.
    static let maxFormBytes = 1024 * 1024
    /// The largest evidence upload: one file of PROTOCOL.md §13.1's limit plus the form around it.
    static let maxUploadBytes = EvidenceLimits.maxFileBytes + 64 * 1024

    // MARK: Pages

    func open(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard WorkbenchSession.same(request.uri.queryParameters["key"].map(String.init), workbench.session.launchKey) else {
            return try await problem(.unauthorized, "链接无效", "这个链接不属于正在运行的工作台；请使用 schoolsync ui 最新打印的链接。The link is not this workbench's.")
        }
        var response = Response(status: .seeOther, headers: [.location: "/"])
        response.setCookie(Cookie(name: workbench.session.cookieName, value: workbench.session.sessionID, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    func home(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let periods = try await book.periods()
            let asked = request.uri.queryParameters["period"].map(String.init)
            // Before the bureau publishes any period, this year's reports (as the bureau's page does).
            let period =
                periods.first { $0.id == asked } ?? ReportBook.currentPeriod(of: periods, today: book.today())
                ?? ReportingPeriod(id: String(book.today().prefix(4)), kind: "year")
            let items = try await book.agenda(period: period)
            var plans: [(title: String, areas: [(title: String, items: [[String: Any]])])] = []
            for item in items {
                let entry: [String: Any] = [
                    "period": period.id, "measureParam": Self.queryValue(item.measure), "code": item.code, "title": item.title, "area": item.area,
                    "leadUnit": item.leadUnit, "due": item.due as Any, "late": item.late, "waiting": item.waiting, "conflicted": item.conflicted,
                    "refused": item.rejected != nil, "workflow": item.workflow ?? "none", "workflowLabel": Self.workflowLabel(item.workflow),
                    "reviewComment": item.reviewComment as Any,
                ]
                // Late ones lead the list whatever their plan; the rest stay grouped by plan and area.
                let title = item.late ? "逾期未提交" : item.planTitle
                let area = item.late ? "" : item.area
                let index =
                    plans.firstIndex { $0.title == title }
                    ?? {
                        plans.append((title, []))
                        return plans.count - 1
                    }()
                if let inner = plans[index].areas.firstIndex(where: { $0.title == area }) {
                    plans[index].areas[inner].items.append(entry)
                } else {
                    plans[index].areas.append((area, [entry]))
                }
            }
            return try await page(
                "home", title: "\(period.id) 本校措施", back: "/?period=\(period.id)",
                [
                    "period": period.id, "due": period.due as Any, "count": "\(items.count)", "late": items.filter(\.late).count,
                    "periods": periods.filter { $0.id != period.id }.map { ["id": $0.id] },
                    "plans": plans.map { plan in
                        ["title": plan.title, "areas": plan.areas.map { ["title": $0.title, "items": $0.items] as [String: Any] }] as [String: Any]
                    },
                    "notice": notice(request) as Any,
                ]
            )
        }
    }

    func report(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            guard let measure = request.uri.queryParameters["measure"].map(String.init), let period = request.uri.queryParameters["period"].map(String.init)
            else {
                return try await problem(.badRequest, "缺少措施或学期", "请从首页选择一项措施。Pick a measure on the home page.")
            }
            let sheet = try await book.sheet(measure: measure, period: period)
            return try await reportPage(sheet, notice: notice(request))
        }
    }

    func status(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let status = try await book.replica.status()
            let school = status.school ?? ""
            // An indicator value is fixed on its measure's report page.
            let measureOf = try await book.replica.read { db in
                Dictionary(
                    try Row.fetchAll(db, sql: "SELECT CAST(id AS TEXT) AS id, CAST(measure_id AS TEXT) AS measure FROM indicators").compactMap { row in
                        (row["id"] as String?).flatMap { id in (row["measure"] as String?).map { (id, $0) } }
                    },
                    uniquingKeysWith: { first, _ in first }
                )
            }
            let rejected: [[String: Any]] = status.rejected.map { item in
                [
                    "what": Self.describe(collection: item.collection, id: item.id), "message": item.message, "code": item.code.rawValue,
                    "since": item.since as Any, "collection": item.collection, "id": item.id, "id64": Data(item.id.utf8).base64EncodedString(),
                    "fix": Self.fixLink(collection: item.collection, id: item.id, school: school, measureOf: measureOf) as Any,
                ]
            }
            let conflicts: [[String: Any]] = status.conflicts.map { item in
                [
                    "what": Self.describe(collection: item.collection, id: item.id),
                    "fields": item.deleteConflict ? "一台设备删除、另一台修改" : item.fields.keys.sorted().joined(separator: "、"),
                    "fix": Self.fixLink(collection: item.collection, id: item.id, school: school, measureOf: measureOf) as Any,
                ]
            }
            let files: [[String: Any]] = (status.evidenceWaiting + status.evidenceHeldBack).map { file in
                ["name": file.name, "size": Self.size(file.size), "state": file.heldBack.map { "未能上传：\($0)" } ?? "等待上传"]
            }
            return try await page(
                "status", title: "同步情况", back: "/status",
                [
                    "server": status.server ?? "未登记", "device": status.device ?? "", "lastAttempt": status.lastAttemptAt as Any,
                    "refused": rejected, "conflicts": conflicts, "files": files, "notice": notice(request) as Any,
                ],
                replicaStatus: status
            )
        }
    }

    // MARK: Forms

    func save(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readForm(request, csrf: csrf)
            let (measure, period) = try form.report()
            var edit = ReportEdit(measure: measure, period: period)
            edit.seen = try form.seen()
            let sheet = try await book.sheet(measure: measure, period: period)
            if let status = form["status"], !sheet.isConflicted("status") { edit.status = status }
            if let narrative = form["narrative"], !sheet.isConflicted("narrative") {
                // Browsers send every line break of a textarea as CR LF, whatever was stored (a CR
                // or CR LF another device or program wrote): a narrative whose text is unchanged but
                // for its line breaks is left as stored, so saving a value never rewrites it.
                let typed = Self.lines(narrative)
                if sheet.fields["narrative"].map({ Self.lines($0).utf8.elementsEqual(typed.utf8) }) != true { edit.narrative = typed }
            }
            for line in sheet.indicators where !sheet.conflicts.contains(where: { $0.record == line.key }) {
                let input: IndicatorInput?
                switch line.kind {
                case .ratio:
                    let numerator = form["n:\(line.id)"] ?? ""
                    let denominator = form["d:\(line.id)"] ?? ""
                    input = Self.blank(numerator) && Self.blank(denominator) ? nil : .ratio(numerator: numerator, denominator: denominator)
                case .boolean:
                    input = form["f:\(line.id)"].flatMap { $0 == "true" ? .flag(true) : $0 == "false" ? .flag(false) : nil }
                default:
                    input = form["v:\(line.id)"].flatMap { Self.blank($0) ? nil : .number($0) }
                }
                if let input { edit.values[line.id] = input }
            }
            do {
                let outcome = try await book.save(edit)
                let message = outcome.recordsWritten == 0 ? "没有需要保存的修改。" : "已保存在本机（\(outcome.recordsWritten) 条记录），同步时发送。"
                return redirect(toReport: measure, period: period, notice: message)
            } catch let error as ReportBookError where [.invalid, .conflicted, .locked, .damaged].contains(error.code) {
                return try await reportPage(
                    sheet, typed: form, problems: error.problems, problem: error.message, status: error.code == .damaged ? .conflict : .badRequest)
            } catch let error as ReportBookError where error.code == .changedMeanwhile {
                return try await reportPage(
                    try await book.sheet(measure: measure, period: period), typed: nil, problem: error.message, status: .conflict,
                    youTyped: Self.typedSummary(form, sheet: sheet)
                )
            }
        }
    }

    func submit(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readForm(request, csrf: csrf)
            let (measure, period) = try form.report()
            do {
                try await book.submit(measure: measure, period: period, seen: try form.seen())
                return redirect(toReport: measure, period: period, notice: "已标记为提交，同步时发送给教育局。")
            } catch let error as ReportBookError {
                return try await refused(error, measure: measure, period: period)
            }
        }
    }

    func propose(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readForm(request, csrf: csrf)
            let (measure, period) = try form.report()
            let sheet = try await book.sheet(measure: measure, period: period)
            // The choices are indices into the conflicts as the page showed them: a page older
            // than the sheet may point at other values.
            let seen = try form.seen()
            // What the school wrote is shown again whenever the proposal is not saved: it is never lost.
            let typed = WorkbenchForm(fields: ["proposal": form["proposal"] ?? ""])
            guard seen == sheet.seen else {
                return try await reportPage(
                    sheet, typed: typed, problem: "打开页面后出现了新的值；请核对下面最新的内容后再提交建议。New values arrived; look again.", status: .conflict)
            }
            var lines: [String] = []
            for (index, conflict) in sheet.conflicts.enumerated() {
                guard let choice = form["prefer.\(index)"].flatMap(Int.init), conflict.candidates.indices.contains(choice) else { continue }
                let candidate = conflict.candidates[choice]
                // Long values and labels are quoted by their start: the administrator sees the values themselves beside it.
                let quoted = candidate.value.count > 200 ? candidate.value.prefix(200) + "…" : Substring(candidate.value)
                let label = conflict.label.count > 60 ? conflict.label.prefix(60) + "…" : Substring(conflict.label)
                lines.append("「\(label)」建议采用：«\(quoted)»（\(Self.writer(candidate))）")
            }
            let note = Self.lines(form["proposal"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if !note.isEmpty { lines.append("说明：" + note) }
            let text = lines.joined(separator: "\n")
            let length = text.unicodeScalars.count
            guard length <= RecordRules.maxProposalLength else {
                return try await reportPage(
                    sheet, typed: form,
                    problem:
                        "建议连同所选的值共\(length)字，最多\(RecordRules.maxProposalLength)字；请缩短说明或少选几项后再提交（the proposal with the chosen values is \(length) characters, at most \(RecordRules.maxProposalLength)）",
                    status: .badRequest)
            }
            do {
                try await book.propose(text, measure: measure, period: period, seen: seen)
                return redirect(toReport: measure, period: period, notice: "处理建议已保存，同步后管理员可以看到。")
            } catch let error as ReportBookError where error.code != .notEnrolled && error.code != .unknownMeasure {
                let fresh = try await book.sheet(measure: measure, period: period)
                // The choices are kept only while they still point at the values the page showed.
                return try await reportPage(
                    fresh, typed: fresh.seen == seen ? form : typed, problem: error.message, status: error.code == .changedMeanwhile ? .conflict : .badRequest)
            }
        }
    }

    func attach(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readMultipart(request, csrf: csrf)
            let (measure, period) = try form.fields.report()
            guard let file = form.file, !file.bytes.isEmpty else {
                return try await reportPage(try await book.sheet(measure: measure, period: period), problem: "请选择一个文件。Choose a file.", status: .badRequest)
            }
            let captured: CapturedEvidence
            do throws(SyncClientError) {
                captured = try CapturedEvidence(bytes: file.bytes, name: file.name)
            } catch {
                return try await reportPage(
                    try await book.sheet(measure: measure, period: period), problem: "文件不能添加：\(error.message)", status: .unprocessableContent)
            }
            var edit = ReportEdit(measure: measure, period: period)
            edit.seen = try form.fields.seen()
            edit.addEvidence = [captured]
            do {
                try await book.save(edit)
                return redirect(toReport: measure, period: period, notice: "已添加 \(captured.item.name)，同步时上传。")
            } catch let error as ReportBookError {
                return try await refused(error, measure: measure, period: period)
            }
        }
    }

    func removeEvidence(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readForm(request, csrf: csrf)
            let (measure, period) = try form.report()
            var edit = ReportEdit(measure: measure, period: period)
            edit.seen = try form.seen()
            edit.removeEvidence = [form["sha256"] ?? ""]
            do {
                try await book.save(edit)
                return redirect(toReport: measure, period: period, notice: "已移除。")
            } catch let error as ReportBookError {
                return try await refused(error, measure: measure, period: period)
            }
        }
    }

    func syncNow(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readForm(request, csrf: csrf)
            let back = Self.safeBack(form["back"])
            let message: String
            do {
                message = try await workbench.sync().message
            } catch let error as SyncClientError {
                workbench.logger.notice("sync from the workbench failed", metadata: ["sync.error": "\(error.code)"])
                message = "同步没有完成：\(error.message)"
            }
            return redirect(to: back, notice: message)
        }
    }

    func discard(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try await guarded {
            let form = try await Self.readForm(request, csrf: csrf)
            // `id64` (base64 of the id's bytes) first: a browser turns every line break of a form
            // field into CR LF, so an id with a CR or LF (another program's row, the very kind
            // that needs discarding) would not come back as it was shown.
            let encoded = form["id64"].flatMap { Data(base64Encoded: $0) }.flatMap { String(data: $0, encoding: .utf8) }
            guard let collection = form["collection"], let id = encoded ?? form["id"], ["reports", "indicator_values"].contains(collection) else {
                return try await problem(.badRequest, "无法放弃", "只能放弃本校报告和指标值的修改。Only reports and indicator values can be discarded here.")
            }
            let back = Self.safeBack(form["back"])
            do {
                try await book.replica.discard(RecordKey(collection: collection, id: id))
            } catch let error as SyncClientError where error.code == .refused {
                return redirect(to: back, notice: "没有可以放弃的修改：\(error.message)")
            }
            return redirect(to: back, notice: "已放弃本机的修改，恢复为服务器上的内容；下次同步时生效。")
        }
    }

    // MARK: Rendering

    /// The report page for `sheet`; `typed` (a refused form) shows what was typed instead of what is stored.
    func reportPage(
        _ sheet: ReportSheet,
        typed: WorkbenchForm? = nil,
        problems: [String: String] = [:],
        problem: String? = nil,
        notice: String? = nil,
        status: HTTPResponse.Status = .ok,
        youTyped: String? = nil
    ) async throws -> Response {
        let readonly = sheet.isLocked || sheet.deleteConflict
        let seen = WorkbenchForm.encode(seen: sheet.seen)
        let chosenStatus = typed?["status"] ?? sheet.fields["status"] ?? "not_started"
        let statuses: [[String: Any]] = [("not_started", "未开始"), ("in_progress", "进行中"), ("done", "已完成"), ("at_risk", "有困难")].map {
            ["value": $0.0, "label": $0.1, "selected": $0.0 == chosenStatus]
        }
        let indicators: [[String: Any]] = sheet.indicators.enumerated().map { index, line in
            var entry: [String: Any] = [
                "index": "\(index)", "id": line.id, "name": line.name, "unit": line.unit, "target": line.target as Any,
                "comparisonLabel": Self.comparisonLabel(line.comparison), "approx": line.approx, "deadline": line.deadline as Any,
                "kindLabel": Self.kindLabel(line.kind), "isRatio": line.kind == .ratio, "isFlag": line.kind == .boolean,
                "isNumber": line.kind != .ratio && line.kind != .boolean,
                "conflicted": sheet.conflicts.contains { $0.record == line.key }, "problem": problems[line.id] as Any,
            ]
            switch line.input {
            case .ratio(let numerator, let denominator):
                entry["numerator"] = numerator
                entry["denominator"] = denominator
            case .number(let number): entry["number"] = number
            case .flag(let flag):
                entry["yes"] = flag
                entry["no"] = !flag
            case nil: break
            }
            if let typed {
                entry["numerator"] = typed["n:\(line.id)"] ?? entry["numerator"]
                entry["denominator"] = typed["d:\(line.id)"] ?? entry["denominator"]
                entry["number"] = typed["v:\(line.id)"] ?? entry["number"]
                if let flag = typed["f:\(line.id)"] {
                    entry["yes"] = flag == "true"
                    entry["no"] = flag == "false"
                }
            }
            if line.kind == .ratio, let numerator = entry["numerator"] as? String, let denominator = entry["denominator"] as? String {
                entry["percentage"] = IndicatorInput.percentage(numerator: numerator, denominator: denominator) as Any
            }
            return entry
        }
        let conflicts: [[String: Any]] = sheet.conflicts.enumerated().map { index, conflict in
            [
                "label": conflict.label,
                "candidates": conflict.candidates.enumerated().map { choice, candidate in
                    [
                        "index": "\(index)", "choice": "\(choice)", "value": candidate.value, "writer": Self.writer(candidate),
                        "chosen": typed?["prefer.\(index)"] == "\(choice)",
                    ] as [String: Any]
                },
            ]
        }
        let proposals = sheet.conflicts.filter { $0.record == sheet.key && $0.field == "proposal" }.flatMap { $0.candidates.map(\.value) }
        let evidence: [[String: Any]] = sheet.evidence.map { item in
            let file = sheet.evidenceFiles[item.sha256]
            let state =
                if let held = file?.heldBack { "未能上传：\(held)" } else if file?.isUploaded == true { "已上传" } else if file != nil { "等待上传" } else { "在服务器上" }
            return ["name": item.name, "sha256": item.sha256, "size": Self.size(item.size ?? file?.size ?? 0), "state": state]
        }
        let workflow = sheet.workflow
        let canSubmit = sheet.exists && !readonly && sheet.conflicts.isEmpty && workflow != "approved"
        let submitNote =
            if !sheet.exists { "保存后才能提交。" } else if !sheet.conflicts.isEmpty { "有冲突，等待管理员处理后才能提交。" } else { "已审核通过，不能再提交。" }
        let problemText = [problem, youTyped.map { "你刚才填写的内容（未保存）：\($0)" }].compactMap { $0 }.joined(separator: "\n")
        return try await page(
            "report", title: "\(sheet.measure.code) \(sheet.measure.title)",
            back: "/report?period=\(sheet.period.id)&measure=\(Self.queryValue(sheet.measure.id))",
            [
                "period": sheet.period.id, "measure": sheet.measure.id, "code": sheet.measure.code, "title": sheet.measure.title,
                "planTitle": sheet.measure.planTitle, "leadUnit": sheet.measure.leadUnit, "summary": sheet.measure.summary, "due": sheet.period.due as Any,
                "workflow": workflow ?? "none", "workflowLabel": Self.workflowLabel(workflow), "waiting": sheet.waiting,
                "reviewComment": (workflow == "returned" ? sheet.fields["review_comment"] : nil) as Any, "reviewer": sheet.fields["reviewer"] as Any,
                "locked": sheet.isLocked, "readonly": readonly, "seen": seen,
                "rejections": sheet.rejections.map {
                    ["message": $0.message, "collection": $0.record.collection, "id": $0.record.id, "id64": Data($0.record.id.utf8).base64EncodedString()]
                },
                "proposalTyped": typed?["proposal"] as Any,
                "hasConflicts": !sheet.conflicts.isEmpty || sheet.deleteConflict, "conflicts": conflicts,
                "proposals": proposals.isEmpty ? (sheet.fields["proposal"].map { [$0] } ?? []) : proposals,
                "statuses": statuses, "statusConflicted": sheet.isConflicted("status"),
                "narrative": (typed?["narrative"] ?? sheet.fields["narrative"] ?? "") as Any, "narrativeConflicted": sheet.isConflicted("narrative"),
                "problems": problems, "indicators": indicators, "evidence": evidence, "evidenceConflicted": sheet.isConflicted("evidence"),
                "canSubmit": canSubmit, "submitNote": submitNote,
                "notice": notice as Any, "problem": problemText.isEmpty ? nil as String? as Any : problemText,
            ],
            status: status
        )
    }

    /// Renders `template` with the status line and the CSRF token; `replicaStatus`, when the
    /// handler read it already, is not read again.
    func page(
        _ template: String,
        title: String,
        back: String,
        _ values: [String: Any],
        status: HTTPResponse.Status = .ok,
        replicaStatus: ReplicaStatus? = nil
    ) async throws -> Response {
        // A nil must be absent, not an Optional boxed in Any (which renders as "nil").
        var object = values
        object["pageTitle"] = title
        object["csrf"] = csrf
        object["back"] = back
        let replicaStatus = if let replicaStatus { replicaStatus } else { try await book.replica.status() }
        object["status"] = Self.statusLine(replicaStatus)
        let shown = Self.unwrap(object) ?? [:]
        return Self.html(workbench.library.render(shown, withTemplate: template) ?? "", status: status)
    }

    static func statusLine(_ status: ReplicaStatus) -> [String: Any] {
        var line: [String: Any] = [
            "lastSync": status.lastSyncAt.map(Self.localTime) ?? "从未同步", "pending": "\(status.pending)",
            "reachable": status.serverReachable == true,
            "reachability": status.serverReachable == nil ? "还没有连接过" : "无法连接（修改保存在本机）",
            "refused": status.rejected.count, "conflicts": status.conflicts.count, "filesWaiting": status.evidenceWaiting.count,
        ]
        if let school = status.school { line["school"] = school }
        if status.serverReachable == false, let error = status.lastError { line["lastError"] = error }
        return line
    }

    func problem(_ status: HTTPResponse.Status, _ heading: String, _ message: String) async throws -> Response {
        try await page("problem", title: heading, back: "/", ["heading": heading, "message": message], status: status)
    }

    /// The report page again, read afresh, saying why a move on it was refused; refusals that are
    /// not about this report (not enrolled, no such measure) go on to ``guarded(_:)``.
    func refused(_ error: ReportBookError, measure: String, period: String) async throws -> Response {
        guard error.code != .notEnrolled, error.code != .unknownMeasure else { throw error }
        return try await reportPage(try await book.sheet(measure: measure, period: period), problem: error.message, status: Self.status(of: error))
    }

    /// The HTTP status of a refusal: the page is shown either way, the status says what kind it was.
    static func status(of error: ReportBookError) -> HTTPResponse.Status {
        switch error.code {
        case .notEnrolled: .serviceUnavailable
        case .unknownMeasure: .notFound
        case .damaged, .changedMeanwhile: .conflict
        default: .badRequest
        }
    }

    /// Runs a handler, turning the library's refusals into pages that say what to do.
    func guarded(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as WorkbenchForm.Refusal {
            return try await problem(error.status, error.heading, error.message)
        } catch let error as ReportBookError {
            return try await problem(Self.status(of: error), "无法完成", error.message)
        } catch let error as SyncClientError {
            workbench.logger.error("workbench request failed", metadata: ["sync.error": "\(error.code)", "error": "\(error.message)"])
            let status: HTTPResponse.Status =
                switch error.code {
                case .busy, .storage: .serviceUnavailable
                case .integrity: .conflict
                default: .badRequest
                }
            return Self.html(
                workbench.library.render(["heading": "无法完成", "message": error.message], withTemplate: "bare") ?? error.message, status: status)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            // No error of the library should get here; if one does, the person still gets a page
            // that says what to do (and the log says what it was), not an empty 500.
            workbench.logger.error("workbench request failed unexpectedly", metadata: ["error": "\(String(reflecting: error))"])
            let message = "工作台遇到了意外的错误，没有保存任何内容；请重新打开页面再试。An unexpected error; nothing was saved."
            return Self.html(
                workbench.library.render(["heading": "出错了", "message": message], withTemplate: "bare") ?? message, status: .internalServerError)
        }
    }

    // MARK: Helpers

    static func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .cacheControl: "no-store",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: page))
        )
    }

    func redirect(toReport measure: String, period: String, notice: String) -> Response {
        redirect(to: "/report?period=\(Self.queryValue(period))&measure=\(Self.queryValue(measure))", notice: notice)
    }

    /// A redirect after a post, carrying a notice in the query with this session's signature of
    /// it (``WorkbenchSession/signature(of:)``): the page shows it escaped, and only if this
    /// process wrote it — a link another page on this computer crafts (`/?notice=已保存`) cannot
    /// put its words in the workbench's own voice.
    func redirect(to path: String, notice: String) -> Response {
        let separator = path.contains("?") ? "&" : "?"
        let notice = String(notice.prefix(400))
        let query = "notice=" + Self.queryValue(notice) + "&sig=" + workbench.session.signature(of: notice)
        return Response(status: .seeOther, headers: [.location: path + separator + query])
    }

    /// The notice of a redirect, if this session signed it; anything else in the query is not shown.
    func notice(_ request: Request) -> String? {
        guard let notice = request.uri.queryParameters["notice"].map({ String(String($0).prefix(400)) }),
            WorkbenchSession.same(request.uri.queryParameters["sig"].map(String.init), workbench.session.signature(of: notice))
        else { return nil }
        return notice
    }

    /// Only this workbench's own pages: a path, never another host.
    static func safeBack(_ back: String?) -> String {
        guard let back, back.hasPrefix("/"), !back.hasPrefix("//"), back.utf8.count < 600,
            !back.unicodeScalars.contains(where: { $0 == "\\" || $0.properties.generalCategory == .control || $0.properties.isWhitespace })
        else { return "/" }
        return back
    }

    static func queryValue(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/"))
            ?? ""
    }

    static func blank(_ text: String) -> Bool { text.trimmingCharacters(in: .whitespaces).isEmpty }

    /// Text with every line break as LF: browsers send a textarea's as CR LF, and an HTML page
    /// shows a stored CR or CR LF as a line break too.
    static func lines(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    }

    /// The value with every nil left out, through nested dictionaries and arrays: Mustache must
    /// see "absent" (a section that does not show), not an Optional boxed in Any (rendered "nil");
    /// a zero count is left out too, so `{{#count}}` shows only when there is something to count.
    static func unwrap(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let inner = mirror.children.first?.value else { return nil }
            return unwrap(inner)
        }
        switch value {
        case let dictionary as [String: Any]: return dictionary.compactMapValues(unwrap)
        case let array as [[String: Any]]: return array.map { $0.compactMapValues(unwrap) }
        case let array as [Any]: return array.compactMap(unwrap)
        case let number as Int: return number == 0 ? nil : number
        default: return value
        }
    }

    static func workflowLabel(_ workflow: String?) -> String {
        switch workflow {
        case "draft": "草稿"
        case "submitted": "已提交"
        case "returned": "已退回，待修改"
        case "approved": "已审核通过"
        case nil: "未填写"
        default: workflow ?? ""
        }
    }

    static func kindLabel(_ kind: IndicatorKind) -> String {
        switch kind {
        case .ratio: "比率：填分子和分母"
        case .count: "数量"
        case .amount: "金额"
        case .boolean: "是否完成"
        case .coefficientOfVariation: "本校数值（用于计算差异系数）"
        case .trend: "数值（看趋势）"
        }
    }

    static func comparisonLabel(_ comparison: String) -> String {
        switch comparison {
        case "<=": "≤"
        case "<": "<"
        case ">": ">"
        case "=": "="
        default: "≥"
        }
    }

    static func writer(_ candidate: ReportSheet.Candidate) -> String {
        switch (candidate.isThisDevice, candidate.writerName) {
        case (true, let name?): "本机（\(name)）填写"
        case (true, nil): "本机填写"
        case (false, let name?): "\(name) 填写"
        case (false, nil): "另一台设备（\(candidate.replica.prefix(8))）填写"
        }
    }

    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) 字节" }
        if bytes < 1024 * 1024 { return "\(bytes / 1024) KB" }
        // Divided first: a size in a report's evidence list is another program's to write, and
        // `bytes * 10` traps near Int.max.
        let tenths = bytes / (1024 * 1024) * 10 + bytes % (1024 * 1024) * 10 / (1024 * 1024)
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    /// `2025-07-01T08:00:00Z` as Beijing time, `2025-07-01 16:00`; other text as it is.
    static func localTime(_ iso: String) -> String {
        guard let date = ISO8601DateFormatter().date(from: iso) else { return iso }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    static func describe(collection: String, id: String) -> String {
        switch collection {
        case "reports": "报告 \(id)"
        case "indicator_values": "指标值 \(id)"
        default: "\(collection) \(id)"
        }
    }

    /// The report page that fixes a record: a report's own, or an indicator value's measure's.
    static func fixLink(collection: String, id: String, school: String, measureOf: [String: String]) -> String? {
        let parts = id.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts[0] == school, RecordRules.isPeriod(parts[1]) else { return nil }
        let measure: String? =
            switch collection {
            case "reports": parts[2]
            case "indicator_values": measureOf[parts[2]]
            default: nil
            }
        return measure.map { "/report?period=\(queryValue(parts[1]))&measure=\(queryValue($0))" }
    }

    static func typedSummary(_ form: WorkbenchForm, sheet: ReportSheet) -> String {
        var parts: [String] = []
        if let narrative = form["narrative"], narrative != sheet.fields["narrative"] ?? "" { parts.append("工作说明「\(narrative.prefix(200))」") }
        for line in sheet.indicators {
            if let n = form["n:\(line.id)"], let d = form["d:\(line.id)"], !blank(n) || !blank(d) { parts.append("\(line.name) \(n)/\(d)") }
            if let v = form["v:\(line.id)"], !blank(v) { parts.append("\(line.name) \(v)") }
        }
        return parts.isEmpty ? "（无）" : parts.joined(separator: "；")
    }
}
