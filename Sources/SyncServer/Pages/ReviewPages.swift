import Foundation
import Hummingbird
import Logging
import Mustache
import Reporting
import SyncCore

/// The bureau's review pages: a period's reports, filtered and paged; one report with its indicator
/// values, evidence and history; and forms that approve it or return it with a comment. A review
/// is a write at the signed-in user's server-side replica (``SyncStore/review(_:expecting:transition:by:rules:at:)``),
/// made with the CLI's ``ReportWorkflow``; the form carries the context it showed, and a report that
/// changed since is shown again instead of being reviewed unseen. Forms carry the session's CSRF token.
struct ReviewPages {
    /// Rows on one page of the list.
    static let pageSize = 50

    let pages: PageRoutes
    let store: any SyncStore
    let notifier: ChangeNotifier
    /// The configured collections: the review's write passes the same rules as a push.
    let rules: CollectionRules
    /// Which evidence files the server holds (``SyncServerConfiguration/evidencePresence``).
    let evidencePresence: @Sendable ([String]) async throws -> Set<String>

    func register(on router: Router<SyncRequestContext>) {
        // Bureau and admin users review (DOMAIN-PROTOCOL.md §6.3); device tokens cannot sign in.
        router.signedInPages(pages, for: PageRoutes.roles)
            .get("review", use: list)
            .get("review/reports/**", use: show)
            .post("review/reports/**", use: review)
    }

    /// A report's key as the tail of a page URL: `<school>/<period>/<measure>`, each part
    /// percent-encoded as one segment (a `/` in a measure id too), as the conflict pages do.
    static func path(of key: RecordKey) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let parts = key.id.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.map { String($0).addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }.joined(separator: "/")
    }

    /// A page that cannot be shown as asked: the status, and why in words (never a 500).
    struct Problem: Error {
        let status: HTTPResponse.Status
        let message: String
    }

    private func problemPage(_ problem: Problem, back: String) throws -> Response {
        let title = problem.status == .notFound ? "找不到 Not found" : "无法显示 Cannot show this page"
        return try pages.html(pages.render(["title": title, "error": problem.message, "back": back], "pageProblem"), status: problem.status)
    }

    // MARK: The list

    func list(_ request: Request, context: PageRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        do {
            func parameter(_ name: String) -> String? {
                guard let value = query[Substring(name)].map(String.init), !value.isEmpty else { return nil }
                return value
            }
            func quoted(_ text: String) -> String { "«" + (text.count > 60 ? String(text.prefix(60)) + "…" : text) + "»" }
            let period: String
            if let asked = parameter("period") {
                guard RecordRules.isPeriod(asked) else {
                    throw Problem(status: .badRequest, message: "期间 \(quoted(asked)) 无效。period must be a term like 2025-S1 or a year like 2025.")
                }
                period = asked
            } else {
                period = try await pages.chosenPeriod(request)
            }
            var page = 1
            if let asked = parameter("page") {
                guard let number = Int(asked), (1...100_000).contains(number) else {
                    throw Problem(status: .badRequest, message: "页码 \(quoted(asked)) 无效。page must be a whole number from 1.")
                }
                page = number
            }
            var state: ReviewList.State?
            if let asked = parameter("state") {
                guard let known = ReviewList.State(rawValue: asked) else {
                    let allowed = ReviewList.State.allCases.map(\.rawValue).joined(separator: ", ")
                    throw Problem(status: .badRequest, message: "状态 \(quoted(asked)) 无效。state must be one of \(allowed).")
                }
                state = known
            }
            let input = try await summaryInput(period: period, collections: ["schools", "measures", "indicators", "periods", "assignments", "reports"])
            let filter = ReviewList.Filter(measure: parameter("measure"), school: parameter("school"), township: parameter("township"), state: state)
            let list = ReviewList(input)
            if let measure = filter.measure, input.measures[measure] == nil {
                throw Problem(status: .badRequest, message: "目录中没有措施 \(quoted(measure))。There is no such measure in the catalog.")
            }
            if let school = filter.school, !input.schools.contains(where: { $0.id == school }), !list.rows.contains(where: { $0.school == school }) {
                throw Problem(status: .badRequest, message: "没有学校 \(quoted(school))。There is no such school.")
            }
            if let township = filter.township, !input.schools.contains(where: { $0.township == township }) {
                throw Problem(status: .badRequest, message: "没有乡镇/街道 \(quoted(township))。No school is in that township.")
            }
            let shown = ReviewListPage(list: list, input: input, filter: filter, page: page, pageSize: Self.pageSize, who: context.session.principal.name, csrf: context.session.csrf)
            return try pages.html(pages.render(shown, "review"))
        } catch let problem as Problem {
            return try problemPage(problem, back: "/review")
        }
    }

    /// The bureau summary's input for `period`, read from the given collections.
    private func summaryInput(period: String, collections: [String]) async throws -> SummaryInput {
        let records = try await store.records(in: collections, periodCollections: ["reports", "indicator_values"], period: period)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return SummaryInput(records: records, period: period, asOf: formatter.string(from: pages.clock()))
    }

    // MARK: One report

    /// The report named by the path's tail, `<school>/<period>/<measure>`, each segment percent-decoded once.
    private func reportKey(_ context: PageRequestContext) throws -> RecordKey {
        var segments: [String] = []
        for segment in context.parameters.getCatchAll() {
            guard let decoded = segment.removingPercentEncoding else {
                throw Problem(status: .badRequest, message: "链接无效。The link is not valid percent-encoded UTF-8.")
            }
            segments.append(decoded)
        }
        let key = RecordKey(collection: "reports", id: segments.joined(separator: "/"))
        let parts = key.id.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard (try? key.validate()) != nil, parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty, RecordRules.isPeriod(String(parts[1])) else {
            throw Problem(status: .badRequest, message: "链接无效。A report's link is /review/reports/<school>/<period>/<measure>.")
        }
        return key
    }

    func show(_ request: Request, context: PageRequestContext) async throws -> Response {
        do {
            let key = try reportKey(context)
            let message: String? =
                switch request.uri.queryParameters["done"] {
                case "approved": "已通过。The report is approved; the school sees it after its next sync."
                case "returned": "已退回学校。The report was returned to the school with your comment."
                default: nil
                }
            return try await reportPage(key, session: context.session, message: message, error: nil, status: .ok)
        } catch let problem as Problem {
            return try problemPage(problem, back: "/review")
        }
    }

    private func reportPage(
        _ key: RecordKey,
        session: PageRoutes.Session,
        message: String?,
        error: String?,
        status: HTTPResponse.Status
    ) async throws -> Response {
        let parts = key.id.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let (school, period, measure) = (parts[0], parts[1], parts[2])
        let records = try await store.records(
            in: ["schools", "measures", "indicators", "reports", "indicator_values"],
            periodCollections: ["reports", "indicator_values"],
            period: period
        )
        guard let report = records.first(where: { $0.key == key }), !report.state.isDeleted else {
            throw Problem(status: .notFound, message: "没有这份报告：\(key.id)。There is no such report (yet).")
        }
        let state = report.state
        func record(_ collection: String, _ id: String) -> RecordState? {
            records.first { $0.key.collection == collection && $0.key.id == id && !$0.state.isDeleted }?.state
        }
        let indicators = records.filter {
            $0.key.collection == "indicators" && !$0.state.isDeleted && ReviewReportPage.text($0.state, "measure_id") == measure
        }
        .sorted { $0.key.id < $1.key.id }
        .map { indicator -> ReviewReportPage.Indicator in
            let kind = ReviewReportPage.text(indicator.state, "value_kind").flatMap(IndicatorKind.init(rawValue:)) ?? .count
            let unit = kind == .ratio ? "%" : ReviewReportPage.text(indicator.state, "unit")
            let value = record("indicator_values", "\(school)/\(period)/\(indicator.key.id)")
            let conflicted = value?.fields["value"]?.isConflicted == true
            let target = ReviewReportPage.text(indicator.state, "target").map {
                "\(ReviewReportPage.text(indicator.state, "comparison") ?? ">=") \($0)\(unit ?? "")"
            }
            return ReviewReportPage.Indicator(
                id: indicator.key.id,
                name: ReviewReportPage.text(indicator.state, "name") ?? indicator.key.id,
                value: conflicted
                    ? "冲突 in conflict"
                    : ReviewReportPage.display(value.flatMap { ReviewReportPage.text($0, "value") }, kind: kind, unit: kind == .ratio ? nil : unit),
                target: target ?? "无 none"
            )
        }
        let items = ReviewReportPage.evidenceItems(state)
        let present = items.isEmpty ? [] : try await evidencePresence(Set(items.map(\.sha256)).sorted())
        let evidence = items.map { item in
            let held = present.contains(item.sha256)
            let image = ReviewReportPage.isImage(name: item.name, type: item.type)
            return ReviewReportPage.Evidence(
                name: item.name,
                sha256: item.sha256,
                shortHash: String(item.sha256.prefix(12)),
                type: item.type,
                image: held && image,
                download: held && !image,
                pending: !held
            )
        }
        let history = try await store.history(key, after: 0, limit: 200)
        let formatter = ISO8601DateFormatter()
        let workflow = ReviewReportPage.text(state, "workflow")
        let shown = ReviewReportPage(
            title: "\(key.id)",
            reportID: key.id,
            path: Self.path(of: key),
            period: period,
            schoolName: record("schools", school).flatMap { ReviewReportPage.text($0, "name") } ?? school,
            measureTitle: record("measures", measure).flatMap { ReviewReportPage.text($0, "title") } ?? measure,
            workflowLabel: state.fields["workflow"]?.isConflicted == true ? "冲突 in conflict" : ReviewListPage.label(ofWorkflow: workflow),
            status: ReviewReportPage.text(state, "status") ?? "—",
            narrative: ReviewReportPage.text(state, "narrative") ?? "",
            submittedAt: ReviewReportPage.text(state, "submitted_at"),
            author: ReviewReportPage.text(state, "author"),
            reviewComment: ReviewReportPage.text(state, "review_comment"),
            reviewer: ReviewReportPage.text(state, "reviewer"),
            conflicted: state.isConflicted,
            indicators: indicators,
            evidence: evidence,
            history: history.entries.map {
                ReviewReportPage.Change(at: formatter.string(from: $0.at), who: $0.principal ?? $0.replica, what: ReviewReportPage.changes($0))
            },
            historyShown: history.entries.count,
            moreHistory: history.more,
            canApprove: !state.isConflicted && workflow == "submitted",
            canReturn: !state.isConflicted && (workflow == "submitted" || workflow == "approved"),
            csrf: session.csrf,
            seen: String(decoding: try CanonicalJSON.encode(state.context), as: UTF8.self),
            message: message,
            error: error
        )
        return try pages.html(pages.render(shown, "reviewReport"), status: status, showsImages: true)
    }

    // MARK: Approve and return

    func review(_ request: Request, context: PageRequestContext) async throws -> Response {
        let session = context.session
        let form = try await pages.readFormFields(request)
        guard form["csrf"] == session.csrf else { throw APIError.forbidden("The form is stale; reload the page and try again.") }
        do {
            let key = try reportKey(context)
            guard let seenText = form["seen"], let seen = try? CanonicalJSON.decode(VersionVector.self, from: Data(seenText.utf8)) else {
                throw APIError.invalidParameter("seen", "The form lost the context it showed; reload the page.")
            }
            let reviewer = session.principal.name
            let transition: ReportWorkflow.Transition
            switch form["action"] {
            case "approve": transition = .approve(reviewer: reviewer)
            case "return": transition = .return(comment: form["comment"] ?? "", reviewer: reviewer)
            default: throw Problem(status: .badRequest, message: "未知操作。The form must say approve or return.")
            }
            let outcome = try await store.review(key, expecting: seen, transition: transition, by: session.principal, rules: rules, at: pages.clock())
            switch outcome {
            case .reviewed(let record):
                await notifier.announce(scopes: [record.scope])
                context.logger.debug(
                    "report reviewed",
                    metadata: ["sync.report": "\(key.id)", "sync.workflow": "\(ReviewReportPage.text(record.state, "workflow") ?? "")"]
                )
                let done = if case .approve = transition { "approved" } else { "returned" }
                return Response(status: .seeOther, headers: [.location: "/review/reports/\(Self.path(of: key))?done=\(done)"])
            case .stale:
                return try await reportPage(
                    key,
                    session: session,
                    message: nil,
                    error: "该报告在您打开后已被修改，这是最新内容，请重新查看。The report changed since you opened it; here it is again.",
                    status: .conflict
                )
            case .refused(let error):
                let (status, chinese): (HTTPResponse.Status, String) =
                    switch error.code {
                    case .missing: (.notFound, "没有这份报告。")
                    case .conflicted: (.conflict, "该报告存在冲突，需管理员先处理。")
                    case .wrongState: (.conflict, "当前状态不允许此操作。")
                    case .emptyComment: (.badRequest, "退回时请填写意见（1–2000字）。")
                    }
                if error.code == .missing { throw Problem(status: status, message: chinese + error.message) }
                return try await reportPage(key, session: session, message: nil, error: chinese + error.message, status: status)
            case .rejected(let reason):
                return try await reportPage(key, session: session, message: nil, error: "服务器拒绝了此操作。\(reason.code.rawValue): \(reason.message)", status: .badRequest)
            }
        } catch let problem as Problem {
            return try problemPage(problem, back: "/review")
        }
    }
}
