import Foundation
import GRDB
import SyncCore

/// Everything `schoolsync status` shows: what is pending, stuck or conflicted, and how the last sync went.
public struct ReplicaStatus: Sendable, Codable {
    /// A record whose last edit was refused, by the server (PROTOCOL.md §6.4) or on this device; its
    /// edits stay here, and it is not sent again until it is edited (or, after a server refusal, the
    /// server's copy changes).
    public struct Rejected: Sendable, Codable {
        /// The record's collection.
        public var collection: String
        /// The record's id in its collection.
        public var id: String
        /// Why it was refused, e.g. `validation` or `too_large` (PROTOCOL.md §6.4).
        public var code: RejectCode
        /// The refusal in plain words: what is wrong and what to do.
        public var message: String
        /// When it was first refused, as SQLite's `CURRENT_TIMESTAMP` wrote it on this device
        /// (`YYYY-MM-DD HH:MM:SS`, UTC).
        public var since: String?
    }

    /// A record in conflict in this replica (PROTOCOL.md §3.4): a field with several values, or an edit
    /// against a delete. It is settled by a resolution (§3.5).
    public struct Conflict: Sendable, Codable {
        /// The record's collection.
        public var collection: String
        /// The record's id in its collection.
        public var id: String
        /// The conflicting fields with every value side by side.
        public var fields: [String: [String]]
        /// Whether one replica deleted the record while another edited it (edit vs delete, PROTOCOL.md §3.4).
        public var deleteConflict: Bool
    }

    /// The server's URL as enrolment recorded it; `nil` before ``LocalReplica/enrol(serverURL:token:session:)``.
    public var server: String?
    /// This replica's id (PROTOCOL.md §2.3) as text; `nil` before enrolment.
    public var replica: String?
    /// The device's name as the server gave it at enrolment; `nil` before enrolment.
    public var device: String?
    /// The device's school id; `nil` before enrolment or for a principal without a school.
    public var school: String?
    /// The stored pull cursor, `<epoch>.<seq>` (PROTOCOL.md §7.1); `nil` before the first pull.
    public var cursor: String?
    /// Records with changes the server has not acknowledged (including rejected ones).
    public var pending: Int
    /// The push saved before it was sent whose answer has not come, as `<batch id> (<n> records; retried on the next push)`; `nil` when
    /// none waits (PROTOCOL.md §6.1).
    public var unansweredPush: String?
    /// The records refused since their last edit, by collection and id.
    public var rejected: [Rejected]
    /// The records in conflict here, by collection and id.
    public var conflicts: [Conflict]
    /// When a ``SyncEngine`` `sync`, `pull` or `push` last succeeded, by the device's clock in ISO 8601
    /// (`2025-07-01T08:00:00Z`), for display only; `nil` before the first success.
    public var lastSyncAt: String?
    /// When one last ended, succeeded or failed with a ``SyncClientError``, in the same form; `nil` before the first.
    public var lastAttemptAt: String?
    /// The message of the ``SyncClientError`` that ended the last attempt; `nil` after a success.
    public var lastError: String?
    /// Whether the server answered the last attempt; `nil` before the first.
    public var serverReachable: Bool?
    /// Evidence files this school's reports name that wait to be uploaded (PROTOCOL.md §13); the next sync continues them.
    public var evidenceWaiting: [EvidenceFile] = []
    /// Evidence files the server refused or whose copy here is damaged, with why; they are not uploaded until added again.
    public var evidenceHeldBack: [EvidenceFile] = []
}

extension LocalReplica {
    /// The replica's status.
    public func status() async throws -> ReplicaStatus {
        try await transaction { db in
            let settings = try Self.settings(db)
            // Display only: CAST AS TEXT reads whatever another program stored there without failing.
            let rejected = try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(collection AS TEXT) AS collection, CAST(id AS TEXT) AS id, CAST(rejected_code AS TEXT) AS code,
                        CAST(rejected_message AS TEXT) AS message, CAST(rejected_at AS TEXT) AS since
                    FROM sync_records WHERE rejected_code IS NOT NULL ORDER BY collection, id
                    """
            ).map { row in
                ReplicaStatus.Rejected(
                    collection: try row.field("collection", as: String?.self) ?? "",
                    id: try row.field("id", as: String?.self) ?? "",
                    code: RejectCode(rawValue: try row.field("code", as: String?.self) ?? ""),
                    message: try row.field("message", as: String?.self) ?? "",
                    since: try row.field("since", as: String?.self)
                )
            }
            let pendingPush = try? PendingPush.load(db)
            let state = try SyncState.read(db)
            return ReplicaStatus(
                server: settings?.serverURL,
                replica: settings?.replica.description,
                device: settings?.deviceName,
                school: settings?.schoolID,
                cursor: settings?.cursor?.description,
                pending: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_records WHERE dirty = 1") ?? 0,
                unansweredPush: pendingPush.map { "\($0.request.batch) (\($0.request.records.count) records; retried on the next push)" },
                rejected: rejected,
                conflicts: try self.conflicts(db),
                lastSyncAt: state.lastSyncAt,
                lastAttemptAt: state.lastAttemptAt,
                lastError: state.lastError,
                serverReachable: state.reachable,
                evidenceWaiting: try Self.evidenceToUpload(db),
                evidenceHeldBack: try Self.evidenceHeldBack(db)
            )
        }
    }

    /// The records in conflict here, with each conflicting field's values.
    public func conflicts() async throws -> [ReplicaStatus.Conflict] {
        try await snapshot { db in try self.conflicts(db) }
    }

    private func conflicts(_ db: Database) throws -> [ReplicaStatus.Conflict] {
        try Row.fetchAll(db, sql: "SELECT collection, id FROM sync_conflicts ORDER BY collection, id").compactMap { row in
            guard let collection = try? row.field("collection", as: String.self), let id = try? row.field("id", as: String.self) else { return nil }
            let key = RecordKey(collection: collection, id: id)
            guard let record = try? TrackedRecord.load(key, db), let conflict = record.state.conflict else { return nil }
            return ReplicaStatus.Conflict(
                collection: key.collection,
                id: key.id,
                fields: conflict.fields.mapValues { $0.map { "\($0.value)" } },
                deleteConflict: conflict.isDeleteConflict
            )
        }
    }
}
