import Foundation
import SyncCore

extension AuditEntry {
    /// Who made a change, for the audit table.
    public struct Change: Sendable {
        public var principalID: Int64
        public var replica: ReplicaID
        public var time: Date
        public var kind: Kind
        public var reason: String?
    }

    static func makeView(_ state: RecordState) -> View {
        View(fields: state.fields.mapValues(\.distinctValues), deleted: !state.deleted.isEmpty)
    }

    static func view(_ state: RecordState) throws -> String {
        String(decoding: try CanonicalJSON.encode(makeView(state)), as: UTF8.self)
    }
}

/// What a resolution came to.
public enum ResolveOutcome: Sendable {
    case resolved(SyncRecord)
    case notFound
    case refused(SyncCoreError)
}
