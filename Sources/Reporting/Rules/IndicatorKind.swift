import Foundation
import SyncCore

/// How schools report an indicator, and so how the bureau aggregates it.
public enum IndicatorKind: String, Sendable, CaseIterable, Codable {
    /// A rate: schools report numerator and denominator; the county's rate is Σnumerator / Σdenominator.
    case ratio
    /// A count (schools, people, times…): summed.
    case count
    /// Money: summed.
    case amount
    /// A milestone: reached or not.
    case boolean
    /// An inter-school coefficient of variation (校际差异系数): schools report their raw value; the
    /// bureau computes std / mean across schools.
    case coefficientOfVariation = "cv"
    /// A direction only (逐年下降…): values are shown, not compared with a target.
    case trend

    /// The values a school can plausibly report for an indicator of this kind (PROTOCOL.md §2.5
    /// "Indicator values"): a school has no 10^307 pupils, and bounds keep every sum, mean and
    /// variance the bureau computes over any number of schools finite. For a rate the range holds
    /// the numerator and the denominator alike, and the denominator must be at least 1.
    public var plausibleRange: ClosedRange<Double> {
        switch self {
        // People, places, classes: no county has ten million of them in one school.
        case .ratio, .count: 0...10_000_000
        // Yuan: a trillion is far beyond any county's education budget.
        case .amount: 0...1_000_000_000_000
        // Raw values of a spread or a trend may fall as well as rise.
        case .coefficientOfVariation, .trend: -1_000_000_000_000...1_000_000_000_000
        case .boolean: 0...1
        }
    }

    /// Derives the reporting kind from what the document says about the indicator.
    init(_ indicator: CatalogDocument.Indicator) {
        let unit = indicator.unit ?? ""
        if indicator.kind == "milestone" {
            self = .boolean
        } else if unit.contains("系数") || indicator.name.contains("差异系数") || indicator.name.contains("差异率") {
            self = .coefficientOfVariation
        } else if indicator.kind == "trend" || indicator.kind == "relative" {
            self = .trend
        } else if unit.hasPrefix("%") {
            self = .ratio
        } else if unit.contains("元") {
            self = .amount
        } else {
            self = .count
        }
    }
}

/// A school's reported value of one indicator: `{"value": x}` or `{"numerator": n, "denominator": d}`,
/// one field so the pair never splits (DESIGN §4 invariant 7).
///
/// The shapes per ``IndicatorKind`` are DOMAIN-PROTOCOL.md §7.3; numbers are finite.
public enum IndicatorValue: Sendable, Hashable {
    /// `{"value": x}`: a count, an amount (in the indicator's unit), a school's raw value of a
    /// coefficient of variation, or a trend.
    case number(Double)
    /// `{"value": true}` or `{"value": false}`: a milestone reached or not.
    case flag(Bool)
    /// `{"numerator": n, "denominator": d}`: a rate, d > 0; the percentage is n / d × 100.
    case ratio(numerator: Double, denominator: Double)

    /// Parses the JSON text of a value, checking it against the indicator's kind and, unless
    /// `checkingBounds` is false, against the kind's ``IndicatorKind/plausibleRange``.
    ///
    /// Pushes are checked with bounds; the bureau's aggregation reads stored values without them,
    /// so a value stored before the bounds existed is shown as out of range instead of vanishing.
    ///
    /// For example:
    ///
    /// ```swift
    /// IndicatorValue.parse(#"{"denominator":1000,"numerator":1126}"#, kind: .ratio)  // .success(.ratio(1126, 1000)): 112.6%
    /// IndicatorValue.parse(#"{"value":1}"#, kind: .boolean)                          // .failure: a milestone is true or false
    /// ```
    ///
    /// - Returns: the value, or a ``RuleViolation`` with code `validation` saying which rule of
    ///   DOMAIN-PROTOCOL.md §7.3 the text breaks: not one JSON object, a repeated key, another
    ///   kind's shape, a negative count or amount, a denominator not above 0, or out of range.
    public static func parse(_ text: String, kind: IndicatorKind, checkingBounds: Bool = true) -> Result<IndicatorValue, RuleViolation> {
        let parsed = parseShape(text, kind: kind)
        guard checkingBounds, case .success(let value) = parsed, !value.isPlausible(for: kind) else { return parsed }
        let range = kind.plausibleRange
        return .failure(
            RuleViolation(
                "数值超出合理范围：应在 \(Self.plain(range.lowerBound)) 到 \(Self.plain(range.upperBound)) 之间\(kind == .ratio ? "，分母至少为1" : "")（\(value.wireText) is not plausible for a \(kind.rawValue) indicator: report numbers from \(Self.plain(range.lowerBound)) to \(Self.plain(range.upperBound))\(kind == .ratio ? ", a denominator of at least 1" : "")）"
            )
        )
    }

    /// Whether every number of the value lies in the kind's plausible range.
    public func isPlausible(for kind: IndicatorKind) -> Bool {
        let range = kind.plausibleRange
        switch self {
        case .number(let number): return range.contains(number)
        case .flag: return true
        // A denominator counts people or places: below 1 it would turn a numerator of 1 into any rate.
        case .ratio(let numerator, let denominator): return range.contains(numerator) && denominator >= 1 && range.contains(denominator)
        }
    }

    /// The value as a school would write it, for messages.
    var wireText: String {
        switch self {
        case .number(let number): "{\"value\": \(number)}"
        case .flag(let flag): "{\"value\": \(flag)}"
        case .ratio(let numerator, let denominator): "{\"numerator\": \(numerator), \"denominator\": \(denominator)}"
        }
    }

    /// A number as people read it: `1126`, `2.5` (a whole number without a decimal point).
    public static func plain(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    private static func parseShape(_ text: String, kind: IndicatorKind) -> Result<IndicatorValue, RuleViolation> {
        // Read as strictly as the wire: `{"value":5,"value":1e300}` means 5 to one reader and
        // 1e300 to another, so a duplicate key is refused rather than resolved either way.
        guard (try? CanonicalJSON.strictObjectKeys(in: Data(text.utf8))) != nil else {
            return .failure(RuleViolation("指标值格式不对（value must be one JSON object without repeated keys, not \(text.prefix(60))）"))
        }
        guard let raw = try? JSONDecoder().decode(Raw.self, from: Data(text.utf8)) else {
            return .failure(RuleViolation("指标值格式不对（value must be {\"value\": …} or {\"numerator\": …, \"denominator\": …}, not \(text.prefix(60))）"))
        }
        switch raw {
        case .ratio(let n, let d):
            guard kind == .ratio else { return .failure(RuleViolation("该指标不是比率，请填一个数（this indicator is a \(kind.rawValue), not a rate: report {\"value\": …}）")) }
            guard d > 0 else { return .failure(RuleViolation("分母不能为0（the denominator must be greater than 0）")) }
            guard n >= 0 else { return .failure(RuleViolation("分子不能为负数（the numerator cannot be negative）")) }
            return .success(.ratio(numerator: n, denominator: d))
        case .flag(let flag):
            guard kind == .boolean else { return .failure(RuleViolation("该指标需要填一个数（this indicator needs a number, not true/false）")) }
            return .success(.flag(flag))
        case .number(let number):
            switch kind {
            case .boolean: return .failure(RuleViolation("该指标只填“是”或“否”（this milestone is reported as true or false）"))
            case .ratio: return .failure(RuleViolation("该指标是比率，请填分子和分母（this indicator is a rate: report numerator and denominator）"))
            case .count where number < 0, .amount where number < 0: return .failure(RuleViolation("不能为负数（a \(kind.rawValue) cannot be negative）"))
            default: return .success(.number(number))
            }
        }
    }

    /// The JSON shapes, decoded strictly: exactly the keys of one form, finite numbers.
    private enum Raw: Decodable {
        case number(Double)
        case flag(Bool)
        case ratio(Double, Double)

        enum Keys: String, CodingKey { case value, numerator, denominator }

        /// Any key, so unexpected ones are seen instead of skipped.
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            let keys = Set(try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue))
            if keys == ["numerator", "denominator"] {
                let numerator = try container.decode(Double.self, forKey: .numerator)
                let denominator = try container.decode(Double.self, forKey: .denominator)
                guard numerator.isFinite, denominator.isFinite else {
                    throw DecodingError.dataCorruptedError(forKey: .numerator, in: container, debugDescription: "not finite")
                }
                self = .ratio(numerator, denominator)
            } else if keys == ["value"] {
                if let flag = try? container.decode(Bool.self, forKey: .value) {
                    self = .flag(flag)
                } else {
                    let number = try container.decode(Double.self, forKey: .value)
                    guard number.isFinite else {
                        throw DecodingError.dataCorruptedError(forKey: .value, in: container, debugDescription: "not finite")
                    }
                    self = .number(number)
                }
            } else {
                throw DecodingError.dataCorruptedError(forKey: .value, in: container, debugDescription: "unexpected keys \(keys.sorted())")
            }
        }
    }
}

/// A domain rule a record breaks, in words for the school.
///
/// The server answers it as the record's `rejected` result (PROTOCOL.md §6.4); a client refuses the
/// same write locally with the same code and message (PROTOCOL.md §11).
public struct RuleViolation: Error, Sendable, Hashable {
    /// The reject code of DOMAIN-PROTOCOL.md §9: `validation`, `scope_mismatch`, `unknown_measure`,
    /// `unknown_indicator`, `not_assigned` or `report_locked`.
    public var code: RejectCode
    /// What is wrong and what to do, naming the field or record; shown to the user as it is.
    public var message: String

    /// A violation with `message`; `code` defaults to `validation`.
    public init(_ message: String, code: RejectCode = .validation) {
        self.code = code
        self.message = message
    }
}
