import AsyncHTTPClient
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging
import Reporting
import SyncClient
import SyncCore
import SyncServer
import Testing

/// A real server (in process, on 127.0.0.1 and an ephemeral port) with a bureau user and two
/// devices of one school, plus a place for client databases.
struct Harness: Sendable {
    let directory: URL
    let serverPath: String
    let bureau: String
    let deviceA: String
    let deviceA2: String
    let deviceB: String
    static let school = "qx-zhuoran"
    static let otherSchool = "qx-huoju"

    static func with<T>(maxBodyBytes: Int? = nil, _ body: (Harness) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let serverPath = directory.appendingPathComponent("server.sqlite").path
        let store = try SQLiteStore(path: serverPath)
        let now = Date()
        _ = try await store.createSchool(id: school, name: "卓然学校", at: now)
        _ = try await store.createSchool(id: otherSchool, name: "火炬中学", at: now)
        let harness = Harness(
            directory: directory,
            serverPath: serverPath,
            bureau: try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).token,
            deviceA: try await store.createPrincipal(kind: .device, name: "教务处 PC", schoolID: school, at: now).token,
            deviceA2: try await store.createPrincipal(kind: .device, name: "校长室 PC", schoolID: school, at: now).token,
            deviceB: try await store.createPrincipal(kind: .device, name: "火炬 PC", schoolID: otherSchool, at: now).token
        )
        return try await body(harness)
    }

    /// Runs `body` while a server on the store listens; the URL is its address.
    func withServer<T: Sendable>(maxBodyBytes: Int? = nil, _ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        var configuration = SyncServerConfiguration()
        configuration.port = 0
        configuration.collections = .protocolOnly
        if let maxBodyBytes { configuration.maxBodyBytes = maxBodyBytes }
        let app = makeSyncServer(configuration: configuration, store: try SQLiteStore(path: serverPath), logger: Logger(label: "test-server"))
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))")
        }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Opens (creating) a client database.
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

    func sync() async throws -> SyncReport { try await engine.sync() }
}

/// Catalog records a bureau publishes so schools can report.
enum Catalog {
    static let measure = RecordKey(collection: "measures", id: "qixing-2024/m2.1")

    static func publish(with bureau: Device) async throws {
        try await bureau.replica.write([
            (measure, ["plan_id": .string("qixing-2024"), "code": .string("（二）1"), "title": .string("新建2所公办幼儿园"), "lead_unit": .string("区教育局")]),
            (
                RecordKey(collection: "assignments", id: "\(Harness.school)/qixing-2024/m2.1"),
                ["school_id": .string(Harness.school), "measure_id": .string(measure.id)]
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
    func scenario(_ body: @escaping @Sendable (Harness, String, HTTPClient) async throws -> Void) async throws {
        try await Harness.with { harness in
            try await harness.withServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in try await body(harness, url, http) }
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
