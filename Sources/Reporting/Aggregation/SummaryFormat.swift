import Foundation

/// Renders a bureau summary for people: a text table, or CSV that Excel opens with Chinese intact.
public enum SummaryFormat {
    /// One CSV cell: text a person or a school typed, or a number this code formatted.
    enum Cell: ExpressibleByStringLiteral {
        case text(String)
        case number(String)

        init(stringLiteral value: String) { self = .text(value) }
    }

    /// CSV in UTF-8 with a byte-order mark (Excel needs it to read Chinese), one row per indicator
    /// and area (county, township, school), then one row per measure. Text cells are neutralised
    /// against formula injection (see `field(_:)`); numbers stay numbers.
    public static func csv(_ summary: BureauSummary) -> String {
        let header: [Cell] = [
            "section", "level", "area", "id", "name", "value", "numerator", "denominator", "unit", "target", "comparison",
            "standing", "schools_reporting", "assigned", "reported", "submitted", "approved", "late", "missing",
        ]
        var rows = [header]
        for indicator in summary.indicators {
            func row(_ level: String, _ area: String, _ aggregate: Aggregate, standing: String) -> [Cell] {
                [
                    "indicator", .text(level), .text(area), .text(indicator.id), .text(indicator.name),
                    aggregate.outOfRange ? "out of range" : .number(number(aggregate.value)), .number(number(aggregate.numerator)),
                    .number(number(aggregate.denominator)), .text(indicator.unit ?? ""), .text(indicator.target ?? ""),
                    .text(indicator.comparison), .text(standing), .number(String(aggregate.schools)), "", "", "", "", "", "",
                ]
            }
            rows.append(row("county", "全区/县", indicator.county, standing: indicator.standing.rawValue))
            rows += indicator.townships.map { row("township", $0.name, $0.aggregate, standing: "") }
            rows += indicator.schools.map { row("school", $0.name, $0.aggregate, standing: "") }
        }
        for measure in summary.measures {
            rows.append([
                "measure", "county", "", .text(measure.id), .text(measure.title), "", "", "", "", "", "", "", "",
                .number(String(measure.assigned)), .number(String(measure.reported)), .number(String(measure.submitted)),
                .number(String(measure.approved)), .text(measure.late.joined(separator: " ")), .text(measure.missing.joined(separator: " ")),
            ])
        }
        return "\u{FEFF}" + rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    /// A plain-text table for a terminal.
    public static func table(_ summary: BureauSummary) -> String {
        var lines = ["期间 \(summary.period)\(summary.due.map { "，截止 \($0)" } ?? "")，统计日 \(summary.asOf)", ""]
        lines.append("指标")
        for indicator in summary.indicators {
            let value = indicator.county.outOfRange ? "超出范围" : indicator.county.value.map { format($0, kind: indicator.kind) } ?? "—"
            let target = indicator.target.map { "目标 \(indicator.comparison) \($0)\(indicator.unit ?? "")" } ?? "无目标"
            let ratio = indicator.county.numerator.map { "  (\(number($0))/\(number(indicator.county.denominator)))" } ?? ""
            lines.append(
                "  \(indicator.id)  \(indicator.name): \(value)\(indicator.kind == .ratio ? "%" : "")\(ratio)  \(target)  [\(label(indicator.standing))]  \(indicator.county.schools) 校填报"
            )
            for township in indicator.townships {
                let value =
                    township.aggregate.outOfRange
                    ? "超出范围" : township.aggregate.value.map { format($0, kind: indicator.kind) + (indicator.kind == .ratio ? "%" : "") } ?? "—"
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
        case .outOfRange: "超出范围"
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

    /// A cell as CSV: text that a spreadsheet would read as a formula (it begins with `=`, `+`,
    /// `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP's CSV-injection guidance
    /// says, so Excel shows it instead of evaluating it; then RFC 4180 quoting. Numbers we formatted
    /// are left as they are, so `-3` stays a number.
    static func field(_ cell: Cell) -> String {
        var text: String
        switch cell {
        case .number(let number): text = number
        case .text(let value):
            text = value
            if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) { text = "'" + value }
        }
        return text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
