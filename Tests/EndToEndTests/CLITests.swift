import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import GRDB
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// The real `schoolsync-server` and `schoolsync` executables on 127.0.0.1, as a school would use them.
@Suite(.serialized)
struct CLITests {
    /// A server process on a fixture's store: a bureau user, an administrator and two devices of
    /// school `qx-zhuoran`, in the fixture's temporary directory.
    struct World {
        let fixture: Fixture
        let server: ServerProcess
        var bureau: String { fixture.bureau }
        var admin: String { fixture.admin }
        var deviceA: String { fixture.deviceA }
        var deviceA2: String { fixture.deviceA2 }

        func path(_ name: String) -> String { fixture.path(name) }

        /// Runs `schoolsync` with `--db` pointing into the directory.
        func cli(_ arguments: [String], db: String) async throws -> CommandResult {
            try await RunningCommand.run("schoolsync", arguments + ["--db", path(db)])
        }

        static func with(_ body: (World) async throws -> Void) async throws {
            try await Fixture.with { fixture in
                let world = World(fixture: fixture, server: try await ServerProcess(database: fixture.databasePath))
                defer { world.server.process.terminate() }
                try await body(world)
            }
        }

        /// The bureau publishes a measure assigned to the school, by writing its own replica with plain SQL.
        func publishCatalog(extraMeasures: Int = 0) async throws {
            #expect(try await cli(["init", "--server", server.baseURL, "--token", bureau], db: "bureau.sqlite").status == 0)
            let sql = try DatabaseQueue(path: path("bureau.sqlite"))
            try await sql.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO measures (id, plan_id, code, title, lead_unit) VALUES ('qixing-2024/m2.1', 'qixing-2024', '（二）1', '新建2所公办幼儿园', '区教育局')"
                )
                try db.execute(
                    sql:
                        "INSERT INTO assignments (id, school_id, measure_id) VALUES ('qx-zhuoran/qixing-2024/m2.1', 'qx-zhuoran', 'qixing-2024/m2.1')"
                )
                try db.execute(
                    sql:
                        "INSERT INTO indicators (id, measure_id, name, target, unit, value_kind) VALUES ('qixing-2024/i1', 'qixing-2024/m2.1', '学前教育毛入园率', '100', '%', 'ratio')"
                )
                for index in 0..<extraMeasures {
                    try db.execute(
                        sql: "INSERT INTO measures (id, plan_id, title) VALUES (?, 'bulk', ?)",
                        arguments: ["bulk/m\(index)", "措施 \(index)"]
                    )
                }
            }
            try sql.close()
            #expect(try await cli(["sync", "--quiet"], db: "bureau.sqlite").status == 0)
        }
    }

    let measure = ["--measure", "qixing-2024/m2.1", "--period", "2025-S1"]

    @Test(.timeLimit(.minutes(2))) func twoDevicesEditingOneReportOfflineMergeOrConflict() async throws {
        try await World.with { world in
            try await world.publishCatalog()
            for (db, token) in [("a.sqlite", world.deviceA), ("b.sqlite", world.deviceA2)] {
                let enrolled = try await world.cli(["init", "--server", world.server.baseURL, "--token", token], db: db)
                #expect(enrolled.status == 0, "\(enrolled.stderr)")
                #expect(try await world.cli(["sync"], db: db).status == 0)
            }
            let measures = try await world.cli(["measures"], db: "a.sqlite")
            #expect(measures.stdout.contains("新建2所公办幼儿园"))
            #expect(measures.stdout.contains("学前教育毛入园率"))

            #expect(
                try await world.cli(
                    ["report", "set"] + measure + ["--status", "in_progress", "--narrative", "初稿", "--ratio", "qixing-2024/i1=1126/1000"],
                    db: "a.sqlite"
                ).status == 0
            )
            #expect(try await world.cli(["sync"], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync"], db: "b.sqlite").status == 0)

            // Offline, different fields.
            #expect(try await world.cli(["report", "set"] + measure + ["--narrative", "已完成选址"], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["report", "set"] + measure + ["--status", "done"], db: "b.sqlite").status == 0)
            for db in ["a.sqlite", "b.sqlite", "a.sqlite"] { #expect(try await world.cli(["sync", "--quiet"], db: db).status == 0) }
            for db in ["a.sqlite", "b.sqlite"] {
                let shown = try await world.cli(["report", "show"] + measure + ["--json"], db: db).stdout
                #expect(shown.contains(#""narrative" : "已完成选址""#), "\(shown)")
                #expect(shown.contains(#""status" : "done""#))
                #expect(shown.contains("1126"))
            }

            // Offline, the same field: both devices see the conflict after syncing, and exit 2 says so.
            #expect(try await world.cli(["report", "set"] + measure + ["--narrative", "A 的说法"], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["report", "set"] + measure + ["--narrative", "B 的说法"], db: "b.sqlite").status == 0)
            _ = try await world.cli(["sync", "--quiet"], db: "a.sqlite")
            #expect(try await world.cli(["sync", "--quiet"], db: "b.sqlite").status == 2)
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 2)
            for db in ["a.sqlite", "b.sqlite"] {
                let conflicts = try await world.cli(["conflicts", "--json"], db: db).stdout
                #expect(conflicts.contains("A 的说法") && conflicts.contains("B 的说法"), "\(conflicts)")
                let refused = try await world.cli(["report", "set"] + measure + ["--narrative", "覆盖"], db: db)
                #expect(refused.status == 65)
                #expect(refused.stderr.contains("resolve"))
            }

            // An administrator resolves it; after their next sync both devices hold the resolution, conflict-free.
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.admin], db: "admin.sqlite").status == 0)
            let open = try await world.cli(["admin", "conflicts"], db: "admin.sqlite").stdout
            #expect(open.contains("qx-zhuoran/2025-S1/qixing-2024/m2.1"), "\(open)")
            let id = ["--collection", "reports", "--id", "qx-zhuoran/2025-S1/qixing-2024/m2.1"]
            let shown = try await world.cli(["admin", "show"] + id, db: "admin.sqlite").stdout
            #expect(shown.contains("A 的说法") && shown.contains("教务处 PC") && shown.contains("校长室 PC"), "\(shown)")
            let resolved = try await world.cli(["admin", "resolve"] + id + ["--value", "narrative=两台电脑的说法合并", "--reason", "合并"], db: "admin.sqlite")
            #expect(resolved.status == 0, "\(resolved.stderr)")
            for db in ["a.sqlite", "b.sqlite"] {
                #expect(try await world.cli(["sync", "--quiet"], db: db).status == 0)
                let conflicts = try await world.cli(["conflicts"], db: db).stdout
                #expect(conflicts.contains("no conflicts"), "\(conflicts)")
                #expect(try await world.cli(["report", "show"] + measure + ["--json"], db: db).stdout.contains("两台电脑的说法合并"))
            }
            let history = try await world.cli(["admin", "history"] + id, db: "admin.sqlite").stdout
            #expect(history.contains("resolve by 管理员 — 合并"), "\(history)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func sigkillDuringPushThenSyncAgainLosesAndDuplicatesNothing() async throws {
        try await World.with { world in
            try await world.publishCatalog()
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 0)
            let sql = try DatabaseQueue(path: world.path("a.sqlite"))
            try await sql.write { db in
                // One report per yearly period, so every one is valid for the server's domain rules.
                for year in 1000..<3000 {
                    try db.execute(
                        sql:
                            "INSERT INTO reports (id, school_id, measure_id, period, status, narrative) VALUES (?, 'qx-zhuoran', 'qixing-2024/m2.1', ?, 'in_progress', ?)",
                        arguments: ["qx-zhuoran/\(year)/qixing-2024/m2.1", "\(year)", "进展 \(year)"]
                    )
                }
            }
            try sql.close()
            // One record per push, so the kill surely lands with most of the stream still to go.
            let push = try RunningCommand("schoolsync", ["push", "--batch-size", "1", "--db", world.path("a.sqlite")])
            #expect(await push.waitForErrorLine(containing: "pushed 50/"))
            push.signal(SIGKILL)
            let killed = await push.wait()
            #expect(killed.status == SIGKILL)
            let again = try await world.cli(["sync"], db: "a.sqlite")
            #expect(again.status == 0, "\(again.stderr)")
            let status = try await world.cli(["status", "--json"], db: "a.sqlite").stdout
            #expect(status.contains(#""pending" : 0"#), "\(status)")
            // A second device sees every report exactly once.
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA2], db: "b.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet"], db: "b.sqlite").status == 0)
            let check = try DatabaseQueue(path: world.path("b.sqlite"))
            let (count, distinct) = try await check.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reports") ?? 0,
                    try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT narrative) FROM reports") ?? 0
                )
            }
            #expect(count == 2_000)
            #expect(distinct == 2_000)
        }
    }

    @Test(.timeLimit(.minutes(3))) func sigkillDuringPullThenPullAgainIsConsistent() async throws {
        try await World.with { world in
            try await world.publishCatalog(extraMeasures: 2_000)
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA], db: "a.sqlite").status == 0)
            let pull = try RunningCommand("schoolsync", ["pull", "--page-size", "1", "--db", world.path("a.sqlite")])
            #expect(await pull.waitForErrorLine(containing: "pulled 20 records"))
            pull.signal(SIGKILL)
            _ = await pull.wait()
            // Whatever was committed is whole: every stored record has its row, and the cursor matches.
            let partial = try DatabaseQueue(path: world.path("a.sqlite"))
            let (records, rows) = try await partial.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_records WHERE collection = 'measures'") ?? 0,
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM measures") ?? 0
                )
            }
            #expect(records == rows)
            #expect(records < 2_001)
            try partial.close()
            #expect(try await world.cli(["pull"], db: "a.sqlite").status == 0)
            let done = try DatabaseQueue(path: world.path("a.sqlite"))
            let total = try await done.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM measures") ?? 0 }
            #expect(total == 2_001)
            #expect(try await world.cli(["status", "--json"], db: "a.sqlite").stdout.contains(#""pending" : 0"#))
        }
    }

    @Test(.timeLimit(.minutes(1))) func errorsTellTheUserWhatToDoWithDocumentedExitCodes() async throws {
        try await World.with { world in
            let wrongToken = try await world.cli(["init", "--server", world.server.baseURL, "--token", "ss_wrong"], db: "x.sqlite")
            #expect(wrongToken.status == 77)
            #expect(wrongToken.stderr.contains("new device token"))
            let notEnrolled = try await world.cli(["sync"], db: "fresh.sqlite")
            #expect(notEnrolled.status == 64)
            #expect(notEnrolled.stderr.contains("schoolsync init"))
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA], db: "a.sqlite").status == 0)
            #expect(
                try await world.cli(["report", "set", "--measure", "nope", "--period", "2025-S1", "--status", "done"], db: "a.sqlite").status == 65
            )
            #expect(try await world.cli(["report", "set", "--measure", "m", "--period", "spring", "--status", "done"], db: "a.sqlite").status == 64)
            world.server.process.terminate()
            await world.server.process.exited()
            let offline = try await world.cli(["sync", "--attempts", "1"], db: "a.sqlite")
            #expect(offline.status == 69)
            #expect(offline.stderr.contains("changes are kept locally"))
            let status = try await world.cli(["status"], db: "a.sqlite").stdout
            #expect(status.contains("reachable:     no"))
        }
    }

    /// Issue 12: an administrator reaches any valid id from the CLI — CJK, spaces, `%`, `+`, `?`,
    /// `#`, and `/` as separators, doubled or trailing — and the server names it back unchanged.
    @Test(.timeLimit(.minutes(1)), arguments: ["七星区/措施①", "a b+c", "100%", "%41", "x/y/z", "a#b?c", "a//b", "末尾/"])
    func adminCommandsRoundTripEveryValidID(id: String) async throws {
        try await World.with { world in
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.admin], db: "admin.sqlite").status == 0)
            let shown = try await world.cli(["admin", "show", "--collection", "reports", "--id", id], db: "admin.sqlite")
            #expect(shown.status == 65)
            #expect(shown.stderr.contains("reports/\(id) is not in conflict"), "\(shown.stderr)")
            let history = try await world.cli(["admin", "history", "--collection", "reports", "--id", id], db: "admin.sqlite")
            #expect(history.stderr.contains("reports/\(id)") || history.stdout.contains("reports/\(id)"), "\(history.stderr)")
        }
    }

    /// Numbers are written in one spelling (values compare by bytes), and a value of an indicator
    /// the device does not know is refused at once, not after a sync.
    @Test(.timeLimit(.minutes(1))) func indicatorValuesAreCanonicalAndChecked() async throws {
        try await World.with { world in
            try await world.publishCatalog()
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 0)
            let set = try await world.cli(["report", "set"] + measure + ["--ratio", "qixing-2024/i1=1126.0/1e3"], db: "a.sqlite")
            #expect(set.status == 0, "\(set.stderr)")
            let value = try await DatabaseQueue(path: world.path("a.sqlite")).read { db in
                try String.fetchOne(db, sql: "SELECT value FROM indicator_values WHERE indicator_id = 'qixing-2024/i1'")
            }
            #expect(value == #"{"denominator":1000,"numerator":1126}"#)
            #expect(try await world.cli(["report", "set"] + measure + ["--ratio", "qixing-2024/i1=0x10/1000"], db: "a.sqlite").status == 64)
            let unknown = try await world.cli(["report", "set"] + measure + ["--value", "qixing-2024/nope=3"], db: "a.sqlite")
            #expect(unknown.status == 65)
            #expect(unknown.stderr.contains("no indicator qixing-2024/nope"))
        }
    }

    /// Issue 12: a second sync of a database while one runs exits 75 at once and says why.
    @Test(.timeLimit(.minutes(1))) func aSecondSyncOfTheSameDatabaseExits75() async throws {
        try await World.with { world in
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA], db: "a.sqlite").status == 0)
            // Hold the lock as a running sync would (same file, same kind of lock).
            let descriptor = open(world.path("a.sqlite") + ".sync-lock", O_RDWR | O_CREAT, 0o644)
            #expect(descriptor >= 0)
            #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
            let second = try await world.cli(["sync"], db: "a.sqlite")
            #expect(second.status == 75)
            #expect(second.stderr.contains("another sync"))
            close(descriptor)
            #expect(try await world.cli(["sync"], db: "a.sqlite").status == 0)
        }
    }

    /// `schoolsync ui` serves the replica on 127.0.0.1 and prints the link that signs a browser in;
    /// Ctrl-C stops it cleanly. Not enrolled: exit 64 with what to do.
    @Test(.timeLimit(.minutes(1))) func theWorkbenchServesTheReplicaOnLoopbackAndStopsOnSIGINT() async throws {
        try await World.with { world in
            try await world.publishCatalog()
            #expect(try await world.cli(["ui"], db: "fresh.sqlite").status == 64)
            #expect(try await world.cli(["init", "--server", world.server.baseURL, "--token", world.deviceA], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 0)
            let ui = try RunningCommand("schoolsync", ["ui", "--port", "0", "--db", world.path("a.sqlite")])
            let line = try #require(await ui.waitForOutputLine(containing: "/open?key="))
            let link = try #require(line.split(separator: " ").last.map(String.init))
            #expect(link.hasPrefix("http://127.0.0.1:"))
            try await HTTPClient.withHTTPClient(configuration: HTTPClient.Configuration(redirectConfiguration: .disallow)) { http in
                let opened = try await http.execute(HTTPClientRequest(url: link), timeout: .seconds(10))
                #expect(opened.status == .seeOther)
                let cookie = try #require(opened.headers.first(name: "Set-Cookie")?.split(separator: ";").first.map(String.init))
                var home = HTTPClientRequest(url: String(link.prefix { $0 != "?" }).replacingOccurrences(of: "/open", with: "/"))
                home.headers.add(name: "Cookie", value: cookie)
                let page = try await http.execute(home, timeout: .seconds(10))
                #expect(page.status == .ok)
                let html = String(buffer: try await page.body.collect(upTo: 1 << 20))
                #expect(html.contains("本校措施") && html.contains("新建2所公办幼儿园"), "\(html.prefix(500))")
                var stranger = HTTPClientRequest(url: String(link.prefix { $0 != "?" }).replacingOccurrences(of: "/open", with: "/"))
                stranger.headers.add(name: "Cookie", value: cookie)
                stranger.headers.replaceOrAdd(name: "Host", value: "attacker.example")
                #expect(try await http.execute(stranger, timeout: .seconds(10)).status == .misdirectedRequest)
            }
            ui.signal(SIGINT)
            let ended = await ui.wait()
            #expect(ended.status == 0, "\(ended.stderr)")
        }
    }

    @Test(arguments: ["init", "pull", "push", "sync", "status", "ui", "measures", "report", "conflicts"])
    func everyCommandHasHelpWithAnExample(command: String) async throws {
        let help = try await RunningCommand.run("schoolsync", [command, "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE"))
        #expect(help.stdout.lowercased().contains("example") || command == "report", "\(command) --help has no example")
    }
}
