import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SyncCore

/// The evidence endpoints of PROTOCOL.md §13 over HTTP with AsyncHTTPClient: tus 1.0.0 uploads
/// (§13.2), the proof of possession (§13.3) and ranged downloads (§13.4).
///
/// Every call carries the device's bearer token and `Tus-Resumable: 1.0.0`, and every answer that
/// is not a success becomes a ``SyncClientError`` whose ``SyncClientError/status`` and
/// ``SyncClientError/body`` say what the server answered (PROTOCOL.md §8). ``EvidenceTransfer``
/// decides what to do with them.
public struct EvidenceTransport: Sendable {
    /// The AsyncHTTPClient `HTTPClient` every request goes through; the caller owns it.
    public let http: HTTPClient
    /// The server's address without a trailing `/`, e.g. `http://127.0.0.1:8080`.
    public let baseURL: String
    let token: String
    /// How long a request without a body of file bytes may take; one that carries or fetches file
    /// bytes gets one second more for every 4 KiB of them (a 64 kbit/s link moves 8 KiB a second).
    public var timeout: Duration
    /// Where each request is logged at debug level.
    public var logger: Logger

    /// Makes a transport for the server at `baseURL` (e.g. `http://127.0.0.1:8080`) and a device's token.
    public init(http: HTTPClient, baseURL: String, token: String, timeout: Duration = .seconds(30), logger: Logger = Logger(label: "SyncClient.Evidence")) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.timeout = timeout
        self.logger = logger
    }

    /// What a tus request was answered, when it was a success.
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders

        var offset: Int? { headers.first(name: TusProtocol.Header.offset).flatMap { Int($0) } }
    }

    /// What a creation answered (§13.2): where the upload lives, how many bytes it holds, and a
    /// nonce when the school may prove it holds the file instead of sending it (§13.3).
    struct Creation: Sendable {
        var location: String
        var offset: Int
        var nonce: String?
    }

    /// `POST /v1/evidence/uploads`.
    func create(sha256: String, size: Int, name: String, type: String) async throws(SyncClientError) -> Creation {
        var headers = HTTPHeaders()
        headers.add(name: TusProtocol.Header.length, value: "\(size)")
        headers.add(name: TusProtocol.Header.metadata, value: TusProtocol.formatMetadata(["sha256": sha256, "filename": name, "filetype": type]))
        let answer = try await send(.POST, "/v1/evidence/uploads", headers: headers, body: .bytes(ByteBuffer()))
        guard let location = answer.headers.first(name: "Location"), let path = Self.path(of: location) else {
            throw SyncClientError(.invalidResponse, "the server created an upload without saying where it is (no Location)", status: Int(answer.status.code))
        }
        return Creation(location: path, offset: answer.offset ?? 0, nonce: answer.headers.first(name: TusProtocol.Header.possessionNonce))
    }

    /// `HEAD <upload>`: how many bytes the server holds.
    func offset(of upload: String) async throws(SyncClientError) -> Int {
        let answer = try await send(.HEAD, upload, headers: [:], body: nil)
        guard let offset = answer.offset else {
            throw SyncClientError(.invalidResponse, "the server's HEAD answer has no Upload-Offset", status: Int(answer.status.code))
        }
        return offset
    }

    /// `PATCH <upload>` with `body` (`length` bytes continuing the file at `offset`); returns the new offset.
    /// No `Upload-Checksum`: the server keeps every byte of a PATCH that is cut (§13.2).
    /// `within`, when given, ends the request sooner (the time left for uploads); the server keeps what arrived.
    func patch(_ upload: String, at offset: Int, length: Int, body: HTTPClientRequest.Body, within: Duration? = nil) async throws(SyncClientError) -> Int {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: TusProtocol.patchContentType)
        headers.add(name: TusProtocol.Header.offset, value: "\(offset)")
        let answer = try await send(.PATCH, upload, headers: headers, body: body, bodyBytes: length, within: within)
        return answer.offset ?? offset
    }

    /// `POST <upload>/possession` with the proof (§13.3).
    func prove(_ upload: String, proof: String) async throws(SyncClientError) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        _ = try await send(.POST, upload + "/possession", headers: headers, body: .bytes(ByteBuffer(string: #"{"proof":"\#(proof)"}"#)))
    }

    /// `GET /v1/evidence/files/<sha256>`, from byte `from` (a `Range` when above 0). The caller reads
    /// the body; `expectedBytes` sizes the deadline. Answers other than 200 and 206 are thrown, but
    /// 416 is returned (the caller knows what it holds).
    func download(sha256: String, from: Int, expectedBytes: Int) async throws(SyncClientError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + "/v1/evidence/files/" + sha256)
        request.method = .GET
        if from > 0 { request.headers.add(name: "Range", value: "bytes=\(from)-") }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(authorized(request), deadline: deadline(forBytes: expectedBytes), logger: logger)
        } catch {
            throw unreachable(error)
        }
        if response.status == .ok || response.status == .partialContent || response.status == .rangeNotSatisfiable { return response }
        throw await failure(response)
    }

    // MARK: The exchange

    private func send(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders, body: HTTPClientRequest.Body?, bodyBytes: Int = 0, within: Duration? = nil)
        async throws(SyncClientError) -> Answer
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(contentsOf: headers)
        request.body = body
        logger.debug("evidence request", metadata: ["http.method": "\(method.rawValue)", "http.path": "\(path.prefix(200))"])
        let response: HTTPClientResponse
        do {
            var deadline = deadline(forBytes: bodyBytes)
            if let within {
                let nanoseconds = within.components.seconds * 1_000_000_000 + within.components.attoseconds / 1_000_000_000
                deadline = min(deadline, .now() + .nanoseconds(max(nanoseconds, 1_000_000)))
            }
            response = try await http.execute(authorized(request), deadline: deadline, logger: logger)
        } catch {
            throw unreachable(error)
        }
        guard (200..<300).contains(response.status.code) else { throw await failure(response) }
        // Nothing of a success body is used; reading it frees the connection for the next request.
        do {
            _ = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw unreachable(error)
        }
        return Answer(status: response.status, headers: response.headers)
    }

    private func authorized(_ request: HTTPClientRequest) -> HTTPClientRequest {
        var request = request
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: TusProtocol.Header.resumable, value: TusProtocol.version)
        request.headers.add(name: "User-Agent", value: "schoolsync-client/\(SyncClientVersion.current)")
        request.headers.add(name: "X-Request-ID", value: ServerConnection.makeRequestID())
        return request
    }

    /// The request's timeout, plus a second for every 4 KiB of file bytes it carries.
    private func deadline(forBytes bytes: Int) -> NIODeadline {
        let seconds = min(max(timeout.components.seconds, 1) + Int64(bytes / 4096), 86_400)
        return .now() + .seconds(seconds)
    }

    private func unreachable(_ error: any Error) -> SyncClientError {
        SyncClientError(
            .unreachable,
            "cannot reach the server at \(baseURL) (\(ServerConnection.describe(error))); the file stays in this database until the server has it",
            cause: error
        )
    }

    private func failure(_ response: HTTPClientResponse) async -> SyncClientError {
        let data = try? await response.body.collect(upTo: 64 * 1024)
        let body = data.flatMap { try? CanonicalJSON.decode(ErrorBody.self, from: Data($0.readableBytesView)) }
        var error = ServerConnection.failure(status: response.status, body: body)
        if let retryAfter = response.headers.first(name: "Retry-After").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            error.retryAfter = .seconds(min(max(retryAfter, 0), 3600))
        }
        return error
    }

    /// The path of a `Location`, relative or absolute: the token is only ever sent to `baseURL`.
    static func path(of location: String) -> String? {
        if location.hasPrefix("/") { return location }
        guard let url = URL(string: location), url.scheme == "http" || url.scheme == "https", !url.path.isEmpty else { return nil }
        return url.path
    }
}
