import Foundation

/// Renders a bureau summary for people: a text table, or CSV that Excel opens with Chinese intact.
public enum SummaryFormat {
    /// CSV in UTF-8 with a byte-order mark (Excel needs it to read Chinese), one row per indicator
    /// and area (county, township, school), then one row per measure.
    public static func csv(_ summary: BureauSummary) -> String {
        var rows = [
            [
                "section", "level", "area", "id", "name", "value", "numerator", "denominator", "unit", "target", "comparison",
                "standing", "schools_reporting", "assigned", "reported", "submitted", "approved", "late", "missing",
            ]
        ]
        for indicator in summary.indicators {
            func row(_ level: String, _ area: String, _ aggregate: Aggregate, standing: String) -> [String] {
                [
                    "indicator", level, area, indicator.id, indicator.name, number(aggregate.value), number(aggregate.numerator),
                    number(aggregate.denominator), indicator.unit ?? "", indicator.target ?? "", indicator.comparison, standing,
                    String(aggregate.schools), "", "", "", "", "", "",
                ]
            }
            rows.append(row("county", "全区/县", indicator.county, standing: indicator.standing.rawValue))
            rows += indicator.townships.map { row("township", $0.name, $0.aggregate, standing: "") }
            rows += indicator.schools.map { row("school", $0.name, $0.aggregate, standing: "") }
        }
        for measure in summary.measures {
            rows.append([
                "measure", "county", "", measure.id, measure.title, "", "", "", "", "", "", "", "", String(measure.assigned),
                String(measure.reported), String(measure.submitted), String(measure.approved), measure.late.joined(separator: " "),
                measure.missing.joined(separator: " "),
            ])
        }
        return "\u{FEFF}" + rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    /// A plain-text table for a terminal.
    public static func table(_ summary: BureauSummary) -> String {
        var lines = ["期间 \(summary.period)\(summary.due.map { "，截止 \($0)" } ?? "")，统计日 \(summary.asOf)", ""]
        lines.append("指标")
        for indicator in summary.indicators {
            let value = indicator.county.value.map { format($0, kind: indicator.kind) } ?? "—"
            let target = indicator.target.map { "目标 \(indicator.comparison) \($0)\(indicator.unit ?? "")" } ?? "无目标"
            let ratio = indicator.county.numerator.map { "  (\(number($0))/\(number(indicator.county.denominator)))" } ?? ""
            lines.append(
                "  \(indicator.id)  \(indicator.name): \(value)\(indicator.kind == .ratio ? "%" : "")\(ratio)  \(target)  [\(label(indicator.standing))]  \(indicator.county.schools) 校填报"
            )
            for township in indicator.townships {
                let value = township.aggregate.value.map { format($0, kind: indicator.kind) + (indicator.kind == .ratio ? "%" : "") } ?? "—"
                lines.append("      \(township.name): \(value)")
            }
        }
        lines.append("")
        lines.append("措施                                 分配  已填  已提交  已审核  逾期  未填")
        for measure in summary.measures {
            lines.append(
                "  \(measure.id)  \(measure.title.prefix(16))  \(measure.assigned)  \(measure.reported)  \(measure.submitted)  \(measure.approved)  \(measure.late.count)  \(measure.missing.count)"
            )
        }
        if summary.conflicted > 0 { lines.append("\n\(summary.conflicted) 条记录存在冲突，未计入统计（等待管理员处理）") }
        return lines.joined(separator: "\n")
    }

    static func label(_ standing: IndicatorSummary.Standing) -> String {
        switch standing {
        case .onTrack: "达标"
        case .behind: "未达标"
        case .noTarget: "无目标"
        case .noData: "无数据"
        }
    }

    static func format(_ value: Double, kind: IndicatorKind) -> String {
        switch kind {
        case .ratio, .coefficientOfVariation, .trend: String(format: kind == .coefficientOfVariation ? "%.3f" : "%.1f", value)
        default: number(value)
        }
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "" }
        return value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4f", value)
    }

    /// RFC 4180 quoting.
    static func field(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
