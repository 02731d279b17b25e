import Foundation
import Reporting
import SyncCore

/// What the review list shows, every value already text.
struct ReviewListPage {
    struct Option {
        let value: String
        let label: String
        let selected: Bool
    }

    struct Row {
        let schoolName: String
        let measureTitle: String
        let township: String
        let measure: String
        let stateLabel: String
        let late: Bool
        /// The report's page under `/review/reports/`; nil for a report that does not exist (missing).
        let link: String?
    }

    let title: String
    let period: String
    let who: String
    let csrf: String
    let measures: [Option]
    let schools: [Option]
    let townships: [Option]
    let states: [Option]
    let total: Int
    let page: Int
    let pages: Int
    let rows: [Row]
    /// The query of the previous and next pages; nil at either end.
    let previous: String?
    let next: String?

    init(list: ReviewList, input: SummaryInput, filter: ReviewList.Filter, page: Int, pageSize: Int, who: String, csrf: String) {
        let matching = list.rows(matching: filter)
        title = "\(input.period) 报告审核"
        period = input.period
        self.who = who
        self.csrf = csrf
        measures = input.measures.sorted { $0.key < $1.key }.map { Option(value: $0.key, label: "\($0.value) (\($0.key))", selected: $0.key == filter.measure) }
        schools = input.schools.map { Option(value: $0.id, label: $0.name, selected: $0.id == filter.school) }
        townships = Set(input.schools.map(\.township)).sorted().map { Option(value: $0, label: $0, selected: $0 == filter.township) }
        states = ReviewList.State.allCases.map { Option(value: $0.rawValue, label: Self.label(of: $0), selected: $0 == filter.state) }
        total = matching.count
        pages = max(1, (matching.count + pageSize - 1) / pageSize)
        self.page = page
        let period = input.period
        rows = matching.dropFirst((page - 1) * pageSize).prefix(pageSize).map { row in
            Row(
                schoolName: row.schoolName,
                measureTitle: row.measureTitle,
                township: row.township,
                measure: row.measure,
                stateLabel: row.hasReport ? Self.label(ofWorkflow: row.workflow) : Self.label(of: .missing),
                late: row.isLate,
                link: row.hasReport ? ReviewPages.path(of: RecordKey(collection: "reports", id: "\(row.school)/\(period)/\(row.measure)")) : nil
            )
        }
        func query(page: Int) -> String {
            var items = [("period", period)]
            if let measure = filter.measure { items.append(("measure", measure)) }
            if let school = filter.school { items.append(("school", school)) }
            if let township = filter.township { items.append(("township", township)) }
            if let state = filter.state { items.append(("state", state.rawValue)) }
            items.append(("page", String(page)))
            let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
            return items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")" }.joined(separator: "&")
        }
        previous = page > 1 ? query(page: min(page - 1, pages)) : nil
        next = page < pages ? query(page: page + 1) : nil
    }

    static func label(of state: ReviewList.State) -> String {
        switch state {
        case .draft: "草稿 draft"
        case .submitted: "已提交 submitted"
        case .returned: "已退回 returned"
        case .approved: "已通过 approved"
        case .late: "逾期 late"
        case .missing: "未填 missing"
        }
    }

    static func label(ofWorkflow workflow: String?) -> String {
        guard let workflow else { return "未设状态 no workflow" }
        return ReviewList.State(rawValue: workflow).map(label(of:)) ?? workflow
    }
}

/// What one report's review page shows, every value already text.
struct ReviewReportPage {
    struct Indicator {
        let id: String
        let name: String
        let value: String
        let target: String
    }

    struct Evidence {
        let name: String
        let sha256: String
        let shortHash: String
        let type: String?
        let image: Bool
        let download: Bool
        let pending: Bool
    }

    struct Change {
        let at: String
        let who: String
        let what: String
    }

    let title: String
    let reportID: String
    let path: String
    let period: String
    let schoolName: String
    let measureTitle: String
    let workflowLabel: String
    let status: String
    let narrative: String
    let submittedAt: String?
    let author: String?
    let reviewComment: String?
    let reviewer: String?
    let conflicted: Bool
    let indicators: [Indicator]
    let evidence: [Evidence]
    let history: [Change]
    let historyShown: Int
    let moreHistory: Bool
    let canApprove: Bool
    let canReturn: Bool
    let csrf: String
    /// The context shown, as canonical JSON: the forms carry it back, and a changed report is refused.
    let seen: String
    let message: String?
    let error: String?

    /// The evidence items of a report's `evidence` field (DOMAIN-PROTOCOL.md §6.2): each object with a
    /// `name` and a 64-hex-digit `sha256`; anything else in the list is left out.
    static func evidenceItems(_ state: RecordState) -> [(name: String, sha256: String, type: String?)] {
        guard case .string(let text)? = state.value(of: "evidence"),
            let items = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any]
        else { return [] }
        return items.compactMap { item in
            guard let object = item as? [String: Any], let name = object["name"] as? String, let hash = object["sha256"] as? String,
                RecordRules.isSHA256Hex(hash)
            else { return nil }
            return (name, hash, object["type"] as? String)
        }
    }

    /// Whether an evidence item is shown as a picture: its `type` says JPEG or PNG, or, without a
    /// type, its name ends so.
    static func isImage(name: String, type: String?) -> Bool {
        if let type { return ["image/jpeg", "image/png"].contains(type.lowercased()) }
        let lower = name.lowercased()
        return [".jpg", ".jpeg", ".png"].contains { lower.hasSuffix($0) }
    }

    static func text(_ state: RecordState, _ field: String) -> String? {
        guard let value = state.value(of: field), value != .null else { return nil }
        return value.description
    }

    /// An indicator's value for display: a rate as `n / d (x%)`, a milestone as 是/否, numbers plainly.
    static func display(_ raw: String?, kind: IndicatorKind, unit: String?) -> String {
        guard let raw else { return "—" }
        guard case .success(let value) = IndicatorValue.parse(raw, kind: kind, checkingBounds: false) else { return raw }
        switch value {
        case .ratio(let numerator, let denominator):
            let percent = denominator > 0 ? BureauPage.format(numerator / denominator * 100, kind: .ratio) + "%" : "—"
            return "\(BureauPage.plain(numerator)) / \(BureauPage.plain(denominator)) (\(percent))"
        case .flag(let flag):
            return flag ? "是 yes" : "否 no"
        case .number(let number):
            return BureauPage.format(number, kind: kind) + (unit ?? "")
        }
    }

    /// What a history entry changed: each field whose values differ, with its new value(s), short.
    static func changes(_ entry: AuditEntry) -> String {
        if entry.after.deleted && entry.before?.deleted != true { return "删除 deleted" }
        let before = entry.before?.fields ?? [:]
        let names = Set(before.keys).union(entry.after.fields.keys).filter { before[$0] != entry.after.fields[$0] }.sorted()
        let parts = names.map { name -> String in
            let values = (entry.after.fields[name] ?? []).map(\.description).joined(separator: " | ")
            let shown = values.count > 60 ? String(values.prefix(60)) + "…" : values
            return "\(name)=\(shown)"
        }
        return parts.isEmpty ? "（无可见改动）" : parts.joined(separator: "; ")
    }
}
