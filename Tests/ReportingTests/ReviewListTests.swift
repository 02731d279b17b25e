@testable import Reporting
import SyncCore
import Testing

/// The bureau's review list: rows, filters, and late/missing exactly as the summary says.
@Suite("Review list")
struct ReviewListTests {
    func input(asOf: String = "2025-08-01") -> SummaryInput {
        SummaryInput(
            period: "2025-S1",
            due: "2025-07-15",
            asOf: asOf,
            schools: [
                .init(id: "a", name: "甲校", township: "七星街道"), .init(id: "b", name: "乙校", township: "朝阳乡"),
                .init(id: "c", name: "丙校", township: "朝阳乡"),
            ],
            measures: ["m1": "措施一", "m2": "措施二"],
            indicators: [],
            assignments: [["a", "m1"], ["b", "m1"], ["c", "m1"], ["a", "m2"]],
            reports: [
                .init(school: "a", measure: "m1", workflow: "submitted"), .init(school: "b", measure: "m1", workflow: "draft"),
                .init(school: "a", measure: "m2", workflow: "approved"), .init(school: "x", measure: "m2", workflow: "returned"),
            ],
            readings: []
        )
    }

    @Test("every assigned pair and every report is one row, ordered by measure then school")
    func rows() {
        let list = ReviewList(input())
        #expect(list.rows.map { "\($0.measure)/\($0.school)" } == ["m1/a", "m1/b", "m1/c", "m2/a", "m2/x"])
        let unassigned = list.rows.last
        #expect(unassigned?.isAssigned == false && unassigned?.township == "（未登记学校）" && unassigned?.workflow == "returned")
        #expect(list.rows.first?.schoolName == "甲校" && list.rows.first?.measureTitle == "措施一")
    }

    @Test("late and missing are the summary's")
    func lateAndMissing() {
        let input = input()
        let list = ReviewList(input)
        let summary = Aggregator.summarize(input)
        for measure in summary.measures {
            #expect(list.rows(matching: .init(measure: measure.id, state: .late)).map(\.school) == measure.late)
            #expect(list.rows(matching: .init(measure: measure.id, state: .missing)).map(\.school) == measure.missing)
        }
        #expect(list.rows(matching: .init(state: .late)).map(\.school) == ["b", "c"])
        #expect(list.rows(matching: .init(state: .missing)).map(\.school) == ["c"])
        // Before the due date nothing is late.
        #expect(ReviewList(self.input(asOf: "2025-07-01")).rows(matching: .init(state: .late)).isEmpty)
    }

    @Test("filters combine: measure, school, township, workflow state")
    func filters() {
        let list = ReviewList(input())
        #expect(list.rows(matching: .init(state: .submitted)).map(\.school) == ["a"])
        #expect(list.rows(matching: .init(township: "朝阳乡")).map(\.school) == ["b", "c"])
        #expect(list.rows(matching: .init(measure: "m2", school: "a")).map(\.workflow) == ["approved"])
        #expect(list.rows(matching: .init(measure: "m1", township: "朝阳乡", state: .draft)).map(\.school) == ["b"])
        #expect(list.rows(matching: .init(school: "\u{212A}")).isEmpty)
        #expect(list.rows(matching: .init()).count == 5)
    }
}
