import Hummingbird
import HummingbirdAuth

/// Finds the principal for `Authorization: Bearer <token>` by the token's SHA-256.
///
/// Returns `nil` for a missing or unknown token; the routes that need a principal answer 401.
/// Known tokens are remembered for a second (``PrincipalCache``); unknown ones never are.
struct TokenAuthenticator<Context: AuthRequestContext<Principal>>: AuthenticatorMiddleware {
    typealias Identity = Principal

    let store: any SyncStore
    let cache: PrincipalCache

    func authenticate(request: Request, context: Context) async throws -> Principal? {
        guard let token = request.headers.bearer?.token, !token.isEmpty, token.utf8.count <= 256 else { return nil }
        let hash = Token.hash(token)
        if let principal = cache.principal(forTokenHash: hash) { return principal }
        let generation = cache.generation
        guard let principal = try await store.principal(forTokenHash: hash) else { return nil }
        cache.remember(principal, forTokenHash: hash, readAt: generation)
        return principal
    }
}
