import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Builders for records and pushes, on top of SchoolSyncTestSupport's `Fixture`.
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
