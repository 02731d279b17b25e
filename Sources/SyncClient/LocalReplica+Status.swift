import Foundation
import GRDB
import SyncCore

/// Everything `schoolsync status` shows: what is pending, stuck or conflicted, and how the last sync went.
public struct ReplicaStatus: Sendable, Codable {
    public struct Rejected: Sendable, Codable {
        public var collection: String
        public var id: String
        public var code: RejectCode
        public var message: String
        public var since: String?
    }

    public struct Conflict: Sendable, Codable {
        public var collection: String
        public var id: String
        /// The conflicting fields with every value side by side.
        public var fields: [String: [String]]
        public var deleteConflict: Bool
    }

    public var server: String?
    public var replica: String?
    public var device: String?
    public var school: String?
    public var cursor: String?
    /// Records with changes the server has not acknowledged (including rejected ones).
    public var pending: Int
    public var unansweredPush: String?
    public var rejected: [Rejected]
    public var conflicts: [Conflict]
    public var lastSyncAt: String?
    public var lastAttemptAt: String?
    public var lastError: String?
    /// Whether the server answered the last attempt; `nil` before the first.
    public var serverReachable: Bool?
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
                serverReachable: state.reachable
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
