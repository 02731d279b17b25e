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
}

/// The parameters of one pull (PROTOCOL.md §7.1).
public struct PullRequest: Sendable, Hashable {
    public var since: Cursor?
    public var limit: Int
    public var wait: Int
    public var replica: ReplicaID?
    public var receipt: PushReceipt?

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
