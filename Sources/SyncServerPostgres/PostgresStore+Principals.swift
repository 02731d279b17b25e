import Foundation
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// The principal whose token's SHA-256 (32 bytes, `Token.hash(_:)`) is `hash`; `nil` when no
    /// principal has it, it was revoked, or its stored kind is unknown.
    public func principal(forTokenHash hash: Data) async throws -> Principal? {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT id, kind, name, school_id FROM principals WHERE token_hash = \(hash) AND revoked_at IS NULL",
                logger: logger
            )
            for try await (id, kind, name, school) in rows.decode((Int64, String, String, String?).self) {
                return Principal.Kind(rawValue: kind).map { Principal(id: id, kind: $0, name: name, schoolID: school) }
            }
            return nil
        }
    }

    /// Whether principal `id` exists and is not revoked, read from the database itself (no cache).
    public func isActive(principalID id: Int64) async throws -> Bool {
        try await read { connection in
            let rows = try await connection.query("SELECT 1 FROM principals WHERE id = \(id) AND revoked_at IS NULL", logger: logger)
            for try await _ in rows { return true }
            return false
        }
    }

    /// Creates school `id` named `name` (trimmed), recording `time` as its creation.
    ///
    /// - Throws: `SyncCoreError` when `id` makes no valid `school:<id>` scope (PROTOCOL.md §5);
    ///   ``StoreError`` `.invalid` when the name is not 1–200 characters, `.alreadyExists` when the id is taken.
    public func createSchool(id: String, name: String, at time: Date) async throws -> SchoolInfo {
        let school = try Enrolment.school(id: id, name: name)
        let created = try await write { connection in
            let rows = try await connection.query(
                "INSERT INTO schools (id, name, created_at) VALUES (\(school.id), \(school.name), \(time)) ON CONFLICT (id) DO NOTHING RETURNING id",
                logger: logger
            )
            for try await _ in rows { return true }
            return false
        }
        guard created else { throw StoreError(.alreadyExists, "a school with id '\(id)' already exists") }
        return school
    }

    /// Every school, ordered by id (bytewise).
    public func schools() async throws -> [SchoolInfo] {
        try await read { connection in
            var schools: [SchoolInfo] = []
            let rows = try await connection.query("SELECT id, name FROM schools ORDER BY id COLLATE \"C\"", logger: logger)
            for try await (id, name) in rows.decode((String, String).self) { schools.append(SchoolInfo(id: id, name: name)) }
            return schools
        }
    }

    /// Creates a device, which belongs to school `schoolID`, or a user, which belongs to none, with a
    /// fresh token (`Token.generate()`) of which only the SHA-256 is stored.
    ///
    /// - Returns: the principal and its token, to be shown once.
    /// - Throws: ``StoreError`` `.invalid` when the name (trimmed) is not 1–200 characters, or a device
    ///   has no school or a user has one; `.notFound` when the school does not exist.
    public func createPrincipal(kind: Principal.Kind, name: String, schoolID: String?, at time: Date) async throws -> (Principal, token: String) {
        let name = try Enrolment.principalName(kind: kind, name: name, schoolID: schoolID)
        let token = Token.generate()
        let id: Int64? = try await write { connection in
            // The school is checked in the same statement: no row is inserted for a school that is not there.
            let rows = try await connection.query(
                """
                INSERT INTO principals (kind, name, school_id, token_hash, created_at)
                SELECT \(kind.rawValue), \(name), \(schoolID), \(Token.hash(token)), \(time)
                WHERE \(schoolID)::text IS NULL OR EXISTS (SELECT 1 FROM schools WHERE id = \(schoolID))
                RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(Int64.self) { return id }
            return nil
        }
        guard let id else { throw StoreError(.notFound, "no school with id '\(schoolID ?? "")'; create it first") }
        return (Principal(id: id, kind: kind, name: name, schoolID: schoolID), token)
    }

    /// Revokes principal `id` as of `time` (a principal revoked before keeps its first time); returns
    /// whether the principal exists.
    public func revokePrincipal(id: Int64, at time: Date) async throws -> Bool {
        try await write { connection in
            // Every server's long polls of the principal end at this commit (PROTOCOL.md §5):
            // an empty notification wakes them all to look.
            let rows = try await connection.query(
                """
                WITH revoked AS (UPDATE principals SET revoked_at = COALESCE(revoked_at, \(time)) WHERE id = \(id) RETURNING id)
                SELECT id, pg_notify(\(Self.changeChannel), '') IS NULL FROM revoked
                """,
                logger: logger
            )
            var found = false
            for try await _ in rows { found = true }
            return found
        }
    }

    /// Every device principal, revoked ones included, with its last pull and push, by school and id.
    public func devices() async throws -> [DeviceInfo] {
        try await read { connection in
            let rows = try await connection.query(
                """
                SELECT p.id, p.name, p.school_id, p.revoked_at IS NOT NULL, d.last_pull_cursor, d.last_pull_at, d.last_push_at,
                       d.last_push_batch, d.last_seen_at, d.client
                FROM principals p LEFT JOIN device_sync d ON d.principal_id = p.id
                WHERE p.kind = 'device' ORDER BY p.school_id COLLATE "C", p.id
                """,
                logger: logger
            )
            var devices: [DeviceInfo] = []
            for try await (id, name, school, revoked, cursor, pullAt, pushAt, batch, seenAt, client) in rows.decode(
                (Int64, String, String?, Bool, String?, Date?, Date?, String?, Date?, String?).self
            ) {
                devices.append(
                    DeviceInfo(
                        id: id, name: name, school: school, lastPullCursor: cursor, lastPullAt: pullAt, lastPushAt: pushAt,
                        lastPushBatch: batch, lastSeenAt: seenAt, client: client, revoked: revoked
                    )
                )
            }
            return devices
        }
    }

    /// Every replica a device of school `schoolID` owns, revoked devices included, with the device's
    /// name, sorted by replica id (bytewise), at most ``SchoolReplicas/maxReplicas`` (PROTOCOL.md §12).
    public func replicas(ofSchool schoolID: String) async throws -> [SchoolReplicas.Writer] {
        try await read { connection in
            let rows = try await connection.query(
                """
                SELECT o.replica, p.name FROM replica_owners o JOIN principals p ON p.id = o.principal_id
                WHERE p.kind = 'device' AND p.school_id = \(schoolID) ORDER BY o.replica COLLATE "C" LIMIT \(SchoolReplicas.maxReplicas)
                """,
                logger: logger
            )
            var writers: [SchoolReplicas.Writer] = []
            for try await (replica, name) in rows.decode((String, String).self) {
                writers.append(SchoolReplicas.Writer(replica: replica, name: name))
            }
            return writers
        }
    }

    /// Opens a browser session for `principal` until `expiresAt`, first removing the sessions expired
    /// at `time`; returns the new session id (`Token.generate()`), stored only as its SHA-256 beside `csrf`.
    public func createSession(for principal: Principal, csrf: String, expiresAt: Date, at time: Date) async throws -> String {
        let id = Token.generate()
        try await write { connection in
            try await connection.query("DELETE FROM sessions WHERE expires_at < \(time)", logger: logger)
            try await connection.query(
                "INSERT INTO sessions (id_hash, principal_id, csrf, expires_at) VALUES (\(Token.hash(id)), \(principal.id), \(csrf), \(expiresAt))",
                logger: logger
            )
        }
        return id
    }

    /// The principal and CSRF token of the session whose id hashes to `hash`; `nil` when there is none,
    /// it expired at `time`, or its principal was revoked.
    public func session(forIDHash hash: Data, at time: Date) async throws -> (Principal, csrf: String)? {
        let found: (Principal, String)? = try await read { connection in
            let rows = try await connection.query(
                """
                SELECT p.id, p.kind, p.name, p.school_id, s.csrf FROM sessions s JOIN principals p ON p.id = s.principal_id
                WHERE s.id_hash = \(hash) AND s.expires_at > \(time) AND p.revoked_at IS NULL
                """,
                logger: logger
            )
            for try await (id, kind, name, school, csrf) in rows.decode((Int64, String, String, String?, String).self) {
                guard let kind = Principal.Kind(rawValue: kind) else { return nil }
                return (Principal(id: id, kind: kind, name: name, schoolID: school), csrf)
            }
            return nil
        }
        return found.map { ($0.0, csrf: $0.1) }
    }

    /// Ends the session whose id hashes to `hash`; nothing happens when there is none.
    public func deleteSession(idHash hash: Data) async throws {
        try await write { connection in
            _ = try await connection.query("DELETE FROM sessions WHERE id_hash = \(hash)", logger: logger)
        }
    }
}
