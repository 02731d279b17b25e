import Foundation
import GRDB
import Reporting
import SyncClient
import SyncCore

/// One report as a form shows it: the measure, the report's fields, each indicator with its
/// target and current value, conflicts side by side, and the state it was read in
/// (``ReportSheet/seen``), which a save carries so it never overwrites what changed meanwhile.
public struct ReportSheet: Sendable {
    /// The report's key, `reports` / `<school>/<period>/<measure>`.
    public var key: RecordKey
    /// The school, period and measure ids.
    public var school: String
    /// The period, e.g. `2025-S1`.
    public var period: ReportingPeriod
    /// The measure.
    public var measure: MeasureInfo
    /// Whether the report exists (has been saved on some device).
    public var exists: Bool
    /// The report's settled fields by name (`status`, `narrative`, `workflow`, `review_comment`,
    /// `reviewer`, `submitted_at`, `author`, `proposal`), as text; a field in conflict is absent.
    public var fields: [String: String]
    /// The report's evidence items (DOMAIN-PROTOCOL.md §6.2), when the field is settled.
    public var evidence: [EvidenceItem]
    /// This device's copies of the evidence files (waiting to upload, uploaded, held back), by SHA-256.
    public var evidenceFiles: [String: EvidenceFile]
    /// The indicators of the measure, in catalog order, with their values.
    public var indicators: [IndicatorLine]
    /// Every field in conflict, of the report and of its indicator values.
    public var conflicts: [FieldConflict]
    /// Whether the report or one of its values was deleted on one device while edited on another.
    public var deleteConflict: Bool
    /// Whether this device has changes to the report or its values that the server has not acknowledged.
    public var waiting: Bool
    /// Refusals of the report or its values: record → the reason.
    public var rejections: [Rejection]
    /// The state the sheet was read in: each record it shows → its causal context (`nil`: absent).
    public var seen: [RecordKey: VersionVector?]

    /// The report's workflow, when settled (`draft`, `submitted`, `returned`, `approved`).
    public var workflow: String? { fields["workflow"] }
    /// Approved: locked until the bureau returns it (DOMAIN-PROTOCOL.md §6.3).
    public var isLocked: Bool { workflow == "approved" }
    /// Whether the field is in conflict in the report record.
    public func isConflicted(_ field: String) -> Bool {
        conflicts.contains { $0.record == key && $0.field == field }
    }

    /// A measure of the catalog (DOMAIN-PROTOCOL.md §4.2).
    public struct MeasureInfo: Sendable, Hashable {
        /// The measure's id.
        public var id: String
        /// Its title, area, code and summary; empty when the catalog has none.
        public var title: String
        /// Its area (领域).
        public var area: String
        /// Its code in the plan, e.g. `6.1`.
        public var code: String
        /// What the plan says of it.
        public var summary: String
        /// The responsible units (牵头单位).
        public var leadUnit: String
        /// The plan's title.
        public var planTitle: String
    }

    /// One indicator of the measure (DOMAIN-PROTOCOL.md §4.3) with this school's value.
    public struct IndicatorLine: Sendable, Hashable {
        /// The indicator's id, e.g. `qixing-2024/i1`.
        public var id: String
        /// Its name (指标).
        public var name: String
        /// Its unit, e.g. `%` or `所`.
        public var unit: String
        /// How it is reported.
        public var kind: IndicatorKind
        /// The target as published (a decimal number in text), when there is one.
        public var target: String?
        /// `>=`, `<=`, `=`, `>` or `<`.
        public var comparison: String
        /// The year or month the target is due, when published.
        public var deadline: String?
        /// The target is approximate (约).
        public var approx: Bool
        /// The value's record.
        public var key: RecordKey
        /// The value as the form shows it, when one is settled.
        public var input: IndicatorInput?
        /// The stored JSON text of the value, when settled.
        public var stored: String?
    }

    /// A field with several values (PROTOCOL.md §3.4): each value with who wrote it.
    public struct FieldConflict: Sendable, Hashable {
        /// The record the field belongs to (the report, or an indicator value).
        public var record: RecordKey
        /// The field's name.
        public var field: String
        /// What the field is, for people: `进展情况 status`, an indicator's name.
        public var label: String
        /// Every value side by side, in a stable order.
        public var candidates: [Candidate]
    }

    /// One value of a field in conflict.
    public struct Candidate: Sendable, Hashable {
        /// The value as text (a string as it is, other kinds in their JSON spelling).
        public var value: String
        /// The replica that wrote it.
        public var replica: String
        /// Whether this device wrote it.
        public var isThisDevice: Bool
        /// The writing device's name, when the server told this device (`GET /v1/school/replicas`).
        public var writerName: String?
    }

    /// A refused record of this report.
    public struct Rejection: Sendable, Hashable {
        /// The refused record.
        public var record: RecordKey
        /// The reject code (DOMAIN-PROTOCOL.md §9), e.g. `validation`.
        public var code: String
        /// The reason, as the server (or this device) gave it.
        public var message: String
    }
}

extension ReportBook {
    /// The report on `measure` for `period` as a form shows it.
    ///
    /// - Throws: ``ReportBookError/Code/notEnrolled``; ``ReportBookError/Code/unknownMeasure``
    ///   when the measure is not in the catalog here or not assigned to this school.
    public func sheet(measure: String, period periodID: String) async throws -> ReportSheet {
        let enrolment = try await enrolment()
        guard RecordRules.isPeriod(periodID) else {
            throw ReportBookError(.unknownMeasure, "学期或年度写法不对：\(periodID.prefix(40))（use a term like 2025-S1 or a year like 2025）")
        }
        let school = enrolment.school
        let catalog = try await replica.read { db -> (ReportSheet.MeasureInfo?, Bool, ReportingPeriod, [ReportSheet.IndicatorLine]) in
            let measureRow = try Row.fetchOne(
                db,
                sql: """
                    SELECT CAST(m.title AS TEXT) AS title, CAST(m.area AS TEXT) AS area, CAST(m.code AS TEXT) AS code,
                        CAST(m.summary AS TEXT) AS summary, CAST(m.lead_unit AS TEXT) AS lead_unit,
                        CAST(COALESCE(p.title, m.plan_id) AS TEXT) AS plan_title
                    FROM measures m LEFT JOIN plans p ON p.id = m.plan_id WHERE m.id = ?
                    """,
                arguments: [measure]
            )
            let info = measureRow.map { row in
                ReportSheet.MeasureInfo(
                    id: measure, title: row["title"] ?? measure, area: row["area"] ?? "", code: row["code"] ?? "",
                    summary: row["summary"] ?? "", leadUnit: row["lead_unit"] ?? "", planTitle: row["plan_title"] ?? ""
                )
            }
            let assigned = try Bool.fetchOne(db, sql: "SELECT 1 FROM assignments WHERE id = ?", arguments: ["\(school)/\(measure)"]) ?? false
            let periodRow = try Row.fetchOne(
                db,
                sql: "SELECT CAST(kind AS TEXT) AS kind, CAST(starts AS TEXT) AS starts, CAST(ends AS TEXT) AS ends, CAST(due AS TEXT) AS due FROM periods WHERE id = ?",
                arguments: [periodID]
            )
            let period = ReportingPeriod(
                id: periodID, kind: periodRow?["kind"] ?? "", starts: periodRow?["starts"], ends: periodRow?["ends"], due: periodRow?["due"]
            )
            let indicators = try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(id AS TEXT) AS id, CAST(name AS TEXT) AS name, CAST(unit AS TEXT) AS unit, CAST(value_kind AS TEXT) AS value_kind,
                        CAST(target AS TEXT) AS target, CAST(comparison AS TEXT) AS comparison, CAST(deadline AS TEXT) AS deadline,
                        CAST(approx AS INTEGER) AS approx
                    FROM indicators WHERE measure_id = ? ORDER BY rowid
                    """,
                arguments: [measure]
            ).compactMap { row -> ReportSheet.IndicatorLine? in
                guard let id = row["id"] as String? else { return nil }
                return ReportSheet.IndicatorLine(
                    id: id, name: row["name"] ?? id, unit: row["unit"] ?? "", kind: IndicatorKind(rawValue: row["value_kind"] ?? "") ?? .count,
                    target: row["target"], comparison: row["comparison"] ?? ">=", deadline: row["deadline"], approx: (row["approx"] as Int64? ?? 0) != 0,
                    key: Self.valueKey(school: school, period: periodID, indicator: id), input: nil, stored: nil
                )
            }
            return (info, assigned, period, indicators)
        }
        guard let info = catalog.0, catalog.1 else {
            throw ReportBookError(
                .unknownMeasure,
                "本校没有措施 \(measure.prefix(80))；请先同步，再从首页选择（unknown measure, or not assigned to this school: sync, then pick it on the home page）"
            )
        }
        let key = Self.reportKey(school: school, period: periodID, measure: measure)
        var sheet = ReportSheet(
            key: key, school: school, period: catalog.2, measure: info, exists: false, fields: [:], evidence: [], evidenceFiles: [:],
            indicators: catalog.3, conflicts: [], deleteConflict: false, waiting: false, rejections: [], seen: [:]
        )
        let writers = try await replica.writerNames()
        // The report and its values in one read: one snapshot for `seen`, and a measure of thousands
        // of indicators costs one transaction, not one per value.
        let records = try await replica.records([key] + sheet.indicators.map(\.key))
        let report = records[0]
        sheet.seen[key] = .some(report?.state.context)
        if let report {
            sheet.absorb(report, label: Self.fieldLabel, thisDevice: enrolment.replica, writers: writers)
            sheet.exists = !report.state.isEmpty && !report.state.isDeleted
            for (name, register) in report.state.fields {
                guard let value = register.settledValue, !report.state.isDeleted else { continue }
                if case .string(let text) = value { sheet.fields[name] = text } else if value != .null { sheet.fields[name] = value.description }
            }
            if !report.state.isDeleted, let evidence = report.state.fields["evidence"]?.settledValue {
                sheet.evidence = EvidenceItem.items(in: evidence)
            }
        }
        for index in sheet.indicators.indices {
            let line = sheet.indicators[index]
            let record = records[index + 1]
            sheet.seen[line.key] = .some(record?.state.context)
            guard let record else { continue }
            sheet.absorb(record, label: { _ in line.name }, thisDevice: enrolment.replica, writers: writers)
            if !record.state.isDeleted, case .string(let text)? = record.state.fields["value"]?.settledValue {
                sheet.indicators[index].stored = text
                sheet.indicators[index].input = Self.input(text, kind: line.kind)
            }
        }
        if !sheet.evidence.isEmpty {
            let files = try await replica.evidenceFiles()
            let named = Set(sheet.evidence.map(\.sha256))
            sheet.evidenceFiles = Dictionary(files.filter { named.contains($0.sha256) }.map { ($0.sha256, $0) }, uniquingKeysWith: { a, _ in a })
        }
        return sheet
    }

    /// A stored value as the form's input, or `nil` when it does not read as the kind's shape.
    static func input(_ text: String, kind: IndicatorKind) -> IndicatorInput? {
        guard case .success(let value) = IndicatorValue.parse(text, kind: kind, checkingBounds: false) else { return nil }
        switch value {
        case .flag(let flag): return .flag(flag)
        case .number(let number): return .number(IndicatorValue.plain(number))
        case .ratio(let numerator, let denominator): return .ratio(numerator: IndicatorValue.plain(numerator), denominator: IndicatorValue.plain(denominator))
        }
    }

    /// The report fields' names for people, Chinese first.
    static func fieldLabel(_ field: String) -> String {
        switch field {
        case "status": "进展情况 status"
        case "narrative": "工作说明 narrative"
        case "evidence": "佐证材料 evidence"
        case "workflow": "流程状态 workflow"
        case "proposal": "处理建议 proposal"
        default: field
        }
    }
}

extension ReportSheet {
    /// Takes in a record's conflicts and refusal.
    mutating func absorb(_ record: LocalRecord, label: (String) -> String, thisDevice: ReplicaID, writers: [String: String]) {
        waiting = waiting || record.hasLocalChanges
        if let rejection = record.rejection {
            rejections.append(Rejection(record: record.key, code: rejection.code.rawValue, message: rejection.message))
        }
        guard let conflict = record.state.conflict else { return }
        deleteConflict = deleteConflict || conflict.isDeleteConflict
        for (field, entries) in conflict.fields.sorted(by: { $0.key < $1.key }) {
            let candidates = entries.sorted { $0.dot < $1.dot }.map { entry in
                Candidate(
                    value: { if case .string(let text) = entry.value { text } else { entry.value.description } }(),
                    replica: entry.dot.replica.description,
                    isThisDevice: entry.dot.replica == thisDevice,
                    writerName: writers[entry.dot.replica.description]
                )
            }
            conflicts.append(FieldConflict(record: record.key, field: field, label: label(field), candidates: candidates))
        }
    }
}
