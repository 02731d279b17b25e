import Hummingbird
import SyncCore

/// An error answered as PROTOCOL.md §8's `{error, message, details}` with its status code.
///
/// Every failure a client can cause ends here, never in a bare 500: `ErrorMiddleware` turns
/// Hummingbird's own errors and decoding errors into one of these too.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status it is answered with; PROTOCOL.md §8 pairs each ``code`` with its status (e.g. 409 `replica_stale`).
    public var status: HTTPResponse.Status
    /// The stable code from PROTOCOL.md §8.
    public var code: ErrorCode
    /// What happened and what to do.
    public var message: String
    /// Facts a program may act on.
    public var details: [String: String]?
    /// Extra headers, such as `Retry-After`.
    public var headers: HTTPFields = [:]

    /// Makes an error with no extra ``headers``; `details` maps names to strings a program may use (§8).
    public init(_ status: HTTPResponse.Status, _ code: ErrorCode, _ message: String, details: [String: String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    /// Renders the error as an `ErrorBody` in canonical JSON with ``status`` and ``headers``, gzip-compressed
    /// when the request accepts it and the body is 512 bytes or more (PROTOCOL.md §4).
    ///
    /// - Throws: the error of the JSON encoding or of the gzip compression, if either fails.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONResponse.make(ErrorBody(error: code, message: message, details: details), status: status, for: request)
        response.headers.append(contentsOf: headers)
        return response
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static func invalidJSON(_ message: String, path: String? = nil) -> APIError {
        APIError(.badRequest, .invalidJSON, message, details: path.map { ["path": $0] })
    }

    static func invalidParameter(_ name: String, _ message: String) -> APIError {
        APIError(.badRequest, .invalidParameter, message, details: ["parameter": name])
    }

    static let unauthorized = APIError(
        .unauthorized,
        .unauthorized,
        "A valid token is required: send 'Authorization: Bearer <token>'. Ask the bureau for a new device token if yours was revoked."
    )

    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, .forbidden, message) }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(
            .contentTooLarge,
            .bodyTooLarge,
            "The request body is larger than \(limit) bytes; send fewer records per push.",
            details: ["limit": String(limit)]
        )
    }

    static func epochChanged(_ epoch: Epoch) -> APIError {
        APIError(
            .conflict,
            .epochChanged,
            "The server's database was restored or replaced. Pull from the beginning and push all local records again.",
            details: ["epoch": epoch.description]
        )
    }

    /// Another principal's replica id: nothing about its receipts is said (PROTOCOL.md §5 "Ownership").
    static let replicaForeign = APIError(
        .forbidden,
        .replicaForeign,
        "This replica id belongs to another device or user (a database copied to this device keeps the id it was made with). "
            + "Make a new replica id, re-apply unsent edits under it, offer every record again, and pull from the beginning."
    )

    static func replicaStale(_ replica: ReplicaID, expected: PushReceipt?) -> APIError {
        var details = ["replica": replica.description]
        if let expected { details["expected"] = expected.description }
        return APIError(
            .conflict,
            .replicaStale,
            "This database and the server disagree about which pushes were accepted (the database was restored from a backup "
                + "or copied, or the server lost its last commits). Make a new replica id, re-apply unsent edits under it, "
                + "offer every record again, and pull from the beginning.",
            details: details
        )
    }
}
