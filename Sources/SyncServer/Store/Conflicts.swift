import Foundation
import SyncCore

extension AuditEntry {
    /// Who made a change, for the audit table.
    public struct Change: Sendable {
        /// The store's id of the principal (device or user) that made the change.
        public var principalID: Int64
        /// The replica that pushed the change, or the user's server-side replica for a resolution.
        public var replica: ReplicaID
        /// When the server accepted the change, by its own clock.
        public var time: Date
        /// A push or a resolution (`AuditEntry.Kind`).
        public var kind: Kind
        /// The administrator's reason for a resolution; `nil` for a push.
        public var reason: String?
    }

    static func makeView(_ state: RecordState) -> View {
        View(fields: state.fields.mapValues(\.distinctValues), deleted: !state.deleted.isEmpty)
    }

    package static func view(_ state: RecordState) throws -> String {
        String(decoding: try CanonicalJSON.encode(makeView(state)), as: UTF8.self)
    }
}

/// What a resolution came to.
public enum ResolveOutcome: Sendable {
    /// Written: the record as it is stored now.
    case resolved(SyncRecord)
    /// There is no such record.
    case notFound
    /// Refused by `RecordState.resolve` (not in conflict, stale, or a conflicting field left without a value); nothing was written.
    case refused(SyncCoreError)
}
