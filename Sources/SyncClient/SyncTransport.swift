import Foundation
import SyncCore

/// How a replica talks to a server. The library ships ``HTTPSyncTransport``; tests may wrap it to
/// cut or duplicate requests.
public protocol SyncTransport: Sendable {
    /// Who the token belongs to (`GET /v1/session`).
    func session() async throws(SyncClientError) -> SessionInfo
    /// `POST /v1/push`.
    func push(_ request: PushRequest) async throws(SyncClientError) -> PushResponse
    /// `GET /v1/pull`.
    func pull(_ request: PullRequest) async throws(SyncClientError) -> PullResponse
    /// `POST /v1/push` of a request whose canonical JSON the caller has already
    /// (`body == CanonicalJSON.encode(request)`), so it is not encoded again. The default sends
    /// ``push(_:)``, so a transport that wraps another sees every push there.
    func push(_ request: PushRequest, encoded body: Data) async throws(SyncClientError) -> PushResponse
}

extension SyncTransport {
    /// Sends `request` through ``push(_:)``, which encodes it again; `body` is not used.
    public func push(_ request: PushRequest, encoded body: Data) async throws(SyncClientError) -> PushResponse {
        try await push(request)
    }
}

/// The parameters of one pull (PROTOCOL.md §7.1).
public struct PullRequest: Sendable, Hashable {
    /// The `next` cursor of the previous page, `<epoch>.<seq>`; `nil` for the first pull (the start of the log).
    public var since: Cursor?
    /// Records per page, 1–1000 (`maxPullLimit`, PROTOCOL.md §10).
    public var limit: Int
    /// Seconds, 0–60, the server may hold the request while nothing changed (a long poll); 0 answers at once.
    public var wait: Int
    /// The pulling replica, so the server checks its receipt first and leaves out the states it pushed
    /// (PROTOCOL.md §6.3, §7.2); `nil` for a read-only tool.
    public var replica: ReplicaID?
    /// The replica's last receipt; `nil` before its first push. Only with ``PullRequest/replica``: alone it is
    /// 400 `invalid_parameter` (PROTOCOL.md §7.1).
    public var receipt: PushReceipt?

    /// Makes the parameters of one pull; `wait` 0 (the default) asks for no long poll.
    public init(since: Cursor?, limit: Int, wait: Int = 0, replica: ReplicaID?, receipt: PushReceipt?) {
        self.since = since
        self.limit = limit
        self.wait = wait
        self.replica = replica
        self.receipt = receipt
    }

    /// The query string, without the `?`.
    public var query: String {
        var items = ["limit=\(limit)"]
        if let since { items.append("since=\(since)") }
        if wait > 0 { items.append("wait=\(wait)") }
        if let replica { items.append("replica=\(replica)") }
        if let receipt { items.append("receipt=\(receipt)") }
        return items.joined(separator: "&")
    }
}
