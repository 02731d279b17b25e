import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The bureau's whole round with the real executables: load the seed plans, describe and assign
/// schools, receive reports from several schools, review them, and export a correct summary.
@Suite(.serialized)
struct BureauFlowTests {
    static let catalog = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Catalog/plans.json").path
    let goals = "qixing-2024.goals.m1"
    let rate = "qixing-2024.goals.preschool-gross-enrollment"
    let kindergartens = "qixing-2024.goals.new-public-kindergartens"

    @Test(.timeLimit(.minutes(3))) func aBureauLoadsThePlansReceivesReportsAndExportsACorrectSummary() async throws {
        try await Fixture.with { fixture in try await bureauRound(on: fixture) }
    }

    /// The round itself, on a fixture's store: its bureau user and a device of each school.
    func bureauRound(on fixture: Fixture) async throws {
        func path(_ name: String) -> String { fixture.path(name) }
        let (bureau, zhuoran, huoju) = (fixture.bureau, fixture.deviceA, fixture.deviceB)
        let server = try await ServerProcess(database: fixture.databasePath)
        defer { server.process.terminate() }
        func cli(_ arguments: [String], _ db: String) async throws -> CommandResult {
            try await RunningCommand.run("schoolsync", arguments + ["--db", path(db)])
        }
        func ok(_ arguments: [String], _ db: String) async throws -> CommandResult {
            let result = try await cli(arguments, db)
            #expect(result.status == 0, "schoolsync \(arguments.joined(separator: " ")): \(result.stderr)")
            return result
        }

        // The bureau publishes the five seed plans, its schools, a period already past due, and an assignment.
        _ = try await ok(["init", "--server", server.baseURL, "--token", bureau], "bureau.sqlite")
        let imported = try await ok(["bureau", "import", Self.catalog], "bureau.sqlite")
        #expect(imported.stdout.contains("imported 5 plans, 152 measures, 200 indicators"), "\(imported.stdout)")
        _ = try await ok(
            ["bureau", "school", "add", "--id", "qx-zhuoran", "--name", "卓然学校", "--type", "九年一贯制", "--township", "七星街道"],
            "bureau.sqlite"
        )
        _ = try await ok(
            ["bureau", "school", "add", "--id", "qx-huoju", "--name", "火炬中学", "--type", "初中", "--township", "朝阳乡", "--rural"],
            "bureau.sqlite"
        )
        _ = try await ok(["bureau", "period", "add", "--id", "2025-S1", "--due", "2025-01-31"], "bureau.sqlite")
        _ = try await ok(["bureau", "assign", "--measure", goals, "--all"], "bureau.sqlite")
        _ = try await ok(["sync", "--quiet"], "bureau.sqlite")

        // Two schools report; the first submits.
        let report = ["--measure", goals, "--period", "2025-S1"]
        for (db, token) in [("zhuoran.sqlite", zhuoran), ("huoju.sqlite", huoju)] {
            _ = try await ok(["init", "--server", server.baseURL, "--token", token], db)
            _ = try await ok(["sync", "--quiet"], db)
        }
        let measures = try await ok(["measures"], "zhuoran.sqlite").stdout
        #expect(measures.contains("学前教育毛入园率"))
        _ = try await ok(
            ["report", "set"] + report + ["--status", "done", "--ratio", "\(rate)=1126/1000", "--value", "\(kindergartens)=1"],
            "zhuoran.sqlite"
        )
        _ = try await ok(["report", "submit"] + report, "zhuoran.sqlite")
        _ = try await ok(["sync", "--quiet"], "zhuoran.sqlite")
        _ = try await ok(["report", "set"] + report + ["--status", "in_progress", "--ratio", "\(rate)=450/500"], "huoju.sqlite")
        _ = try await ok(["sync", "--quiet"], "huoju.sqlite")

        // A value the server's rules refuse comes back with its reason, and the rest still syncs.
        let sql = try DatabaseQueue(path: path("huoju.sqlite"))
        try await sql.write { db in
            try db.execute(
                sql:
                    "INSERT INTO indicator_values (id, school_id, indicator_id, measure_id, period, value) VALUES (?, 'qx-huoju', ?, ?, '2025-S1', '{\"value\":-2}')",
                arguments: ["qx-huoju/2025-S1/\(kindergartens)", kindergartens, goals]
            )
        }
        try sql.close()
        #expect(try await cli(["sync", "--quiet"], "huoju.sqlite").status == 2)
        let rejected = try await ok(["status"], "huoju.sqlite").stdout
        #expect(rejected.contains("cannot be negative"), "\(rejected)")

        // The bureau approves; an offline edit that arrives afterwards is refused with that reason.
        _ = try await ok(["bureau", "approve", "--school", "qx-zhuoran", "--measure", goals, "--period", "2025-S1"], "bureau.sqlite")
        _ = try await ok(["report", "set"] + report + ["--narrative", "审核后又改"], "zhuoran.sqlite")
        #expect(try await cli(["sync", "--quiet"], "zhuoran.sqlite").status == 2)
        let locked = try await ok(["status"], "zhuoran.sqlite").stdout
        #expect(locked.contains("report_locked"), "\(locked)")
        _ = try await ok(["report", "discard"] + report, "zhuoran.sqlite")
        let discarded = try await cli(["sync", "--quiet"], "zhuoran.sqlite")
        #expect(discarded.status == 0, "\(discarded.stdout) \(discarded.stderr)")
        #expect(try await ok(["report", "show"] + report + ["--json"], "zhuoran.sqlite").stdout.contains(#""workflow" : "approved""#))

        // Once the device knows the report is approved, it refuses an edit itself (DOMAIN-PROTOCOL.md
        // §3: a device refuses locally what the server would refuse); once the bureau returns the
        // report, the edit is taken and sent.
        let lockedHere = try await cli(["report", "set"] + report + ["--narrative", "按退回意见补充"], "zhuoran.sqlite")
        #expect(lockedHere.status == 65 && lockedHere.stderr.contains("approved"), "\(lockedHere.stderr)")
        _ = try await ok(
            ["bureau", "return", "--school", "qx-zhuoran", "--measure", goals, "--period", "2025-S1", "--comment", "请补充说明"],
            "bureau.sqlite"
        )
        #expect(try await cli(["sync", "--quiet"], "zhuoran.sqlite").status == 0)
        _ = try await ok(["report", "set"] + report + ["--narrative", "按退回意见补充"], "zhuoran.sqlite")
        let resent = try await cli(["sync", "--quiet"], "zhuoran.sqlite")
        #expect(resent.status == 0, "\(resent.stdout) \(resent.stderr)")
        let returned = try await ok(["report", "show"] + report + ["--json"], "zhuoran.sqlite").stdout
        #expect(returned.contains("按退回意见补充") && returned.contains(#""workflow" : "returned""#) && returned.contains("请补充说明"), "\(returned)")
        #expect(!(try await ok(["status"], "zhuoran.sqlite").stdout.contains("report_locked")))

        // The summary: Σ1126+450 / Σ1000+500 = 1576/1500 = 105.07% against a target of 100%.
        let json = try await ok(["bureau", "summary", "--period", "2025-S1", "--json"], "bureau.sqlite").stdout
        #expect(json.contains(#""numerator" : 1576"#), "\(json.prefix(2000))")
        #expect(json.contains(#""denominator" : 1500"#))
        #expect(json.contains(#""standing" : "on_track""#))
        let table = try await ok(["bureau", "summary", "--period", "2025-S1"], "bureau.sqlite").stdout
        #expect(table.contains("105.1%"), "\(table)")
        _ = try await ok(["bureau", "summary", "--period", "2025-S1", "--csv", "--output", path("summary.csv")], "bureau.sqlite")
        let csv = try Data(contentsOf: URL(fileURLWithPath: path("summary.csv")))
        #expect(csv.starts(with: [0xEF, 0xBB, 0xBF]), "Excel needs the UTF-8 byte-order mark")
        let text = String(decoding: csv, as: UTF8.self)
        #expect(text.contains("indicator,county,全区/县,\(rate),学前教育毛入园率,105.0667,1576,1500,%,100,>=,on_track,2"))
        #expect(text.contains("indicator,township,朝阳乡,\(rate),学前教育毛入园率,90,450,500"))
        // The measure row: both assigned and reported; the returned report no longer counts as submitted, so both are late.
        #expect(text.contains("measure,county,,\(goals),工作目标,,,,,,,,,2,2,0,0,qx-huoju qx-zhuoran,"), "\(text)")
    }
}
