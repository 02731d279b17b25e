import Foundation
import GRDB
import Reporting
import SyncClient
import SyncCore

/// A school's change to one report: only what is named changes (DOMAIN-PROTOCOL.md §6.2: a client
/// writes only the fields the user changed, so two devices editing different fields merge).
public struct ReportEdit: Sendable {
    /// The measure's id.
    public var measure: String
    /// The period, `2025-S1` or `2025`.
    public var period: String
    /// The new status of the work (one of ``RecordRules/statuses``), or `nil` to leave it.
    public var status: String?
    /// The new narrative, or `nil` to leave it.
    public var narrative: String?
    /// Indicator id → what was typed for it; indicators not named keep their values.
    public var values: [String: IndicatorInput] = [:]
    /// Files to attach (checked by their bytes already, see ``CapturedEvidence``).
    public var addEvidence: [CapturedEvidence] = []
    /// Items already on the server to name in the evidence list.
    public var addEvidenceItems: [EvidenceItem] = []
    /// Evidence items to remove, by name or SHA-256.
    public var removeEvidence: [String] = []
    /// The state the form was opened on (``ReportSheet/seen``): the save is refused with
    /// ``ReportBookError/Code/changedMeanwhile`` if any of those records changed since. `nil`
    /// saves whatever the state (the CLI names fields one by one, so it merges instead).
    public var seen: [RecordKey: VersionVector?]?

    /// An edit of the report on `measure` for `period` that changes nothing yet.
    public init(measure: String, period: String) {
        self.measure = measure
        self.period = period
    }
}

/// What a save did.
public struct SaveOutcome: Sendable, Hashable {
    /// The report's key.
    public var report: RecordKey
    /// How many records were written (0: nothing differed from what was stored).
    public var recordsWritten: Int
}

extension ReportBook {
    /// Saves an edit of a report on this device: checks every value with the domain's rules
    /// first (nothing is written if one fails), creates the report on its first save, and writes
    /// only what differs from what is stored. Works offline; the next sync sends it.
    ///
    /// - Throws: ``ReportBookError`` — `invalid` with a problem per field, `unknownMeasure`,
    ///   `unknownIndicator`, `locked` (approved), `conflicted` (a field to change is in conflict),
    ///   `changedMeanwhile` (with ``ReportEdit/seen``); storage errors of ``LocalReplica``.
    @discardableResult
    public func save(_ edit: ReportEdit) async throws -> SaveOutcome {
        let enrolment = try await enrolment()
        let sheet = try await sheet(measure: edit.measure, period: edit.period)
        var problems: [String: String] = [:]
        if let status = edit.status, !RecordRules.statuses.contains(status) {
            problems["status"] = "请选择进展情况（status must be one of \(RecordRules.statuses.sorted().joined(separator: ", "))）"
        }
        // Characters for people, and the bytes a replica carries in one value (SyncLimits): 20,000
        // emoji or letters with many accents are fewer characters but more bytes than it takes.
        if let narrative = edit.narrative,
            narrative.unicodeScalars.contains("\u{0}") || narrative.count > Self.maxNarrativeLength || narrative.utf8.count > SyncLimits.maxStringBytes
        {
            problems["narrative"] =
                "工作说明最多\(Self.maxNarrativeLength)字、\(SyncLimits.maxStringBytes / 1024) KB（the narrative is at most \(Self.maxNarrativeLength) characters and \(SyncLimits.maxStringBytes / 1024) KiB）"
        }
        var valueTexts: [(ReportSheet.IndicatorLine, String)] = []
        // By key (RecordKey compares bytes, as ids do): a search of the list for each value was
        // quadratic in a measure of thousands of indicators.
        let lines = Dictionary(sheet.indicators.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (indicator, input) in edit.values.sorted(by: { $0.key < $1.key }) {
            guard let line = lines[Self.valueKey(school: enrolment.school, period: edit.period, indicator: indicator)] else {
                throw ReportBookError(
                    .unknownIndicator,
                    "指标 \(indicator.prefix(80)) 不属于措施 \(edit.measure)（there is no indicator \(indicator.prefix(80)) of measure \(edit.measure) on this device; run 'schoolsync sync', then see 'schoolsync measures'）"
                )
            }
            switch input.value(for: line.kind) {
            case .success(let text): valueTexts.append((line, text))
            case .failure(let violation): problems[indicator] = violation.message
            }
        }
        guard problems.isEmpty else {
            let names = Dictionary(sheet.indicators.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            let first = problems.sorted { $0.key < $1.key }.map { "\(names[$0.key] ?? Self.fieldLabel($0.key))：\($0.value)" }.joined(separator: "；")
            throw ReportBookError(.invalid, "有内容需要修改，尚未保存：\(first)", problems: problems)
        }
        try Self.requireEditable(sheet)
        try Self.requireCovers(edit.seen, sheet)

        var fields: [String: Value] = [:]
        func change(_ field: String, to value: String?) throws {
            guard let value, sheet.fields[field].map({ !$0.utf8.elementsEqual(value.utf8) }) ?? true else { return }
            guard !sheet.isConflicted(field) else { throw Self.conflicted(field) }
            fields[field] = .string(value)
        }
        if !sheet.exists {
            fields["author"] = .string(enrolment.device)
            fields["school_id"] = .string(enrolment.school)
            fields["measure_id"] = .string(edit.measure)
            fields["period"] = .string(edit.period)
            fields["workflow"] = .string("draft")
            fields["status"] = .string(edit.status ?? "not_started")
        }
        try change("status", to: edit.status)
        try change("narrative", to: edit.narrative)
        if !edit.addEvidence.isEmpty || !edit.addEvidenceItems.isEmpty || !edit.removeEvidence.isEmpty {
            guard !sheet.isConflicted("evidence") else { throw Self.conflicted("evidence") }
            let items = try Self.evidenceList(sheet.evidence, adding: edit.addEvidence.map(\.item) + edit.addEvidenceItems, removing: edit.removeEvidence)
            if items != sheet.evidence || !sheet.exists { fields["evidence"] = EvidenceItem.field(items) }
        }
        var changes: [(RecordKey, [String: Value])] = fields.isEmpty ? [] : [(sheet.key, fields)]
        for (line, text) in valueTexts where !Self.holds(line.stored, text, kind: line.kind) {
            if sheet.conflicts.contains(where: { $0.record == line.key && $0.field == "value" }) {
                throw ReportBookError(.conflicted, "指标「\(line.name)」的值有冲突，等待管理员处理；可以提交处理建议（\(line.id) is in conflict: an administrator must resolve it first; you may attach a proposal）")
            }
            changes.append(
                (
                    line.key,
                    [
                        "school_id": .string(enrolment.school), "indicator_id": .string(line.id), "measure_id": .string(edit.measure),
                        "period": .string(edit.period), "value": .string(text),
                    ]
                )
            )
        }
        guard !changes.isEmpty || !edit.addEvidence.isEmpty else { return SaveOutcome(report: sheet.key, recordsWritten: 0) }
        try await write(changes, adding: edit.addEvidence, expecting: edit.seen)
        return SaveOutcome(report: sheet.key, recordsWritten: changes.count)
    }

    /// Submits the report to the bureau (``ReportWorkflow/submit(_:reportID:author:at:)``); the
    /// next sync sends it.
    ///
    /// - Parameter seen: the state the page was opened on, or `nil` (the CLI).
    /// - Throws: ``ReportBookError`` `missing`, `conflicted`, `workflow` (approved: the bureau must
    ///   return it first), `changedMeanwhile`.
    public func submit(measure: String, period: String, seen: [RecordKey: VersionVector?]? = nil) async throws {
        let enrolment = try await enrolment()
        let key = Self.reportKey(school: enrolment.school, period: period, measure: measure)
        let existing = try await replica.record(key)
        let fields: [String: Value]
        do throws(ReportWorkflowError) {
            fields = try ReportWorkflow.submit(existing?.state, reportID: key.id, author: enrolment.device, at: clock())
        } catch {
            switch error.code {
            case .missing:
                throw ReportBookError(.missing, "还没有填写这份报告，请先填写并保存（no report for \(measure) in \(period) yet: fill it in and save it first）")
            case .conflicted:
                throw ReportBookError(.conflicted, "报告有冲突，等待管理员处理后才能提交（\(error.message)）")
            default:
                throw ReportBookError(.workflow, "报告已审核通过，如需修改请联系教育局退回（\(error.message); ask the bureau to return it first）")
            }
        }
        if let seen {
            // What is submitted is the report with its values: a page that did not show them all,
            // or showed values that changed since, must not submit what nobody saw.
            try Self.requireCovers(seen, try await sheet(measure: measure, period: period))
        }
        try await write([(key, fields)], adding: [], expecting: seen)
    }

    /// Attaches the school's proposal for settling the report's conflicts (DOMAIN-PROTOCOL.md
    /// §6.2 `proposal`): the administrator who resolves them sees it beside the values. It settles
    /// nothing by itself.
    ///
    /// - Throws: ``ReportBookError`` `invalid` (empty or too long), `missing`, `locked`,
    ///   `conflicted` (the proposal itself is in conflict), `changedMeanwhile`.
    public func propose(_ text: String, measure: String, period: String, seen: [RecordKey: VersionVector?]? = nil) async throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, RecordRules.isAcceptableProposal(trimmed) else {
            throw ReportBookError(
                .invalid, "请写明建议（1–\(RecordRules.maxProposalLength)字）（a proposal of 1–\(RecordRules.maxProposalLength) characters）",
                problems: ["proposal": "请写明建议（1–\(RecordRules.maxProposalLength)字）"])
        }
        let sheet = try await sheet(measure: measure, period: period)
        guard sheet.exists else { throw ReportBookError(.missing, "还没有这份报告（no report for \(measure) in \(period) yet）") }
        try Self.requireEditable(sheet)
        try Self.requireCovers(seen, sheet)
        guard !sheet.isConflicted("proposal") else { throw Self.conflicted("proposal") }
        try await write([(sheet.key, ["proposal": .string(trimmed)])], adding: [], expecting: seen)
    }

    /// The longest narrative a form accepts, in characters.
    public static let maxNarrativeLength = 20_000

    /// The report's evidence list after additions and removals: removing names an item by name
    /// or SHA-256; adding the same file under the same name again replaces the item.
    ///
    /// - Throws: ``ReportBookError/Code/invalid`` when a removal names no item.
    public static func evidenceList(_ existing: [EvidenceItem], adding: [EvidenceItem], removing: [String]) throws -> [EvidenceItem] {
        var items = existing
        for target in removing {
            let kept = items.filter { $0.name != target && $0.sha256 != target.lowercased() }
            guard kept.count < items.count else {
                let names = items.map(\.name).joined(separator: ", ")
                throw ReportBookError(
                    .invalid,
                    "报告里没有名为「\(target.prefix(80))」的佐证材料（the report has no evidence named '\(target.prefix(80))'; it has: \(names.isEmpty ? "none" : names)）",
                    problems: ["evidence": "没有这个文件"]
                )
            }
            items = kept
        }
        for item in adding where !items.contains(item) {
            items.removeAll { $0.sha256 == item.sha256 && $0.name == item.name }
            items.append(item)
        }
        return items
    }

    private static func requireEditable(_ sheet: ReportSheet) throws {
        if sheet.isLocked {
            throw ReportBookError(.locked, "报告已审核通过并锁定；如需修改请联系教育局退回（report \(sheet.key.id) is approved: the bureau must return it first）")
        }
        if sheet.deleteConflict {
            throw ReportBookError(.conflicted, "报告在一台设备上被删除、在另一台上被修改，等待管理员处理（deleted on one device, edited on another: an administrator settles it）")
        }
    }

    /// Whether a value stored as `stored` already is `text`: the same bytes, or the same value in
    /// another spelling (`{"numerator":1126,"denominator":1000}` another program wrote, `2.50`). A
    /// form shows the value and sends it back unchanged when the school edits something else; that
    /// must not rewrite it (a write nobody made, and a conflict with another device's edit of it).
    static func holds(_ stored: String?, _ text: String, kind: IndicatorKind) -> Bool {
        guard let stored else { return false }
        if stored.utf8.elementsEqual(text.utf8) { return true }
        guard let old = input(stored, kind: kind) else { return false }
        return old == input(text, kind: kind)
    }

    /// A form that did not show every record the sheet covers cannot vouch for them: the write
    /// it makes is checked against the state it shows (``ReportEdit/seen``), so a record it left
    /// out could change unseen. `nil` (the CLI) vouches for nothing and merges.
    private static func requireCovers(_ seen: [RecordKey: VersionVector?]?, _ sheet: ReportSheet) throws {
        if let seen, !sheet.seen.keys.allSatisfy({ seen.keys.contains($0) }) {
            throw ReportBookError(.changedMeanwhile, "这个页面显示的内容不完整或已过期；下面是最新内容，请核对后重新填写（the form did not show every record of this report; reload it）")
        }
    }

    private static func conflicted(_ field: String) -> ReportBookError {
        ReportBookError(.conflicted, "「\(fieldLabel(field))」有冲突，等待管理员处理；可以提交处理建议（\(field) is in conflict: an administrator must resolve it first; you may attach a proposal）")
    }

    private func write(_ changes: [(RecordKey, [String: Value])], adding files: [CapturedEvidence], expecting: [RecordKey: VersionVector?]?) async throws {
        do {
            try await replica.write(changes, addingEvidence: files, expecting: expecting)
        } catch let error as SyncClientError where error.code == .changedMeanwhile {
            throw ReportBookError(.changedMeanwhile, "打开表单后，这份报告已被修改（其他设备同步或其他程序修改）；下面是最新内容，请核对后重新填写（\(error.message)）")
        } catch let error as SyncClientError where error.code == .refused {
            // The replica's own limits (a value's bytes, a record's size), after the domain's rules passed.
            throw ReportBookError(.invalid, "内容超出了本机能保存的范围，尚未保存（\(error.message)）")
        } catch let error as SyncClientError where error.code == .integrity {
            throw ReportBookError(
                .damaged,
                "这份报告或它的指标值在本机的同步数据已损坏（可能被其他程序修改），没有保存；请在“同步情况”中放弃本机的修改，恢复为服务器上的内容后再填写（\(error.message); discard the local changes to take the server's copy）"
            )
        }
    }
}
