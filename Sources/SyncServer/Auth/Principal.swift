import SyncCore

/// Who a request acts for: a school's device, a bureau user or an administrator.
public struct Principal: Sendable, Hashable {
    /// The kinds of principal and what each may do (PROTOCOL.md §5); the wire's own type.
    public typealias Kind = PrincipalKind

    /// The store's id of the principal.
    public var id: Int64
    /// Device, bureau user or administrator.
    public var kind: Kind
    /// A name a person recognises, e.g. "卓然学校 教务处 PC".
    public var name: String
    /// The device's school; `nil` for users.
    public var schoolID: String?

    /// Makes a principal.
    public init(id: Int64, kind: Kind, name: String, schoolID: String?) {
        self.id = id
        self.kind = kind
        self.name = name
        self.schoolID = schoolID
    }

    /// Whether the principal may read records in `scope`.
    public func canRead(_ scope: Scope) -> Bool {
        switch kind {
        case .bureau, .admin: true
        case .device: scope == .catalog || scope.schoolID == schoolID
        }
    }

    /// Whether the principal may write records in `scope`.
    public func canWrite(_ scope: Scope) -> Bool {
        switch kind {
        case .bureau, .admin: true
        case .device: scope != .catalog && scope.schoolID == schoolID
        }
    }

    /// Whether the principal may resolve conflicts in `collection` under `rules` (the server's
    /// configured ``SyncServerConfiguration/collections``); ``CollectionRules/resolvers(of:)``
    /// says who may (PROTOCOL.md §12, DESIGN §4).
    public func mayResolve(in collection: String, rules: CollectionRules) -> Bool {
        rules.resolvers(of: collection).contains(kind)
    }

    /// The scopes a device reads, or `nil` for principals that read everything.
    public var readableScopes: [Scope]? {
        guard kind == .device, let schoolID, let own = try? Scope.school(schoolID) else { return nil }
        return [.catalog, own]
    }
}
