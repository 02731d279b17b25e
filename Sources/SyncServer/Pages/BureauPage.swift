import Foundation
import Reporting

/// What the bureau page shows, with every number already formatted.
struct BureauPage {
    struct Indicator {
        let id: String
        let name: String
        let target: String
        let value: String
        let ratio: String?
        let standing: String
        let standingLabel: String
        let schools: Int
        /// How much of the bar is filled, 0–100.
        let fill: Int
        /// Where the target mark sits, 0–100; nil without a target.
        let marker: Int?
        let townships: [Township]
        /// Stored, not computed: Mustache reads values through reflection, which sees stored properties only.
        let hasTownships: Bool
    }

    struct Township {
        let name: String
        let value: String
        let schools: Int
    }

    struct Measure {
        let id: String
        let title: String
        let assigned: Int
        let reported: Int
        let submitted: Int
        let approved: Int
        let late: Int
        let missing: Int
    }

    let title: String
    let period: String
    let due: String
    let asOf: String
    let who: String
    let csrf: String
    let conflicted: Int?
    let indicators: [Indicator]
    let measures: [Measure]

    init(summary: BureauSummary, who: String, csrf: String) {
        title = "\(summary.period) 指标完成情况"
        period = summary.period
        due = summary.due ?? "未设"
        asOf = summary.asOf
        self.who = who
        self.csrf = csrf
        conflicted = summary.conflicted > 0 ? summary.conflicted : nil
        indicators = summary.indicators.map { indicator in
            let unit = indicator.kind == .ratio ? "%" : (indicator.unit ?? "")
            let value = indicator.county.value.flatMap { $0.isFinite ? $0 : nil }
            // "inf" and "nan" parse as Doubles; a target that is not finite draws no mark.
            let target = indicator.target.flatMap { Double($0.replacingOccurrences(of: "约", with: "")) }.flatMap { $0.isFinite ? $0 : nil }
            // The bar spans the larger of value and target, so both fit and the mark shows the gap.
            let span = max(value ?? 0, target ?? 0, 1e-9)
            return Indicator(
                id: indicator.id,
                name: indicator.name,
                target: indicator.target.map { "\(indicator.comparison) \($0)\(unit)" } ?? "无",
                value: indicator.county.outOfRange ? "超出范围 out of range" : value.map { Self.format($0, kind: indicator.kind) + unit } ?? "—",
                ratio: indicator.county.numerator.map { "\(Self.plain($0)) / \(Self.plain(indicator.county.denominator ?? 0))" },
                standing: indicator.standing.rawValue,
                standingLabel: Self.label(indicator.standing),
                schools: indicator.county.schools,
                fill: Self.percent(value ?? 0, of: span),
                marker: target.map { Self.percent($0, of: span) },
                townships: indicator.townships.map {
                    Township(
                        name: $0.name,
                        value: $0.aggregate.outOfRange ? "超出范围 out of range" : $0.aggregate.value.map { Self.format($0, kind: indicator.kind) + unit } ?? "—",
                        schools: $0.aggregate.schools
                    )
                },
                hasTownships: !indicator.townships.isEmpty
            )
        }
        measures = summary.measures.map {
            Measure(
                id: $0.id,
                title: $0.title,
                assigned: $0.assigned,
                reported: $0.reported,
                submitted: $0.submitted,
                approved: $0.approved,
                late: $0.late.count,
                missing: $0.missing.count
            )
        }
    }

    /// `part / whole` as a whole percentage from 0 to 100, for any doubles (a CSS width): never traps.
    static func percent(_ part: Double, of whole: Double) -> Int {
        let ratio = part / whole * 100
        guard ratio.isFinite else { return ratio == .infinity ? 100 : 0 }
        return Int(min(max(ratio, 0), 100).rounded())
    }

    static func format(_ value: Double, kind: IndicatorKind) -> String {
        switch kind {
        case .ratio, .trend: String(format: "%.1f", value)
        case .coefficientOfVariation: String(format: "%.3f", value)
        default: plain(value)
        }
    }

    static func plain(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
    }

    static func label(_ standing: IndicatorSummary.Standing) -> String {
        switch standing {
        case .onTrack: "达标 on track"
        case .behind: "未达标 behind"
        case .noTarget: "无目标"
        case .noData: "无数据"
        case .outOfRange: "超出范围 out of range"
        }
    }
}
