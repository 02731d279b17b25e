import Reporting
import SyncCore

/// Which collections the server accepts and which kind of scope each belongs to.
public struct CollectionRules: Sendable {
    /// Collection name → the kind of scope its records live in.
    public var kinds: [String: CollectionSchema.ScopeKind]

    /// Whether the domain's rules (``RecordRules``: catalog references, values, the approval lock) apply.
    public var appliesDomainRules: Bool

    /// Rules from collection schemas.
    public init(schemas: [CollectionSchema], appliesDomainRules: Bool) {
        kinds = Dictionary(uniqueKeysWithValues: schemas.map { ($0.name, $0.scopeKind) })
        self.appliesDomainRules = appliesDomainRules
    }

    /// SchoolSync's collections (PROTOCOL.md §2.1) and the domain's rules.
    public static let schoolSync = CollectionRules(schemas: DomainSchema.all, appliesDomainRules: true)

    /// The same collections with only the protocol's rules (scopes, integrity, limits): for testing
    /// the sync machinery on records that need no catalog.
    public static let protocolOnly = CollectionRules(schemas: DomainSchema.all, appliesDomainRules: false)

    /// The kinds of principal that may resolve conflicts in `collection` (PROTOCOL.md §12, DESIGN
    /// §4): administrators everywhere; bureau users too in a collection of the catalog scope, but
    /// not in schools' records or a collection these rules do not know. Devices never resolve.
    public func resolvers(of collection: String) -> Set<Principal.Kind> {
        kinds[collection] == .catalog ? [.bureau, .admin] : [.admin]
    }

    /// Why a record may not live where it claims, or `nil` when it may.
    func rejection(for record: SyncRecord) -> RejectReason? {
        guard let kind = kinds[record.key.collection] else {
            return RejectReason(
                code: .unknownCollection,
                message: "this server has no collection '\(record.key.collection)'; known: \(kinds.keys.sorted().joined(separator: ", "))"
            )
        }
        guard (record.scope == .catalog) == (kind == .catalog) else {
            return RejectReason(
                code: .wrongScopeKind,
                message:
                    "\(record.key.collection) records live in \(kind == .catalog ? "the catalog scope" : "a school: scope"), not in \(record.scope)"
            )
        }
        return nil
    }
}
