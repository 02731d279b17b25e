import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SyncCore
import SyncServer
import Testing

/// A server store in a temporary directory with an admin, a bureau user and devices of two schools.
struct Fixture: Sendable {
    let directory: URL
    let store: SQLiteStore
    let configuration: SyncServerConfiguration
    let metrics: SyncMetrics
    let admin: String
    let bureau: String
    /// A device of school `qx-zhuoran`.
    let deviceA: String
    /// A second device of the same school.
    let deviceA2: String
    /// A device of school `qx-huoju`.
    let deviceB: String

    static let schoolA = "qx-zhuoran"
    static let schoolB = "qx-huoju"

    var databasePath: String { directory.appendingPathComponent("server.sqlite").path }

    /// Runs `body` with a fresh fixture and removes its files afterwards.
    static func with<T>(
        configure: (inout SyncServerConfiguration) -> Void = { _ in },
        _ body: (Fixture) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = SyncServerConfiguration()
        configuration.port = 0
        // The protocol tests use records without a catalog; domain tests switch the rules back on.
        configuration.collections = .protocolOnly
        configure(&configuration)
        let store = try SQLiteStore(path: directory.appendingPathComponent("server.sqlite").path)
        let now = Date()
        _ = try await store.createSchool(id: schoolA, name: "卓然学校", at: now)
        _ = try await store.createSchool(id: schoolB, name: "火炬中学", at: now)
        let fixture = Fixture(
            directory: directory,
            store: store,
            configuration: configuration,
            metrics: SyncMetrics(),
            admin: try await store.createPrincipal(kind: .admin, name: "管理员", schoolID: nil, at: now).token,
            bureau: try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).token,
            deviceA: try await store.createPrincipal(kind: .device, name: "卓然 教务处 PC", schoolID: schoolA, at: now).token,
            deviceA2: try await store.createPrincipal(kind: .device, name: "卓然 校长室 PC", schoolID: schoolA, at: now).token,
            deviceB: try await store.createPrincipal(kind: .device, name: "火炬 教务处 PC", schoolID: schoolB, at: now).token
        )
        return try await body(fixture)
    }

    /// The principal a fixture token belongs to.
    func principal(_ token: String) async throws -> Principal {
        try #require(try await store.principal(forTokenHash: Token.hash(token)))
    }

    var application: some ApplicationProtocol {
        makeSyncServer(configuration: configuration, store: store, logger: Logger(label: "test"), metrics: metrics)
    }

    /// Runs `body` against the router in process (no sockets).
    func withRouter<T: Sendable>(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await application.test(.router, body)
    }
}

/// Builders for records and pushes.
enum Make {
    static func scope(_ school: String) -> Scope { (try? Scope.school(school)) ?? .catalog }

    /// A report of `school` written by `replica` on top of `base`.
    static func report(
        _ id: String,
        school: String = Fixture.schoolA,
        values: [String: Value],
        by replica: ReplicaID,
        on base: RecordState = RecordState()
    ) throws -> SyncRecord {
        var state = base
        try state.write(values, by: replica)
        return SyncRecord(key: RecordKey(collection: "reports", id: id), scope: scope(school), state: state)
    }

    /// A catalog record (a plan) written by `replica`.
    static func plan(_ id: String, values: [String: Value], by replica: ReplicaID) throws -> SyncRecord {
        var state = RecordState()
        try state.write(values, by: replica)
        return SyncRecord(key: RecordKey(collection: "plans", id: id), scope: .catalog, state: state)
    }

    static func push(_ records: [SyncRecord], replica: ReplicaID, receipt: PushReceipt? = nil, batch: String? = nil) throws -> PushRequest {
        PushRequest(
            batch: try batch.map { try BatchID(parsing: $0) } ?? BatchID.random(),
            replica: replica,
            receipt: receipt,
            client: "tests/1",
            records: records
        )
    }

    static func body(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try CanonicalJSON.encode(value))
    }
}

extension TestClientProtocol {
    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String?,
        body: ByteBuffer? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    /// Sends a push and returns the answer, whatever its status.
    func sendPush(_ request: PushRequest, token: String) async throws -> TestResponse {
        try await send(.post, "/v1/push", token: token, body: try Make.body(request))
    }

    /// Pushes and expects 200, returning the decoded response.
    func push(_ request: PushRequest, token: String) async throws -> PushResponse {
        let response = try await sendPush(request, token: token)
        #expect(response.status == .ok, "push answered \(response.status): \(String(buffer: response.body))")
        return try response.decode(PushResponse.self)
    }

    /// Pulls one page and expects 200.
    func pull(_ query: String = "", token: String) async throws -> PullResponse {
        let response = try await send(.get, "/v1/pull\(query.isEmpty ? "" : "?" + query)", token: token)
        #expect(response.status == .ok, "pull answered \(response.status): \(String(buffer: response.body))")
        return try response.decode(PullResponse.self)
    }

    /// Pulls every page from the beginning.
    func pullAll(token: String) async throws -> (records: [SyncRecord], cursor: Cursor) {
        var records: [SyncRecord] = []
        var query = "limit=1000"
        while true {
            let page = try await pull(query, token: token)
            records += page.records
            query = "limit=1000&since=\(page.next)"
            if !page.more { return (records, page.next) }
        }
    }
}

extension TestResponse {
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try CanonicalJSON.decode(type, from: Data(body.readableBytesView))
    }

    /// The protocol error body; fails the test if the body is not one.
    func error() throws -> ErrorBody {
        try decode(ErrorBody.self)
    }
}
