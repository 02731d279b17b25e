import Reporting
import Testing

struct IndicatorValueTests {
    @Test(arguments: [
        (#"{"numerator":1126,"denominator":1000}"#, IndicatorKind.ratio, IndicatorValue.ratio(numerator: 1126, denominator: 1000)),
        (#"{"value":2}"#, .count, .number(2)),
        (#"{"value":0}"#, .count, .number(0)),
        (#"{"value":12.5}"#, .amount, .number(12.5)),
        (#"{"value":true}"#, .boolean, .flag(true)),
        (#"{"value":0.12}"#, .coefficientOfVariation, .number(0.12)),
        (#"{"value":-0.5}"#, .trend, .number(-0.5)),
    ])
    func validValuesParse(text: String, kind: IndicatorKind, expected: IndicatorValue) throws {
        #expect(try IndicatorValue.parse(text, kind: kind).get() == expected)
    }

    @Test(arguments: [
        (#"{"numerator":5,"denominator":0}"#, IndicatorKind.ratio, "denominator"),
        (#"{"numerator":-1,"denominator":10}"#, .ratio, "negative"),
        (#"{"value":95}"#, .ratio, "numerator and denominator"),
        (#"{"value":-3}"#, .count, "negative"),
        (#"{"value":-3}"#, .amount, "negative"),
        (#"{"value":1}"#, .boolean, "true or false"),
        (#"{"value":true}"#, .count, "not true/false"),
        (#"{"numerator":1,"denominator":2}"#, .count, "not a rate"),
        (#"{"value":"12"}"#, .count, "value must be"),
        (#"{"value":1,"note":"x"}"#, .count, "value must be"),
        (#"[1]"#, .count, "value must be"),
    ])
    func invalidValuesSayWhy(text: String, kind: IndicatorKind, reason: String) {
        guard case .failure(let violation) = IndicatorValue.parse(text, kind: kind) else {
            Issue.record("\(text) accepted as \(kind)")
            return
        }
        #expect(violation.message.contains(reason), "\(violation.message)")
    }
}
