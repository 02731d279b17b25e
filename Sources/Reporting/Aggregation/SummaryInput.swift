import SyncCore

/// What the bureau's summary is computed from, read out of record states. Values in conflict are
/// left out (and counted), never guessed.
///
/// Build it with ``init(records:period:asOf:)`` from the current states (what it reads from which
/// collection is DOMAIN-PROTOCOL.md §10), or field by field in tests; hand it to
/// ``Aggregator/summarize(_:)``.
public struct SummaryInput: Sendable {
    /// A school, from its `schools` record.
    public struct School: Sendable, Hashable {
        /// The school id.
        public var id: String
        /// The `name` field; the id when absent.
        public var name: String
        /// The `township` field; （未填乡镇） when absent.
        public var township: String
    }

    /// An indicator, from its `indicators` record (DOMAIN-PROTOCOL.md §4.3).
    public struct Indicator: Sendable, Hashable {
        /// The indicator's catalog id.
        public var id: String
        /// The `measure_id` field; empty when absent.
        public var measureID: String
        /// The `name` field; the id when absent.
        public var name: String
        /// The `unit` field.
        public var unit: String?
        /// The `value_kind` field; ``IndicatorKind/count`` when absent or unknown.
        public var kind: IndicatorKind
        /// The `target` field read as a finite number; nil when absent, not a number, or infinite.
        public var target: Double?
        /// The `target` field as written, for display.
        public var targetText: String?
        /// The `comparison` field; `>=` when absent.
        public var comparison: String
        /// The `deadline` field: a year or a `YYYY-MM` month.
        public var deadline: String?
        /// The `approx` field: the target is approximate (约).
        public var approx: Bool
    }

    /// A report of the period: who reported which measure, and how far it got.
    public struct Report: Sendable, Hashable {
        /// The school id, from the report's id.
        public var school: String
        /// The measure id, from the report's id.
        public var measure: String
        /// The settled `workflow` (`draft`, `submitted`, `returned`, `approved`); nil when absent or in conflict.
        public var workflow: String?
    }

    /// A school's value of an indicator for the period, already parsed.
    public struct Reading: Sendable, Hashable {
        /// The school id, from the value's id.
        public var school: String
        /// The indicator id, from the value's id.
        public var indicator: String
        /// The parsed value, in the shape of the indicator's kind; not checked against the bounds.
        public var value: IndicatorValue
    }

    /// The period summarised, e.g. `2025-S1` or `2025`.
    public var period: String
    /// The period's due date, `YYYY-MM-DD`, or nil when the period has no `periods` record or no `due`.
    public var due: String?
    /// Today's date, `YYYY-MM-DD`: a report not submitted when `due` is before it is late.
    public var asOf: String
    /// Every live school, sorted by id.
    public var schools: [School]
    /// Measure ids to their titles.
    public var measures: [String: String]
    /// Every live indicator, sorted by id.
    public var indicators: [Indicator]
    /// The live assignments as `[school id, measure id]` pairs, read from their fields, not their ids (DOMAIN-PROTOCOL.md §5.1).
    public var assignments: Set<[String]>
    /// The period's reports.
    public var reports: [Report]
    /// The period's indicator values that parse.
    public var readings: [Reading]
    /// Records left out because a field they need is in conflict.
    public var conflicted: Int

    /// An input from values already read; `conflicted` counts the records left out.
    public init(
        period: String,
        due: String?,
        asOf: String,
        schools: [School],
        measures: [String: String],
        indicators: [Indicator],
        assignments: Set<[String]>,
        reports: [Report],
        readings: [Reading],
        conflicted: Int = 0
    ) {
        self.period = period
        self.due = due
        self.asOf = asOf
        self.schools = schools
        self.measures = measures
        self.indicators = indicators
        self.assignments = assignments
        self.reports = reports
        self.readings = readings
        self.conflicted = conflicted
    }

    /// Reads the input for `period` from current record states; `asOf` is today's date (YYYY-MM-DD),
    /// used only to call unsubmitted reports late after the period's due date.
    public init(records: [SyncRecord], period: String, asOf: String) {
        func text(_ state: RecordState, _ field: String) -> String? {
            if case .string(let value)? = state.value(of: field) { return value }
            return nil
        }
        var schools: [School] = []
        var measures: [String: String] = [:]
        var indicators: [Indicator] = []
        var assignments: Set<[String]> = []
        var reports: [Report] = []
        var readings: [Reading] = []
        var due: String?
        var conflicted = 0
        var kinds: [String: IndicatorKind] = [:]
        let live = records.filter { !$0.state.isDeleted && !$0.state.isEmpty }
        for record in live where record.key.collection == "indicators" {
            kinds[record.key.id] = text(record.state, "value_kind").flatMap(IndicatorKind.init(rawValue:)) ?? .count
        }
        for record in live {
            let state = record.state
            switch record.key.collection {
            case "schools":
                schools.append(School(id: record.key.id, name: text(state, "name") ?? record.key.id, township: text(state, "township") ?? "（未填乡镇）"))
            case "measures":
                measures[record.key.id] = text(state, "title") ?? record.key.id
            case "indicators":
                let targetText = text(state, "target")
                indicators.append(
                    Indicator(
                        id: record.key.id,
                        measureID: text(state, "measure_id") ?? "",
                        name: text(state, "name") ?? record.key.id,
                        unit: text(state, "unit"),
                        kind: kinds[record.key.id] ?? .count,
                        // "inf" and "nan" parse as Doubles; a target is a finite number or none.
                        target: targetText.flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil },
                        targetText: targetText,
                        comparison: text(state, "comparison") ?? ">=",
                        deadline: text(state, "deadline"),
                        approx: state.value(of: "approx") == .bool(true)
                    )
                )
            case "periods" where record.key.id == period:
                due = text(state, "due")
            case "assignments":
                if let school = text(state, "school_id"), let measure = text(state, "measure_id") { assignments.insert([school, measure]) }
            case "reports":
                guard let parts = RecordRules.parts(of: record.key.id), parts.period == period else { continue }
                if state.fields["workflow"]?.isConflicted == true { conflicted += 1 }
                reports.append(Report(school: parts.school, measure: parts.item, workflow: text(state, "workflow")))
            case "indicator_values":
                guard let parts = RecordRules.parts(of: record.key.id), parts.period == period else { continue }
                guard let raw = text(state, "value") else {
                    if state.fields["value"]?.isConflicted == true { conflicted += 1 }
                    continue
                }
                // Without bounds: a stored value outside them (written before they existed, or by
                // another program) is shown as out of range, not silently left out.
                if case .success(let value) = IndicatorValue.parse(raw, kind: kinds[parts.item] ?? .count, checkingBounds: false) {
                    readings.append(Reading(school: parts.school, indicator: parts.item, value: value))
                }
            default:
                continue
            }
        }
        self.init(
            period: period,
            due: due,
            asOf: asOf,
            schools: schools.sorted { $0.id < $1.id },
            measures: measures,
            indicators: indicators.sorted { $0.id < $1.id },
            assignments: assignments,
            reports: reports,
            readings: readings,
            conflicted: conflicted
        )
    }
}
