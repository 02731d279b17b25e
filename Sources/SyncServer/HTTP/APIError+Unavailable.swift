import HTTPTypes
import Hummingbird
import SyncCore

extension APIError {
    /// Seconds a client is told to wait by a 503 that names no other time.
    static let defaultRetryAfterSeconds = 2

    /// 503 `unavailable` with `Retry-After` in whole seconds (PROTOCOL.md §8): the server cannot
    /// answer now (its store is busy, or does not answer) but may in a moment; the request did
    /// nothing, so sending it again is safe.
    static func unavailable(_ message: String, retryAfter seconds: Int = defaultRetryAfterSeconds) -> APIError {
        var error = APIError(.serviceUnavailable, .unavailable, message, details: ["retryAfter": String(seconds)])
        error.headers[.retryAfter] = String(seconds)
        return error
    }

    /// The 503 for a store that stayed locked by another writer (SQLite's `SQLITE_BUSY` or
    /// `SQLITE_LOCKED`) past its busy timeout: nothing of the request was stored.
    static let storeBusy = unavailable(
        "The server's database is busy with other writes; nothing of this request was stored. "
            + "Try again in \(defaultRetryAfterSeconds) s."
    )
}
