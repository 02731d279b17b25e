/// The answer to `GET /v1/pull`: current states of records changed after the cursor.
public struct PullResponse: Sendable, Hashable, Codable {
    /// The server store's current epoch.
    public var epoch: Epoch
    /// The current whole state of each record changed after `since`, once each, in change-log order.
    public var records: [SyncRecord]
    /// The cursor to store with these records and send as the next `since`.
    public var next: Cursor
    /// Whether more changes wait after `next`.
    public var more: Bool

    enum CodingKeys: String, CodingKey {
        case epoch
        case records
        case next
        case more
    }

    /// Makes a page.
    public init(epoch: Epoch, records: [SyncRecord], next: Cursor, more: Bool) {
        self.epoch = epoch
        self.records = records
        self.next = next
        self.more = more
    }
}

/// The body of every error response: `{error, message, details}`.
public struct ErrorBody: Sendable, Hashable, Codable {
    /// A stable code from PROTOCOL.md §8, e.g. ``ErrorCode/replicaStale``.
    public var error: ErrorCode
    /// What went wrong and what to do, in plain words.
    public var message: String
    /// Extra facts a program may act on (the limit exceeded, the current epoch…).
    public var details: [String: String]?

    enum CodingKeys: String, CodingKey {
        case error
        case message
        case details
    }

    /// Makes an error body.
    public init(error: ErrorCode, message: String, details: [String: String]? = nil) {
        self.error = error
        self.message = message
        self.details = details
    }
}
