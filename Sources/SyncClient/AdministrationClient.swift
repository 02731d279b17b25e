import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SyncCore

/// The administration and bureau API of PROTOCOL.md §12 for a user's token: open conflicts, one
/// conflict, resolving it, a record's history, and the domain's other JSON reads (the bureau
/// summary).
///
/// It shares ``HTTPSyncTransport``'s exchange (gzip, timeouts, size caps, ``SyncClientError``)
/// but not its protocol: a program that administers needs no local replica. Pages come in the
/// server's own size (no limit is restated here); each list reads every page.
///
/// For example:
/// ```swift
/// try await HTTPClient.withHTTPClient { http in
///     let admin = AdministrationClient(http: http, baseURL: "http://127.0.0.1:8080", token: token)
///     for conflict in try await admin.conflicts(school: "qx-zhuoran") { print(conflict.id) }
/// }
/// ```
public struct AdministrationClient: Sendable {
    let connection: ServerConnection

    /// Makes a client; `baseURL` is e.g. `http://127.0.0.1:8080`; `timeout` bounds each request.
    public init(
        http: HTTPClient,
        baseURL: String,
        token: String,
        timeout: Duration = .seconds(30),
        maxResponseBytes: Int = 64 * 1024 * 1024,
        logger: Logger = Logger(label: "SyncClient.Administration")
    ) {
        connection = ServerConnection(
            http: http,
            baseURL: baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL,
            token: token,
            timeout: timeout,
            maxResponseBytes: maxResponseBytes,
            logger: logger,
            meter: nil
        )
    }

    /// Who the token belongs to and the server's limits (`GET /v1/session`).
    /// - Throws: ``SyncClientError`` (`unauthorized`, `unreachable`, …).
    public func session() async throws(SyncClientError) -> SessionInfo {
        try await get("/v1/session", as: SessionInfo.self)
    }

    /// Every open conflict, oldest first, optionally of one school or collection (`GET /v1/conflicts`
    /// in the server's own page size, each page after the last one's `since`, until an empty page).
    /// - Throws: ``SyncClientError``; `forbidden` for a device's token.
    public func conflicts(school: String? = nil, collection: String? = nil) async throws(SyncClientError) -> [ConflictSummary] {
        var all: [ConflictSummary] = []
        var after: Int64 = 0
        while true {
            var query = "/v1/conflicts?after=\(after)"
            if let school { query += "&school=\(Self.queryEncoded(school))" }
            if let collection { query += "&collection=\(Self.queryEncoded(collection))" }
            let page = try await get(query, as: ConflictList.self).conflicts
            all += page
            guard let last = page.last?.since, last > after else { return all }
            after = last
        }
    }

    /// One conflicted record: every value with who wrote it, and the context to resolve against.
    /// - Throws: ``SyncClientError``; `refused` (404) when the record is not in conflict.
    public func conflict(_ key: RecordKey) async throws(SyncClientError) -> ConflictDetail {
        try await get("/v1/conflicts/\(Self.path(key))", as: ConflictDetail.self)
    }

    /// Settles a conflict (`POST /v1/conflicts/{collection}/{id…}`, PROTOCOL.md §3.5 and §12).
    /// - Returns: the resolved record as the server stores it.
    /// - Throws: ``SyncClientError``; `refused` with the server's `conflict_stale` or
    ///   `not_in_conflict` in ``SyncClientError/body``.
    public func resolve(_ key: RecordKey, _ resolution: ResolutionRequest) async throws(SyncClientError) -> SyncRecord {
        try await post("/v1/conflicts/\(Self.path(key))", body: resolution, as: SyncRecord.self)
    }

    /// Every accepted change of a record, oldest first, reading every page (`GET /v1/history/…`).
    /// - Throws: ``SyncClientError``; `refused` (404) for a record the server never held.
    public func history(_ key: RecordKey) async throws(SyncClientError) -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var after: Int64 = 0
        while true {
            let page = try await get("/v1/history/\(Self.path(key))?after=\(after)", as: RecordHistoryPage.self)
            entries += page.history
            guard page.more, let last = page.history.last?.seq, last > after else { return entries }
            after = last
        }
    }

    /// Any other JSON `GET` of the server's API, e.g. `/v1/bureau/summary?period=2025-S1`, whose
    /// body type lives in another module (Reporting's `BureauSummary`).
    /// - Throws: ``SyncClientError``.
    public func get<T: Decodable>(_ pathAndQuery: String, as type: T.Type) async throws(SyncClientError) -> T {
        try await connection.send(HTTPClientRequest(url: connection.baseURL + pathAndQuery), as: type)
    }

    func post<T: Decodable>(_ path: String, body: some Encodable, as type: T.Type) async throws(SyncClientError) -> T {
        var http = HTTPClientRequest(url: connection.baseURL + path)
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        let buffer: ByteBuffer
        do {
            buffer = ByteBuffer(bytes: try CanonicalJSON.encode(body))
        } catch {
            throw SyncClientError(.usage, "could not encode the request: \(error)", cause: error)
        }
        http.body = .bytes(buffer)
        return try await connection.send(http, as: type, sentBody: buffer.readableBytes)
    }

    /// A record's path: the id percent-encoded once as a single segment, its `/` as `%2F`, so ids
    /// with empty segments (`a//b`, a trailing `/`) survive routers that drop empty segments and the
    /// server's single decoding gives the id back byte for byte (PROTOCOL.md §12).
    static func path(_ key: RecordKey) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;+")
        return "\(key.collection)/\(key.id.addingPercentEncoding(withAllowedCharacters: allowed) ?? key.id)"
    }

    static func queryEncoded(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
