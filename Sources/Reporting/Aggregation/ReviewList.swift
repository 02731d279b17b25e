/// The bureau's list of a period's reports to review: every assigned school and measure, and every
/// report of the period, with its workflow and whether it is late or missing — late and missing as
/// ``Aggregator/summarize(_:)`` calls them, so the list and the summary never disagree.
///
/// For example:
///
/// ```swift
/// let input = SummaryInput(records: states, period: "2025-S1", asOf: "2025-07-20")
/// let submitted = ReviewList(input).rows(matching: .init(state: .submitted))
/// ```
public struct ReviewList: Sendable {
    /// What a row's report has come to, as the list filters it.
    public enum State: String, Sendable, CaseIterable, Hashable {
        /// The school is still writing it (`workflow` `draft`).
        case draft
        /// Submitted, waiting for the bureau.
        case submitted
        /// Returned to the school with a comment.
        case returned
        /// Approved (and locked for the school).
        case approved
        /// Assigned and not submitted or approved by the period's due date (the summary's `late`).
        case late
        /// Assigned and without any report (the summary's `missing`).
        case missing
    }

    /// One school's report on one measure (or its absence).
    public struct Row: Sendable, Hashable {
        /// The school id.
        public var school: String
        /// The school's name (its id when the catalog has none).
        public var schoolName: String
        /// The school's township (（未登记学校） when the catalog does not know the school).
        public var township: String
        /// The measure id.
        public var measure: String
        /// The measure's title (its id when the catalog has none).
        public var measureTitle: String
        /// The report's settled workflow; `nil` when there is no report, none is set, or it is in conflict.
        public var workflow: String?
        /// Whether there is a report at all.
        public var hasReport: Bool
        /// Whether the measure is assigned to the school.
        public var isAssigned: Bool
        /// Late, as the summary says.
        public var isLate: Bool
        /// Missing, as the summary says.
        public var isMissing: Bool

        /// Whether the row is in `state`.
        public func isIn(_ state: State) -> Bool {
            switch state {
            case .late: isLate
            case .missing: isMissing
            case .draft, .submitted, .returned, .approved: workflow == state.rawValue
            }
        }
    }

    /// Which rows to show; a `nil` criterion lets every row through. Ids and names compare by bytes.
    public struct Filter: Sendable, Hashable {
        /// Only this measure id.
        public var measure: String?
        /// Only this school id.
        public var school: String?
        /// Only schools of this township.
        public var township: String?
        /// Only rows in this state.
        public var state: State?

        /// Makes a filter.
        public init(measure: String? = nil, school: String? = nil, township: String? = nil, state: State? = nil) {
            self.measure = measure
            self.school = school
            self.township = township
            self.state = state
        }
    }

    /// Every row of the period, ordered by measure id, then school id.
    public let rows: [Row]

    /// The list of `input`'s period.
    public init(_ input: SummaryInput) {
        let summary = Aggregator.summarize(input)
        let schools = Dictionary(input.schools.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let progress = Dictionary(summary.measures.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var reports: [[String]: SummaryInput.Report] = [:]
        for report in input.reports where reports[[report.school, report.measure]] == nil { reports[[report.school, report.measure]] = report }
        let pairs = input.assignments.union(reports.keys)
        rows = pairs.compactMap { pair -> Row? in
            guard pair.count == 2 else { return nil }
            let (school, measure) = (pair[0], pair[1])
            let report = reports[pair]
            return Row(
                school: school,
                schoolName: schools[school]?.name ?? school,
                township: schools[school]?.township ?? "（未登记学校）",
                measure: measure,
                measureTitle: input.measures[measure] ?? measure,
                workflow: report?.workflow,
                hasReport: report != nil,
                isAssigned: input.assignments.contains(pair),
                isLate: progress[measure]?.late.contains(school) ?? false,
                isMissing: progress[measure]?.missing.contains(school) ?? false
            )
        }
        .sorted { ($0.measure, $0.school) < ($1.measure, $1.school) }
    }

    /// The rows that pass `filter`, in order.
    public func rows(matching filter: Filter) -> [Row] {
        rows.filter { row in
            (filter.measure.map { RecordRules.sameBytes($0, row.measure) } ?? true)
                && (filter.school.map { RecordRules.sameBytes($0, row.school) } ?? true)
                && (filter.township.map { RecordRules.sameBytes($0, row.township) } ?? true)
                && (filter.state.map(row.isIn) ?? true)
        }
    }
}
