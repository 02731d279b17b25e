import AsyncHTTPClient
import FaultProxy
import Foundation
import Reporting
import SyncClient
import SyncCore
import SyncServer
import Synchronization

/// The field row (issue 12): a school's weekly report synced the way a rural school's link carries
/// it — 64 kbit/s, with about one connection in five cut part-way — beside the same sync on a clean
/// loopback link and on a slow link without cuts, in the same run.
///
/// Every condition goes through the fault-injecting proxy (a clean condition with an empty plan),
/// so the bytes are counted the same way: what crossed the link in both directions, retries
/// included. Each condition uses a fresh device that first caught up on a clean link, then edits
/// the week's reports offline and syncs once through the condition; the time is until that sync
/// returns with everything pushed and pulled.
enum FieldScenario {
    struct Condition {
        var name: String
        var plan: @Sendable (Int) -> ConnectionFault
    }

    static let linkBytesPerSecond = 8_000  // 64 kbit/s

    static func run(reports: Int, directory: URL, http: HTTPClient, report: (Measurement) -> Void) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let school = "qx-zhuoran"
        var deviceTokens: [String] = []
        let server = try await ServerUnderTest(directory: directory) { store in
            let now = Date()
            _ = try await store.createSchool(id: school, name: "卓然学校", at: now)
            for index in 0..<3 {
                deviceTokens.append(try await store.createPrincipal(kind: .device, name: "PC \(index)", schoolID: school, at: now).token)
            }
            try await BenchCatalog.publish(store, measures: (0..<40).map { "m\($0)" }, schools: [school])
        }
        defer { server.stop() }
        guard let upstreamPort = URL(string: server.url)?.port else { throw BenchError("no port in \(server.url)") }
        let proxy = try await FaultProxy.start(upstreamPort: upstreamPort)
        let slow = linkBytesPerSecond
        let cuts = SeededFaultPlan(seed: 7, cutProbability: 0.2, maxCutBytes: 12_000, bytesPerSecond: slow)
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
        let retries = RetryCounter()
        // A school's client on a bad link keeps trying: many attempts, short backoff.
        let engine = SyncEngine(
            replica: replica,
            transport: transport,
            retry: RetryPolicy(maxAttempts: 200, baseDelay: .milliseconds(200), maxDelay: .seconds(2)),
            progress: { if case .retrying = $0 { retries.add() } }
        )
        _ = try await engine.sync()  // catch up on a clean link first
        try await replica.write(
            (0..<reports).map { index in
                (
                    RecordKey(collection: "reports", id: "\(school)/2025-S1/m\(index % 40)"),
                    Workload.reportValues(index).merging(["school_id": .string(school), "period": .string("2025-S1"), "measure_id": .string("m\(index % 40)")]) { $1 }
                )
            }
        )
        proxy.setPlan(condition.plan)
        let before = proxy.statistics
        retries.reset()
        let (result, time) = try await Workload.timed { try await engine.sync() }
        let after = proxy.statistics
        guard result.pushed.applied == reports, try await replica.status().pending == 0 else {
            throw BenchError("field sync (\(condition.name)) applied \(result.pushed.applied) of \(reports)")
        }
        let sent = after.bytesClientToServer - before.bytesClientToServer
        let received = after.bytesServerToClient - before.bytesServerToClient
        let cut = after.connectionsCut - before.connectionsCut
        let connections = after.connectionsAccepted - before.connectionsAccepted
        report(
            Measurement(
                name: "field: weekly report (\(reports) reports), \(condition.name): time to converge",
                value: time.seconds,
                unit: "s",
                target: nil,
                met: nil,
                note:
                    "one sync (pull, push, pull) until everything is acknowledged; \(connections) connections, \(cut) cut, \(retries.count) retries (backoff 0.2–2 s); link speed bounds it"
            )
        )
        report(
            Measurement(
                name: "field: weekly report (\(reports) reports), \(condition.name): bytes over the link",
                value: Double(sent + received),
                unit: "bytes",
                target: nil,
                met: nil,
                note: "\(sent) up, \(received) down, as the proxy forwarded them (HTTP headers and gzip bodies; retried bytes included)"
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
