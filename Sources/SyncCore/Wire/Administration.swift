#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The administration API's bodies (PROTOCOL.md §12): shared by the server and any client.

/// One accepted state change, as the history shows it.
public struct AuditEntry: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        case push
        case resolve
    }

    public var seq: Int64
    public var kind: Kind
    public var principal: String?
    public var replica: String
    public var at: Date
    /// The record as people saw it before: each field's value, or its values side by side when in conflict.
    public var before: View?
    public var after: View
    public var reason: String?

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
        public var fields: [String: [Value]]
        public var deleted: Bool

        public init(fields: [String: [Value]], deleted: Bool) {
            self.fields = fields
            self.deleted = deleted
        }
    }
}

/// An open conflict in the index.
public struct ConflictSummary: Sendable, Codable, Hashable {
    public var collection: String
    public var id: String
    public var scope: String
    public var fields: [String]
    public var deleteConflict: Bool
    public var since: Int64
    public var detectedAt: Date?

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
        public var replica: String
        public var counter: UInt64
        public var value: Value
        public var writer: String

        public init(replica: String, counter: UInt64, value: Value, writer: String) {
            self.replica = replica
            self.counter = counter
            self.value = value
            self.writer = writer
        }
    }

    public var collection: String
    public var id: String
    public var scope: String
    /// The context shown; send it back with the resolution so newer values are not settled unseen.
    public var context: VersionVector
    public var conflicts: [String: [Candidate]]
    public var deletedBy: [String]
    /// The fields that are not in conflict.
    public var settled: [String: Value]
    /// For an edit-vs-delete conflict: the record's last full content before the delete, from history.
    public var lastContent: [String: Value]?

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
