import Hummingbird
import Logging
import SyncCore

/// The context of a page for signed-in users: the session, never nil.
///
/// The pages' counterpart of ``AuthenticatedRequestContext``: the session comes from the cookie,
/// not a bearer token, and a visitor without a session of the group's roles is sent to the
/// sign-in form (303) by ``PageSessionMiddleware`` before this context is made.
struct PageRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The signed-in user and the CSRF token its forms carry.
    let session: PageRoutes.Session

    /// - Throws: 401 `unauthorized` when no ``PageSessionMiddleware`` signed the request in (a
    ///   route registered outside `signedInPages(_:for:)`); never for a registered page.
    init(context: SyncRequestContext) throws {
        guard let session = context.pageSession else { throw APIError.unauthorized }
        coreContext = context.coreContext
        self.session = session
        logger[metadataKey: "sync.principal"] = "\(session.principal.kind.rawValue):\(session.principal.id)"
    }
}

/// Finds the page session named by the request's cookie and lets it through only if its principal
/// holds one of `roles`; anyone else is sent to the sign-in form, as a browser expects.
struct PageSessionMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let pages: PageRoutes
    let roles: Set<Principal.Kind>

    func handle(
        _ request: Request,
        context: SyncRequestContext,
        next: (Request, SyncRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let session = try await pages.session(request, for: roles) else { return pages.redirectToLogin(request) }
        var context = context
        context.pageSession = session
        return try await next(request, context)
    }
}

extension RouterMethods<SyncRequestContext> {
    /// A group of pages that only users of `roles` with a live session may see; handlers get a
    /// ``PageRequestContext``. Everyone else is redirected to `/login?next=…`.
    func signedInPages(_ pages: PageRoutes, for roles: Set<Principal.Kind>) -> RouterGroup<PageRequestContext> {
        group()
            .add(middleware: PageSessionMiddleware(pages: pages, roles: roles))
            .group(context: PageRequestContext.self)
    }
}
