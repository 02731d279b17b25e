import Hummingbird
import HummingbirdAuth
import SyncCore

/// A principal's role is its kind, so hummingbird-auth's policies read it (PROTOCOL.md §5).
extension Principal: RoleProviding {
    /// The one role a principal holds: device, bureau or admin.
    public var roles: Set<Kind> { [kind] }
}

extension Set<Principal.Kind> {
    /// Bureau and admin users: the people who read every school (PROTOCOL.md §5, §12).
    static var staff: Self { [.bureau, .admin] }
    /// Administrators alone.
    static var administrators: Self { [.admin] }
    /// Schools' devices alone: what a device asks about its own school (PROTOCOL.md §12).
    static var schoolDevices: Self { [.device] }
}

/// Passes an identity that holds any of `roles`: hummingbird-auth's `RolePolicy` for a set of
/// roles, so a group declares who may call it in one value.
struct AnyRolePolicy<Identity: RoleProviding>: AuthorizationPolicy {
    let roles: Identity.Roles

    init(_ roles: Identity.Roles) {
        self.roles = roles
    }

    func isAuthorized(identity: Identity, request: Request) async throws -> Bool {
        !identity.roles.isDisjoint(with: roles)
    }
}

extension APIError {
    /// The 403 `forbidden` for a principal whose role may not do `action` (PROTOCOL.md §5): it
    /// names the roles that may, e.g. "Only bureau and admin users may list devices.", or "Only
    /// schools' devices may …" when no user may.
    static func forbidden(for roles: Set<Principal.Kind>, to action: String) -> APIError {
        if roles == .schoolDevices { return .forbidden("Only schools' devices may \(action).") }
        let names = Principal.Kind.allCases.filter(roles.contains).map(\.rawValue)
        let who = names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " + (names.last ?? "") : (names.first ?? "no")
        return .forbidden("Only \(who) users may \(action).")
    }
}

extension RouterMethods<SyncRequestContext> {
    /// A group of routes under `path` for any signed-in principal; handlers get an
    /// ``AuthenticatedRequestContext``. A request without a valid token is 401 `unauthorized`.
    func authenticated(_ path: RouterPath = "") -> RouterGroup<AuthenticatedRequestContext> {
        group(path).group(context: AuthenticatedRequestContext.self)
    }

    /// A group of routes under `path` that only principals of `roles` may call, checked once by
    /// hummingbird-auth's `AuthorizationPolicyMiddleware`; handlers get an
    /// ``AuthenticatedRequestContext``. Without a valid token the answer is 401 `unauthorized`,
    /// with one of another role 403 `forbidden` naming who may `action` (PROTOCOL.md §5).
    func authorized(_ path: RouterPath = "", for roles: Set<Principal.Kind>, to action: String) -> RouterGroup<AuthenticatedRequestContext> {
        group(path)
            .add(
                middleware: AuthorizationPolicyMiddleware(
                    AnyRolePolicy<Principal>(roles),
                    deniedError: APIError.forbidden(for: roles, to: action),
                    context: SyncRequestContext.self
                )
            )
            .group(context: AuthenticatedRequestContext.self)
    }
}
