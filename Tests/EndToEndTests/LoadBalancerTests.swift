import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import SyncServer
import Testing

/// Issue 14's proof: two `schoolsync-server` processes on one PostgreSQL database behind HAProxy
/// (`Scripts/loadbalancer.sh`: round robin, health checks on `/healthz`), six real `schoolsync`
/// clients of two schools editing reports (the CLI's `report set` and plain SQL) and syncing through
/// it in rounds. In round ``killRound`` two devices have long pushes to make and every device syncs
/// at once while the test holds the row lock each writing transaction takes just before it commits;
/// once every push waits for it inside a server, the server holding most of them is SIGKILLed and
/// the lock released. Then:
///
/// - every sync ends 0 (or 2: a conflict), the killed round's too: each push the kill broke is sent
///   again by its client, a request that could not reach the dead server is sent on by HAProxy, and
///   the other server answers them; after every round nothing is pending on any device;
/// - HAProxy's health check takes the dead server out, and the clients keep syncing through the other;
/// - after every round, every write a device had acknowledged (a sync left nothing pending) is in
///   the database, read through a store of the test's own, or was knowingly replaced by one that is;
/// - at the end every replica holds exactly the server's states of its school and of the catalog,
///   so the replicas of one school agree.
///
/// Seeded (``seed``): the planned edits (device, report, CLI or SQL, text) replay exactly. What
/// depends on timing is the order in which the concurrent syncs reach the servers, hence which
/// edits find their narrative already in conflict and are refused, and which server dies (the one
/// holding more of the waiting pushes); every outcome must pass. Nothing waits by sleeping: the
/// test waits for states (HAProxy's view of the servers, PostgreSQL's of who waits for a lock),
/// each with a deadline.
@Suite(.serialized)
struct LoadBalancerTests {
    static let seed: UInt64 = 14
    static let rounds = 6
    static let killRound = 2
    static let editsPerRound = 2
    static let measures = (1...6).map { "qixing-2024/m\($0)" }
    static let periods = ["2025-S1", "2025-S2"]
    static let schools = [Fixture.schoolA, Fixture.schoolB]
    /// Reports each of the first devices of the two schools writes just before the killed round,
    /// pushed 5 a request, so that pushes are surely under way when the server dies.
    static let bulkReports = 120
    static let bulkBatch = 5

    struct Device: Sendable {
        let name: String
        let school: String
        let token: String
        let db: String
    }

    /// One planned edit: drawn from the seeded generator before the devices run concurrently.
    struct PlannedEdit: Sendable {
        let measure: String
        let period: String
        let viaCLI: Bool
        let status: String?
        let token: String
    }

    /// What one device did in a round's edit phase.
    struct EditOutcome: Sendable {
        var accepted: [AcceptedEdit] = []
        var refused = 0
    }

    struct AcceptedEdit: Sendable {
        let reportID: String
        let token: String
        let seen: String?
    }

    @Test(.timeLimit(.minutes(5))) func twoServersBehindHAProxyOneKilledMidSyncLoseNothingAndConverge() async throws {
        let started = ContinuousClock.now
        try await Fixture.with(store: .postgres) { fixture in
            let storeArguments = try await fixture.kind.serverArguments(in: fixture.directory)
            var servers: [ServerProcess] = []
            var balancer: LoadBalancer?
            do {
                servers.append(try await ServerProcess(store: storeArguments))
                servers.append(try await ServerProcess(store: storeArguments))
                let haproxy = try await LoadBalancer.start(backends: servers.map(\.port), in: fixture.directory.appendingPathComponent("haproxy"))
                balancer = haproxy
                try await exercise(fixture: fixture, storeArguments: storeArguments, servers: servers, balancer: haproxy)
            } catch {
                await balancer?.stop()
                for server in servers where server.process.isRunning { await server.stop(with: SIGKILL) }
                throw error
            }
            await balancer?.stop()
            for server in servers where server.process.isRunning { #expect(await server.stop(with: SIGTERM) == 0) }
        }
        print("load balancer: the run took \(ContinuousClock.now - started)")
    }

    func exercise(fixture: Fixture, storeArguments: [String], servers: [ServerProcess], balancer: LoadBalancer) async throws {
        try await balancer.waitUntil("both servers up") { $0["s1"] == "UP" && $0["s2"] == "UP" }
        let url = balancer.baseURL

        // The catalog, through the load balancer like everything else.
        let bureau = fixture.path("bureau.sqlite")
        try requireSuccess(try await cli(["init", "--server", url, "--token", fixture.bureau], db: bureau), "bureau init")
        try await Replicas.writeCatalog(measures: Self.measures, schools: Self.schools, intoReplicaAt: bureau)
        try requireSuccess(try await cli(["sync", "--quiet"], db: bureau), "bureau sync")

        // Six devices, three a school: the fixture's, and more enrolled by the admin CLI on the database.
        var devices = [
            Device(name: "a1", school: Fixture.schoolA, token: fixture.deviceA, db: fixture.path("a1.sqlite")),
            Device(name: "a2", school: Fixture.schoolA, token: fixture.deviceA2, db: fixture.path("a2.sqlite")),
            Device(name: "b1", school: Fixture.schoolB, token: fixture.deviceB, db: fixture.path("b1.sqlite")),
        ]
        for (name, school) in [("a3", Fixture.schoolA), ("b2", Fixture.schoolB), ("b3", Fixture.schoolB)] {
            let token = try await enrol(name: name, school: school, storeArguments: storeArguments)
            devices.append(Device(name: name, school: school, token: token, db: fixture.path("\(name).sqlite")))
        }
        devices.sort { $0.name < $1.name }
        try await forEach(devices) { device in
            try requireSuccess(try await cli(["init", "--server", url, "--token", device.token], db: device.db), "\(device.name) init")
            try requireSuccess(try await cli(["sync", "--quiet"], db: device.db), "\(device.name) first sync")
        }
        let before = try await balancer.servers()
        #expect(before.filter { $0.name != "BACKEND" }.allSatisfy { $0.sessions > 0 }, "round robin sent requests to both servers: \(before)")

        var random = SeededGenerator(seed: Self.seed)
        var edits: [NarrativeEdit] = []
        var refused = 0
        var killed: Int?
        var survivorSessionsAtKill = 0
        for round in 0..<Self.rounds {
            // Edits, planned in order from the seed, then made on every device at once.
            var plans: [String: [PlannedEdit]] = [:]
            for device in devices {
                plans[device.name] = (0..<Self.editsPerRound).map { index in
                    PlannedEdit(
                        measure: Self.measures[Int.random(in: 0..<Self.measures.count, using: &random)],
                        period: Self.periods[Int.random(in: 0..<Self.periods.count, using: &random)],
                        viaCLI: Bool.random(using: &random),
                        status: Bool.random(using: &random) ? ["in_progress", "done", "at_risk"][Int.random(in: 0..<3, using: &random)] : nil,
                        token: "\(device.name)#\(round).\(index)"
                    )
                }
            }
            let planned = plans
            let outcomes = try await forEach(devices) { device in try await edit(device, planned[device.name] ?? []) }
            for (device, outcome) in zip(devices, outcomes) {
                refused += outcome.refused
                edits += outcome.accepted.map { accepted in
                    NarrativeEdit(device: device.name, reportID: accepted.reportID, token: accepted.token, seen: accepted.seen.map { [$0] } ?? [], operation: round)
                }
            }

            let results: [CommandResult]
            if round == Self.killRound {
                for device in devices where device.name.hasSuffix("1") { edits += try await writeBulk(device) }
                let pushers = try await forEach(devices) { device in try await replicaStatus(device).pending > 0 }.filter { $0 }.count
                let databaseURL = try await fixture.kind.databaseURL(in: fixture.directory)
                let killing = try await syncKillingServer(devices, servers: servers, pushers: pushers, databaseURL: databaseURL)
                results = killing.results
                killed = killing.killed
                let dead = "s\(killing.killed + 1)"
                let alive = "s\(2 - killing.killed)"
                try await balancer.waitUntil("the killed server taken out") { $0[dead] == "DOWN" && $0[alive] == "UP" }
                let seen = try await balancer.servers()
                survivorSessionsAtKill = seen.first { $0.name == alive }?.sessions ?? 0
                print("load balancer after killing \(dead) with \(killing.inFlight) pushes in flight on it: \(describe(seen))")
                // HAProxy does not replay a POST: each push in flight on the dead server failed at its
                // client (a 502, or its kept-alive connection closed), which sent it again; the exit
                // codes below say with what result.
                let retried = results.filter { $0.stderr.contains("retry ") }
                #expect(retried.count >= killing.inFlight, "every client whose push the kill broke retried it: \(retried.map(\.stderr))")
                for result in retried {
                    print("load balancer: " + result.stderr.split(separator: "\n").filter { $0.hasPrefix("retry ") }.joined(separator: "; "))
                }
            } else {
                results = try await forEach(devices) { device in try await cli(["sync", "--quiet"], db: device.db) }
            }
            for (device, result) in zip(devices, results) {
                #expect([0, 2].contains(result.status), "round \(round): \(device.name)'s sync exited \(result.status): \(result.stderr)")
            }

            // Acknowledged: a device with nothing pending had every edit so far taken by the server.
            let statuses = try await forEach(devices) { device in try await replicaStatus(device) }
            for (device, status) in zip(devices, statuses) {
                #expect(status.pending == 0, "round \(round): \(device.name) still has \(status.pending) changes to send after its sync")
                #expect(status.rejected.isEmpty, "round \(round): \(device.name) has rejected records: \(status.rejected.map(\.message))")
                guard status.pending == 0 else { continue }
                for index in edits.indices where edits[index].device == device.name { edits[index].confirmed = true }
            }
            // ...and the database has them now, whichever server took them (the dead one included).
            let server = try await Replicas.states(of: fixture.store, scopes: nil)
            let lost = Replicas.lostEdits(edits.filter(\.confirmed), server: server)
            #expect(lost.isEmpty, "round \(round): acknowledged edits missing from the database: \(lost.map { "\($0.token) on \($0.reportID)" })")
        }
        #expect(killed.map { !servers[$0].process.isRunning } == true, "a server was killed")

        // Quiet syncs through the surviving server: nothing is pending, so each is a pull that
        // brings every other device's last pushes.
        let last = try await forEach(devices) { device in try await cli(["sync", "--quiet"], db: device.db) }
        for (device, result) in zip(devices, last) {
            #expect([0, 2].contains(result.status), "the last sync of \(device.name) exited \(result.status): \(result.stderr)")
        }
        try await checkConvergence(fixture: fixture, devices: devices, edits: edits)
        let after = try await balancer.servers()
        let survivor = killed.map { "s\(2 - $0)" }
        #expect(
            (after.first { $0.name == survivor }?.sessions ?? 0) > survivorSessionsAtKill,
            "the clients kept syncing through the surviving server: \(describe(after))"
        )
        print(
            "load balancer: seed \(Self.seed), \(devices.count) devices, \(Self.rounds) rounds, \(edits.count) accepted edits, \(refused) refused (conflicts); "
                + describe(after)
        )
    }

    // MARK: Steps

    /// Enrols a device with `schoolsync-server device add` on the database and returns its token.
    func enrol(name: String, school: String, storeArguments: [String]) async throws -> String {
        let result = try await RunningCommand.run("schoolsync-server", ["device", "add"] + storeArguments + ["--school", school, "--name", "设备 \(name)"])
        guard result.status == 0, let line = result.stdout.split(separator: "\n").first(where: { $0.hasPrefix("token") }),
            let token = line.split(separator: " ").last
        else { throw ReplicaCheckError("device add \(name) exited \(result.status): \(result.stderr)\(result.stdout)") }
        return String(token)
    }

    /// Makes a device's planned edits in order: `report set`, or plain SQL. An edit of a narrative
    /// in conflict is refused (exit 65, or the replica's trigger) and so not accepted.
    func edit(_ device: Device, _ plans: [PlannedEdit]) async throws -> EditOutcome {
        var outcome = EditOutcome()
        for plan in plans {
            let reportID = "\(device.school)/\(plan.period)/\(plan.measure)"
            if plan.viaCLI {
                let seen = try await Replicas.shownNarrative(device.db, reportID: reportID)
                var arguments = ["report", "set", "--measure", plan.measure, "--period", plan.period, "--narrative", plan.token]
                if let status = plan.status { arguments += ["--status", status] }
                let result = try await cli(arguments, db: device.db)
                switch result.status {
                case 0: outcome.accepted.append(AcceptedEdit(reportID: reportID, token: plan.token, seen: seen))
                case 65: outcome.refused += 1
                default: Issue.record("report set on \(device.name) exited \(result.status): \(result.stderr)")
                }
            } else {
                do {
                    let seen = try await Replicas.writeNarrative(
                        device.db, reportID: reportID, school: device.school, measure: plan.measure, period: plan.period, narrative: plan.token)
                    outcome.accepted.append(AcceptedEdit(reportID: reportID, token: plan.token, seen: seen))
                } catch let error as DatabaseError where error.message?.contains("conflict") == true {
                    outcome.refused += 1
                }
            }
        }
        return outcome
    }

    /// Writes ``bulkReports`` new reports (yearly periods of the first measure) on the device with plain SQL.
    func writeBulk(_ device: Device) async throws -> [NarrativeEdit] {
        let queue = try DatabaseQueue(path: device.db)
        defer { try? queue.close() }
        let measure = Self.measures[0]
        let years = 1000..<(1000 + Self.bulkReports)
        try await queue.write { db in
            for year in years {
                try db.execute(
                    sql: "INSERT INTO reports (id, school_id, measure_id, period, status, narrative) VALUES (?, ?, ?, ?, 'in_progress', ?)",
                    arguments: ["\(device.school)/\(year)/\(measure)", device.school, measure, "\(year)", "\(device.name)#bulk\(year)"]
                )
            }
        }
        return years.map {
            NarrativeEdit(device: device.name, reportID: "\(device.school)/\($0)/\(measure)", token: "\(device.name)#bulk\($0)", seen: [], operation: Self.killRound)
        }
    }

    /// Every device syncs at once, ``bulkBatch`` records a push, while the test holds `log_head`'s
    /// row lock, which every writing transaction takes last, just before it commits. Once all
    /// `pushers` pushes are in the servers' stores (`schoolsync_pushes_storing`: parked on the lock,
    /// or queued for their group commit behind a group that is), the server holding most of them is
    /// SIGKILLed and the lock released: requests are surely in flight on the server that dies.
    ///
    /// - Returns: the syncs' results, the index of the killed server and how many pushes it held.
    func syncKillingServer(
        _ devices: [Device],
        servers: [ServerProcess],
        pushers: Int,
        databaseURL: String
    ) async throws -> (results: [CommandResult], killed: Int, inFlight: Int) {
        let holder = try await PostgresSession.connect(databaseURL)
        let watcher = try await PostgresSession.connect(databaseURL)
        do {
            try await holder.execute("BEGIN")
            try await holder.execute("SELECT seq FROM log_head FOR UPDATE")
            let syncs = try devices.map { device in
                try RunningCommand("schoolsync", ["sync", "--batch-size", "\(Self.bulkBatch)", "--db", device.db])
            }
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(20))
            // Every push in a store, and every store holding one parked on the lock in PostgreSQL.
            var held = servers.map { _ in 0 }
            var parked = servers.map { _ in false }
            while held.reduce(0, +) < pushers || zip(held, parked).contains(where: { $0 > 0 && !$1 }) {
                guard clock.now < deadline else {
                    throw ReplicaCheckError("only \(held) of \(pushers) pushes reached the servers' stores (parked on the lock: \(parked)) in 20 s")
                }
                try await Task.sleep(for: .milliseconds(20))
                var counts: [Int] = []
                for server in servers { counts.append(try await Self.pushesStoring(at: server)) }
                held = counts
                let waiting = try await watcher.clientPortsWaitingForLocks()
                parked = servers.map { !$0.localTCPPorts().isDisjoint(with: waiting) }
            }
            let killed = held.indices.max { held[$0] < held[$1] || (held[$0] == held[$1] && $0 > $1) } ?? 0
            #expect(held[killed] > 0, "the pushes wait in the servers: \(held)")
            #expect(await servers[killed].stop(with: SIGKILL) == SIGKILL)
            try await holder.execute("ROLLBACK")
            var results: [CommandResult] = []
            for sync in syncs { results.append(await sync.wait()) }
            await holder.close()
            await watcher.close()
            return (results, killed, held[killed])
        } catch {
            await holder.close()
            await watcher.close()
            throw error
        }
    }

    /// The server's `schoolsync_pushes_storing`, from its `/metrics` (straight, not through HAProxy).
    static func pushesStoring(at server: ServerProcess) async throws -> Int {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: server.baseURL + "/metrics"), timeout: .seconds(5))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        for line in text.split(separator: "\n") where line.hasPrefix("schoolsync_pushes_storing ") {
            return Int(Double(line.split(separator: " ").last ?? "") ?? 0)
        }
        return 0
    }

    func replicaStatus(_ device: Device) async throws -> ReplicaStatus {
        let result = try await cli(["status", "--json"], db: device.db)
        try requireSuccess(result, "\(device.name) status")
        return try JSONDecoder().decode(ReplicaStatus.self, from: Data(result.stdout.utf8))
    }

    // MARK: Invariants

    func checkConvergence(fixture: Fixture, devices: [Device], edits: [NarrativeEdit]) async throws {
        var held: [String: [RecordKey: RecordState]] = [:]
        for device in devices {
            let scopes: Set = ["catalog", "school:\(device.school)"]
            let expected = try await Replicas.states(of: fixture.store, scopes: scopes)
            let states = try await Replicas.states(device.db, table: "sync_records", scopes: scopes)
            #expect(Set(states.keys) == Set(expected.keys), "\(device.name) holds the server's records of its school and the catalog")
            for (key, state) in expected where states[key] != state {
                Issue.record("\(device.name) differs from the server on \(key): \(String(describing: states[key])) vs \(state)")
            }
            let status = try await replicaStatus(device)
            #expect(status.pending == 0, "\(device.name) still has changes to send")
            #expect(status.rejected.isEmpty, "\(device.name) has rejected records: \(status.rejected.map(\.message))")
            held[device.name] = states
        }
        for school in Self.schools {
            let replicas = devices.filter { $0.school == school }.compactMap { held[$0.name] }
            #expect(replicas.count == 3 && replicas.allSatisfy { $0 == replicas[0] }, "the replicas of \(school) agree")
        }
        #expect(edits.allSatisfy { $0.confirmed }, "every accepted edit was acknowledged by a sync")
        let server = try await Replicas.states(of: fixture.store, scopes: nil)
        let lost = Replicas.lostEdits(edits, server: server)
        #expect(lost.isEmpty, "accepted edits lost: \(lost.map { "\($0.token) on \($0.reportID) (it replaced \($0.seen))" })")
        #expect(edits.count > Self.bulkReports * 2, "the run made edits besides the bulk ones")
    }

    // MARK: Helpers

    func cli(_ arguments: [String], db: String) async throws -> CommandResult {
        try await RunningCommand.run("schoolsync", arguments + ["--db", db])
    }

    /// Ends the test with the command's complaint unless it exited 0: what follows needs it done.
    func requireSuccess(_ result: CommandResult, _ what: String) throws {
        guard result.status == 0 else { throw ReplicaCheckError("\(what) exited \(result.status): \(result.stderr)") }
    }

    func describe(_ servers: [LoadBalancer.Server]) -> String {
        servers.map {
            "\($0.name) \($0.status) sessions=\($0.sessions) retries=\($0.retries) redispatches=\($0.redispatches) response_errors=\($0.responseErrors) 5xx=\($0.http5xx)"
        }.joined(separator: "; ")
    }

    /// Runs `body` for every device at once and returns the results in the devices' order.
    @discardableResult
    func forEach<T: Sendable>(_ devices: [Device], _ body: @escaping @Sendable (Device) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for (index, device) in devices.enumerated() { group.addTask { (index, try await body(device)) } }
            var results: [(Int, T)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
