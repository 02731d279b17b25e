import AsyncHTTPClient
import Foundation
import NIOCore
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
    /// the bytes of a typical change.
    static func pushAndPull(count: Int, sizes: Sizes, directory: URL, http: HTTPClient, report: (Measurement) -> Void) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let baseline = try Baseline.upserts(count: count, directory: directory)
        report(
            Measurement(
                name: "baseline: raw SQLite upserts of \(count) report states",
                value: Double(count) / baseline.seconds,
                unit: "records/s",
                target: nil,
                met: nil,
                note: "one transaction, one prepared statement, states pre-encoded: the storage floor"
            )
        )

        var tokens: [String: String] = [:]
        let server = try await ServerUnderTest(directory: directory) { store in
            let now = Date()
            for school in ["qx-zhuoran", "qx-huoju"] { _ = try await store.createSchool(id: school, name: school, at: now) }
            tokens["a"] = try await store.createPrincipal(kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran", at: now).token
            tokens["b"] = try await store.createPrincipal(kind: .device, name: "火炬 PC", schoolID: "qx-huoju", at: now).token
            tokens["b2"] = try await store.createPrincipal(kind: .device, name: "火炬 PC 2", schoolID: "qx-huoju", at: now).token
            tokens["bureau"] = try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).token
            try await BenchCatalog.publish(store, measures: (0..<40).map { "m\($0)" }, schools: ["qx-zhuoran", "qx-huoju"])
        }
        defer { server.stop() }

        // Push: N changed reports from one client, in the batches the client sends.
        let device = try LocalReplica(path: directory.appendingPathComponent("a.sqlite").path, schemas: DomainSchema.all)
        let meter = TrafficMeter()
        let a = try await engine(device, url: server.url, token: tokens["a"] ?? "", http: http, meter: meter)
        try await device.write(
            (0..<count).map { (RecordKey(collection: "reports", id: Workload.reportID("qx-zhuoran", $0)), Workload.reportValues($0)) }
        )
        meter.reset()
        let (serverCPU, clientCPU) = (server.cpuSeconds, CPUTime.seconds())
        let (pushed, pushTime) = try await Workload.timed { try await a.push() }
        guard pushed.pushed.applied == count else { throw BenchError("push applied \(pushed.pushed.applied) of \(count)") }
        for (side, used) in [("server", server.cpuSeconds - serverCPU), ("client", CPUTime.seconds() - clientCPU)] {
            report(
                Measurement(
                    name: "push: \(side) CPU per record (\(count))",
                    value: used / Double(count) * 1_000_000,
                    unit: "µs",
                    target: nil,
                    met: nil,
                    note: "CPU time of the \(side) process during the push, from /proc (10 ms ticks)"
                )
            )
        }
        let ratio = pushTime.seconds / baseline.seconds
        report(
            Measurement(
                name: "push: \(count) changed reports, one client",
                value: Double(count) / pushTime.seconds,
                unit: "records/s",
                target: nil,
                met: nil,
                note: "500 per batch; gzip; join + change log + audit per record in one server transaction"
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
                    "profiled: client and server take turns (a push carries the last receipt); per record the server runs 4 statements (read, change log, record, audit) and the client 2, and each state is parsed or printed 4 times; the baseline is 1 statement with its text ready"
            )
        )
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
                note: "one page; the client joins and writes each record and its table row in one transaction"
            )
        )

        if count == sizes.pushes.last {
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
                note: "Hummingbird + GRDB pool + decoded batches"
            )
        )
    }

    /// Many schools at once: each its own token and scope, pull-edit-push cycles for a fixed time.
    static func manySchools(count: Int, seconds: Int, directory: URL, report: (Measurement) -> Void) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Every school is its own computer with its own connection; AsyncHTTPClient's default of 8
        // connections per host would queue a thousand schools behind eight sockets in this process.
        var configuration = HTTPClient.Configuration.schoolSync
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: count)
        try FileLimit.raise(atLeast: count * 2 + 256)
        try await HTTPClient.withHTTPClient(configuration: configuration) { http in
            try await manySchools(count: count, seconds: seconds, directory: directory, http: http, report: report)
        }
    }

    private static func manySchools(count: Int, seconds: Int, directory: URL, http: HTTPClient, report: (Measurement) -> Void) async throws {
        var tokens: [String] = []
        let server = try await ServerUnderTest(directory: directory) { store in
            let now = Date()
            for index in 0..<count {
                _ = try await store.createSchool(id: "s\(index)", name: "学校\(index)", at: now)
                tokens.append(try await store.createPrincipal(kind: .device, name: "PC \(index)", schoolID: "s\(index)", at: now).token)
            }
            try await BenchCatalog.publish(store, measures: ["weekly"], schools: (0..<count).map { "s\($0)" })
        }
        defer { server.stop() }
        let deadline = ContinuousClock.now + .seconds(seconds)
        let (serverCPU, clientCPU) = (server.cpuSeconds, CPUTime.seconds())
        let outcomes = try await withThrowingTaskGroup(of: SchoolOutcome.self) { group in
            for (index, token) in tokens.enumerated() {
                group.addTask {
                    try await SchoolOutcome.run(school: "s\(index)", token: token, url: server.url, http: http, until: deadline)
                }
            }
            var all: [SchoolOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        for (side, used) in [("server", server.cpuSeconds - serverCPU), ("clients", CPUTime.seconds() - clientCPU)] {
            report(
                Measurement(
                    name: "\(count) schools at once: \(side) CPU",
                    value: used / Double(seconds),
                    unit: "cores",
                    target: nil,
                    met: nil,
                    note: "CPU seconds per second of the run, from /proc; the machine has \(ProcessInfo.processInfo.activeProcessorCount)"
                )
            )
        }
        var latencies = Latencies()
        var pulls = Latencies()
        var pushes = Latencies()
        for outcome in outcomes {
            latencies.samples += outcome.pullLatencies + outcome.pushLatencies
            pulls.samples += outcome.pullLatencies
            pushes.samples += outcome.pushLatencies
        }
        let errors = outcomes.reduce(0) { $0 + $1.errors }
        let requests = latencies.samples.count
        report(
            Measurement(
                name: "\(count) schools at once: throughput",
                value: Double(requests) / Double(seconds),
                unit: "requests/s",
                target: nil,
                met: nil,
                note:
                    "profiled: closed loop with no pause, each school its own connection; server and simulated schools share the 2 cores (CPU rows); pushes share durable commits"
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
                    note: "per request, measured at the client"
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
                    note: kind == "push" ? "a push waits for its group's durable commit" : "a pull reads a snapshot; no disk wait"
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
            )
        )
        // The server's own request timings (its /metrics), to tell time in the server from time in
        // the simulated schools and on the wire.
        let metrics = try await http.execute(HTTPClientRequest(url: server.url + "/metrics"), timeout: .seconds(10))
        let exposition = String(buffer: try await metrics.body.collect(upTo: 10_000_000)).split(separator: "\n")
        for route in ["/v1/pull", "/v1/push"] {
            func sample(_ suffix: String) -> Double {
                let prefix = "schoolsync_http_request_duration_seconds_\(suffix){route=\"\(route)\"} "
                return exposition.first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0
            }
            report(
                Measurement(
                    name: "\(count) schools at once: mean time in the server of a \(route.dropFirst(4))",
                    value: sample("count") > 0 ? sample("sum") / sample("count") * 1000 : 0,
                    unit: "ms",
                    target: nil,
                    met: nil,
                    note: "from the server's /metrics; the rest of a request's latency is the wire and the simulated school"
                )
            )
        }
        // Every acknowledged write is on the server.
        let stored = try await server.store.records(in: ["reports"])
        let values = Dictionary(uniqueKeysWithValues: stored.map { ($0.key.id, $0.state.value(of: "n")) })
        let lost = outcomes.filter { $0.lastAcknowledged > 0 && values["\($0.school)/2025-S1/weekly"] != .some(.int(Int64($0.lastAcknowledged))) }
            .count
        report(
            Measurement(
                name: "\(count) schools at once: acknowledged writes missing",
                value: Double(lost),
                unit: "schools",
                target: "0",
                met: lost == 0,
                note: "read back from the server's database after the run"
            )
        )
        report(
            Measurement(
                name: "peak RSS, server process (\(count) schools)",
                value: server.peakMemoryMB,
                unit: "MB",
                target: nil,
                met: nil,
                note: "one connection per school"
            )
        )
    }
}

/// One simulated school: pull, edit its weekly report, push — until the deadline.
struct SchoolOutcome: Sendable {
    var school: String
    var pullLatencies: [Double] = []
    var pushLatencies: [Double] = []
    var errors = 0
    var lastAcknowledged = 0

    static func run(
        school: String,
        token: String,
        url: String,
        http: HTTPClient,
        until deadline: ContinuousClock.Instant
    ) async throws -> SchoolOutcome {
        var outcome = SchoolOutcome(school: school)
        let transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(30))
        let replica = ReplicaID.random()
        let scope = try Scope.school(school)
        let key = RecordKey(collection: "reports", id: "\(school)/2025-S1/weekly")
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
                return nil
            }
        }
        while ContinuousClock.now < deadline {
            round += 1
            if let page = await timed(
                \.pullLatencies,
                { try await transport.pull(PullRequest(since: cursor, limit: 500, replica: replica, receipt: receipt)) }
            ) {
                cursor = page.next
                for record in page.records where record.key == key { try state.join(record.state) }
            }
            try state.write(["n": .int(Int64(round)), "status": .string("in_progress")], by: replica)
            let push = PushRequest(
                batch: .random(),
                replica: replica,
                receipt: receipt,
                client: "bench",
                records: [SyncRecord(key: key, scope: scope, state: state)]
            )
            if let response = await timed(\.pushLatencies, { try await transport.push(push) }) {
                receipt = response.receipt
                if response.results.first?.status == .applied { outcome.lastAcknowledged = round }
            }
        }
        return outcome
    }
}
