import Reporting
import Testing

/// What a person types becomes one spelling per value, checked by the server's own rules.
@Suite struct IndicatorInputTests {
    @Test(arguments: [
        ("1126", "1126"), (" 1126.0 ", "1126"), ("1e3", "1000"), ("2.50", "2.5"), ("-3", "-3"), ("+3", "3"), ("0.1", "0.1"),
    ])
    func numbersHaveOneSpelling(typed: String, written: String) {
        #expect(IndicatorInput.canonicalNumber(typed) == written)
    }

    @Test(arguments: ["", " ", "0x10", "一千", "1,000", "１２", "nan", "inf", "1e999", String(repeating: "9", count: 70), "1/2"])
    func notNumbersAreRefused(typed: String) {
        #expect(IndicatorInput.canonicalNumber(typed) == nil)
    }

    @Test func aRateIsWrittenWithSortedKeysAndCheckedLikeTheServer() throws {
        #expect(try IndicatorInput.ratio(numerator: "1126", denominator: "1000").value(for: .ratio).get() == #"{"denominator":1000,"numerator":1126}"#)
        guard case .failure(let zero) = IndicatorInput.ratio(numerator: "5", denominator: "0").value(for: .ratio) else {
            Issue.record("a zero denominator passed")
            return
        }
        #expect(zero.message.hasPrefix("分母不能为0"))
        guard case .failure(let blank) = IndicatorInput.ratio(numerator: "5", denominator: "").value(for: .ratio) else {
            Issue.record("a blank denominator passed")
            return
        }
        #expect(blank.message.contains("请填写分母"))
        guard case .failure(let huge) = IndicatorInput.ratio(numerator: "1e308", denominator: "1e-308").value(for: .ratio) else {
            Issue.record("an implausible rate passed")
            return
        }
        #expect(huge.message.hasPrefix("数值超出合理范围"))
    }

    @Test func kindsAreChecked() throws {
        #expect(try IndicatorInput.number("2").value(for: .count).get() == #"{"value":2}"#)
        #expect(try IndicatorInput.flag(true).value(for: .boolean).get() == #"{"value":true}"#)
        #expect((try? IndicatorInput.number("-1").value(for: .count).get()) == nil)
        #expect((try? IndicatorInput.number("18446744073709551615").value(for: .count).get()) == nil)
        #expect((try? IndicatorInput.flag(true).value(for: .count).get()) == nil)
        #expect((try? IndicatorInput.number("1").value(for: .ratio).get()) == nil)
        #expect(try IndicatorInput.number("-0.2").value(for: .trend).get() == #"{"value":-0.2}"#)
    }

    @Test func thePercentageShownBesideARate() {
        #expect(IndicatorInput.percentage(numerator: "1126", denominator: "1000") == "112.6%")
        #expect(IndicatorInput.percentage(numerator: "1", denominator: "3") == "33.3%")
        #expect(IndicatorInput.percentage(numerator: "1", denominator: "0") == nil)
        #expect(IndicatorInput.percentage(numerator: "x", denominator: "3") == nil)
        #expect(IndicatorInput.percentage(numerator: "1e300", denominator: "1e-300") == nil)
    }
}
