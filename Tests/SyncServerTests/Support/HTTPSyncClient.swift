import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncCore

/// A minimal protocol client over AsyncHTTPClient, for tests that talk to a real process.
struct HTTPSyncClient: Sendable {
    let http: HTTPClient
    let baseURL: String
    let token: String

    struct Failure: Error {
        let status: HTTPResponseStatus
        let body: String
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        var http = HTTPClientRequest(url: baseURL + "/v1/push")
        http.method = .POST
        http.headers.add(name: "Authorization", value: "Bearer \(token)")
        http.headers.add(name: "Content-Type", value: "application/json")
        http.body = .bytes(ByteBuffer(bytes: try CanonicalJSON.encode(request)))
        return try await send(http, as: PushResponse.self)
    }

    func pull(since cursor: Cursor?) async throws -> PullResponse {
        var http = HTTPClientRequest(url: baseURL + "/v1/pull?limit=1000" + (cursor.map { "&since=\($0)" } ?? ""))
        http.headers.add(name: "Authorization", value: "Bearer \(token)")
        return try await send(http, as: PullResponse.self)
    }

    private func send<T: Decodable>(_ request: HTTPClientRequest, as type: T.Type) async throws -> T {
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
        guard response.status == .ok else { throw Failure(status: response.status, body: String(buffer: body)) }
        return try CanonicalJSON.decode(type, from: Data(body.readableBytesView))
    }
}
