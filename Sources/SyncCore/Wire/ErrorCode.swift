/// The stable `error` code of an error response (PROTOCOL.md §8): the one list the server renders,
/// the client matches and openapi.yaml names.
///
/// A struct with static members, not an enum, so a server that learns a new code breaks no client
/// (the shape of AsyncHTTPClient's `HTTPClientError`): a code this library does not know decodes as
/// itself and compares unequal to every member below.
///
/// For example:
/// ```swift
/// if body.error == .replicaStale { … }
/// ```
public struct ErrorCode: WireCode {
    /// The code as it travels, e.g. `replica_stale`.
    public let rawValue: String

    /// Wraps a code read from the wire; any string is kept as it is.
    public init(rawValue: String) { self.rawValue = rawValue }

    // MARK: 400

    /// The body is not JSON, has wrong types, misses or adds keys, or a record breaks §2–§3.
    public static let invalidJSON = ErrorCode(rawValue: "invalid_json")
    /// A body marked gzip that is not exactly one whole gzip member.
    public static let invalidBody = ErrorCode(rawValue: "invalid_body")
    /// A pull's `since` or `receipt` is malformed or beyond the log.
    public static let invalidCursor = ErrorCode(rawValue: "invalid_cursor")
    /// A parameter is out of range, unknown or repeated (`details.parameter` names it).
    public static let invalidParameter = ErrorCode(rawValue: "invalid_parameter")
    /// A resolution leaves a conflicting field without a value (§12).
    public static let unresolvedFields = ErrorCode(rawValue: "unresolved_fields")
    /// Any other malformed request the server cannot name more precisely.
    public static let badRequest = ErrorCode(rawValue: "bad_request")

    // MARK: 401, 403, 404, 405

    /// No, malformed, unknown or revoked token.
    public static let unauthorized = ErrorCode(rawValue: "unauthorized")
    /// The principal may not do this at all.
    public static let forbidden = ErrorCode(rawValue: "forbidden")
    /// The replica id belongs to another principal (§5 "Ownership").
    public static let replicaForeign = ErrorCode(rawValue: "replica_foreign")
    /// No such endpoint or resource.
    public static let notFound = ErrorCode(rawValue: "not_found")
    /// A known path with a method it does not serve; `Allow` lists those it does.
    public static let methodNotAllowed = ErrorCode(rawValue: "method_not_allowed")

    // MARK: 409

    /// The replica forgot an acknowledged push (§6.3): re-mint and pull from the beginning.
    public static let replicaStale = ErrorCode(rawValue: "replica_stale")
    /// A cursor or receipt from another epoch (§7.4): reset and pull from the beginning.
    public static let epochChanged = ErrorCode(rawValue: "epoch_changed")
    /// An administration call would create something that exists (§12).
    public static let alreadyExists = ErrorCode(rawValue: "already_exists")
    /// A resolution's `seen` context misses a newer conflicting value (§12).
    public static let conflictStale = ErrorCode(rawValue: "conflict_stale")
    /// The record was resolved already (§12).
    public static let notInConflict = ErrorCode(rawValue: "not_in_conflict")
    /// A push reuses the batch id of the last accepted push with the current receipt (§6.2).
    public static let batchReused = ErrorCode(rawValue: "batch_reused")
    /// A PATCH whose `Upload-Offset` is not the upload's offset on the server (§13.2): ask with HEAD
    /// and go on from there (`details.offset` holds it).
    public static let uploadOffsetMismatch = ErrorCode(rawValue: "upload_offset_mismatch")
    /// The school holds as many unfinished uploads, or declared bytes of them, as §13.1 allows:
    /// finish them, or wait until they expire (`details.limit`).
    public static let uploadLimitReached = ErrorCode(rawValue: "upload_limit_reached")

    // MARK: 410, 412, 422, 460

    /// An unfinished upload past its `Upload-Expires` (§13.2): create it again.
    public static let uploadExpired = ErrorCode(rawValue: "upload_expired")
    /// A tus request without `Tus-Resumable: 1.0.0` (§13.2).
    public static let tusVersionUnsupported = ErrorCode(rawValue: "tus_version_unsupported")
    /// The uploaded bytes do not have the SHA-256 the upload declared (§13.2); the upload is discarded.
    public static let evidenceHashMismatch = ErrorCode(rawValue: "evidence_hash_mismatch")
    /// A proof of possession that does not match the file the server holds (§13.3).
    public static let possessionProofMismatch = ErrorCode(rawValue: "possession_proof_mismatch")
    /// A PATCH body whose `Upload-Checksum` does not match it (§13.2, tus checksum); none of it is kept.
    public static let checksumMismatch = ErrorCode(rawValue: "checksum_mismatch")

    // MARK: 413, 415, 429

    /// The body, or what a gzip body inflates to, exceeds `maxBodyBytes` or the JSON-value limit.
    public static let bodyTooLarge = ErrorCode(rawValue: "body_too_large")
    /// More than `maxBatchRecords` records in one push.
    public static let batchTooLarge = ErrorCode(rawValue: "batch_too_large")
    /// A `Content-Encoding` other than gzip or identity.
    public static let unsupportedEncoding = ErrorCode(rawValue: "unsupported_encoding")
    /// A `Content-Type` other than `application/json`.
    public static let unsupportedMediaType = ErrorCode(rawValue: "unsupported_media_type")
    /// Too many failed authentications from the address; `Retry-After` says how long to wait.
    public static let tooManyRequests = ErrorCode(rawValue: "too_many_requests")
    /// An evidence file longer than ``EvidenceLimits/maxFileBytes``, or a PATCH past `Upload-Length` (§13.1).
    public static let fileTooLarge = ErrorCode(rawValue: "file_too_large")
    /// An evidence file whose bytes (or declared type) are not an allowed kind (§13.1).
    public static let unsupportedFileType = ErrorCode(rawValue: "unsupported_file_type")

    // MARK: 5xx

    /// A server fault, never bad input.
    public static let `internal` = ErrorCode(rawValue: "internal")
    /// The server is starting, stopping, overloaded or its store is busy; `Retry-After` says when to retry.
    public static let unavailable = ErrorCode(rawValue: "unavailable")

    /// Every code version 1 defines, in PROTOCOL.md §8's order; a test checks the table, openapi.yaml
    /// and the sources against it.
    public static let allDefined: [ErrorCode] = [
        .invalidJSON, .invalidBody, .invalidCursor, .invalidParameter, .unresolvedFields, .badRequest,
        .unauthorized, .forbidden, .replicaForeign, .notFound, .methodNotAllowed,
        .replicaStale, .epochChanged, .alreadyExists, .conflictStale, .notInConflict, .batchReused, .uploadOffsetMismatch,
        .uploadLimitReached,
        .uploadExpired, .tusVersionUnsupported, .evidenceHashMismatch, .possessionProofMismatch, .checksumMismatch,
        .bodyTooLarge, .batchTooLarge, .unsupportedEncoding, .unsupportedMediaType, .fileTooLarge, .unsupportedFileType,
        .tooManyRequests,
        .internal, .unavailable,
    ]
}
