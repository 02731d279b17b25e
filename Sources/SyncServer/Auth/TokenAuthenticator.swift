import Hummingbird
import HummingbirdAuth

/// Finds the principal for `Authorization: Bearer <token>` by the token's SHA-256.
///
/// Returns `nil` for a missing or unknown token; the routes that need a principal answer 401.
/// Known tokens are remembered for a second (``PrincipalCache``); unknown ones never are.
struct TokenAuthenticator<Context: AuthRequestContext<Principal> & RemoteAddressRequestContext>: AuthenticatorMiddleware {
    typealias Identity = Principal

    let store: any SyncStore
    let cache: PrincipalCache
    let limiter: FailedAuthLimiter

    /// - Throws: 429 `too_many_requests` while the client's address has failed too often and the
    ///   token is not one accepted recently (``FailedAuthLimiter/isKnownValid(_:now:)``).
    func authenticate(request: Request, context: Context) async throws -> Principal? {
        guard request.headers[.authorization] != nil else { return nil }
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        guard let token = request.headers.bearer?.token, !token.isEmpty, token.utf8.count <= 256 else {
            limiter.recordFailure(address)
            return nil
        }
        let hash = Token.hash(token)
        if let principal = cache.principal(forTokenHash: hash) { return principal }
        if let wait = limiter.retryAfter(address), !limiter.isKnownValid(hash) {
            throw FailedAuthLimiter.tooManyAttempts(retryAfter: wait)
        }
        let generation = cache.generation
        guard let principal = try await store.principal(forTokenHash: hash) else {
            limiter.recordFailure(address)
            return nil
        }
        limiter.rememberValid(hash)
        cache.remember(principal, forTokenHash: hash, readAt: generation)
        return principal
    }
}
