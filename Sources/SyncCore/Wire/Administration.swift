#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The administration API's bodies (PROTOCOL.md §12): shared by the server and any client.

/// One accepted state change, as the history shows it.
///
/// An item of `GET /v1/history/{collection}/{id…}` (PROTOCOL.md §12), oldest first.
public struct AuditEntry: Sendable, Codable, Hashable {
    /// How the change was made.
    public enum Kind: String, Sendable, Codable {
        /// A pushed record whose join changed the stored state.
        case push
        /// An administrator's resolution of a conflict.
        case resolve
    }

    /// The change's sequence number in the server's change log; page with `after` = the last one.
    public var seq: Int64
    /// A push or a resolution.
    public var kind: Kind
    /// The name of the principal (device or user) that made it, when known.
    public var principal: String?
    /// The replica id that pushed it, or the user's server-side replica for a resolution.
    public var replica: String
    /// When the server accepted it (the server's clock; RFC 3339 on the wire).
    public var at: Date
    /// The record as people saw it before: each field's value, or its values side by side when in conflict.
    public var before: View?
    /// The record as people see it after the change.
    public var after: View
    /// A resolution's reason, as the administrator typed it; nil for a push.
    public var reason: String?

    /// An entry with every field given.
    public init(seq: Int64, kind: Kind, principal: String?, replica: String, at: Date, before: View?, after: View, reason: String?) {
        self.seq = seq
        self.kind = kind
        self.principal = principal
        self.replica = replica
        self.at = at
        self.before = before
        self.after = after
        self.reason = reason
    }

    /// A record's fields for people: one value when settled, all values when in conflict.
    public struct View: Sendable, Codable, Hashable {
        /// Each field's value, or its concurrent values when the field is in conflict.
        public var fields: [String: [Value]]
        /// Whether the record is deleted (a tombstone, or a delete in conflict with an edit).
        public var deleted: Bool

        /// A view of `fields`, deleted or not.
        public init(fields: [String: [Value]], deleted: Bool) {
            self.fields = fields
            self.deleted = deleted
        }
    }
}

/// An open conflict in the index.
///
/// An item of `GET /v1/conflicts` (PROTOCOL.md §12), oldest first.
public struct ConflictSummary: Sendable, Codable, Hashable {
    /// The record's collection.
    public var collection: String
    /// The record's id.
    public var id: String
    /// The record's scope, `catalog` or `school:<id>`.
    public var scope: String
    /// The fields in conflict, sorted.
    public var fields: [String]
    /// Whether an edit and a delete are in conflict.
    public var deleteConflict: Bool
    /// The change-log sequence number of the change that made the conflict; page with `after` = the last one.
    public var since: Int64
    /// When the server detected it; nil for conflicts stored before the server recorded the time.
    public var detectedAt: Date?

    /// A summary with every field given.
    public init(collection: String, id: String, scope: String, fields: [String], deleteConflict: Bool, since: Int64, detectedAt: Date?) {
        self.collection = collection
        self.id = id
        self.scope = scope
        self.fields = fields
        self.deleteConflict = deleteConflict
        self.since = since
        self.detectedAt = detectedAt
    }
}

/// Everything an administrator needs to settle one record.
public struct ConflictDetail: Sendable, Codable, Hashable {
    /// One of the values side by side, with who wrote it.
    public struct Candidate: Sendable, Codable, Hashable {
        /// The replica id of the write's dot.
        public var replica: String
        /// The counter of the write's dot.
        public var counter: UInt64
        /// The value written.
        public var value: Value
        /// The name of the device or user that wrote it, as the server knows it.
        public var writer: String

        /// A candidate with every field given.
        public init(replica: String, counter: UInt64, value: Value, writer: String) {
            self.replica = replica
            self.counter = counter
            self.value = value
            self.writer = writer
        }
    }

    /// The record's collection.
    public var collection: String
    /// The record's id.
    public var id: String
    /// The record's scope, `catalog` or `school:<id>`.
    public var scope: String
    /// The context shown; send it back with the resolution so newer values are not settled unseen.
    public var context: VersionVector
    /// Each conflicting field's candidates, side by side.
    public var conflicts: [String: [Candidate]]
    /// For an edit-vs-delete conflict: who deleted the record (names, or replica ids); empty otherwise.
    public var deletedBy: [String]
    /// The fields that are not in conflict.
    public var settled: [String: Value]
    /// For an edit-vs-delete conflict: the record's last full content before the delete, from history.
    public var lastContent: [String: Value]?

    /// A detail with every field given.
    public init(
        collection: String,
        id: String,
        scope: String,
        context: VersionVector,
        conflicts: [String: [Candidate]],
        deletedBy: [String],
        settled: [String: Value],
        lastContent: [String: Value]?
    ) {
        self.collection = collection
        self.id = id
        self.scope = scope
        self.context = context
        self.conflicts = conflicts
        self.deletedBy = deletedBy
        self.settled = settled
        self.lastContent = lastContent
    }
}

/// What an administrator chose.
public struct ResolutionRequest: Sendable, Codable, Hashable {
    /// The context the administrator was shown.
    public var seen: VersionVector
    /// The value of every conflicting field (one of the candidates or a new one); for an
    /// edit-vs-delete conflict, the record's full content to keep.
    public var values: [String: Value]?
    /// Delete the record instead.
    public var delete: Bool?
    /// Why — required, kept in the history.
    public var reason: String

    /// A resolution: `values` to keep, or `delete`, against the context `seen`, for `reason`.
    public init(seen: VersionVector, values: [String: Value]?, delete: Bool?, reason: String) {
        self.seen = seen
        self.values = values
        self.delete = delete
        self.reason = reason
    }

    /// A missing `reason` decodes as empty, so the server answers it like an empty one, with
    /// 400 `invalid_parameter` naming `reason` (PROTOCOL.md §12), not as malformed JSON.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seen = try container.decode(VersionVector.self, forKey: .seen)
        values = try container.decodeIfPresent([String: Value].self, forKey: .values)
        delete = try container.decodeIfPresent(Bool.self, forKey: .delete)
        reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
    }
}

/// The body of `GET /v1/conflicts` (PROTOCOL.md §12): `{"conflicts": [...]}`, oldest first.
public struct ConflictList: Sendable, Codable, Hashable {
    /// The open conflicts the page holds.
    public var conflicts: [ConflictSummary]

    /// Makes a list.
    public init(conflicts: [ConflictSummary]) {
        self.conflicts = conflicts
    }
}

/// The body of `GET /v1/history/{collection}/{id…}` (PROTOCOL.md §12): one page of a record's
/// accepted changes, oldest first.
public struct RecordHistoryPage: Sendable, Codable, Hashable {
    /// The record's collection.
    public var collection: String
    /// The record's id.
    public var id: String
    /// The changes of this page.
    public var history: [AuditEntry]
    /// Whether another page follows from `after` = the last entry's `seq`.
    public var more: Bool

    /// Makes a page.
    public init(collection: String, id: String, history: [AuditEntry], more: Bool) {
        self.collection = collection
        self.id = id
        self.history = history
        self.more = more
    }
}
