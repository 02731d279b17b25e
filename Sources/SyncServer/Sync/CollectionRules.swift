import SyncCore

/// Which collections the server accepts and which kind of scope each belongs to.
public struct CollectionRules: Sendable {
    /// The kind of scope a collection's records live in.
    public enum ScopeKind: String, Sendable {
        case catalog
        case school
    }

    /// Collection name → scope kind.
    public var kinds: [String: ScopeKind]

    /// Makes rules from a table.
    public init(_ kinds: [String: ScopeKind]) { self.kinds = kinds }

    /// SchoolSync's collections (PROTOCOL.md §2.1).
    public static let schoolSync = CollectionRules([
        "plans": .catalog, "measures": .catalog, "indicators": .catalog, "schools": .catalog, "periods": .catalog,
        "assignments": .school, "reports": .school,
    ])

    /// Why a record may not live where it claims, or `nil` when it may.
    func rejection(for record: SyncRecord) -> RejectReason? {
        guard let kind = kinds[record.key.collection] else {
            return RejectReason(
                code: "unknown_collection",
                message: "this server has no collection '\(record.key.collection)'; known: \(kinds.keys.sorted().joined(separator: ", "))"
            )
        }
        let isCatalog = record.scope == .catalog
        guard isCatalog == (kind == .catalog) else {
            return RejectReason(
                code: "wrong_scope_kind",
                message: "\(record.key.collection) records live in \(kind == .catalog ? "the catalog scope" : "a school: scope"), not in \(record.scope)"
            )
        }
        return nil
    }
}
