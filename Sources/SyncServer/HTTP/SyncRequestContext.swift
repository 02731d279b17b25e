import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore
import SyncCore

/// The per-request context: Hummingbird's core storage plus the authenticated principal, if any.
///
/// Routes that act for someone see it as an ``AuthenticatedRequestContext`` instead, made by the
/// group they belong to (`authenticated(_:)`, `authorized(_:for:to:)`).
public struct SyncRequestContext: AuthRequestContext, RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's own per-request storage (the request's logger among it), which `RequestContext` requires.
    public var coreContext: CoreRequestContextStorage
    /// The principal the bearer token belongs to (PROTOCOL.md §5), set by the token authenticator; `nil`
    /// before it ran and for a request without a valid token.
    public var identity: Principal?
    /// The peer of the connection (nil in in-process tests): failed authentications are counted
    /// per address (``FailedAuthLimiter``).
    public let remoteAddress: SocketAddress?
    /// The page session a ``PageSessionMiddleware`` found for this request's cookie.
    var pageSession: PageRoutes.Session?

    /// Makes the context Hummingbird creates for each request: no identity yet, and the connection's peer as
    /// ``remoteAddress``.
    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }
}

extension RequestContext {
    /// The record named by a `:collection/**` route: ids may contain `/`, so they are the path's
    /// tail. Each segment is percent-decoded exactly once, so every valid id round-trips — CJK,
    /// spaces, `%`, `+` and `/` (as `%2F` or as a separator) alike.
    ///
    /// - Throws: 400 `invalid_parameter` naming `collection` or `id` when either is not valid.
    func recordKey() throws -> RecordKey {
        func decoded(_ segment: Substring, _ name: String) throws -> String {
            guard let text = segment.removingPercentEncoding else {
                throw APIError.invalidParameter(name, "The \(name) in the path is not valid percent-encoded UTF-8.")
            }
            return text
        }
        let collection = try decoded(Substring(parameters.get("collection") ?? ""), "collection")
        let id = try parameters.getCatchAll().map { try decoded($0, "id") }.joined(separator: "/")
        let key = RecordKey(collection: collection, id: id)
        do throws(SyncCoreError) {
            try key.validate()
        } catch {
            let collectionIsValid = (try? RecordKey(collection: collection, id: "x").validate()) != nil
            throw APIError.invalidParameter(collectionIsValid ? "id" : "collection", error.message)
        }
        return key
    }
}
