import Hummingbird
import HummingbirdAuth

/// Finds the principal for `Authorization: Bearer <token>` by the token's SHA-256.
///
/// Returns `nil` for a missing or unknown token; the routes that need a principal answer 401.
struct TokenAuthenticator<Context: AuthRequestContext<Principal>>: AuthenticatorMiddleware {
    typealias Identity = Principal

    let store: any SyncStore

    func authenticate(request: Request, context: Context) async throws -> Principal? {
        guard let token = request.headers.bearer?.token, !token.isEmpty, token.utf8.count <= 256 else { return nil }
        return try await store.principal(forTokenHash: Token.hash(token))
    }
}
