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

    /// The exchange every call goes through: headers, gzip, timeout, size cap, error mapping.
    var connection: ServerConnection {
        ServerConnection(http: http, baseURL: baseURL, token: token, timeout: timeout, maxResponseBytes: maxResponseBytes, logger: logger, meter: meter)
    }

    public func session() async throws(SyncClientError) -> SessionInfo {
        try await connection.send(HTTPClientRequest(url: baseURL + "/v1/session"), as: SessionInfo.self)
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
        return try await connection.send(http, as: PushResponse.self, sentBody: compressed.readableBytes)
    }

    public func pull(_ request: PullRequest) async throws(SyncClientError) -> PullResponse {
        // Long polls hold the request open on purpose: give them their wait on top of the timeout.
        try await connection.send(HTTPClientRequest(url: baseURL + "/v1/pull?" + request.query), as: PullResponse.self, extra: .seconds(request.wait))
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
