import FaultProxy
import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import Testing

/// Evidence files (PROTOCOL.md §13) between the real `schoolsync` and `schoolsync-server`
/// executables: capture, uploads cut by the fault proxy, downloads, another school, one upload for
/// two schools.
@Suite(.serialized)
struct EvidenceTests {
    let measure = ["--measure", "qixing-2024/m2.1", "--period", "2025-S1"]

    /// Seen on the first server of §13: some PATCHes cut mid-body keep none of the bytes past their
    /// last whole 256 KiB piece (the same seeded plan sent 1.007× the file in one run and 1.108× in
    /// another, with 5 more cuts; a PATCH ended by the client's time limit left the server holding
    /// 524,288 of the 550–580 KB that reached it), so the client sends them again after its HEAD.
    /// PROTOCOL.md §13.2 says every received byte is kept; remove this once the server keeps them.

    /// A server, a fault proxy in front of it, and the catalog assigned to both schools.
    struct World {
        let fixture: Fixture
        let server: ServerProcess
        let proxy: FaultProxy

        var direct: String { server.baseURL }
        var viaProxy: String { "http://127.0.0.1:\(proxy.port)" }
        func path(_ name: String) -> String { fixture.path(name) }

        func cli(_ arguments: [String], db: String) async throws -> CommandResult {
            try await RunningCommand.run("schoolsync", arguments + ["--db", path(db)])
        }

        /// Enrols a device through the proxy and syncs the catalog.
        func enrol(_ db: String, token: String) async throws {
            let enrolled = try await cli(["init", "--server", viaProxy, "--token", token], db: db)
            #expect(enrolled.status == 0, "\(enrolled.stderr)")
            let synced = try await cli(["sync", "--quiet"], db: db)
            #expect(synced.status == 0, "\(synced.stderr)")
        }

        static func with(_ body: (World) async throws -> Void) async throws {
            try await Fixture.with { fixture in
                let server = try await ServerProcess(database: fixture.databasePath)
                defer { server.process.terminate() }
                let proxy = try await FaultProxy.start(upstreamPort: server.port)
                let world = World(fixture: fixture, server: server, proxy: proxy)
                do {
                    try await world.publishCatalog()
                    try await body(world)
                } catch {
                    try? await proxy.shutdown()
                    throw error
                }
                try await proxy.shutdown()
            }
        }

        /// The bureau publishes one measure and assigns it to both schools.
        func publishCatalog() async throws {
            #expect(try await cli(["init", "--server", direct, "--token", fixture.bureau], db: "bureau.sqlite").status == 0)
            let sql = try DatabaseQueue(path: path("bureau.sqlite"))
            try await sql.write { db in
                try db.execute(
                    sql: "INSERT INTO measures (id, plan_id, code, title, lead_unit) VALUES ('qixing-2024/m2.1', 'qixing-2024', '（二）1', '新建2所公办幼儿园', '区教育局')"
                )
                for school in [Fixture.schoolA, Fixture.schoolB] {
                    try db.execute(
                        sql: "INSERT INTO assignments (id, school_id, measure_id) VALUES (?, ?, 'qixing-2024/m2.1')",
                        arguments: ["\(school)/qixing-2024/m2.1", school]
                    )
                }
            }
            try sql.close()
            #expect(try await cli(["sync", "--quiet"], db: "bureau.sqlite").status == 0)
        }

        /// A PDF of `size` bytes: `%PDF-` and seeded noise.
        func makePDF(_ name: String, size: Int, seed: UInt64) throws -> (path: String, bytes: Data) {
            var bytes = Data("%PDF-1.7\n".utf8)
            var generator = SeededGenerator(seed: seed)
            while bytes.count < size {
                var word = generator.next()
                bytes.append(Data(bytes: &word, count: min(8, size - bytes.count)))
            }
            let url = URL(fileURLWithPath: path(name))
            try bytes.write(to: url)
            return (url.path, bytes)
        }

        /// The SHA-256 the replica recorded for its only evidence item.
        func evidenceSHA256(_ db: String) async throws -> String {
            let list = try await cli(["evidence", "list", "--json"], db: db)
            let items = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
            return try #require(items?.first?["sha256"] as? String, "\(list.stdout) \(list.stderr)")
        }
    }

    @Test(.timeLimit(.minutes(2))) func theCLIKeepsChecksAndRemovesEvidence() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            // A text file renamed .jpg is refused by its bytes, before anything is written.
            try Data("会议记录\n".utf8).write(to: URL(fileURLWithPath: world.path("照片.jpg")))
            let refused = try await world.cli(["report", "set"] + measure + ["--status", "in_progress", "--evidence", world.path("照片.jpg")], db: "a.sqlite")
            #expect(refused.status == 65)
            #expect(refused.stderr.contains("not a file a report can carry"), "\(refused.stderr)")
            #expect(try await world.cli(["report", "show"] + measure, db: "a.sqlite").status == 65)  // no report was started

            let pdf = try world.makePDF("选址批复.pdf", size: 300_000, seed: 1)
            let saved = try await world.cli(["report", "set"] + measure + ["--status", "in_progress", "--evidence", pdf.path], db: "a.sqlite")
            #expect(saved.status == 0, "\(saved.stderr)")
            // The old NAME=SHA256 form still names a file without a path.
            let other = String(repeating: "ab", count: 32)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", "旧文件.pdf=\(other)"], db: "a.sqlite").status == 0)
            try FileManager.default.removeItem(atPath: pdf.path)  // the replica keeps its own copy
            let status = try await world.cli(["status"], db: "a.sqlite")
            #expect(status.stdout.contains("1 files waiting to upload"), "\(status.stdout)")
            #expect(status.stdout.contains("选址批复.pdf"))

            let removed = try await world.cli(["report", "set"] + measure + ["--remove-evidence", "旧文件.pdf"], db: "a.sqlite")
            #expect(removed.status == 0, "\(removed.stderr)")
            let missing = try await world.cli(["report", "set"] + measure + ["--remove-evidence", "没有这个.pdf"], db: "a.sqlite")
            #expect(missing.status == 65)
            let shown = try await world.cli(["report", "show"] + measure + ["--json"], db: "a.sqlite").stdout
            #expect(shown.contains("选址批复.pdf") && !shown.contains("旧文件.pdf"), "\(shown)")
            #expect(shown.contains("300000") && shown.contains("application/pdf"))

            let synced = try await world.cli(["sync"], db: "a.sqlite")
            #expect(synced.status == 0, "\(synced.stderr)")
            #expect(synced.stdout.contains("uploaded 1 evidence file"), "\(synced.stdout)")
            #expect(try await world.cli(["status"], db: "a.sqlite").stdout.contains("0 files waiting to upload"))
            let list = try await world.cli(["evidence", "list"], db: "a.sqlite").stdout
            #expect(list.contains("选址批复.pdf") && list.contains("uploaded") && list.contains("kept here"), "\(list)")
        }
    }

    @Test(.timeLimit(.minutes(5))) func anUploadCutEvery100KiBResumesAndSendsTheFileAboutOnce() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            let size = 5 * 1024 * 1024
            let pdf = try world.makePDF("plan.pdf", size: size, seed: 2)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            // The record goes first, on a clean link, without the file.
            #expect(try await world.cli(["sync", "--quiet", "--upload-time", "0"], db: "a.sqlite").status == 0)

            let before = world.proxy.statistics
            // Every connection is cut after 80–120 KiB from the client (seeded per connection).
            world.proxy.setPlan { n in
                var generator = SeededGenerator(seed: UInt64(n) &+ 99)
                return ConnectionFault(cutUpstreamAfter: Int.random(in: 80 * 1024...120 * 1024, using: &generator))
            }
            let clock = ContinuousClock()
            let started = clock.now
            let upload = try await world.cli(["push", "--attempts", "5", "--upload-time", "240"], db: "a.sqlite")
            let elapsed = clock.now - started
            world.proxy.setPlan { _ in .none }
            let after = world.proxy.statistics
            #expect(upload.status == 0, "\(upload.stdout)\n\(upload.stderr)")
            #expect(upload.stdout.contains("uploaded 1 evidence file"), "\(upload.stdout)\n\(upload.stderr)")
            let sent = after.bytesClientToServer - before.bytesClientToServer
            let cuts = after.connectionsCut - before.connectionsCut
            print("evidence upload of \(size) bytes cut \(cuts) times: \(sent) bytes client→server (\(Double(sent) / Double(size))×) in \(elapsed)")
            #expect(cuts >= 40)
            #expect(Double(sent) <= 1.1 * Double(size))

            // A second device of the school fetches it, its download cut every ~100 KiB too, on a 4 Mbit/s
            // link: AsyncHTTPClient drops the body bytes it read but had not yet handed over when a
            // response ends mid-body, so 100 KiB arriving at once with the cut (loopback, no pacing)
            // would lose about half of each piece (measured 1.9–2.1× the file); paced, nearly nothing.
            try await world.enrol("a2.sqlite", token: world.fixture.deviceA2)
            let sha = try await world.evidenceSHA256("a2.sqlite")
            world.proxy.setPlan { n in
                var generator = SeededGenerator(seed: UInt64(n) &+ 7)
                return ConnectionFault(cutDownstreamAfter: Int.random(in: 80 * 1024...120 * 1024, using: &generator), bytesPerSecond: 512 * 1024)
            }
            let output = world.path("fetched.pdf")
            let received = world.proxy.statistics
            let downloadStarted = clock.now
            let fetched = try await world.cli(["evidence", "get", "--sha256", sha, "--output", output, "--attempts", "5"], db: "a2.sqlite")
            let downloaded = world.proxy.statistics
            world.proxy.setPlan { _ in .none }
            let got = downloaded.bytesServerToClient - received.bytesServerToClient
            print(
                "evidence download of \(size) bytes cut \(downloaded.connectionsCut - received.connectionsCut) times: \(got) bytes server→client (\(Double(got) / Double(size))×) in \(clock.now - downloadStarted)"
            )
            #expect(Double(got) <= 1.1 * Double(size))
            #expect(fetched.status == 0, "\(fetched.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == pdf.bytes)
            // Never overwritten without --force; the name is never a path.
            let again = try await world.cli(["evidence", "get", "--sha256", sha, "--output", output], db: "a2.sqlite")
            #expect(again.status == 64 && again.stderr.contains("--force"))
            #expect(try await world.cli(["evidence", "get", "--sha256", sha, "--output", output, "--force"], db: "a2.sqlite").status == 0)
        }
    }

    @Test(.timeLimit(.minutes(3))) func aDownloadKilledHalfwayGoesOnFromWhereItStopped() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            let pdf = try world.makePDF("plan.pdf", size: 3 * 1024 * 1024, seed: 3)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 0)
            try await world.enrol("a2.sqlite", token: world.fixture.deviceA2)
            let sha = try await world.evidenceSHA256("a2.sqlite")
            // Each connection is cut after 400 KiB from the server and only one try is allowed: the run
            // ends with part of the file kept, and the next run asks only for the rest.
            world.proxy.setPlan { _ in ConnectionFault(cutDownstreamAfter: 400 * 1024, bytesPerSecond: 1024 * 1024) }
            let first = try await world.cli(["evidence", "get", "--sha256", sha, "--output", world.path("x.pdf"), "--attempts", "1"], db: "a2.sqlite")
            #expect(first.status == 69, "\(first.stderr)")
            let held = try await DatabaseQueue(path: world.path("a2.sqlite")).read { db in
                try Int.fetchOne(db, sql: "SELECT stored FROM evidence_files WHERE sha256 = ?", arguments: [sha]) ?? 0
            }
            #expect(held >= 256 * 1024 && held < pdf.bytes.count, "held \(held)")
            world.proxy.setPlan { _ in .none }
            let before = world.proxy.statistics.bytesServerToClient
            let second = try await world.cli(["evidence", "get", "--sha256", sha, "--output", world.path("x.pdf")], db: "a2.sqlite")
            #expect(second.status == 0, "\(second.stderr)")
            #expect(world.proxy.statistics.bytesServerToClient - before < pdf.bytes.count - held + 64 * 1024)
            #expect(try Data(contentsOf: URL(fileURLWithPath: world.path("x.pdf"))) == pdf.bytes)
        }
    }

    @Test(.timeLimit(.minutes(3))) func anotherSchoolIsRefusedUntilItProvesItHasTheFileWhichIsSentOnce() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            let pdf = try world.makePDF("通知.pdf", size: 2 * 1024 * 1024, seed: 4)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 0)
            let sha = try await world.evidenceSHA256("a.sqlite")

            try await world.enrol("b.sqlite", token: world.fixture.deviceB)
            let refused = try await world.cli(["evidence", "get", "--sha256", sha, "--output", world.path("b.pdf")], db: "b.sqlite")
            #expect(refused.status == 77)
            #expect(refused.stderr.contains("this file belongs to another school"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: world.path("b.pdf")))

            // School B attaches the same circular: the server has it, so B proves possession instead of sending it.
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "b.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet", "--upload-time", "0"], db: "b.sqlite").status == 0)
            let before = world.proxy.statistics.bytesClientToServer
            let proved = try await world.cli(["push"], db: "b.sqlite")
            let sent = world.proxy.statistics.bytesClientToServer - before
            #expect(proved.status == 0, "\(proved.stderr)")
            #expect(proved.stderr.contains("proved this school has it"), "\(proved.stderr)")
            print("school B's upload of a \(pdf.bytes.count)-byte file the server had: \(sent) bytes client→server")
            #expect(sent < 16 * 1024)
            let fetched = try await world.cli(["evidence", "get", "--sha256", sha, "--output", world.path("b.pdf")], db: "b.sqlite")
            #expect(fetched.status == 0, "\(fetched.stderr)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func aDamagedCopyIsRefusedByTheServerAndHeldBackUntilAddedAgain() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            let pdf = try world.makePDF("plan.pdf", size: 600_000, seed: 5)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            // Another program changes one byte in the middle of the kept copy.
            let sql = try DatabaseQueue(path: world.path("a.sqlite"))
            try await sql.write { db in
                try db.execute(sql: "UPDATE evidence_chunks SET data = zeroblob(length(data)) WHERE offset = 262144")
            }
            try sql.close()
            let synced = try await world.cli(["sync"], db: "a.sqlite")
            #expect(synced.status == 2, "\(synced.stdout)\n\(synced.stderr)")
            #expect(synced.stderr.contains("different from the file"), "\(synced.stderr)")
            #expect(synced.stdout.contains("held back"), "\(synced.stdout)")
            let status = try await world.cli(["status"], db: "a.sqlite").stdout
            #expect(status.contains("held back") && status.contains("add the original file again"), "\(status)")
            // Nothing is sent again for it until the original is added again (every sync says so); then it goes up.
            #expect(try await world.cli(["sync", "--quiet"], db: "a.sqlite").status == 2)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            let repaired = try await world.cli(["sync"], db: "a.sqlite")
            #expect(repaired.status == 0, "\(repaired.stderr)")
            #expect(repaired.stdout.contains("uploaded 1 evidence file"), "\(repaired.stdout)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func anUploadOutOfTimeIsReportedAndTheNextSyncGoesOnFromWhereItStopped() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            let pdf = try world.makePDF("plan.pdf", size: 2 * 1024 * 1024, seed: 6)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            // A slow link (256 KiB/s) and two seconds for uploads: the records sync, the file does not finish.
            world.proxy.setPlan { _ in ConnectionFault(bytesPerSecond: 256 * 1024) }
            let before = world.proxy.statistics.bytesClientToServer
            let slow = try await world.cli(["sync", "--upload-time", "2"], db: "a.sqlite")
            #expect(slow.status == 0, "\(slow.stdout)\n\(slow.stderr)")
            #expect(slow.stdout.contains("1 file still to upload; it continues on the next sync"), "\(slow.stdout)")
            #expect(slow.stderr.contains("uploading plan.pdf:"), "\(slow.stderr)")
            let status = try await world.cli(["status", "--json"], db: "a.sqlite").stdout
            #expect(status.contains(#""evidenceWaiting""#) && status.contains("plan.pdf"), "\(status)")
            #expect(status.contains(#""pending" : 0"#), "the records went first: \(status)")

            world.proxy.setPlan { _ in .none }
            let middle = world.proxy.statistics.bytesClientToServer
            let serverHolds = try await DatabaseQueue(path: world.fixture.databasePath).read { db in
                try Int.fetchOne(db, sql: "SELECT upload_offset FROM evidence_uploads") ?? -1
            }
            print("the server holds \(serverHolds) bytes of the upload after the slow phase")
            let quiet = try await world.cli(["sync", "--quiet"], db: "a.sqlite")
            print("slow phase \(middle - before) bytes, quiet phase \(world.proxy.statistics.bytesClientToServer - middle) bytes")
            #expect(quiet.status == 0, "\(quiet.stderr)")
            #expect(quiet.stdout.contains("uploaded 1 evidence file"), "\(quiet.stdout)")
            #expect(quiet.stderr.isEmpty, "--quiet prints no progress: \(quiet.stderr)")
            let sent = world.proxy.statistics.bytesClientToServer - before
            #expect(Double(sent) <= 1.1 * Double(pdf.bytes.count), "sent \(sent)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func aSecondDeviceContinuesTheFirstOnesUploadInsteadOfStartingOver() async throws {
        try await World.with { world in
            try await world.enrol("a.sqlite", token: world.fixture.deviceA)
            try await world.enrol("a2.sqlite", token: world.fixture.deviceA2)
            let pdf = try world.makePDF("plan.pdf", size: 2 * 1024 * 1024, seed: 8)
            // Device A's upload is cut after about 1 MiB and it gives up (one try).
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a.sqlite").status == 0)
            #expect(try await world.cli(["sync", "--quiet", "--upload-time", "0"], db: "a.sqlite").status == 0)
            world.proxy.setPlan { _ in ConnectionFault(cutUpstreamAfter: 1024 * 1024) }
            let cut = try await world.cli(["push", "--attempts", "1"], db: "a.sqlite")
            #expect(cut.status == 0, "\(cut.stderr)")
            #expect(cut.stdout.contains("1 file still to upload"), "\(cut.stdout)")
            world.proxy.setPlan { _ in .none }
            // Device A2 attaches the same file: the creation finds A's upload and A2 sends only the rest.
            let before = world.proxy.statistics.bytesClientToServer
            #expect(try await world.cli(["sync", "--quiet", "--upload-time", "0"], db: "a2.sqlite").status == 0)
            #expect(try await world.cli(["report", "set"] + measure + ["--evidence", pdf.path], db: "a2.sqlite").status == 0)
            let second = try await world.cli(["sync", "--quiet"], db: "a2.sqlite")
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout.contains("uploaded 1 evidence file"), "\(second.stdout)")
            let sent = world.proxy.statistics.bytesClientToServer - before
            #expect(sent < pdf.bytes.count - 900 * 1024, "A2 sent \(sent) bytes")
            // Device A's next sync finds the upload finished and sends nothing more of it.
            let again = try await world.cli(["sync", "--quiet"], db: "a.sqlite")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try await world.cli(["status"], db: "a.sqlite").stdout.contains("0 files waiting to upload"))
        }
    }
}
