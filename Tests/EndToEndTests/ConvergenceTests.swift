import FaultProxy
import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import SyncClient
import SyncServer
import SyncServerSQLite
import Testing

/// Issue 12's fault harness: a seeded, bounded randomised run of the real executables through the
/// fault-injecting proxy — two schools × two devices, CLI and plain-SQL edits, cut and
/// black-holed connections, SIGKILLed clients and server, devices restored from old copies of
/// their files — then quiet syncs, then the invariants:
///
/// - every replica of a school holds exactly the server's states of that school's records and of
///   the catalog (convergence);
/// - every locally accepted edit is current, or one of the kept conflicting values, or was
///   replaced by an edit made by someone who saw it (no accepted write lost, DESIGN §4);
/// - no client is stuck: the quiet syncs end with exit 0 or 2, nothing pending, nothing rejected.
///
/// An edit made after the copy a device is later restored from, and not synced before the restore,
/// is excused: restoring the copy is what dropped it, and only that device ever held it.
///
/// `SCHOOLSYNC_CONVERGENCE_OPS` (default 400) and `SCHOOLSYNC_CONVERGENCE_SEED` (default 1) set the
/// run; `Scripts/convergence.sh` runs the long one (10,000 operations) and prints its result.
@Suite(.serialized)
struct ConvergenceTests {
    static let schools = ["qx-zhuoran", "qx-huoju"]
    static let measures = ["qixing-2024/m1", "qixing-2024/m2", "qixing-2024/m3", "qixing-2024/m4", "qixing-2024/m5"]
    static let period = "2025-S1"

    typealias Edit = NarrativeEdit

    final class Run {
        let directory: URL
        let serverDatabase: String
        var server: ServerProcess?
        let serverPort: Int
        let proxy: FaultProxy
        var devices: [String: String] = [:]  // device name → school
        var tokens: [String: String] = [:]  // device name → token
        var snapshots: [String: Int] = [:]  // device name → the operation its copy was taken after
        var edits: [Edit] = []
        var log: [String] = []
        var counts: [String: Int] = [:]

        init(directory: URL, serverDatabase: String, server: ServerProcess, proxy: FaultProxy) {
            self.directory = directory
            self.serverDatabase = serverDatabase
            self.server = server
            serverPort = server.port
            self.proxy = proxy
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func db(_ device: String) -> String { path("\(device).sqlite") }
        var url: String { "http://127.0.0.1:\(proxy.port)" }

        func cli(_ arguments: [String], device: String) async throws -> CommandResult {
            try await RunningCommand.run("schoolsync", arguments + ["--db", db(device)])
        }

        func count(_ what: String) { counts[what, default: 0] += 1 }
    }

    @Test(.timeLimit(.minutes(30))) func randomisedFaultsConverge() async throws {
        let environment = ProcessInfo.processInfo.environment
        let operations = environment["SCHOOLSYNC_CONVERGENCE_OPS"].flatMap(Int.init) ?? 400
        let seed = environment["SCHOOLSYNC_CONVERGENCE_SEED"].flatMap(UInt64.init) ?? 1
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-convergence-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let serverDatabase = directory.appendingPathComponent("server.sqlite").path
        let store = try SQLiteStore(path: serverDatabase)
        let now = Date()
        var tokens: [String: String] = [:]
        var devices: [String: String] = [:]
        for school in Self.schools {
            _ = try await store.createSchool(id: school, name: school, at: now)
            for suffix in ["a", "b"] {
                let name = "\(school)-\(suffix)"
                tokens[name] = try await store.createPrincipal(kind: .device, name: name, schoolID: school, at: now).token
                devices[name] = school
            }
        }
        tokens["bureau"] = try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).token
        tokens["admin"] = try await store.createPrincipal(kind: .admin, name: "督导", schoolID: nil, at: now).token
        let server = try await ServerProcess(database: serverDatabase, arguments: ["--failed-auth-per-minute", "0"])
        let proxy = try await FaultProxy.start(upstreamPort: server.port)
        do {
            try await exercise(Run(directory: directory, serverDatabase: serverDatabase, server: server, proxy: proxy), tokens: tokens, devices: devices, operations: operations, seed: seed)
        } catch {
            try? await proxy.shutdown()
            throw error
        }
        try await proxy.shutdown()
    }

    func exercise(_ run: Run, tokens: [String: String], devices: [String: String], operations: Int, seed: UInt64) async throws {
        let proxy = run.proxy
        run.tokens = tokens
        run.devices = devices

        try await publishCatalog(run)
        #expect(try await run.cli(["init", "--server", run.url, "--token", tokens["admin"] ?? ""], device: "admin").status == 0)
        for device in devices.keys.sorted() {
            let enrolled = try await run.cli(["init", "--server", run.url, "--token", tokens[device] ?? ""], device: device)
            #expect(enrolled.status == 0, "\(enrolled.stderr)")
            #expect(try await run.cli(["sync", "--quiet"], device: device).status == 0)
        }

        // The faulty phase.
        let plan = SeededFaultPlan(seed: seed, cutProbability: 0.2, blackHoleProbability: 0.02, maxCutBytes: 6_000)
        proxy.setPlan { plan.fault(forConnection: $0) }
        var random = SeededGenerator(seed: seed)
        let names = devices.keys.sorted()
        for operation in 0..<operations {
            let device = names[Int.random(in: 0..<names.count, using: &random)]
            let roll = Int.random(in: 0..<100, using: &random)
            switch roll {
            case 0..<28: try await cliEdit(run, device: device, operation: operation, random: &random)
            case 28..<50: try await sqlEdit(run, device: device, operation: operation, random: &random)
            case 50..<74: try await sync(run, device: device, operation: operation)
            case 74..<82: try await killedSync(run, device: device, operation: operation)
            case 82..<85: try await restartServer(run)
            case 85..<88: try snapshot(run, device: device, operation: operation)
            case 88..<96: try await resolve(run, operation: operation, random: &random)
            default: try restore(run, device: device)
            }
        }

        // Quiet syncs on a clean link: everyone converges.
        proxy.setPlan { _ in .none }
        if run.server == nil { try await restartServer(run) }
        for _ in 0..<3 {
            for device in names {
                let result = try await run.cli(["sync", "--quiet", "--attempts", "3"], device: device)
                #expect([0, 2].contains(result.status), "\(device) is stuck after the faults: \(result.stderr)")
            }
        }
        try await check(run)
        let summary = run.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("convergence: seed \(seed), \(operations) operations, \(run.edits.count) accepted narrative edits: \(summary)")
        await run.server?.stop(with: SIGTERM)
    }

    // MARK: Operations

    func publishCatalog(_ run: Run) async throws {
        let bureau = "bureau"
        #expect(try await run.cli(["init", "--server", run.url, "--token", run.tokens[bureau] ?? ""], device: bureau).status == 0)
        try await Replicas.writeCatalog(measures: Self.measures, schools: Self.schools, intoReplicaAt: run.db(bureau))
        #expect(try await run.cli(["sync", "--quiet"], device: bureau).status == 0)
    }

    func reportID(_ school: String, _ measure: String) -> String { "\(school)/\(Self.period)/\(measure)" }

    /// The narrative a person at the device sees now (NULL while in conflict or absent).
    func shownNarrative(_ run: Run, device: String, reportID: String) async throws -> String? {
        try await Replicas.shownNarrative(run.db(device), reportID: reportID)
    }

    func cliEdit(_ run: Run, device: String, operation: Int, random: inout SeededGenerator) async throws {
        let measure = Self.measures[Int.random(in: 0..<Self.measures.count, using: &random)]
        let id = reportID(run.devices[device] ?? "", measure)
        let token = "\(device)#\(operation)·命令"
        let seen = try await shownNarrative(run, device: device, reportID: id)
        var arguments = ["report", "set", "--measure", measure, "--period", Self.period, "--narrative", token]
        if Bool.random(using: &random) { arguments += ["--status", ["in_progress", "done", "at_risk"][Int.random(in: 0..<3, using: &random)]] }
        let result = try await run.cli(arguments, device: device)
        switch result.status {
        case 0:
            run.edits.append(Edit(device: device, reportID: id, token: token, seen: seen.map { [$0] } ?? [], operation: operation))
            run.log.append("#\(operation) \(device) cli \(id) := \(token) (saw \(seen ?? "nothing"))")
            run.count("cli-edit")
        case 65:
            run.count("cli-edit-refused")  // the narrative is in conflict: refused, so not accepted
        default:
            Issue.record("report set on \(device) exited \(result.status): \(result.stderr)")
        }
    }

    func sqlEdit(_ run: Run, device: String, operation: Int, random: inout SeededGenerator) async throws {
        let school = run.devices[device] ?? ""
        let measure = Self.measures[Int.random(in: 0..<Self.measures.count, using: &random)]
        let id = reportID(school, measure)
        let token = "\(device)#\(operation)·表格"
        do {
            let seen = try await Replicas.writeNarrative(run.db(device), reportID: id, school: school, measure: measure, period: Self.period, narrative: token)
            run.edits.append(Edit(device: device, reportID: id, token: token, seen: seen.map { [$0] } ?? [], operation: operation))
            run.log.append("#\(operation) \(device) sql \(id) := \(token) (saw \(seen ?? "nothing"))")
            run.count("sql-edit")
        } catch let error as DatabaseError where error.message?.contains("conflict") == true {
            run.count("sql-edit-refused")
        }
    }

    /// An administrator settles a conflicted report (if the chosen one is in conflict): the
    /// narrative gets a new value that knowingly replaces every value shown side by side.
    func resolve(_ run: Run, operation: Int, random: inout SeededGenerator) async throws {
        let school = Self.schools[Int.random(in: 0..<Self.schools.count, using: &random)]
        let id = reportID(school, Self.measures[Int.random(in: 0..<Self.measures.count, using: &random)])
        let shown = try await run.cli(["admin", "show", "--collection", "reports", "--id", id, "--json", "--attempts", "1", "--timeout", "3"], device: "admin")
        guard shown.status == 0 else {
            #expect([65, 69].contains(shown.status), "admin show: \(shown.stderr)")  // not in conflict, or the link failed
            run.count("resolve-nothing")
            return
        }
        let detail = try JSONDecoder().decode(ConflictDetail.self, from: Data(shown.stdout.utf8))
        let token = "admin#\(operation)·裁决"
        // --seen: settle only what was shown; a value that arrives in between (a killed device's
        // push the link delivers late) makes the resolution stale instead of being settled unseen.
        let seenContext = String(decoding: try CanonicalJSON.encode(detail.context), as: UTF8.self)
        var arguments = [
            "admin", "resolve", "--collection", "reports", "--id", id, "--reason", "收敛测试", "--attempts", "1", "--timeout", "3", "--seen", seenContext,
        ]
        for field in detail.conflicts.keys.sorted() {
            arguments += ["--value", field == "narrative" ? "narrative=\(token)" : "\(field)=done"]
        }
        let result = try await run.cli(arguments, device: "admin")
        switch result.status {
        case 0:
            if let candidates = detail.conflicts["narrative"] {
                let seen = candidates.compactMap { if case .string(let text) = $0.value { text } else { nil } }
                run.edits.append(Edit(device: "admin", reportID: id, token: token, seen: seen, operation: operation, confirmed: true))
            }
            run.log.append("#\(operation) admin resolved \(id): \(arguments.filter { $0.contains("=") }) (saw \(detail.conflicts["narrative"]?.map { "\($0.value)" } ?? []))")
            run.count("resolve")
        case 69 where detail.conflicts["narrative"] != nil:
            // The link failed, perhaps after the server applied it (the answer cut on its way
            // back): it may have replaced what it was shown, and need not be current.
            if let candidates = detail.conflicts["narrative"] {
                let seen = candidates.compactMap { if case .string(let text) = $0.value { text } else { nil } }
                run.edits.append(Edit(device: "admin", reportID: id, token: token, seen: seen, operation: operation, confirmed: true, excused: true))
            }
            run.log.append("#\(operation) admin resolve of \(id) unanswered (may have been applied)")
            run.count("resolve-unanswered")
        case 65, 69:
            run.count("resolve-refused")  // stale (new values arrived), or the link failed
        default:
            Issue.record("admin resolve exited \(result.status): \(result.stderr)")
        }
    }

    /// Marks the device's edits as safely on the server after a sync that pushed everything.
    func confirm(_ run: Run, device: String) {
        for index in run.edits.indices where run.edits[index].device == device { run.edits[index].confirmed = true }
    }

    func sync(_ run: Run, device: String, operation: Int) async throws {
        let result = try await run.cli(["sync", "--quiet", "--attempts", "1", "--timeout", "3"], device: device)
        run.log.append("#\(operation) \(device) sync → \(result.status)")
        switch result.status {
        case 0, 2:
            confirm(run, device: device)
            run.count("sync-ok")
        case 69:
            run.count("sync-unreachable")
        default:
            Issue.record("sync on \(device) exited \(result.status) at operation \(operation): \(result.stderr)")
        }
    }

    /// A sync killed as soon as it has applied a first page: mid-push or mid-pull, as a power cut would.
    func killedSync(_ run: Run, device: String, operation: Int) async throws {
        let process = try RunningCommand("schoolsync", ["sync", "--attempts", "1", "--timeout", "3", "--db", run.db(device)])
        _ = await process.waitForErrorLine(containing: "pulled")
        process.signal(SIGKILL)
        let result = await process.wait()
        run.log.append("#\(operation) \(device) killed sync → \(result.status)")
        if result.status == 0 || result.status == 2 { confirm(run, device: device) }
        run.count("sync-killed")
    }

    func restartServer(_ run: Run) async throws {
        if let server = run.server { await server.stop(with: SIGKILL) }
        run.server = try await ServerProcess(database: run.serverDatabase, port: run.serverPort, arguments: ["--failed-auth-per-minute", "0"])
        run.log.append("server killed and restarted")
        run.count("server-killed")
    }

    /// Copies the device's files aside (no process has them open between operations).
    func snapshot(_ run: Run, device: String, operation: Int) throws {
        for suffix in ["", "-wal"] {
            let source = run.db(device) + suffix
            let copy = run.path("\(device).copy.sqlite\(suffix)")
            try? FileManager.default.removeItem(atPath: copy)
            if FileManager.default.fileExists(atPath: source) { try FileManager.default.copyItem(atPath: source, toPath: copy) }
        }
        run.snapshots[device] = operation
        run.log.append("#\(operation) \(device) snapshot")
        run.count("snapshot")
    }

    func restore(_ run: Run, device: String) throws {
        guard let taken = run.snapshots[device] else { return }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: run.db(device) + suffix) }
        for suffix in ["", "-wal"] {
            let copy = run.path("\(device).copy.sqlite\(suffix)")
            if FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: copy, toPath: run.db(device) + suffix) }
        }
        // Edits made after the copy and never confirmed on the server existed only in the file just replaced.
        for index in run.edits.indices where run.edits[index].device == device && run.edits[index].operation > taken && !run.edits[index].confirmed {
            run.edits[index].excused = true
        }
        run.log.append("\(device) restored to its snapshot of #\(taken)")
        run.count("restore")
    }

    // MARK: Invariants

    func check(_ run: Run) async throws {
        if let server = run.server { await server.stop(with: SIGTERM) }
        run.server = nil
        let server = try await Replicas.states(run.serverDatabase, table: "records", scopes: nil)
        for (device, school) in run.devices.sorted(by: { $0.key < $1.key }) {
            let scopes: Set = ["catalog", "school:\(school)"]
            let expected = try await Replicas.states(run.serverDatabase, table: "records", scopes: scopes)
            let held = try await Replicas.states(run.db(device), table: "sync_records", scopes: scopes)
            #expect(Set(held.keys) == Set(expected.keys), "\(device) holds the server's records of its school and the catalog")
            for (key, state) in expected where held[key] != state {
                Issue.record("\(device) differs from the server on \(key): \(String(describing: held[key])) vs \(state)")
            }
            let result = try await run.cli(["status", "--json"], device: device)
            #expect(result.status == 0)
            let status = try JSONDecoder().decode(ReplicaStatus.self, from: Data(result.stdout.utf8))
            #expect(status.pending == 0, "\(device) still has changes to send")
            #expect(status.rejected.isEmpty, "\(device) has rejected records: \(status.rejected.map(\.message))")
        }
        let lost = Replicas.lostEdits(run.edits, server: server).map { "\($0.token) on \($0.reportID) (it replaced \($0.seen))" }
        #expect(lost.isEmpty, "accepted edits lost: \(lost.joined(separator: "; "))")
        if !lost.isEmpty, let first = run.edits.first(where: { edit in lost.contains { $0.hasPrefix(edit.token) } }) {
            // What happened to the first lost edit's record, for whoever has to find out why.
            print("log of \(first.reportID):")
            for line in run.log where line.contains(first.reportID) || !line.contains("/2025-S1/") { print("  " + line) }
            let queue = try DatabaseQueue(path: run.serverDatabase)
            let audit = try await queue.read { db in
                try Row.fetchAll(db, sql: "SELECT seq, kind, replica, after FROM audit WHERE record_id = ? ORDER BY id", arguments: [first.reportID])
            }
            try queue.close()
            print("server history of \(first.reportID):")
            for row in audit {
                let after: String = row["after"]
                let narrative = after.range(of: #""narrative":\[[^\]]*\]"#, options: .regularExpression).map { String(after[$0]) } ?? "-"
                print("  #\(row["seq"] as Int64) \(row["kind"] as String) by \(row["replica"] as String): \(narrative)")
            }
        }
    }
}
