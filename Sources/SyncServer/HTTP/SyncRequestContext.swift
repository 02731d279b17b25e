import Hummingbird
import HummingbirdAuth
import NIOCore
import SyncCore

/// The per-request context: Hummingbird's core storage plus the authenticated principal.
public struct SyncRequestContext: AuthRequestContext, RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Principal?
    /// The peer of the connection (nil in in-process tests): failed authentications are counted
    /// per address (``FailedAuthLimiter``).
    public let remoteAddress: SocketAddress?

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// The principal, or 401 in the protocol's error shape.
    func requirePrincipal() throws -> Principal {
        guard let identity else { throw APIError.unauthorized }
        return identity
    }

    /// The principal if it is an administrator, else 401/403.
    func requireAdmin() throws -> Principal {
        let principal = try requirePrincipal()
        guard principal.kind == .admin else { throw APIError.forbidden("Only administrators may do this.") }
        return principal
    }
}

extension SyncRequestContext {
    /// The record named by a `:collection/**` route: ids may contain `/`, so they are the path's tail.
    func recordKey() throws -> RecordKey {
        let key = RecordKey(collection: parameters.get("collection") ?? "", id: parameters.getCatchAll().joined(separator: "/"))
        do throws(SyncCoreError) {
            try key.validate()
        } catch {
            throw APIError.invalidParameter("id", error.message)
        }
        return key
    }
}
