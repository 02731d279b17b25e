import Foundation
import SyncCore

/// What a person typed for one indicator — on a form or on the command line — before it becomes
/// the JSON text of an indicator value (DOMAIN-PROTOCOL.md §7.3).
///
/// ``value(for:)`` turns it into that text with the same rules the server applies
/// (``IndicatorValue/parse(_:kind:checkingBounds:)``), so a school sees "分母不能为0" while it types,
/// not after a sync. The CLI's `--value`/`--ratio` and the workbench's form share it.
public enum IndicatorInput: Sendable, Hashable {
    /// A count, an amount, a school's raw value of a coefficient of variation or a trend: the number as typed.
    case number(String)
    /// A rate: numerator and denominator as typed.
    case ratio(numerator: String, denominator: String)
    /// A milestone: reached or not.
    case flag(Bool)

    /// The JSON text of the value, in one spelling per value (``canonicalNumber(_:)``), or why
    /// it cannot be reported for an indicator of `kind`.
    ///
    /// - Returns: `{"value":…}` or `{"denominator":…,"numerator":…}` (keys sorted, as every device
    ///   writes them), or a ``RuleViolation`` (code `validation`) whose message is Chinese first.
    public func value(for kind: IndicatorKind) -> Result<String, RuleViolation> {
        let text: String
        switch self {
        case .flag(let flag):
            text = #"{"value":\#(flag)}"#
        case .number(let typed):
            guard let number = Self.canonicalNumber(typed) else { return .failure(Self.notANumber(typed)) }
            text = #"{"value":\#(number)}"#
        case .ratio(let numeratorText, let denominatorText):
            guard let numerator = Self.canonicalNumber(numeratorText) else { return .failure(Self.notANumber(numeratorText, what: "分子")) }
            guard let denominator = Self.canonicalNumber(denominatorText) else {
                return .failure(Self.notANumber(denominatorText, what: "分母"))
            }
            text = #"{"denominator":\#(denominator),"numerator":\#(numerator)}"#
        }
        return IndicatorValue.parse(text, kind: kind).map { _ in text }
    }

    /// A number as JSON writes it, one spelling per value: `2`, `2.5`, `1e+20` — never `0x10`,
    /// `+3`, `2.50` or `7 ` — after trimming spaces around it. Values compare by their bytes
    /// (PROTOCOL.md §2.2), so two devices entering the same number must write the same text.
    ///
    /// - Returns: the spelling, or `nil` for anything that is not a finite decimal number in ASCII digits.
    public static func canonicalNumber(_ typed: String) -> String? {
        let text = typed.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.utf8.count <= 64,
            text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "-.eE+".utf8.contains($0) })
        else {
            return nil
        }
        if let whole = Int64(text) { return "\(whole)" }
        guard let number = Double(text), number.isFinite else { return nil }
        if number == number.rounded(), abs(number) < 9.007_199_254_740_992e15 { return "\(Int64(number))" }
        return "\(number)"
    }

    /// The percentage a rate shows, `numerator / denominator × 100`, rounded to one decimal, or
    /// `nil` when either is not a number or the denominator is not above 0.
    public static func percentage(numerator: String, denominator: String) -> String? {
        guard let n = canonicalNumber(numerator).flatMap(Double.init), let d = canonicalNumber(denominator).flatMap(Double.init), d > 0 else {
            return nil
        }
        let tenths = (n / d * 1000).rounded()
        guard tenths.isFinite, abs(tenths) < 1e15 else { return nil }
        let whole = Int64(tenths)
        return "\(whole / 10).\(abs(whole % 10))%"
    }

    private static func notANumber(_ typed: String, what: String = "数值") -> RuleViolation {
        let shown = typed.count > 20 ? String(typed.prefix(20)) + "…" : typed
        return RuleViolation(typed.trimmingCharacters(in: .whitespaces).isEmpty ? "请填写\(what)（a number is needed）" : "\(what)「\(shown)」不是数字（not a number）")
    }
}
