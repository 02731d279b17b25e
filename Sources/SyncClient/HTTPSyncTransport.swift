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
    /// The AsyncHTTPClient `HTTPClient` every request goes through; the caller owns it and shuts it down.
    public let http: HTTPClient
    /// The server's address without a trailing `/`, e.g. `http://127.0.0.1:8080`; paths such as `/v1/pull` are appended to it.
    public let baseURL: String
    let token: String
    /// How long one request may take (a long poll gets its wait on top).
    public var timeout: Duration
    /// The largest response body read, in bytes (default 64 MiB), both as received and once gunzipped: a longer
    /// body fails the call as ``SyncClientError/Code/unreachable`` (as received) or ``SyncClientError/Code/invalidResponse``
    /// (once gunzipped).
    public var maxResponseBytes: Int
    /// Where each request is logged at debug level, with its `X-Request-ID` as `sync.request_id` metadata.
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

    /// Asks the server whom the token belongs to, and its limits (`GET /v1/session`, PROTOCOL.md §5 and §10).
    ///
    /// - Throws: ``SyncClientError/Code/unreachable`` when the server cannot be reached, or the code
    ///   PROTOCOL.md §8's error answer maps to: ``SyncClientError/Code/unauthorized`` (401),
    ///   ``SyncClientError/Code/rateLimited`` (429), ``SyncClientError/Code/server`` (5xx), among others;
    ///   ``SyncClientError/Code/invalidResponse`` when the answer cannot be read.
    public func session() async throws(SyncClientError) -> SessionInfo {
        try await connection.send(HTTPClientRequest(url: baseURL + "/v1/session"), as: SessionInfo.self)
    }

    /// Asks the server which replicas the devices of this device's school use, with each device's
    /// name (`GET /v1/school/replicas`, PROTOCOL.md §12), so a field in conflict can show who wrote
    /// each of its values (§3.4). The answer changes only when a device of the school first pushes
    /// under a new replica: keep it with ``LocalReplica/rememberWriters(_:)`` and ask again now and then.
    ///
    /// A server older than the endpoint answers 404; that is not an error here: the result is empty,
    /// so callers just show no names.
    ///
    /// - Returns: the writers, sorted by replica id; empty from a server without the endpoint.
    /// - Throws: ``SyncClientError/Code/unreachable`` when the server cannot be reached, or the code
    ///   PROTOCOL.md §8's error answer maps to: ``SyncClientError/Code/unauthorized`` (401),
    ///   ``SyncClientError/Code/forbidden`` (403: a bureau or admin token, which reads names in the
    ///   conflict detail instead), ``SyncClientError/Code/server`` (5xx), among others;
    ///   ``SyncClientError/Code/invalidResponse`` when the answer cannot be read.
    public func schoolReplicas() async throws(SyncClientError) -> [SchoolReplicas.Writer] {
        do {
            return try await connection.send(HTTPClientRequest(url: baseURL + "/v1/school/replicas"), as: SchoolReplicas.self).replicas
        } catch {
            guard error.status == 404 else { throw error }
            return []
        }
    }

    /// Sends one batch (`POST /v1/push`, PROTOCOL.md §6.1) as canonical JSON, gzip-compressed.
    ///
    /// - Returns: the server's answer, one result per record (PROTOCOL.md §6.4).
    /// - Throws: ``SyncClientError/Code/usage`` when the request cannot be encoded;
    ///   ``SyncClientError/Code/unreachable`` when the server cannot be reached (the push may have arrived: send it
    ///   again under the same batch id, §6.5); or the code the error answer maps to (§8), such as
    ///   ``SyncClientError/Code/replicaStale`` (409 `replica_stale`, 403 `replica_foreign`),
    ///   ``SyncClientError/Code/epochChanged``, ``SyncClientError/Code/tooLarge`` (413),
    ///   ``SyncClientError/Code/refused`` (another 409) or ``SyncClientError/Code/server`` (5xx).
    public func push(_ request: PushRequest) async throws(SyncClientError) -> PushResponse {
        let body: Data
        do {
            body = try CanonicalJSON.encode(request)
        } catch {
            throw SyncClientError(.usage, "could not encode the push: \(error)", cause: error)
        }
        return try await push(request, encoded: body)
    }

    /// Sends one batch (`POST /v1/push`, PROTOCOL.md §6.1) whose canonical JSON is `body`
    /// (`CanonicalJSON.encode(request)`, which the caller has already), gzip-compressed.
    ///
    /// - Returns: the server's answer, one result per record (PROTOCOL.md §6.4).
    /// - Throws: as ``push(_:)``.
    public func push(_ request: PushRequest, encoded body: Data) async throws(SyncClientError) -> PushResponse {
        var http = HTTPClientRequest(url: baseURL + "/v1/push")
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "Content-Encoding", value: "gzip")
        let compressed: ByteBuffer
        do {
            var body = ByteBuffer(bytes: body)
            compressed = try body.compress(with: .gzip())
        } catch {
            throw SyncClientError(.usage, "could not compress the push: \(error)", cause: error)
        }
        http.body = .bytes(compressed)
        return try await connection.send(http, as: PushResponse.self, sentBody: compressed.readableBytes)
    }

    /// Fetches one page of changes (`GET /v1/pull`, PROTOCOL.md §7); a long poll gets its `wait` seconds on
    /// top of ``HTTPSyncTransport/timeout``.
    ///
    /// - Throws: ``SyncClientError/Code/unreachable`` when the server cannot be reached, or the code the error
    ///   answer maps to (§8), such as ``SyncClientError/Code/epochChanged`` for a cursor or receipt of another
    ///   epoch (§7.4) or ``SyncClientError/Code/replicaStale`` when the receipt shows a forgotten push (§6.3);
    ///   ``SyncClientError/Code/invalidResponse`` when the page cannot be read.
    public func pull(_ request: PullRequest) async throws(SyncClientError) -> PullResponse {
        // Long polls hold the request open on purpose: give them their wait on top of the timeout.
        try await connection.send(HTTPClientRequest(url: baseURL + "/v1/pull?" + request.query), as: PullResponse.self, extra: .seconds(request.wait))
    }
}

/// The client library's version, sent as `client` with pushes and in `User-Agent`.
public enum SyncClientVersion {
    /// The version, e.g. `0.1.0`: pushes send `schoolsync/<version>` as `client`, and every request
    /// `schoolsync-client/<version>` as `User-Agent`.
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

    /// Makes a meter at zero; give it to a transport as ``HTTPSyncTransport/meter``.
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
