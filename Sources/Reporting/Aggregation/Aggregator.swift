import Foundation

/// The bureau's view of one period: each indicator against its target, rolled up school →
/// township → county, and each measure's reporting progress.
///
/// The server returns it from `GET /v1/bureau/summary?period=P`, encoded with these property names
/// (DOMAIN-PROTOCOL.md §10); ``SummaryFormat`` renders it as a table or CSV.
public struct BureauSummary: Sendable, Codable, Hashable {
    /// The period summarised, e.g. `2025-S1`.
    public var period: String
    /// The period's due date, `YYYY-MM-DD`, from its `periods` record; nil when there is none.
    public var due: String?
    /// The date the summary was computed for, `YYYY-MM-DD`: after `due`, unsubmitted reports are late.
    public var asOf: String
    /// One entry per indicator some school reported or whose measure is assigned, sorted by id.
    public var indicators: [IndicatorSummary]
    /// One entry per measure assigned to at least one school, sorted by id.
    public var measures: [MeasureSummary]
    /// Records left out of the sums because a field they need is in conflict.
    public var conflicted: Int
}

/// A value aggregated over some schools.
public struct Aggregate: Sendable, Codable, Hashable {
    /// The rate in percent (Σnumerator / Σdenominator × 100), the sum, the count of schools that
    /// reached a milestone, or the coefficient of variation — by the indicator's kind.
    public var value: Double?
    /// For a rate: Σnumerator over the schools that reported; nil for other kinds.
    public var numerator: Double?
    /// For a rate: Σdenominator over the schools that reported; nil for other kinds.
    public var denominator: Double?
    /// How many schools reported.
    public var schools: Int
    /// Whether a reading lies outside its kind's plausible range or the result is not a finite
    /// number: then `value`, `numerator` and `denominator` are nil and the bureau sees "out of
    /// range" instead of a meaningless figure (or a crash).
    public var outOfRange: Bool

    /// An aggregate of `schools` readings; `outOfRange` true means the numbers are withheld (pass nil).
    public init(value: Double?, numerator: Double?, denominator: Double?, schools: Int, outOfRange: Bool = false) {
        self.value = value
        self.numerator = numerator
        self.denominator = denominator
        self.schools = schools
        self.outOfRange = outOfRange
    }
}

/// One indicator in the bureau's summary: its county figure against the target, and the same
/// figure per township and per school (DOMAIN-PROTOCOL.md §10).
public struct IndicatorSummary: Sendable, Codable, Hashable {
    /// Where the county figure stands against the target; the raw value is the wire spelling.
    public enum Standing: String, Sendable, Codable {
        /// The county figure meets the target's comparison (an `=` target counts as reached at or above it).
        case onTrack = "on_track"
        /// The county figure misses the target.
        case behind
        /// The indicator has no finite target, or is a trend (a direction only, never compared).
        case noTarget = "no_target"
        /// There is a target but no school reported a usable value.
        case noData = "no_data"
        /// A reading is outside its plausible range (see ``Aggregate/outOfRange``).
        case outOfRange = "out_of_range"
    }

    /// The figure of one township or one school.
    public struct Area: Sendable, Codable, Hashable {
        /// The township's name (（未登记学校） for schools without a `schools` record), or the
        /// school's name (its id when it has no name).
        public var name: String
        /// The township's readings aggregated like the county's; a school's own reading (for a
        /// coefficient of variation, the school's raw value).
        public var aggregate: Aggregate
    }

    /// The indicator's catalog id.
    public var id: String
    /// The measure it belongs to (its `measure_id`).
    public var measureID: String
    /// The indicator's name, e.g. 学前教育毛入园率.
    public var name: String
    /// The unit, e.g. `%`, `所`, `万元`; nil when the catalog gives none.
    public var unit: String?
    /// How values are reported and aggregated.
    public var kind: IndicatorKind
    /// The target as the plan wrote it (with 约 when approximate).
    public var target: String?
    /// `>=`, `<=`, `=`, `>` or `<` (`>=` when the catalog gives none).
    public var comparison: String
    /// A year (`2026`) or a month (`2024-09`), as the catalog gives it; informative.
    public var deadline: String?
    /// The figure over every school that reported.
    public var county: Aggregate
    /// The figure per township, sorted by name.
    public var townships: [Area]
    /// Each school's own reading, sorted by name.
    public var schools: [Area]
    /// The county figure against the target.
    public var standing: Standing
}

/// One measure's reporting progress for the period (DOMAIN-PROTOCOL.md §10). School lists hold
/// school ids, sorted.
public struct MeasureSummary: Sendable, Codable, Hashable {
    /// The measure's catalog id.
    public var id: String
    /// The measure's title (its id when the catalog has no title).
    public var title: String
    /// How many schools have a live assignment of the measure.
    public var assigned: Int
    /// How many assigned schools have a report for the period.
    public var reported: Int
    /// How many assigned schools' reports are `submitted` or `approved`.
    public var submitted: Int
    /// How many assigned schools' reports are `approved`.
    public var approved: Int
    /// Assigned schools not submitted, once the period's due date is before ``BureauSummary/asOf``; else empty.
    public var late: [String]
    /// Assigned schools with no report for the period.
    public var missing: [String]
}

/// Pure aggregation; the numbers are checked against hand calculations in the tests.
///
/// Each ``IndicatorKind`` aggregates its own way (DOMAIN-PROTOCOL.md §10): a rate is
/// Σnumerator / Σdenominator × 100, never the mean of the schools' rates; counts and amounts are
/// sums; a milestone counts the schools that reached it; a coefficient of variation is computed
/// across the schools' values; a trend is the mean. Whatever is stored, the result is finite numbers
/// or an ``Aggregate`` marked ``Aggregate/outOfRange`` (PROTOCOL.md §2.5).
public enum Aggregator {
    /// The bureau's summary of `input`: indicators against their targets, then measures' progress.
    ///
    /// For example:
    ///
    /// ```swift
    /// let input = SummaryInput(records: states, period: "2025-S1", asOf: "2025-07-01")
    /// print(SummaryFormat.table(Aggregator.summarize(input)))
    /// ```
    public static func summarize(_ input: SummaryInput) -> BureauSummary {
        // Not uniqueKeysWithValues: ids that SQLite keeps apart can be equal Swift strings ("café"
        // in NFC and NFD), and a duplicate key must not trap the server.
        let schoolsByID = Dictionary(input.schools.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let reportedIndicators = Set(input.readings.map(\.indicator))
        let assignedMeasures = Set(input.assignments.map { $0[1] })
        let indicators = input.indicators.filter { reportedIndicators.contains($0.id) || assignedMeasures.contains($0.measureID) }.map { indicator in
            let readings = input.readings.filter { $0.indicator == indicator.id }
            let county = aggregate(readings, kind: indicator.kind)
            let townships = Dictionary(grouping: readings) { schoolsByID[$0.school]?.township ?? "（未登记学校）" }
                .map { IndicatorSummary.Area(name: $0.key, aggregate: aggregate($0.value, kind: indicator.kind)) }
                .sorted { $0.name < $1.name }
            let schools = readings.map { reading in
                IndicatorSummary.Area(
                    name: schoolsByID[reading.school]?.name ?? reading.school,
                    aggregate: aggregate([reading], kind: indicator.kind == .coefficientOfVariation ? .trend : indicator.kind)
                )
            }.sorted { $0.name < $1.name }
            return IndicatorSummary(
                id: indicator.id,
                measureID: indicator.measureID,
                name: indicator.name,
                unit: indicator.unit,
                kind: indicator.kind,
                target: indicator.targetText.map { (indicator.approx ? "约" : "") + $0 },
                comparison: indicator.comparison,
                deadline: indicator.deadline,
                county: county,
                townships: townships,
                schools: schools,
                standing: standing(of: county, against: indicator)
            )
        }
        let measures = input.measures.keys.sorted().compactMap { measure -> MeasureSummary? in
            let assigned = input.assignments.filter { $0[1] == measure }.map { $0[0] }.sorted()
            guard !assigned.isEmpty else { return nil }
            let reports = Dictionary(input.reports.filter { $0.measure == measure }.map { ($0.school, $0) }, uniquingKeysWith: { first, _ in first })
            let submitted = assigned.filter { ["submitted", "approved"].contains(reports[$0]?.workflow ?? "") }
            let isPastDue = input.due.map { $0 < input.asOf } ?? false
            return MeasureSummary(
                id: measure,
                title: input.measures[measure] ?? measure,
                assigned: assigned.count,
                reported: assigned.filter { reports[$0] != nil }.count,
                submitted: submitted.count,
                approved: assigned.filter { reports[$0]?.workflow == "approved" }.count,
                late: isPastDue ? assigned.filter { !submitted.contains($0) } : [],
                missing: assigned.filter { reports[$0] == nil }
            )
        }
        return BureauSummary(
            period: input.period,
            due: input.due,
            asOf: input.asOf,
            indicators: indicators,
            measures: measures,
            conflicted: input.conflicted
        )
    }

    /// Aggregates readings of one indicator by its kind. Total: whatever is stored, the result is
    /// finite numbers or an aggregate marked out of range.
    static func aggregate(_ readings: [SummaryInput.Reading], kind: IndicatorKind) -> Aggregate {
        guard !readings.isEmpty else { return Aggregate(value: nil, numerator: nil, denominator: nil, schools: 0) }
        let outOfRange = Aggregate(value: nil, numerator: nil, denominator: nil, schools: readings.count, outOfRange: true)
        guard readings.allSatisfy({ $0.value.isPlausible(for: kind) }) else { return outOfRange }
        let result = unguardedAggregate(readings, kind: kind)
        let numbers = [result.value, result.numerator, result.denominator].compactMap { $0 }
        return numbers.allSatisfy(\.isFinite) ? result : outOfRange
    }

    private static func unguardedAggregate(_ readings: [SummaryInput.Reading], kind: IndicatorKind) -> Aggregate {
        switch kind {
        case .ratio:
            var numerator = 0.0
            var denominator = 0.0
            for reading in readings {
                if case .ratio(let n, let d) = reading.value {
                    numerator += n
                    denominator += d
                }
            }
            // The county's rate is Σnumerator / Σdenominator, never the mean of school rates.
            return Aggregate(
                value: denominator > 0 ? numerator / denominator * 100 : nil,
                numerator: numerator,
                denominator: denominator,
                schools: readings.count
            )
        case .count, .amount:
            return Aggregate(value: readings.reduce(0) { $0 + number($1.value) }, numerator: nil, denominator: nil, schools: readings.count)
        case .boolean:
            let reached = readings.filter { $0.value == .flag(true) }.count
            return Aggregate(value: Double(reached), numerator: nil, denominator: nil, schools: readings.count)
        case .coefficientOfVariation:
            return Aggregate(
                value: coefficientOfVariation(readings.map { number($0.value) }),
                numerator: nil,
                denominator: nil,
                schools: readings.count
            )
        case .trend:
            return Aggregate(
                value: readings.reduce(0) { $0 + number($1.value) } / Double(readings.count),
                numerator: nil,
                denominator: nil,
                schools: readings.count
            )
        }
    }

    static func number(_ value: IndicatorValue) -> Double {
        switch value {
        case .number(let number): number
        case .flag(let flag): flag ? 1 : 0
        case .ratio(let n, let d): d > 0 ? n / d * 100 : 0
        }
    }

    /// 校际差异系数: population standard deviation over mean; nil for fewer than two schools or a zero mean.
    public static func coefficientOfVariation(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        guard mean != 0 else { return nil }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return variance.squareRoot() / mean
    }

    static func standing(of county: Aggregate, against indicator: SummaryInput.Indicator) -> IndicatorSummary.Standing {
        if county.outOfRange { return .outOfRange }
        guard let target = indicator.target, indicator.kind != .trend else { return .noTarget }
        guard let value = county.value else { return .noData }
        let met: Bool =
            switch indicator.comparison {
            case "<=": value <= target
            case "<": value < target
            case ">": value > target
            // "=" targets are amounts to reach (新建2所): reaching them is on track.
            default: value >= target
            }
        return met ? .onTrack : .behind
    }
}
