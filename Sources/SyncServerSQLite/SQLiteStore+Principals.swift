import Foundation
import GRDB
import SyncCore
import SyncServer

extension SQLiteStore {
    /// The principal whose token's SHA-256 (32 bytes, ``Token/hash(_:)``) is `hash`; `nil` when no
    /// principal has it, it was revoked, or its stored kind is unknown.
    public func principal(forTokenHash hash: Data) async throws -> Principal? {
        try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT id, kind, name, school_id FROM principals WHERE token_hash = ? AND revoked_at IS NULL",
                arguments: [hash]
            ).flatMap(Self.principal(from:))
        }
    }

    /// Whether principal `id` exists and is not revoked, read from the file itself (no cache).
    public func isActive(principalID id: Int64) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM principals WHERE id = ? AND revoked_at IS NULL", arguments: [id]) != nil
        }
    }

    /// Creates school `id` named `name` (trimmed), recording `time` as its creation.
    ///
    /// - Throws: `SyncCoreError` when `id` makes no valid `school:<id>` scope (PROTOCOL.md §5);
    ///   ``StoreError`` `.invalid` when the name is not 1–200 characters, `.alreadyExists` when the id is taken.
    public func createSchool(id: String, name: String, at time: Date) async throws -> SchoolInfo {
        let school = try Enrolment.school(id: id, name: name)
        return try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM schools WHERE id = ?", arguments: [id]) == nil else {
                throw StoreError(.alreadyExists, "a school with id '\(id)' already exists")
            }
            try db.execute(sql: "INSERT INTO schools (id, name, created_at) VALUES (?, ?, ?)", arguments: [school.id, school.name, time])
            return school
        }
    }

    /// Every school, ordered by id.
    public func schools() async throws -> [SchoolInfo] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name FROM schools ORDER BY id").map { SchoolInfo(id: try $0.stored("id"), name: try $0.stored("name")) }
        }
    }

    /// Creates a device, which belongs to school `schoolID`, or a user, which belongs to none, with a fresh
    /// token (``Token/generate()``) of which only the SHA-256 is stored.
    ///
    /// - Returns: the principal and its token, to be shown once.
    /// - Throws: ``StoreError`` `.invalid` when the name (trimmed) is not 1–200 characters, or a device has
    ///   no school or a user has one; `.notFound` when the school does not exist.
    public func createPrincipal(kind: Principal.Kind, name: String, schoolID: String?, at time: Date) async throws -> (Principal, token: String) {
        let name = try Enrolment.principalName(kind: kind, name: name, schoolID: schoolID)
        let token = Token.generate()
        let id = try await pool.write { db in
            if let schoolID, try Bool.fetchOne(db, sql: "SELECT 1 FROM schools WHERE id = ?", arguments: [schoolID]) == nil {
                throw StoreError(.notFound, "no school with id '\(schoolID)'; create it first")
            }
            try db.execute(
                sql: "INSERT INTO principals (kind, name, school_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [kind.rawValue, name, schoolID, Token.hash(token), time]
            )
            return db.lastInsertedRowID
        }
        return (Principal(id: id, kind: kind, name: name, schoolID: schoolID), token)
    }

    /// Revokes principal `id` as of `time` (a principal revoked before keeps its first time); returns
    /// whether the principal exists.
    public func revokePrincipal(id: Int64, at time: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE principals SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [time, id])
            return db.changesCount > 0
        }
    }

    /// Every device principal, revoked ones included, with its last pull and push, by school and id.
    ///
    /// - Throws: ``StoreError`` `.damaged` for a row that cannot be read; GRDB's `DatabaseError`.
    public func devices() async throws -> [DeviceInfo] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT p.id, p.name, p.school_id, p.revoked_at, d.last_pull_cursor, d.last_pull_at, d.last_push_at,
                           d.last_push_batch, d.last_seen_at, d.client
                    FROM principals p LEFT JOIN device_sync d ON d.principal_id = p.id
                    WHERE p.kind = 'device' ORDER BY p.school_id, p.id
                    """
            ).map { row in
                DeviceInfo(
                    id: try row.stored("id"),
                    name: try row.stored("name"),
                    school: try row.stored("school_id"),
                    lastPullCursor: try row.stored("last_pull_cursor"),
                    lastPullAt: try row.stored("last_pull_at"),
                    lastPushAt: try row.stored("last_push_at"),
                    lastPushBatch: try row.stored("last_push_batch"),
                    lastSeenAt: try row.stored("last_seen_at"),
                    client: try row.stored("client"),
                    revoked: try row.stored("revoked_at", as: DatabaseValue.self) != .null
                )
            }
        }
    }

    /// Every replica a device of school `schoolID` owns, revoked devices included, with the device's
    /// name, sorted by replica id, at most ``SchoolReplicas/maxReplicas`` (PROTOCOL.md §12).
    ///
    /// - Throws: ``StoreError`` `.damaged` for a row that cannot be read; GRDB's `DatabaseError`.
    public func replicas(ofSchool schoolID: String) async throws -> [SchoolReplicas.Writer] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.replica, p.name FROM replica_owners o JOIN principals p ON p.id = o.principal_id
                    WHERE p.kind = 'device' AND p.school_id = ? ORDER BY o.replica LIMIT ?
                    """,
                arguments: [schoolID, SchoolReplicas.maxReplicas]
            ).map { SchoolReplicas.Writer(replica: try $0.stored("replica"), name: try $0.stored("name")) }
        }
    }

    /// Opens a browser session for `principal` until `expiresAt`, first removing the sessions expired at
    /// `time`; returns the new session id (``Token/generate()``), which is stored only as its SHA-256 beside `csrf`.
    public func createSession(for principal: Principal, csrf: String, expiresAt: Date, at time: Date) async throws -> String {
        let id = Token.generate()
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [time])
            try db.execute(
                sql: "INSERT INTO sessions (id_hash, principal_id, csrf, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [Token.hash(id), principal.id, csrf, expiresAt]
            )
        }
        return id
    }

    /// The principal and CSRF token of the session whose id hashes to `hash`; `nil` when there is none, it
    /// expired at `time`, or its principal was revoked.
    public func session(forIDHash hash: Data, at time: Date) async throws -> (Principal, csrf: String)? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT p.id, p.kind, p.name, p.school_id, s.csrf FROM sessions s JOIN principals p ON p.id = s.principal_id
                        WHERE s.id_hash = ? AND s.expires_at > ? AND p.revoked_at IS NULL
                        """,
                    arguments: [hash, time]
                ), let principal = try Self.principal(from: row)
            else { return nil }
            return (principal, try row.stored("csrf"))
        }
    }

    /// Ends the session whose id hashes to `hash`; nothing happens when there is none.
    public func deleteSession(idHash hash: Data) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM sessions WHERE id_hash = ?", arguments: [hash]) }
    }

    static func principal(from row: Row) throws -> Principal? {
        guard let kind = Principal.Kind(rawValue: try row.stored("kind")) else { return nil }
        return Principal(id: try row.stored("id"), kind: kind, name: try row.stored("name"), schoolID: try row.stored("school_id"))
    }
}
