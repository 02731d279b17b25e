import AsyncHTTPClient
import CompressNIO
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SyncCore

/// One server, one token: the HTTP exchange that ``HTTPSyncTransport`` and ``AdministrationClient``
/// share — authorization, gzip both ways, a timeout and a size cap on every call, an
/// `X-Request-ID` the server logs beside its own lines, and one mapping of answers to
/// ``SyncClientError`` (PROTOCOL.md §8).
struct ServerConnection: Sendable {
    let http: HTTPClient
    let baseURL: String
    let token: String
    let timeout: Duration
    let maxResponseBytes: Int
    let logger: Logger
    let meter: TrafficMeter?

    func send<T: Decodable>(
        _ request: HTTPClientRequest,
        as type: T.Type,
        extra: Duration = .zero,
        sentBody: Int = 0
    ) async throws(SyncClientError) -> T {
        var request = request
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.headers.add(name: "User-Agent", value: "schoolsync-client/\(SyncClientVersion.current)")
        // The server logs this id with every line of the request and echoes it back, so a school's
        // log line and the bureau's can be matched.
        let requestID = Self.makeRequestID()
        request.headers.add(name: "X-Request-ID", value: requestID)
        var logger = logger
        logger[metadataKey: "sync.request_id"] = .string(requestID)
        logger.debug("request", metadata: ["http.method": "\(request.method.rawValue)", "http.path": "\(request.url.dropFirst(baseURL.count).prefix(200))"])
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
        case 403 where body?.error == .replicaForeign:
            // The replica id is another principal's (a database copied to a second device): the
            // way out is the same as for a forgotten push, a fresh replica id (PROTOCOL.md §5).
            code = .replicaStale
            message = said
        case 403:
            code = .forbidden
            message = "this token may not do that: \(said)"
        case 409 where body?.error == .replicaStale:
            code = .replicaStale
            message = said
        case 409 where body?.error == .epochChanged:
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
            message = "the server refused the request (\(status.code) \(body?.error.rawValue ?? "")): \(said)"
        }
        return SyncClientError(code, message, status: Int(status.code), body: body)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            return error.shortDescription
        }
        return String(describing: error)
    }

    /// 16 random bytes as 32 hex digits: unique enough to find one request in a day of logs.
    static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
