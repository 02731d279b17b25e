import SyncCore

/// An error from the client library, with a message that tells the person at the school what to do.
///
/// Follows swift-nio's error shape: a stable ``Code``, a message, and the underlying cause.
public struct SyncClientError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable code: what the client makes of an answer (PROTOCOL.md §8's
    /// `ErrorCode` stays in ``body``). Where a category is a wire code, it takes its spelling from
    /// SyncCore's types, so the two cannot drift apart.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's spelling, e.g. `unreachable`; a wire code keeps PROTOCOL.md §8's, e.g. `replica_stale`.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// The server could not be reached (no link, DNS, refused, reset, timed out).
        public static let unreachable = Code("unreachable")
        /// The token was refused (401).
        public static let unauthorized = Code(ErrorCode.unauthorized.rawValue)
        /// The token may not do this (403).
        public static let forbidden = Code(ErrorCode.forbidden.rawValue)
        /// The server says this database forgot an acknowledged push (handled by re-minting).
        public static let replicaStale = Code(ErrorCode.replicaStale.rawValue)
        /// The server's store was restored (handled by resetting the cursor).
        public static let epochChanged = Code(ErrorCode.epochChanged.rawValue)
        /// The server refused a request as too large.
        public static let tooLarge = Code(RejectCode.tooLarge.rawValue)
        /// The server failed (5xx).
        public static let server = Code("server")
        /// Too many failed authentications came from this address (429); retried after `Retry-After`.
        public static let rateLimited = Code("rate_limited")
        /// The server does not hold what was asked for (404), e.g. an evidence file not uploaded yet (PROTOCOL.md §13.4).
        public static let notFound = Code(ErrorCode.notFound.rawValue)
        /// The server refused the request as malformed (a client bug).
        public static let badRequest = Code(ErrorCode.badRequest.rawValue)
        /// The server answered something this client cannot read.
        public static let invalidResponse = Code("invalid_response")
        /// The local database is not set up, or an argument does not make sense.
        public static let usage = Code("usage")
        /// A local edit was refused (conflicted field, unknown record, bad value).
        public static let refused = Code("refused")
        /// A conditional write found a record changed since the caller read it (another device's
        /// values arrived, another program edited the row): nothing was written; read it again.
        public static let changedMeanwhile = Code("changed_meanwhile")
        /// One dot carries two values: some replica reused a dot. Sync stops for this record.
        public static let integrity = Code(RejectCode.integrity.rawValue)

        /// The local database could not be written: the disk is full or failing. Nothing saved is lost.
        public static let storage = Code("storage")
        /// Another sync of the same database file is running (PROTOCOL.md §6.1: one push in flight per replica).
        public static let busy = Code("busy")

        public var description: String { name }
    }

    /// What kind of failure it is: what a caller branches on (see ``SyncClientError/isRetryable``).
    public var code: Code
    /// What happened and what to do, for the person at the school; also the error's `description`.
    public var message: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// The server's error body, when it sent one.
    public var body: ErrorBody?
    /// What failed underneath.
    public var cause: (any Error)?
    /// How long the server asked the client to wait (`Retry-After`), when it said.
    public var retryAfter: Duration?

    /// Makes an error; `status`, `body` and `cause` when there was an HTTP answer, an error body or an
    /// underlying error. ``SyncClientError/retryAfter`` starts as `nil`.
    public init(_ code: Code, _ message: String, status: Int? = nil, body: ErrorBody? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.body = body
        self.cause = cause
    }

    /// Whether trying again later may succeed: network trouble and server faults, never 4xx.
    public var isRetryable: Bool {
        code == .unreachable || code == .server || code == .rateLimited
    }

    public var description: String { message }
}
