import Foundation
import Reporting
import SyncCore
import Testing

struct CatalogImporterTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Catalog/plans.json")

    static func document() throws -> CatalogDocument {
        try CatalogImporter.load(try Data(contentsOf: file), file: "plans.json")
    }

    /// The counts stated in the seeds' DOMAIN.md table, checked by hand against the documents:
    /// areas of kind program/policy/system, their non-synthetic measures, and every indicator.
    @Test(arguments: [
        ("qixing-2024", 7, 22, 44), ("liucheng-2023", 10, 30, 36), ("shiwuwu-2026", 6, 25, 42),
        ("xushui-2021", 12, 27, 40), ("heping-2020", 14, 18, 38),
    ])
    func everySeedPlanImportsWithTheDocumentsCounts(plan id: String, areas: Int, measures: Int, indicators: Int) throws {
        let plan = try #require(try Self.document().plans.first { $0.id == id })
        let working = plan.areas.filter { ["program", "policy", "system"].contains($0.kind) }
        #expect(working.count == areas)
        #expect(working.flatMap(\.measures).filter { $0.synthetic != true }.count == measures)
        #expect(plan.areas.flatMap(\.measures).flatMap(\.indicators).count == indicators)
    }

    @Test func theCatalogBecomesCatalogRecordsWithReportingKinds() throws {
        let records = CatalogImporter.records(of: try Self.document())
        #expect(records.allSatisfy { $0.scope == .catalog })
        #expect(records.filter { $0.key.collection == "plans" }.count == 5)
        #expect(records.filter { $0.key.collection == "indicators" }.count == 200)
        #expect(Set(records.map(\.key)).count == records.count)
        let cv = try #require(records.first { $0.key.id == "heping-2020.t1.m2.inter-school-difference-rate" })
        #expect(cv.values["value_kind"] == .string("cv"))
        #expect(cv.values["comparison"] == .string("<"))
        #expect(cv.values["target"] == .string("0.15"))
        let rates = records.filter { $0.key.collection == "indicators" && $0.values["value_kind"] == .string("ratio") }
        #expect(rates.count >= 50)
        for record in records {
            try record.key.validate()
            for name in record.values.keys { try RecordKey.validateFieldName(name) }
        }
    }

    @Test(arguments: [
        (#"{"format":"other","plans":[]}"#, ".format"),
        (#"{"format":"schoolsync-catalog/1","plans":[{"id":"p","title":"t","period":{"start":2024,"end":2020},"areas":[]}]}"#, ".plans[0].period"),
        (#"{"format":"schoolsync-catalog/1","plans":[{"id":"p","title":"t","period":{"start":2024},"areas":[]}]}"#, ".plans[0].period.end"),
        (
            #"{"format":"schoolsync-catalog/1","plans":[{"id":"p","title":"t","period":{"start":2024,"end":2026},"areas":[{"id":"p.a1","title":"a","kind":"program","measures":[{"id":"p.a1.m1","title":"m","indicators":[{"id":"i","name":"n","kind":"goal","source_text":"x"}]}]}]}]}"#,
            ".plans[0].areas[0].measures[0].indicators[0].kind"
        ),
        (
            #"{"format":"schoolsync-catalog/1","plans":[{"id":"p","title":"t","period":{"start":2024,"end":2026},"areas":[{"id":"p.a1","title":"a","kind":"program","measures":[{"id":"q.m1","title":"m","indicators":[]}]}]}]}"#,
            ".plans[0].areas[0].measures[0].id"
        ),
        (
            #"{"format":"schoolsync-catalog/1","plans":[{"id":"p","title":"t","period":{"start":2024,"end":2026},"areas":[{"id":"p","title":"a","kind":"program","measures":[]}]}]}"#,
            ".plans[0].areas[0].id"
        ),
        ("not json", ""),
    ])
    func badCatalogsNameTheFileThePathAndTheProblem(json: String, path: String) {
        do {
            _ = try CatalogImporter.load(Data(json.utf8), file: "bad.json")
            Issue.record("accepted")
        } catch {
            #expect(error.file == "bad.json")
            #expect(error.path == path, "\(error)")
            #expect(!error.problem.isEmpty)
        }
    }
}
