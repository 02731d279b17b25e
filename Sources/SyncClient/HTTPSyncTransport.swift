import AsyncHTTPClient
import CompressNIO
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SyncCore
import Synchronization

/// The protocol over HTTP with AsyncHTTPClient: gzip both ways, a timeout and a size cap on every call.
///
/// The caller owns the `HTTPClient` (the CLI uses `HTTPClient.withHTTPClient { }`), so its
/// lifetime is structured.
public struct HTTPSyncTransport: SyncTransport {
    public let http: HTTPClient
    public let baseURL: String
    let token: String
    /// How long one request may take (a long poll gets its wait on top).
    public var timeout: Duration
    public var maxResponseBytes: Int
    public var logger: Logger
    /// Counts bytes on the wire, when given (the benchmark uses it).
    public var meter: TrafficMeter?

    /// Makes a transport; `baseURL` is e.g. `http://127.0.0.1:8080`.
    public init(
        http: HTTPClient,
        baseURL: String,
        token: String,
        timeout: Duration = .seconds(30),
        maxResponseBytes: Int = 64 * 1024 * 1024,
        logger: Logger = Logger(label: "SyncClient.HTTP")
    ) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger
    }

    public func session() async throws(SyncClientError) -> SessionInfo {
        try await send(HTTPClientRequest(url: baseURL + "/v1/session"), as: SessionInfo.self)
    }

    public func push(_ request: PushRequest) async throws(SyncClientError) -> PushResponse {
        var http = HTTPClientRequest(url: baseURL + "/v1/push")
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "Content-Encoding", value: "gzip")
        let compressed: ByteBuffer
        do {
            var body = ByteBuffer(bytes: try CanonicalJSON.encode(request))
            compressed = try body.compress(with: .gzip())
        } catch {
            throw SyncClientError(.usage, "could not encode the push: \(error)", cause: error)
        }
        http.body = .bytes(compressed)
        return try await send(http, as: PushResponse.self, sentBody: compressed.readableBytes)
    }

    /// Any other JSON `GET` of the server's API, e.g. `/v1/bureau/summary?period=2025-S1`.
    public func get<T: Decodable>(_ pathAndQuery: String, as type: T.Type) async throws(SyncClientError) -> T {
        try await send(HTTPClientRequest(url: baseURL + pathAndQuery), as: type)
    }

    /// Any other JSON `POST` of the server's API, e.g. resolving a conflict.
    public func post<T: Decodable>(_ path: String, body: some Encodable, as type: T.Type) async throws(SyncClientError) -> T {
        var http = HTTPClientRequest(url: baseURL + path)
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        let buffer: ByteBuffer
        do {
            buffer = ByteBuffer(bytes: try CanonicalJSON.encode(body))
        } catch {
            throw SyncClientError(.usage, "could not encode the request: \(error)", cause: error)
        }
        http.body = .bytes(buffer)
        return try await send(http, as: type, sentBody: buffer.readableBytes)
    }

    public func pull(_ request: PullRequest) async throws(SyncClientError) -> PullResponse {
        // Long polls hold the request open on purpose: give them their wait on top of the timeout.
        try await send(HTTPClientRequest(url: baseURL + "/v1/pull?" + request.query), as: PullResponse.self, extra: .seconds(request.wait))
    }

    private func send<T: Decodable>(
        _ request: HTTPClientRequest,
        as type: T.Type,
        extra: Duration = .zero,
        sentBody: Int = 0
    ) async throws(SyncClientError) -> T {
        var request = request
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.headers.add(name: "User-Agent", value: "schoolsync-client/\(SyncClientVersion.current)")
        let status: HTTPResponseStatus
        var body: ByteBuffer
        let encoding: String?
        let retryAfter: String?
        do {
            let limit = timeout + extra
            let response = try await http.execute(
                request,
                // Whole seconds, capped at a day: a TimeAmount in nanoseconds cannot hold much more.
                timeout: .seconds(min(max(limit.components.seconds, 1), 86_400)),
                logger: logger
            )
            status = response.status
            encoding = response.headers.first(name: "Content-Encoding")
            retryAfter = response.headers.first(name: "Retry-After")
            body = try await response.body.collect(upTo: maxResponseBytes)
            meter?.record(request: request, sentBody: sentBody, response: response.headers, receivedBody: body.readableBytes)
        } catch {
            throw SyncClientError(
                .unreachable,
                "cannot reach the server at \(baseURL) (\(Self.describe(error))); changes are kept locally — run sync again when online",
                cause: error
            )
        }
        if encoding?.lowercased() == "gzip" {
            do {
                body = try body.decompress(with: .gzip(), maxSize: maxResponseBytes)
            } catch {
                throw SyncClientError(.invalidResponse, "the server sent a corrupt gzip body", status: Int(status.code), cause: error)
            }
        }
        let data = Data(body.readableBytesView)
        guard status == .ok || status == .created else {
            var error = Self.failure(status: status, body: try? CanonicalJSON.decode(ErrorBody.self, from: data))
            // Seconds only (the server never sends a date); at most an hour, whatever it says.
            error.retryAfter = retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { .seconds(min(max($0, 0), 3600)) }
            throw error
        }
        do {
            return try CanonicalJSON.decode(type, from: data)
        } catch {
            throw SyncClientError(.invalidResponse, "the server's answer could not be read: \(error)", status: Int(status.code), cause: error)
        }
    }

    static func failure(status: HTTPResponseStatus, body: ErrorBody?) -> SyncClientError {
        let said = body?.message ?? status.reasonPhrase
        let code: SyncClientError.Code
        let message: String
        switch status.code {
        case 401:
            code = .unauthorized
            message = "the server refused this device's token (\(said)). Ask the bureau for a new device token and run 'schoolsync init' again."
        case 403 where body?.error == "replica_foreign":
            // The replica id is another principal's (a database copied to a second device): the
            // way out is the same as for a forgotten push, a fresh replica id (PROTOCOL.md §5).
            code = .replicaStale
            message = said
        case 403:
            code = .forbidden
            message = "this token may not do that: \(said)"
        case 409 where body?.error == "replica_stale":
            code = .replicaStale
            message = said
        case 409 where body?.error == "epoch_changed":
            code = .epochChanged
            message = said
        case 409:
            code = .refused
            message = said
        case 404:
            code = .refused
            message = said
        case 413:
            code = .tooLarge
            message = said
        case 429:
            code = .rateLimited
            message = "the server is refusing this address for a while after many failed sign-ins (\(said)); sync again in a minute"
        case 500...:
            code = .server
            message = "the server failed (\(status.code)): \(said); changes are kept locally — sync again later"
        default:
            code = .badRequest
            message = "the server refused the request (\(status.code) \(body?.error ?? "")): \(said)"
        }
        return SyncClientError(code, message, status: Int(status.code), body: body)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            return error.shortDescription
        }
        return String(describing: error)
    }
}

/// The client library's version, sent as `client` with pushes and in `User-Agent`.
public enum SyncClientVersion {
    public static let current = "0.1.0"
}

extension HTTPClient.Configuration {
    /// The client configuration SchoolSync uses: a refused or failed connection fails the request
    /// at once (the engine's own backoff decides when to try again) instead of being retried by the
    /// connection pool until the request's deadline, so a school without a link hears so quickly.
    public static var schoolSync: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return configuration
    }
}

/// Bytes a transport sent and received: HTTP request and status lines, headers and bodies as they
/// travel (bodies gzip-compressed), not TCP/IP overhead.
public final class TrafficMeter: Sendable {
    private let counts = Mutex<(requests: Int, sent: Int, received: Int)>((0, 0, 0))

    public init() {}

    /// Requests made, bytes sent and bytes received so far.
    public var totals: (requests: Int, sent: Int, received: Int) { counts.withLock { $0 } }

    /// Starts counting again from zero.
    public func reset() { counts.withLock { $0 = (0, 0, 0) } }

    func record(request: HTTPClientRequest, sentBody: Int, response: HTTPHeaders, receivedBody: Int) {
        // Content-Length and Host, which the client adds itself, are counted with the other headers.
        let implicitHeaders = "Content-Length: \(sentBody)\r\nHost: \r\n".utf8.count + 20
        let requestLine = "\(request.method.rawValue) \(request.url) HTTP/1.1\r\n".utf8.count
        let requestHeaders = request.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        let responseHeaders = response.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } + 17
        counts.withLock {
            $0.requests += 1
            $0.sent += requestLine + requestHeaders + implicitHeaders + 2 + sentBody
            $0.received += responseHeaders + 2 + receivedBody
        }
    }
}
