import Hummingbird
import Logging
import SyncCore

/// The context of a route that acts for someone: the authenticated principal, never nil, and the
/// scopes it reads and writes (PROTOCOL.md §5 "Authentication and scopes").
///
/// Hummingbird builds it from ``SyncRequestContext`` (a `ChildRequestContext`) for every route of a
/// group made with `authenticated(_:)` or `authorized(_:for:to:)`, so a handler never asks whether
/// someone signed in: a request without a valid token never reaches it. Log lines the handler
/// writes carry `sync.principal` (and `sync.school` for a device) beside the request id.
struct AuthenticatedRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    /// Who the request acts for.
    let principal: Principal
    /// The scopes the principal reads, or nil when it reads every scope (bureau and admin users).
    let readableScopes: [Scope]?

    /// The scopes the principal writes, or nil when it writes every scope: a device writes its
    /// school's scope but not the catalog it reads.
    var writableScopes: [Scope]? { readableScopes?.filter { $0 != .catalog } }

    /// - Throws: 401 `unauthorized` (``APIError/unauthorized``) when the request carries no valid token.
    init(context: SyncRequestContext) throws {
        guard let principal = context.identity else { throw APIError.unauthorized }
        coreContext = context.coreContext
        self.principal = principal
        readableScopes = principal.readableScopes
        logger[metadataKey: "sync.principal"] = "\(principal.kind.rawValue):\(principal.id)"
        if let school = principal.schoolID { logger[metadataKey: "sync.school"] = .string(school) }
    }
}
