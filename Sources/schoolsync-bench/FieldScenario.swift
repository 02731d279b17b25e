import AsyncHTTPClient
import FaultProxy
import Foundation
import Reporting
import SyncClient
import SyncCore
import SyncServer
import SyncServerSQLite
import Synchronization

/// The field row (issue 12): a school's weekly report synced the way a rural school's link carries
/// it — 64 kbit/s, with about one connection in five cut part-way — beside the same sync on a clean
/// loopback link and on a slow link without cuts, in the same run.
///
/// Every condition goes through the fault-injecting proxy (a clean condition with an empty plan),
/// so the bytes are counted the same way: what crossed the link in both directions, retries
/// included. Each condition uses a fresh device that first caught up on a clean link; then, for
/// each of `weeks` weeks, it edits the week's reports offline and syncs once through the condition,
/// on new connections (a school PC's weekly sync does not find last week's connection open). The
/// time is until the sync returns with everything pushed and pulled; the row gives the mean week.
enum FieldScenario {
    struct Condition {
        var name: String
        var plan: @Sendable (Int) -> ConnectionFault
    }

    static let linkBytesPerSecond = 8_000  // 64 kbit/s

    static func run(reports: Int, weeks: Int, directory: URL, http: HTTPClient, report: (Measurement) -> Void) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let school = "qx-zhuoran"
        var deviceTokens: [String] = []
        try await ServerUnderTest.with(.sqlite, directory: directory, postgres: nil) { store in
            let now = Date()
            _ = try await store.createSchool(id: school, name: "卓然学校", at: now)
            for index in 0..<3 {
                deviceTokens.append(try await store.createPrincipal(kind: .device, name: "PC \(index)", schoolID: school, at: now).token)
            }
            try await BenchCatalog.publish(store, measures: (0..<40).map { "m\($0)" }, schools: [school])
        } _: { server in
            try await run(server: server, school: school, deviceTokens: deviceTokens, reports: reports, weeks: weeks, directory: directory, http: http, report: report)
        }
    }

    private static func run(
        server: ServerUnderTest,
        school: String,
        deviceTokens: [String],
        reports: Int,
        weeks: Int,
        directory: URL,
        http: HTTPClient,
        report: (Measurement) -> Void
    ) async throws {
        guard let upstreamPort = URL(string: server.url)?.port else { throw BenchError("no port in \(server.url)") }
        let proxy = try await FaultProxy.start(upstreamPort: upstreamPort)
        let slow = linkBytesPerSecond
        // Cut points fall anywhere in a typical weekly exchange (a few kilobytes each way).
        let cuts = SeededFaultPlan(seed: 7, cutProbability: 0.2, maxCutBytes: 4_000, bytesPerSecond: slow)
        let conditions = [
            Condition(name: "clean loopback", plan: { _ in .none }),
            Condition(name: "64 kbit/s", plan: { _ in ConnectionFault(bytesPerSecond: slow) }),
            Condition(name: "64 kbit/s, ~20% of connections cut", plan: { cuts.fault(forConnection: $0) }),
        ]
        do {
            for (index, condition) in conditions.enumerated() {
                try await measure(
                    condition,
                    reports: reports,
                    weeks: weeks,
                    device: directory.appendingPathComponent("device-\(index).sqlite").path,
                    token: deviceTokens[index],
                    school: school,
                    proxy: proxy,
                    http: http,
                    report: report
                )
            }
        } catch {
            try? await proxy.shutdown()
            throw error
        }
        try await proxy.shutdown()
    }

    private static func measure(
        _ condition: Condition,
        reports: Int,
        weeks: Int,
        device path: String,
        token: String,
        school: String,
        proxy: FaultProxy,
        http: HTTPClient,
        report: (Measurement) -> Void
    ) async throws {
        proxy.setPlan { _ in .none }
        let replica = try LocalReplica(path: path, schemas: DomainSchema.all)
        let url = "http://127.0.0.1:\(proxy.port)"
        let transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(120))
        try await replica.enrol(serverURL: url, token: token, session: try await transport.session())
        // Catch up on a clean link first.
        _ = try await SyncEngine(replica: replica, transport: transport).sync()
        let retries = RetryCounter()
        var total = Duration.zero
        var sent = 0
        var received = 0
        var cut = 0
        var connections = 0
        for week in 0..<weeks {
            try await replica.write(
                (0..<reports).map { index in
                    (
                        RecordKey(collection: "reports", id: "\(school)/2025-S1/m\(index % 40)"),
                        Workload.reportValues(index + week).merging([
                            "school_id": .string(school), "period": .string("2025-S1"), "measure_id": .string("m\(index % 40)"),
                        ]) { $1 }
                    )
                }
            )
            proxy.setPlan(condition.plan)
            let before = proxy.statistics
            let (result, time) = try await HTTPClient.withHTTPClient(configuration: .schoolSync) { weekly in
                // A school's client on a bad link keeps trying: many attempts, short backoff.
                let engine = SyncEngine(
                    replica: replica,
                    transport: HTTPSyncTransport(http: weekly, baseURL: url, token: token, timeout: .seconds(120)),
                    retry: RetryPolicy(maxAttempts: 200, baseDelay: .milliseconds(200), maxDelay: .seconds(2)),
                    progress: { if case .retrying = $0 { retries.add() } }
                )
                return try await Workload.timed { try await engine.sync() }
            }
            proxy.setPlan { _ in .none }
            let after = proxy.statistics
            guard result.pushed.applied == reports, try await replica.status().pending == 0 else {
                throw BenchError("field sync (\(condition.name)) applied \(result.pushed.applied) of \(reports)")
            }
            total += time
            sent += after.bytesClientToServer - before.bytesClientToServer
            received += after.bytesServerToClient - before.bytesServerToClient
            cut += after.connectionsCut - before.connectionsCut
            connections += after.connectionsAccepted - before.connectionsAccepted
        }
        report(
            Measurement(
                name: "field: weekly report (\(reports) reports), \(condition.name): time to converge",
                value: total.seconds / Double(weeks),
                unit: "s",
                target: nil,
                met: nil,
                note:
                    "mean of \(weeks) weekly syncs (pull, push, pull) until everything is acknowledged; \(connections) connections, \(cut) cut, \(retries.count) retries (backoff 0.2–2 s); the link's speed bounds it"
            )
        )
        report(
            Measurement(
                name: "field: weekly report (\(reports) reports), \(condition.name): bytes over the link",
                value: Double(sent + received) / Double(weeks),
                unit: "bytes",
                target: nil,
                met: nil,
                note: "mean per week: \(sent / weeks) up, \(received / weeks) down, as the proxy forwarded them (HTTP headers and gzip bodies; retried bytes included)"
            )
        )
    }
}

/// Counts the engine's retries from its progress callback.
final class RetryCounter: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    func reset() { value.withLock { $0 = 0 } }
    var count: Int { value.withLock { $0 } }
}
