import Foundation
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import Reporting

/// Hostile numbers and text in what the bureau computes and exports (issue 11): aggregation is
/// total, and the CSV never hands Excel a formula.
struct HostileValueTests {
    @Test func aggregationIsTotalOverHostileReadings() {
        let hostile: [Double] = [0, -0.0, 1, -1, 1e-300, 1e300, 1e308, -1e308, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e7, 1e12]
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<2_000 {
            let kind = IndicatorKind.allCases[Int(generator.next() % UInt64(IndicatorKind.allCases.count))]
            let readings = (0..<Int(1 + generator.next() % 5)).map { index -> SummaryInput.Reading in
                let a = hostile[Int(generator.next() % UInt64(hostile.count))]
                let b = hostile[Int(generator.next() % UInt64(hostile.count))]
                let value: IndicatorValue =
                    switch kind {
                    case .ratio: .ratio(numerator: a, denominator: b)
                    case .boolean: .flag(a > 0)
                    default: .number(a)
                    }
                return SummaryInput.Reading(school: "s\(index)", indicator: "i", value: value)
            }
            let aggregate = Aggregator.aggregate(readings, kind: kind)
            for number in [aggregate.value, aggregate.numerator, aggregate.denominator].compactMap({ $0 }) {
                #expect(number.isFinite, "\(kind) \(readings)")
            }
            #expect(aggregate.outOfRange == !readings.allSatisfy { $0.value.isPlausible(for: kind) } || aggregate.outOfRange)
            // The JSON of the summary can always be written.
            #expect(throws: Never.self) { try CanonicalJSON.encode(aggregate) }
        }
    }

    @Test func formulasInCSVCellsAreNeutralisedAndNumbersStayNumbers() {
        let summary = BureauSummary(
            period: "2025-S1",
            due: nil,
            asOf: "2025-07-01",
            indicators: [
                IndicatorSummary(
                    id: "i1",
                    measureID: "m1",
                    name: "+cmd|' /C calc'!A0",
                    unit: "@SUM(1)",
                    kind: .trend,
                    target: nil,
                    comparison: ">=",
                    deadline: nil,
                    county: Aggregate(value: -3, numerator: nil, denominator: nil, schools: 1),
                    townships: [.init(name: "\tTown", aggregate: Aggregate(value: -3, numerator: nil, denominator: nil, schools: 1))],
                    schools: [.init(name: "\rSchool", aggregate: Aggregate(value: -3, numerator: nil, denominator: nil, schools: 1))],
                    standing: .noTarget
                )
            ],
            measures: [
                MeasureSummary(
                    id: "-m1",
                    title: #"=HYPERLINK("http://127.0.0.2/x","click")"#,
                    assigned: 1,
                    reported: 0,
                    submitted: 0,
                    approved: 0,
                    late: [],
                    missing: ["=1+1"]
                )
            ],
            conflicted: 0
        )
        let csv = SummaryFormat.csv(summary)
        let cells = csv.split(separator: "\r\n").flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(csv.contains(#""'=HYPERLINK(""http://127.0.0.2/x"""#))
        #expect(csv.contains("'+cmd|' /C calc'!A0"))
        #expect(csv.contains("'@SUM(1)"))
        #expect(csv.contains("'-m1"))
        #expect(csv.contains("'=1+1"))
        #expect(csv.contains("'\tTown"))
        #expect(csv.contains("\"'\rSchool\""))
        #expect(cells.contains("-3"), "a negative number stays a number")
        for cell in cells {
            let text = cell.hasPrefix("\"") ? String(cell.dropFirst()) : String(cell)
            #expect(!["=", "+", "@", "\t", "\r"].contains(text.first.map(String.init) ?? ""), "cell \(cell.debugDescription)")
        }
    }

    @Test(arguments: IndicatorKind.allCases)
    func everyKindHasFiniteBoundsWhoseSumsOverAMillionSchoolsStayFinite(kind: IndicatorKind) {
        let range = kind.plausibleRange
        #expect(range.lowerBound.isFinite && range.upperBound.isFinite)
        let extreme = max(abs(range.lowerBound), abs(range.upperBound))
        #expect((extreme * extreme * 1_000_000).isFinite, "variance over a million schools")
    }

    @Test func aDenominatorBelowOneIsNotPlausible() {
        guard case .failure = IndicatorValue.parse(#"{"numerator":1,"denominator":0.001}"#, kind: .ratio) else {
            Issue.record("a rate of 100000 % was accepted")
            return
        }
    }

    /// SQLite keeps "café" in NFC and in NFD apart; Swift strings call them equal. The summary of
    /// two such schools must not trap (it did, in a dictionary built with unique keys).
    @Test func schoolIdsEqualOnlyUpToUnicodeFormDoNotTrapTheSummary() {
        let input = SummaryInput(
            period: "2025",
            due: nil,
            asOf: "2025-07-01",
            schools: [
                .init(id: "caf\u{E9}", name: "甲", township: "镇"),
                .init(id: "cafe\u{301}", name: "乙", township: "镇"),
            ],
            measures: [:],
            indicators: [],
            assignments: [],
            reports: [],
            readings: []
        )
        #expect(Aggregator.summarize(input).period == "2025")
    }
}
