import AsyncHTTPClient
import Foundation
import GRDB
import Reporting
import SchoolSyncTestSupport
import SyncClient
import SyncCore

extension Fixture {
    /// Opens (creating) a client database in the fixture's directory.
    func replica(_ name: String, clock: @escaping @Sendable () -> Date = Date.init) throws -> LocalReplica {
        try LocalReplica(path: path(name), schemas: DomainSchema.all, clock: clock)
    }
}

/// A device: its replica and an engine talking to the server over a given transport.
struct Device: Sendable {
    let replica: LocalReplica
    let engine: SyncEngine

    /// Enrols a replica with the server and makes its engine.
    static func enrol(
        _ replica: LocalReplica,
        url: String,
        token: String,
        http: HTTPClient,
        wrap: @Sendable (any SyncTransport) -> any SyncTransport = { $0 },
        batchSize: Int = 200,
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero)
    ) async throws -> Device {
        let transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(10))
        if try await replica.settings() == nil {
            try await replica.enrol(serverURL: url, token: token, session: try await transport.session())
        }
        return Device(
            replica: replica,
            engine: SyncEngine(replica: replica, transport: wrap(transport), retry: retry, batchSize: batchSize, sleep: { _ in })
        )
    }

    func sync() async throws -> SyncSummary { try await engine.sync() }
}

/// Catalog records a bureau publishes so schools can report.
enum Catalog {
    static let measure = RecordKey(collection: "measures", id: "qixing-2024/m2.1")

    static func publish(with bureau: Device) async throws {
        try await bureau.replica.write([
            (measure, ["plan_id": .string("qixing-2024"), "code": .string("（二）1"), "title": .string("新建2所公办幼儿园"), "lead_unit": .string("区教育局")]),
            (
                RecordKey(collection: "assignments", id: "\(Fixture.schoolA)/qixing-2024/m2.1"),
                ["school_id": .string(Fixture.schoolA), "measure_id": .string(measure.id)]
            ),
        ])
        _ = try await bureau.sync()
    }
}

func report(_ id: String = "qx-zhuoran/2025-S1/qixing-2024/m2.1") -> RecordKey {
    RecordKey(collection: "reports", id: id)
}

/// A transport that fails on purpose, like AHC's misbehaving HTTPBin: it can lose a request before
/// sending it, or send it and lose the answer.
final class FlakyTransport: SyncTransport, @unchecked Sendable {
    // @unchecked: the counters are guarded by `lock`.
    enum Fault { case dropRequest, dropAnswer }
    let inner: any SyncTransport
    private let lock = NSLock()
    private var pushFaults: [Fault]
    private var pullFaults: [Fault]
    private(set) var pushCalls = 0
    private(set) var pullCalls = 0
    private(set) var sentBatches: [String] = []

    init(_ inner: any SyncTransport, pushFaults: [Fault] = [], pullFaults: [Fault] = []) {
        self.inner = inner
        self.pushFaults = pushFaults
        self.pullFaults = pullFaults
    }

    private func next(_ faults: inout [Fault]) -> Fault? { faults.isEmpty ? nil : faults.removeFirst() }

    func session() async throws(SyncClientError) -> SessionInfo { try await inner.session() }

    func push(_ request: PushRequest) async throws(SyncClientError) -> PushResponse {
        let fault = lock.withLock {
            pushCalls += 1
            sentBatches.append(request.batch.rawValue)
            return next(&pushFaults)
        }
        if fault == .dropRequest { throw SyncClientError(.unreachable, "link cut before the request") }
        let response = try await inner.push(request)
        if fault == .dropAnswer { throw SyncClientError(.unreachable, "link cut before the answer") }
        return response
    }

    func pull(_ request: PullRequest) async throws(SyncClientError) -> PullResponse {
        let fault = lock.withLock {
            pullCalls += 1
            return next(&pullFaults)
        }
        if fault == .dropRequest { throw SyncClientError(.unreachable, "link cut before the request") }
        let response = try await inner.pull(request)
        if fault == .dropAnswer { throw SyncClientError(.unreachable, "link cut before the answer") }
        return response
    }

    var batches: [String] { lock.withLock { sentBatches } }
    var pushes: Int { lock.withLock { pushCalls } }
}

/// A real server with a school's devices, and another program's plain SQL on their databases:
/// what the no-lost-write and tampered-database tests share.
protocol DeviceScenarios {}

extension DeviceScenarios {
    /// A real server on loopback with a school's devices, and an HTTP client for them.
    func scenario(_ body: @escaping @Sendable (Fixture, String, HTTPClient) async throws -> Void) async throws {
        try await Fixture.with { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in try await body(fixture, url, http) }
            }
        }
    }

    /// Another program's connection to a device's database, as a spreadsheet tool or a script would open it.
    func otherProgram(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    func sql(_ path: String, _ statement: String, _ arguments: StatementArguments = []) async throws {
        let queue = try otherProgram(path)
        try await queue.write { db in try db.execute(sql: statement, arguments: arguments) }
        try queue.close()
    }
}
