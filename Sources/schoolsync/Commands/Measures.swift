import ArgumentParser
import Foundation
import GRDB
import SyncClient

extension SchoolSync {
    struct Measures: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the measures assigned to this school, with their indicators and targets.",
            discussion: "Run 'schoolsync sync' first to fetch the catalog. Example: schoolsync measures --json"
        )
        @OptionGroup var global: GlobalOptions

        struct Indicator: Encodable {
            let id: String
            let name: String
            let target: String?
            let unit: String?
            let deadline: String?
        }

        struct Measure: Encodable {
            let id: String
            let code: String?
            let title: String
            let leadUnit: String?
            let indicators: [Indicator]
        }

        func run() async throws {
            try await runCommand {
                let replica = try global.openReplica()
                let school = try await replica.settings()?.schoolID
                let measures = try await replica.read { db in
                    let rows =
                        if let school {
                            try Row.fetchAll(
                                db,
                                sql: """
                                    SELECT CAST(m.id AS TEXT) AS id, CAST(m.code AS TEXT) AS code, CAST(m.title AS TEXT) AS title,
                                        CAST(m.lead_unit AS TEXT) AS lead_unit FROM measures m
                                    WHERE m.id IN (SELECT measure_id FROM assignments WHERE school_id = ?) ORDER BY m.plan_id, m.code, m.id
                                    """,
                                arguments: [school]
                            )
                        } else {
                            try Row.fetchAll(
                                db,
                                sql: """
                                    SELECT CAST(id AS TEXT) AS id, CAST(code AS TEXT) AS code, CAST(title AS TEXT) AS title, CAST(lead_unit AS TEXT) AS lead_unit
                                    FROM measures ORDER BY plan_id, code, id
                                    """
                            )
                        }
                    // Display only: CAST AS TEXT reads whatever another program stored without trapping
                    // (GRDB's `row["column"]` traps on a value of another type).
                    return try rows.compactMap { row -> Measure? in
                        guard let id = row["id"] as String? else { return nil }
                        let indicators = try Row.fetchAll(
                            db,
                            sql: """
                                SELECT CAST(id AS TEXT) AS id, CAST(name AS TEXT) AS name, CAST(target AS TEXT) AS target, CAST(unit AS TEXT) AS unit,
                                    CAST(deadline AS TEXT) AS deadline
                                FROM indicators WHERE measure_id = ? ORDER BY id
                                """,
                            arguments: [id]
                        ).map { Indicator(id: $0["id"] ?? "", name: $0["name"] ?? "", target: $0["target"], unit: $0["unit"], deadline: $0["deadline"]) }
                        return Measure(
                            id: id,
                            code: row["code"],
                            title: row["title"] ?? "",
                            leadUnit: row["lead_unit"],
                            indicators: indicators
                        )
                    }
                }
                if global.json { return try printJSON(measures) }
                if measures.isEmpty {
                    print("no measures assigned to this school yet; run 'schoolsync sync' to fetch them")
                }
                for measure in measures {
                    print("\(measure.id)  \(measure.code.map { "\($0) " } ?? "")\(measure.title)\(measure.leadUnit.map { "  [牵头: \($0)]" } ?? "")")
                    for indicator in measure.indicators {
                        let target = [indicator.target, indicator.unit].compactMap { $0 }.joined(separator: " ")
                        print(
                            "    \(indicator.id)  \(indicator.name)\(target.isEmpty ? "" : "  目标: \(target)")\(indicator.deadline.map { "  期限: \($0)" } ?? "")"
                        )
                    }
                }
            }
        }
    }
}
