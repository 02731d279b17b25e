import Foundation
import Testing

@testable import Reporting

/// Aggregation against numbers worked out by hand.
struct AggregatorTests {
    typealias Reading = SummaryInput.Reading

    let schools = [
        SummaryInput.School(id: "a", name: "甲校", township: "朝阳乡"),
        SummaryInput.School(id: "b", name: "乙校", township: "朝阳乡"),
        SummaryInput.School(id: "c", name: "丙校", township: "七星街道"),
    ]

    func indicator(_ id: String, kind: IndicatorKind, target: String?, comparison: String = ">=", unit: String? = nil) -> SummaryInput.Indicator {
        SummaryInput.Indicator(
            id: id,
            measureID: "m1",
            name: id,
            unit: unit,
            kind: kind,
            target: target.flatMap(Double.init),
            targetText: target,
            comparison: comparison,
            deadline: "2026",
            approx: false
        )
    }

    func input(
        indicators: [SummaryInput.Indicator],
        readings: [Reading],
        reports: [SummaryInput.Report] = [],
        due: String? = "2025-07-15",
        asOf: String = "2025-07-20"
    ) -> SummaryInput {
        SummaryInput(
            period: "2025-S1",
            due: due,
            asOf: asOf,
            schools: schools,
            measures: ["m1": "新建2所公办幼儿园"],
            indicators: indicators,
            assignments: [["a", "m1"], ["b", "m1"], ["c", "m1"]],
            reports: reports,
            readings: readings
        )
    }

    /// 甲 1126/1000, 乙 90/100, 丙 450/500: county Σ = 1666/1600 = 104.125% — not the mean of
    /// 112.6, 90 and 90 (97.53%). Rates above 100% are legal. 朝阳乡 = 1216/1100 = 110.5454…%.
    @Test func ratesAreSumsOfNumeratorsOverSumsOfDenominators() throws {
        let summary = Aggregator.summarize(
            input(
                indicators: [indicator("rate", kind: .ratio, target: "100", unit: "%")],
                readings: [
                    Reading(school: "a", indicator: "rate", value: .ratio(numerator: 1126, denominator: 1000)),
                    Reading(school: "b", indicator: "rate", value: .ratio(numerator: 90, denominator: 100)),
                    Reading(school: "c", indicator: "rate", value: .ratio(numerator: 450, denominator: 500)),
                ]
            )
        )
        let rate = try #require(summary.indicators.first)
        #expect(rate.county.numerator == 1666)
        #expect(rate.county.denominator == 1600)
        #expect(abs((rate.county.value ?? 0) - 104.125) < 1e-9)
        #expect(rate.standing == .onTrack)
        let chaoyang = try #require(rate.townships.first { $0.name == "朝阳乡" })
        #expect(abs((chaoyang.aggregate.value ?? 0) - 1216.0 / 1100.0 * 100) < 1e-9)
        #expect(rate.schools.first { $0.name == "乙校" }?.aggregate.value == 90)
    }

    @Test func countsAndAmountsAreSummedAndComparedWithTheTarget() throws {
        let summary = Aggregator.summarize(
            input(
                indicators: [
                    indicator("new-kindergartens", kind: .count, target: "2", comparison: "="), indicator("funds", kind: .amount, target: "500"),
                ],
                readings: [
                    Reading(school: "a", indicator: "new-kindergartens", value: .number(1)),
                    Reading(school: "c", indicator: "funds", value: .number(120.5)),
                    Reading(school: "b", indicator: "funds", value: .number(200)),
                ]
            )
        )
        let count = try #require(summary.indicators.first { $0.id == "new-kindergartens" })
        #expect(count.county.value == 1)
        #expect(count.standing == .behind)
        let funds = try #require(summary.indicators.first { $0.id == "funds" })
        #expect(funds.county.value == 320.5)
        #expect(funds.county.schools == 2)
        #expect(funds.standing == .behind)
    }

    /// Values 0.80, 0.90, 1.00: mean 0.9, population variance 0.02/3, std 0.0816497, CV 0.0907218 < 0.15.
    @Test func theInterSchoolCoefficientOfVariationIsStdOverMean() throws {
        let summary = Aggregator.summarize(
            input(
                indicators: [indicator("cv", kind: .coefficientOfVariation, target: "0.15", comparison: "<", unit: "系数")],
                readings: [
                    Reading(school: "a", indicator: "cv", value: .number(0.8)),
                    Reading(school: "b", indicator: "cv", value: .number(0.9)),
                    Reading(school: "c", indicator: "cv", value: .number(1.0)),
                ]
            )
        )
        let cv = try #require(summary.indicators.first)
        #expect(abs((cv.county.value ?? 0) - 0.0907218) < 1e-6)
        #expect(cv.standing == .onTrack)
        #expect(Aggregator.coefficientOfVariation([5]) == nil)
        #expect(Aggregator.coefficientOfVariation([0, 0]) == nil)
        #expect(abs((Aggregator.coefficientOfVariation([2, 4, 4, 4, 5, 5, 7, 9]) ?? 0) - 0.4) < 1e-12)  // mean 5, std 2
    }

    @Test func milestonesCountTheSchoolsThatReachedThem() throws {
        let summary = Aggregator.summarize(
            input(
                indicators: [indicator("opened", kind: .boolean, target: nil)],
                readings: [
                    Reading(school: "a", indicator: "opened", value: .flag(true)), Reading(school: "b", indicator: "opened", value: .flag(false)),
                ]
            )
        )
        #expect(summary.indicators.first?.county.value == 1)
        #expect(summary.indicators.first?.standing == .noTarget)
    }

    @Test func measuresCountReportedSubmittedApprovedLateAndMissing() throws {
        let reports = [
            SummaryInput.Report(school: "a", measure: "m1", workflow: "approved"),
            SummaryInput.Report(school: "b", measure: "m1", workflow: "draft"),
        ]
        let late = Aggregator.summarize(input(indicators: [], readings: [], reports: reports, due: "2025-07-15", asOf: "2025-07-20"))
        let measure = try #require(late.measures.first)
        #expect(measure.assigned == 3)
        #expect(measure.reported == 2)
        #expect(measure.submitted == 1)
        #expect(measure.approved == 1)
        #expect(measure.late == ["b", "c"])
        #expect(measure.missing == ["c"])
        let early = Aggregator.summarize(input(indicators: [], readings: [], reports: reports, due: "2025-07-15", asOf: "2025-07-01"))
        #expect(early.measures.first?.late == [])
    }

    @Test func csvHasAByteOrderMarkAndQuotesWhatNeedsIt() throws {
        let summary = Aggregator.summarize(
            input(
                indicators: [indicator("rate", kind: .ratio, target: "100", unit: "%")],
                readings: [Reading(school: "a", indicator: "rate", value: .ratio(numerator: 1126, denominator: 1000))]
            )
        )
        let csv = SummaryFormat.csv(summary)
        #expect(csv.hasPrefix("\u{FEFF}section,level,area,id,name,value"))
        #expect(csv.contains("indicator,county,全区/县,rate,rate,112.6000,1126,1000,%,100,>=,on_track,1"))
        #expect(csv.contains("measure,county,,m1,新建2所公办幼儿园,,,,,,,,,3,0,0,0,a b c,a b c"))
        #expect(SummaryFormat.field("甲,乙") == "\"甲,乙\"")
        #expect(SummaryFormat.table(summary).contains("112.6%"))
    }
}
