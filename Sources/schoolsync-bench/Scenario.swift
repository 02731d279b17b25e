import AsyncHTTPClient
import Foundation
import NIOCore
import SchoolSyncTestSupport
import Reporting
import SyncClient
import SyncCore
import SyncServer
import SyncServerSQLite

/// The measured scenarios. Each starts its own server process on a fresh database.
enum Scenario {
    static func engine(_ replica: LocalReplica, url: String, token: String, http: HTTPClient, meter: TrafficMeter? = nil) async throws -> SyncEngine {
        var transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(120))
        transport.meter = meter
        if try await replica.settings() == nil {
            try await replica.enrol(serverURL: url, token: token, session: try await transport.session())
        }
        return SyncEngine(replica: replica, transport: transport, batchSize: 500, pageSize: 1_000)
    }

    /// Push of `count` reports against the raw-SQLite baseline, then initial pulls, a no-op sync and
    /// the bytes of a typical change, on the servers of `setup`. With `bureau`, also the
    /// bureau-wide pull, the no-op sync and the bytes of a weekly edit. With `compared`, its main
    /// rows go into the comparison table.
    static func pushAndPull(
        setup: ServerSetup,
        count: Int,
        bureau withBureau: Bool,
        compared: Bool,
        sizes: Sizes,
        directory: URL,
        postgres: BenchPostgres?,
        http: HTTPClient,
        report: (Measurement) -> Void
    ) async throws -> PushSummary {
        func tagged(_ measurement: Measurement) {
            var measurement = measurement
            measurement.server = setup.rawValue
            if !compared { measurement.compared = nil }
            report(measurement)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let baseline = try Baseline.upserts(count: count, directory: directory)
        tagged(
            Measurement(
                name: "baseline: raw SQLite upserts of \(count) report states",
                value: Double(count) / baseline.seconds,
                unit: "records/s",
                target: nil,
                met: nil,
                note: "one transaction, one prepared statement, states pre-encoded: the storage floor (measured again before each configuration's push)",
                compared: true
            )
        )

        var tokens: [String: String] = [:]
        return try await ServerUnderTest.with(setup, directory: directory, postgres: postgres) { store in
            let now = Date()
            for school in ["qx-zhuoran", "qx-huoju"] { _ = try await store.createSchool(id: school, name: school, at: now) }
            tokens["a"] = try await store.createPrincipal(kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran", at: now).token
            tokens["b"] = try await store.createPrincipal(kind: .device, name: "火炬 PC", schoolID: "qx-huoju", at: now).token
            tokens["b2"] = try await store.createPrincipal(kind: .device, name: "火炬 PC 2", schoolID: "qx-huoju", at: now).token
            tokens["bureau"] = try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).token
            try await BenchCatalog.publish(store, measures: (0..<40).map { "m\($0)" }, schools: ["qx-zhuoran", "qx-huoju"])
        } _: { server in
            try await pushAndPull(
                server: server, count: count, bureau: withBureau, baseline: baseline, sizes: sizes, directory: directory, tokens: tokens, http: http,
                report: tagged
            )
        }
    }

    private static func pushAndPull(
        server: ServerUnderTest,
        count: Int,
        bureau withBureau: Bool,
        baseline: Duration,
        sizes: Sizes,
        directory: URL,
        tokens: [String: String],
        http: HTTPClient,
        report: (Measurement) -> Void
    ) async throws -> PushSummary {
        // Push: N changed reports from one client, in the batches the client sends.
        let device = try LocalReplica(path: directory.appendingPathComponent("a.sqlite").path, schemas: DomainSchema.all)
        let meter = TrafficMeter()
        let a = try await engine(device, url: server.url, token: tokens["a"] ?? "", http: http, meter: meter)
        try await device.write(
            (0..<count).map { (RecordKey(collection: "reports", id: Workload.reportID("qx-zhuoran", $0)), Workload.reportValues($0)) }
        )
        meter.reset()
        let sampler = server.sampleWaits()
        let before = server.cpu()
        let (pushed, pushTime) = try await Workload.timed { try await a.push() }
        var used = server.cpu() - before
        let waits = await sampler?.finish()
        used.database = used.database.map { $0 - (waits?.samplerSeconds ?? 0) }
        guard pushed.pushed.applied == count else { throw BenchError("push applied \(pushed.pushed.applied) of \(count)") }
        let requests = (count + 499) / 500
        let sides: [(String, Double?, String)] = [
            ("server", used.servers, "the schoolsync-server process\(server.servers.count > 1 ? "es (summed)" : "")"),
            ("PostgreSQL", used.database, "the PostgreSQL cluster's processes (backends, WAL writer, checkpointer; /proc)"),
            ("HAProxy", used.balancer, "the load balancer"),
            ("client", used.clients, "the client process"),
        ]
        for (side, seconds, what) in sides {
            guard let seconds else { continue }
            report(
                Measurement(
                    name: "push: \(side) CPU per record (\(count))",
                    value: seconds / Double(count) * 1_000_000,
                    unit: "µs",
                    target: nil,
                    met: nil,
                    note: "CPU time of \(what) during the push, from /proc (10 ms ticks)",
                    compared: true
                )
            )
        }
        report(
            Measurement(
                name: "push: server-side CPU per request (\(count))",
                value: used.serverSide / Double(requests) * 1000,
                unit: "ms",
                target: nil,
                met: nil,
                note: "servers + PostgreSQL + HAProxy, per push of 500 records (\(requests) requests)",
                compared: true
            )
        )
        let ratio = pushTime.seconds / baseline.seconds
        report(
            Measurement(
                name: "push: \(count) changed reports, one client",
                value: Double(count) / pushTime.seconds,
                unit: "records/s",
                target: nil,
                met: nil,
                note: "500 per batch; gzip; join + change log + audit per record in one server transaction",
                compared: true
            )
        )
        report(
            Measurement(
                name: "push: time over the raw-SQLite baseline (\(count))",
                value: ratio,
                unit: "×",
                target: "≤ 5×",
                met: ratio <= 5,
                note:
                    "profiled (SQLite): client and server take turns (a push carries the last receipt); per record the server runs 4 statements (read, change log, record, audit) and the client 2, and each state is parsed or printed 4 times; the baseline is 1 statement with its text ready",
                compared: true
            )
        )
        if let waits {
            report(
                Measurement(
                    name: "push: PostgreSQL connections in a push transaction (\(count))",
                    value: waits.inTransaction,
                    unit: "connections",
                    target: nil,
                    met: nil,
                    note: "mean over \(waits.samples) samples of pg_stat_activity: \(waits.summary)",
                    compared: true
                )
            )
        }
        report(
            Measurement(
                name: "push: bytes on the wire per record (\(count))",
                value: Double(meter.totals.sent + meter.totals.received) / Double(count),
                unit: "bytes",
                target: nil,
                met: nil,
                note: "both directions, gzip bodies"
            )
        )

        // Initial pull of one school's scope (500 records) and of a bureau-wide replica.
        let school = try LocalReplica(path: directory.appendingPathComponent("b.sqlite").path, schemas: DomainSchema.all)
        let b = try await engine(school, url: server.url, token: tokens["b"] ?? "", http: http)
        try await school.write(
            (0..<sizes.schoolPull).map { (RecordKey(collection: "reports", id: Workload.reportID("qx-huoju", $0)), Workload.reportValues($0)) }
        )
        _ = try await b.push()
        let fresh = try LocalReplica(path: directory.appendingPathComponent("b2.sqlite").path, schemas: DomainSchema.all)
        let b2 = try await engine(fresh, url: server.url, token: tokens["b2"] ?? "", http: http)
        let (schoolPull, schoolPullTime) = try await Workload.timed { try await b2.pull() }
        // The school's whole scope: its reports, its assignments and the catalog.
        guard schoolPull.pulled.received >= sizes.schoolPull else { throw BenchError("school pull got \(schoolPull.pulled.received)") }
        let schoolMillis = schoolPullTime.seconds * 1000
        report(
            Measurement(
                name: "initial pull: a school's scope, \(schoolPull.pulled.received) records",
                value: schoolMillis,
                unit: "ms",
                target: "< 100 ms",
                met: schoolMillis < 100,
                note: "one page; the client joins and writes each record and its table row in one transaction",
                compared: true
            )
        )

        if withBureau {
            try await device.write(
                (count..<(count + sizes.bureauExtra)).map {
                    (RecordKey(collection: "reports", id: Workload.reportID("qx-zhuoran", $0)), Workload.reportValues($0))
                }
            )
            _ = try await a.push()
            let bureauReplica = try LocalReplica(path: directory.appendingPathComponent("bureau.sqlite").path, schemas: DomainSchema.all)
            let bureauMeter = TrafficMeter()
            let bureau = try await engine(bureauReplica, url: server.url, token: tokens["bureau"] ?? "", http: http, meter: bureauMeter)
            let (all, allTime) = try await Workload.timed { try await bureau.pull() }
            report(
                Measurement(
                    name: "initial pull: bureau-wide replica, \(all.pulled.received) records",
                    value: Double(all.pulled.received) / allTime.seconds,
                    unit: "records/s",
                    target: nil,
                    met: nil,
                    note:
                        "pages of 1,000; per record the client reads, joins, writes its sync row and its table row (CPU rows above show the split for pushes)"
                )
            )

            // A sync with nothing changed.
            bureauMeter.reset()
            _ = try await bureau.sync()
            let idle = bureauMeter.totals
            report(
                Measurement(
                    name: "no-op sync: round trips",
                    value: Double(idle.requests),
                    unit: "requests",
                    target: "1",
                    met: idle.requests <= 1,
                    note: "sync is pull, push, pull; with nothing dirty the push is skipped"
                )
            )
            report(
                Measurement(
                    name: "no-op sync: bytes on the wire",
                    value: Double(idle.sent + idle.received),
                    unit: "bytes",
                    target: "< 1 KB",
                    met: idle.sent + idle.received < 1_024,
                    note: "headers dominate: bearer token, cursor, replica and receipt in the query"
                )
            )

            // A typical weekly change: ten reports get a new status and narrative. Sync first, so the
            // echo of the earlier pushes is not counted against the change.
            _ = try await a.sync()
            meter.reset()
            for index in 0..<10 {
                try await device.write(
                    RecordKey(collection: "reports", id: Workload.reportID("qx-zhuoran", index)),
                    ["status": .string("done"), "narrative": .string("第\(index)周：按计划完成。")]
                )
            }
            _ = try await a.sync()
            report(
                Measurement(
                    name: "bytes on the wire per changed report (weekly edit, sync)",
                    value: Double(meter.totals.sent + meter.totals.received) / 10,
                    unit: "bytes",
                    target: nil,
                    met: nil,
                    note: "whole states travel (DESIGN §4 invariant 2); gzip both ways; pull, push, pull; the second pull carries no echo of the push"
                )
            )
        }
        report(
            Measurement(
                name: "peak RSS, server process (push \(count))",
                value: server.peakMemoryMB,
                unit: "MB",
                target: nil,
                met: nil,
                note: "Hummingbird + the store's connections + decoded batches\(server.servers.count > 1 ? "; both servers summed" : "")"
            )
        )
        return PushSummary(
            setup: server.setup, records: count, requests: requests, seconds: pushTime.seconds, baselineSeconds: baseline.seconds, cpu: used,
            waits: waits
        )
    }

    /// Many schools at once: each its own token and scope, pull-edit-push cycles for a fixed time,
    /// on the servers of `setup`.
    static func manySchools(
        setup: ServerSetup,
        count: Int,
        seconds: Int,
        directory: URL,
        postgres: BenchPostgres?,
        report: (Measurement) -> Void
    ) async throws -> SchoolsSummary {
        func tagged(_ measurement: Measurement) {
            var measurement = measurement
            measurement.server = setup.rawValue
            report(measurement)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Every school is its own computer with its own connection; AsyncHTTPClient's default of 8
        // connections per host would queue a thousand schools behind eight sockets in this process.
        var configuration = HTTPClient.Configuration.schoolSync
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: count)
        // Each connection is a descriptor here, one in a server and, behind HAProxy, two there.
        try FileLimit.raise(atLeast: count * 2 + 256)
        return try await HTTPClient.withHTTPClient(configuration: configuration) { http in
            var tokens: [String] = []
            return try await ServerUnderTest.with(setup, directory: directory, postgres: postgres, connections: count) { store in
                tokens = try await prepareSchools(count, in: store)
            } _: { server in
                try await manySchools(server: server, tokens: tokens, seconds: seconds, http: http, report: tagged)
            }
        }
    }

    /// Makes `count` schools, a device of each and the weekly measure assigned to all; returns the
    /// devices' tokens. Eight at a time: on PostgreSQL each is a commit of its own.
    private static func prepareSchools(_ count: Int, in store: any SyncStore) async throws -> [String] {
        let now = Date()
        var tokens = Array(repeating: "", count: count)
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var next = 0
            func add() {
                let index = next
                next += 1
                group.addTask {
                    _ = try await store.createSchool(id: "s\(index)", name: "学校\(index)", at: now)
                    return (index, try await store.createPrincipal(kind: .device, name: "PC \(index)", schoolID: "s\(index)", at: now).token)
                }
            }
            for _ in 0..<min(8, count) { add() }
            while let (index, token) = try await group.next() {
                tokens[index] = token
                if next < count { add() }
            }
        }
        try await BenchCatalog.publish(store, measures: ["weekly"], schools: (0..<count).map { "s\($0)" })
        return tokens
    }

    private static func manySchools(
        server: ServerUnderTest,
        tokens: [String],
        seconds: Int,
        http: HTTPClient,
        report: (Measurement) -> Void
    ) async throws -> SchoolsSummary {
        let count = tokens.count
        // Every school connects first (one session request each, not measured), so the measured
        // window starts with every connection open rather than with thousands of handshakes.
        let url = server.url
        let warmUpErrors = await withTaskGroup(of: Int.self) { group in
            for token in tokens {
                group.addTask {
                    do {
                        _ = try await HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(60)).session()
                        return 0
                    } catch {
                        return 1
                    }
                }
            }
            return await group.reduce(0, +)
        }
        let logMark = server.logMark()
        let sampler = server.sampleWaits()
        let before = server.cpu()
        let start = ContinuousClock.now
        let deadline = start + .seconds(seconds)
        let outcomes = try await withThrowingTaskGroup(of: SchoolOutcome.self) { group in
            for (index, token) in tokens.enumerated() {
                group.addTask {
                    try await SchoolOutcome.run(school: index, token: token, url: url, http: http, until: deadline)
                }
            }
            var all: [SchoolOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        let elapsed = (ContinuousClock.now - start).seconds
        var used = server.cpu() - before
        let waits = await sampler?.finish()
        used.database = used.database.map { $0 - (waits?.samplerSeconds ?? 0) }
        var latencies = Latencies()
        var pulls = Latencies()
        var pushes = Latencies()
        for outcome in outcomes {
            latencies.samples += outcome.pullLatencies + outcome.pushLatencies
            pulls.samples += outcome.pullLatencies
            pushes.samples += outcome.pushLatencies
        }
        let errors = outcomes.reduce(0) { $0 + $1.errors }
        let errorKinds = outcomes.reduce(into: [String: Int]()) { all, outcome in all.merge(outcome.errorKinds, uniquingKeysWith: +) }
        for (kind, number) in errorKinds.sorted(by: { $0.value > $1.value }).prefix(5) { print("  \(number) × \(kind)") }
        // Answered requests: a failed one (counted apart) may have cost the servers nothing.
        let requests = latencies.samples.count
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let sides: [(String, Double?, String)] = [
            ("servers", used.servers, "the schoolsync-server process\(server.servers.count > 1 ? "es, summed" : "")"),
            ("PostgreSQL", used.database, "the PostgreSQL cluster's processes"),
            ("HAProxy", used.balancer, "the load balancer"),
            ("clients", used.clients, "the benchmark process: the simulated schools and their HTTP client"),
        ]
        for (side, cpu, what) in sides {
            guard let cpu else { continue }
            report(
                Measurement(
                    name: "\(count) schools at once: \(side) CPU per request",
                    value: requests > 0 ? cpu / Double(requests) * 1000 : 0,
                    unit: "ms",
                    target: nil,
                    met: nil,
                    note: "CPU time of \(what) over the run (\(String(format: "%.2f", cpu / elapsed)) cores), from /proc, divided by the requests answered",
                    compared: true
                )
            )
        }
        report(
            Measurement(
                name: "\(count) schools at once: cores busy",
                value: used.total / elapsed,
                unit: "cores",
                target: nil,
                met: nil,
                note: "servers, database, load balancer and simulated schools together; the machine has \(Int(cores))",
                compared: true
            )
        )
        report(
            Measurement(
                name: "\(count) schools at once: throughput",
                value: Double(requests) / elapsed,
                unit: "requests/s",
                target: nil,
                met: nil,
                note:
                    "requests answered; closed loop with no pause for \(seconds) s (to the last answer: \(String(format: "%.1f", elapsed)) s), each school its own connection; latency ≈ schools ÷ throughput",
                compared: true
            )
        )
        for p in [50.0, 95.0, 99.0] {
            let millis = latencies.percentile(p) * 1000
            report(
                Measurement(
                    name: "\(count) schools at once: p\(Int(p)) latency",
                    value: millis,
                    unit: "ms",
                    target: p == 99 && count >= 1_000 ? "< 250 ms" : nil,
                    met: p == 99 && count >= 1_000 ? millis < 250 : nil,
                    note: "per request, measured at the client",
                    compared: true
                )
            )
        }
        for (kind, samples) in [("pull", pulls), ("push", pushes)] {
            report(
                Measurement(
                    name: "\(count) schools at once: p99 latency of a \(kind)",
                    value: samples.percentile(99) * 1000,
                    unit: "ms",
                    target: nil,
                    met: nil,
                    note: kind == "push" ? "a push waits for its durable commit" : "a pull reads a snapshot; no disk wait"
                )
            )
        }
        report(
            Measurement(
                name: "\(count) schools at once: errors",
                value: Double(errors),
                unit: "errors",
                target: "0",
                met: errors == 0,
                note: "any failed request"
                    + (errorKinds.isEmpty ? "" : ": " + errorKinds.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value) × \($0.key)" }.joined(separator: "; "))
                    + " (\(warmUpErrors) more failed in the warm-up, where every school connects first); a school waits 500 ms after a failure and sends a failed push again",
                compared: true
            )
        )
        var health: BalancerHealth?
        if let balancer = server.balancer, let stats = try? await balancer.servers() {
            let backends = stats.filter { $0.name != "BACKEND" }
            let total = stats.first { $0.name == "BACKEND" }
            let own503 = max(0, (total?.http5xx ?? 0) - backends.map(\.http5xx).reduce(0, +))
            health = BalancerHealth(
                serverDowns: backends.map(\.checkDowns).reduce(0, +), noServerUpSeconds: total?.downtimeSeconds ?? 0, ownErrors: own503
            )
            report(
                Measurement(
                    name: "\(count) schools at once: HAProxy took a server out",
                    value: Double(backends.map(\.checkDowns).reduce(0, +)),
                    unit: "times",
                    target: nil,
                    met: nil,
                    note:
                        "its health check (GET /healthz every 200 ms, \(server.setup.checkTimeout?.components.seconds ?? 0) s timeout, out after 2 failures; /healthz reads log_head through the server's pool) failed: "
                        + backends.map { "\($0.name) down \($0.checkDowns) times, \($0.downtimeSeconds) s" }.joined(separator: ", ")
                        + "; no server up \(total?.checkDowns ?? 0) times (\(total?.downtimeSeconds ?? 0) s); HAProxy itself answered 5xx to \(own503) requests",
                    compared: true
                )
            )
        }
        // The servers' own request timings (their /metrics), to tell time in the server from time in
        // the simulated schools and on the wire.
        var serverMillis: [String: Double] = [:]
        var expositions: [[Substring]] = []
        for process in server.servers {
            let metrics = try await http.execute(HTTPClientRequest(url: process.baseURL + "/metrics"), timeout: .seconds(10))
            expositions.append(String(buffer: try await metrics.body.collect(upTo: 10_000_000)).split(separator: "\n"))
        }
        for route in ["/v1/pull", "/v1/push"] {
            func sample(_ suffix: String) -> Double {
                let prefix = "schoolsync_http_request_duration_seconds_\(suffix){route=\"\(route)\"} "
                return expositions.map { lines in lines.first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0 }.reduce(0, +)
            }
            let millis = sample("count") > 0 ? sample("sum") / sample("count") * 1000 : 0
            serverMillis[route] = millis
            report(
                Measurement(
                    name: "\(count) schools at once: mean time in the server of a \(route.dropFirst(4))",
                    value: millis,
                    unit: "ms",
                    target: nil,
                    met: nil,
                    note: "from the servers' /metrics; the rest of a request's latency is the wire, the load balancer and the simulated school",
                    compared: true
                )
            )
        }
        if let waits {
            report(
                Measurement(
                    name: "\(count) schools at once: PostgreSQL connections in a transaction",
                    value: waits.inTransaction,
                    unit: "connections",
                    target: nil,
                    met: nil,
                    note:
                        "mean over \(waits.samples) samples of pg_stat_activity (the pools hold \(10 * server.servers.count)): \(waits.summary)",
                    compared: true
                )
            )
            report(
                Measurement(
                    name: "\(count) schools at once: PostgreSQL connections waiting for log_head",
                    value: waits.mean(what: WaitSampler.waitingForLogHead),
                    unit: "connections",
                    target: nil,
                    met: nil,
                    note: "pushes waiting for log_head's row lock to take their sequence numbers (one push holds it through its commit)",
                    compared: true
                )
            )
            report(
                Measurement(
                    name: "\(count) schools at once: log_head held",
                    value: waits.holding * 100,
                    unit: "% of the time",
                    target: nil,
                    met: nil,
                    note: "samples in which a push held log_head's row lock (from its UPDATE log_head through its COMMIT): "
                        + waits.breakdown(of: WaitSampler.holding),
                    compared: true
                )
            )
            report(
                Measurement(
                    name: "\(count) schools at once: PostgreSQL connections writing the device list",
                    value: waits.mean(what: WaitSampler.deviceList),
                    unit: "connections",
                    target: nil,
                    met: nil,
                    note: "the once-a-second write of the devices' last pull and push (one INSERT … ON CONFLICT per device, in one transaction): "
                        + waits.breakdown(of: WaitSampler.deviceList),
                    compared: true
                )
            )
        }
        if let logMark {
            let logged = server.loggedErrors(since: logMark)
            report(
                Measurement(
                    name: "\(count) schools at once: PostgreSQL errors logged",
                    value: Double(logged.values.reduce(0, +)),
                    unit: "errors",
                    target: nil,
                    met: nil,
                    note: logged.isEmpty
                        ? "none in the cluster's log"
                        : "from the cluster's log: " + logged.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value) × \($0.key)" }.joined(separator: "; "),
                    compared: true
                )
            )
        }
        // Every acknowledged write is in the store: read back from the database.
        let stored = try await server.store.records(in: ["reports"])
        let values = Dictionary(uniqueKeysWithValues: stored.compactMap { record in record.state.value(of: "n").map { (record.key.id, $0) } })
        // A school's pushes write n = 1, 2, 3, … to its own report: the stored n is at least the last
        // one acknowledged (more when a later push was applied but its answer never came).
        let lost = outcomes.filter { outcome in
            guard outcome.lastAcknowledged > 0 else { return false }
            guard case .int(let stored)? = values[SchoolOutcome.reportID(outcome.school)] else { return true }
            return stored < Int64(outcome.lastAcknowledged)
        }.count
        report(
            Measurement(
                name: "\(count) schools at once: acknowledged writes missing",
                value: Double(lost),
                unit: "schools",
                target: "0",
                met: lost == 0,
                note: "each school's last acknowledged value, read back from the \(server.setup.usesPostgres ? "PostgreSQL database" : "SQLite file") after the run",
                compared: true
            )
        )
        report(
            Measurement(
                name: "peak RSS, server process (\(count) schools)",
                value: server.peakMemoryMB,
                unit: "MB",
                target: nil,
                met: nil,
                note: "one connection per school\(server.servers.count > 1 ? "; both servers summed" : "")"
            )
        )
        return SchoolsSummary(
            setup: server.setup, schools: count, seconds: elapsed, requests: requests, pushes: pushes.samples.count, errors: errors, missing: lost,
            p50: latencies.percentile(50) * 1000, p95: latencies.percentile(95) * 1000, p99: latencies.percentile(99) * 1000,
            serverPushMillis: serverMillis["/v1/push"] ?? 0, serverPullMillis: serverMillis["/v1/pull"] ?? 0, cpu: used, waits: waits,
            balancer: health
        )
    }
}

/// One simulated school: pull, edit its weekly report, push — until the deadline. Its replica id
/// and batch ids come from a generator seeded with its number, so every run sends the same ids.
struct SchoolOutcome: Sendable {
    var school: String
    var pullLatencies: [Double] = []
    var pushLatencies: [Double] = []
    var errors = 0
    /// Errors by kind (``kind(of:)``).
    var errorKinds: [String: Int] = [:]
    var lastAcknowledged = 0

    /// An error's kind, short enough to count: the API error's code or the transport's failure.
    static func kind(of error: any Error) -> String {
        String(String(describing: error).prefix(160))
    }

    static func reportID(_ school: String) -> String { "\(school)/2025-S1/weekly" }

    static func run(
        school index: Int,
        token: String,
        url: String,
        http: HTTPClient,
        until deadline: ContinuousClock.Instant
    ) async throws -> SchoolOutcome {
        let school = "s\(index)"
        var outcome = SchoolOutcome(school: school)
        var generator = SeededGenerator(seed: 0x5C40_0000 &+ UInt64(index))
        let transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(30))
        let replica = ReplicaID.random(using: &generator)
        let scope = try Scope.school(school)
        let key = RecordKey(collection: "reports", id: reportID(school))
        var state = RecordState()
        var cursor: Cursor?
        var receipt: PushReceipt?
        var round = 0
        func timed<T>(_ kind: WritableKeyPath<SchoolOutcome, [Double]>, _ body: () async throws -> T) async -> T? {
            let start = ContinuousClock.now
            do {
                let value = try await body()
                outcome[keyPath: kind].append((ContinuousClock.now - start).seconds)
                return value
            } catch {
                outcome.errors += 1
                outcome.errorKinds[SchoolOutcome.kind(of: error), default: 0] += 1
                return nil
            }
        }
        // A push that failed is sent again, the same batch, before anything else (as SyncEngine
        // does): if it was applied and only its answer lost, the server answers with its receipt.
        // After a failure a school waits the client's first backoff (RetryPolicy's 500 ms) rather
        // than asking again at once.
        var pending: PushRequest?
        while ContinuousClock.now < deadline {
            if pending == nil {
                round += 1
                if let page = await timed(
                    \.pullLatencies,
                    { try await transport.pull(PullRequest(since: cursor, limit: 500, replica: replica, receipt: receipt)) }
                ) {
                    cursor = page.next
                    for record in page.records where record.key == key { try state.join(record.state) }
                } else {
                    try? await Task.sleep(for: .milliseconds(500))
                }
                try state.write(["n": .int(Int64(round)), "status": .string("in_progress")], by: replica)
                pending = PushRequest(
                    batch: .random(using: &generator),
                    replica: replica,
                    receipt: receipt,
                    client: "bench",
                    records: [SyncRecord(key: key, scope: scope, state: state)]
                )
            }
            guard let push = pending, ContinuousClock.now < deadline else { break }
            if let response = await timed(\.pushLatencies, { try await transport.push(push) }) {
                pending = nil
                receipt = response.receipt
                if response.results.first?.status == .applied { outcome.lastAcknowledged = round }
            } else {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        return outcome
    }
}
