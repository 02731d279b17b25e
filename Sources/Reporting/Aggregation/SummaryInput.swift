import SyncCore

/// What the bureau's summary is computed from, read out of record states. Values in conflict are
/// left out (and counted), never guessed.
public struct SummaryInput: Sendable {
    public struct School: Sendable, Hashable {
        public var id: String
        public var name: String
        public var township: String
    }

    public struct Indicator: Sendable, Hashable {
        public var id: String
        public var measureID: String
        public var name: String
        public var unit: String?
        public var kind: IndicatorKind
        public var target: Double?
        public var targetText: String?
        public var comparison: String
        public var deadline: String?
        public var approx: Bool
    }

    public struct Report: Sendable, Hashable {
        public var school: String
        public var measure: String
        public var workflow: String?
    }

    public struct Reading: Sendable, Hashable {
        public var school: String
        public var indicator: String
        public var value: IndicatorValue
    }

    public var period: String
    public var due: String?
    public var asOf: String
    public var schools: [School]
    public var measures: [String: String]
    public var indicators: [Indicator]
    public var assignments: Set<[String]>
    public var reports: [Report]
    public var readings: [Reading]
    /// Records left out because a field they need is in conflict.
    public var conflicted: Int

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
