import Foundation
import GRDB
import Reporting
import SyncClient
import SyncCore

/// A reporting period the bureau published (DOMAIN-PROTOCOL.md §4.5).
public struct ReportingPeriod: Sendable, Hashable {
    /// `2025-S1` (a term) or `2025` (a year).
    public var id: String
    /// `term` or `year`, as published; empty when absent.
    public var kind: String
    /// First and last day, `YYYY-MM-DD`, when published.
    public var starts: String?
    /// The last day of the period, `YYYY-MM-DD`, when published.
    public var ends: String?
    /// The day after which an unsubmitted report is late, `YYYY-MM-DD`, when published.
    public var due: String?

    /// A period; only `id` is required (a year before the bureau publishes any period).
    public init(id: String, kind: String, starts: String? = nil, ends: String? = nil, due: String? = nil) {
        self.id = id
        self.kind = kind
        self.starts = starts
        self.ends = ends
        self.due = due
    }
}

/// One assigned measure on the school's home page: what it is, and where its report stands.
public struct AgendaItem: Sendable, Hashable {
    /// The measure's id, e.g. `qixing-2024/m6.1`.
    public var measure: String
    /// The plan's id and title.
    public var plan: String
    /// The plan's title (its id when the catalog has no title).
    public var planTitle: String
    /// The measure's area (领域) and code within the plan, e.g. `六` and `6.1`.
    public var area: String
    /// The measure's code within the plan, e.g. `6.1`.
    public var code: String
    /// The measure's title.
    public var title: String
    /// The responsible units (牵头单位).
    public var leadUnit: String
    /// The period's due date, `YYYY-MM-DD`, when published.
    public var due: String?
    /// The report's workflow: `draft`, `submitted`, `returned`, `approved`; `nil` before the first
    /// save (or while the field is in conflict).
    public var workflow: String?
    /// The report's status of the work (`not_started`, `in_progress`, `done`, `at_risk`), when settled.
    public var status: String?
    /// The bureau's comment when it returned the report.
    public var reviewComment: String?
    /// Whether this device has changes to the report or its values that the server has not acknowledged.
    public var waiting: Bool
    /// Why the server (or this device) refused the report or one of its values, when one was refused.
    public var rejected: String?
    /// Whether the report or one of its values is in conflict.
    public var conflicted: Bool
    /// Not submitted (nor approved) and the due date has passed.
    public var late: Bool
}

extension ReportBook {
    /// The periods the bureau published, oldest first.
    public func periods() async throws -> [ReportingPeriod] {
        try await replica.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(id AS TEXT) AS id, CAST(kind AS TEXT) AS kind, CAST(starts AS TEXT) AS starts,
                        CAST(ends AS TEXT) AS ends, CAST(due AS TEXT) AS due
                    FROM periods ORDER BY id
                    """
            ).compactMap { row in
                guard let id = row["id"] as String?, RecordRules.isPeriod(id) else { return nil }
                return ReportingPeriod(id: id, kind: row["kind"] ?? "", starts: row["starts"], ends: row["ends"], due: row["due"])
            }
        }
    }

    /// The period a school reports on today: the term that contains today, else the year that
    /// does, else the last one that started before today, else the last published; `nil` when
    /// none is published.
    public static func currentPeriod(of periods: [ReportingPeriod], today: String) -> ReportingPeriod? {
        func contains(_ period: ReportingPeriod) -> Bool {
            guard let starts = period.starts, let ends = period.ends else { return false }
            return starts <= today && today <= ends
        }
        let containing = periods.filter(contains)
        if let term = containing.last(where: { $0.id.count == 7 }) { return term }
        if let year = containing.last { return year }
        if let started = periods.last(where: { ($0.starts ?? "9999") <= today }) { return started }
        return periods.last
    }

    /// This school's assigned measures for `period` with their reports' standing: late ones
    /// first, then by plan and code.
    ///
    /// - Throws: ``ReportBookError/Code/notEnrolled``; storage errors of ``LocalReplica``.
    public func agenda(period: ReportingPeriod) async throws -> [AgendaItem] {
        let enrolment = try await enrolment()
        let today = today()
        let prefix = "\(enrolment.school)/\(period.id)/"
        // Display only: CAST AS TEXT reads whatever another program stored without failing.
        let items = try await replica.read { db in
            let reports = try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(a.measure_id AS TEXT) AS measure, CAST(m.plan_id AS TEXT) AS plan, CAST(p.title AS TEXT) AS plan_title,
                        CAST(m.area AS TEXT) AS area, CAST(m.code AS TEXT) AS code, CAST(m.title AS TEXT) AS title,
                        CAST(m.lead_unit AS TEXT) AS lead_unit, CAST(r.workflow AS TEXT) AS workflow, CAST(r.status AS TEXT) AS status,
                        CAST(r.review_comment AS TEXT) AS review_comment,
                        CAST(s.dirty AS INTEGER) AS dirty, CAST(s.rejected_message AS TEXT) AS refused,
                        EXISTS (SELECT 1 FROM sync_conflicts c WHERE c.collection = 'reports' AND c.id = ?1 || a.measure_id) AS conflicted
                    FROM assignments a
                    JOIN measures m ON m.id = a.measure_id
                    LEFT JOIN plans p ON p.id = m.plan_id
                    LEFT JOIN reports r ON r.id = ?1 || a.measure_id
                    LEFT JOIN sync_records s ON s.collection = 'reports' AND s.id = ?1 || a.measure_id
                    WHERE a.school_id = ?2
                    """,
                arguments: [prefix, enrolment.school]
            )
            // The values' own standing, by measure: a value waiting or refused makes its report so.
            var values: [String: (waiting: Bool, rejected: String?, conflicted: Bool)] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(v.measure_id AS TEXT) AS measure, CAST(s.dirty AS INTEGER) AS dirty, CAST(s.rejected_message AS TEXT) AS refused,
                        EXISTS (SELECT 1 FROM sync_conflicts c WHERE c.collection = 'indicator_values' AND c.id = v.id) AS conflicted
                    FROM indicator_values v JOIN sync_records s ON s.collection = 'indicator_values' AND s.id = v.id
                    WHERE substr(v.id, 1, length(?1)) = ?1
                    """,
                arguments: [prefix]
            ) {
                guard let measure = row["measure"] as String? else { continue }
                var entry = values[measure] ?? (false, nil, false)
                entry.waiting = entry.waiting || (row["dirty"] as Bool? ?? false)
                entry.rejected = entry.rejected ?? row["refused"]
                entry.conflicted = entry.conflicted || (row["conflicted"] as Bool? ?? false)
                values[measure] = entry
            }
            return reports.compactMap { row -> AgendaItem? in
                guard let measure = row["measure"] as String? else { return nil }
                let workflow: String? = row["workflow"]
                let value = values[measure]
                let submitted = workflow == "submitted" || workflow == "approved"
                return AgendaItem(
                    measure: measure,
                    plan: row["plan"] ?? "",
                    planTitle: row["plan_title"] ?? row["plan"] ?? "",
                    area: row["area"] ?? "",
                    code: row["code"] ?? "",
                    title: row["title"] ?? measure,
                    leadUnit: row["lead_unit"] ?? "",
                    due: period.due,
                    workflow: workflow,
                    status: row["status"],
                    reviewComment: workflow == "returned" ? row["review_comment"] : nil,
                    waiting: (row["dirty"] as Bool? ?? false) || value?.waiting == true,
                    rejected: (row["refused"] as String?) ?? value?.rejected,
                    conflicted: (row["conflicted"] as Bool? ?? false) || value?.conflicted == true,
                    late: !submitted && period.due.map { $0 < today } == true
                )
            }
        }
        return items.sorted { a, b in
            if a.late != b.late { return a.late }
            if a.plan != b.plan { return a.plan < b.plan }
            return Self.codeOrder(a.code, b.code)
        }
    }

    /// `6.2` before `6.10`: codes compare by their numbers, then as text.
    static func codeOrder(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: ".").map { Int($0) ?? Int.max }
        let y = b.split(separator: ".").map { Int($0) ?? Int.max }
        return x != y ? x.lexicographicallyPrecedes(y) : a < b
    }
}
