import Foundation
import Logging
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// The schema, one step per version. Shipped steps are never edited; a change is a new step.
    /// The tables are the embedded store's in spirit, in PostgreSQL's types: `bytea` token hashes,
    /// `timestamptz` times, `bigint` sequence numbers; states stay canonical JSON text, byte for byte
    /// what the server encoded (a `jsonb` column would reorder their keys).
    static let migrations: [(version: Int, name: String, sql: String)] = [
        (
            1, "records, change-log head, receipts, principals, sessions, audit",
            """
            CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);
            -- The one row whose lock orders commits by sequence number (PROTOCOL.md §7.2).
            CREATE TABLE log_head (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), seq bigint NOT NULL CHECK (seq >= 0));
            INSERT INTO log_head (only_row, seq) VALUES (true, 0);
            CREATE TABLE records (
                collection text NOT NULL,
                id text NOT NULL,
                scope text NOT NULL,
                state text NOT NULL,
                seq bigint NOT NULL,
                conflicted boolean NOT NULL,
                pushed_by text,
                PRIMARY KEY (collection, id)
            );
            CREATE INDEX records_by_seq ON records (seq);
            CREATE INDEX records_by_scope_seq ON records (scope, seq);
            CREATE TABLE conflicts (
                collection text NOT NULL,
                id text NOT NULL,
                scope text NOT NULL,
                fields text NOT NULL,
                delete_conflict boolean NOT NULL,
                since_seq bigint NOT NULL,
                detected_at timestamptz,
                PRIMARY KEY (collection, id)
            );
            CREATE INDEX conflicts_by_since ON conflicts (since_seq);
            CREATE INDEX conflicts_by_scope ON conflicts (scope, since_seq);
            CREATE TABLE schools (id text PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL);
            CREATE TABLE principals (
                id bigserial PRIMARY KEY,
                kind text NOT NULL CHECK (kind IN ('device', 'bureau', 'admin')),
                name text NOT NULL,
                school_id text REFERENCES schools (id),
                token_hash bytea NOT NULL UNIQUE,
                created_at timestamptz NOT NULL,
                revoked_at timestamptz,
                CHECK ((kind = 'device') = (school_id IS NOT NULL))
            );
            CREATE TABLE replicas (
                replica text PRIMARY KEY,
                sequence bigint NOT NULL,
                last_batch text NOT NULL,
                last_response text NOT NULL,
                principal_id bigint NOT NULL REFERENCES principals (id),
                last_seen timestamptz NOT NULL
            );
            CREATE TABLE replica_owners (replica text PRIMARY KEY, principal_id bigint NOT NULL REFERENCES principals (id));
            CREATE TABLE user_replicas (
                principal_id bigint NOT NULL REFERENCES principals (id),
                epoch text NOT NULL,
                replica text NOT NULL UNIQUE,
                PRIMARY KEY (principal_id, epoch)
            );
            CREATE TABLE device_sync (
                principal_id bigint PRIMARY KEY REFERENCES principals (id),
                last_pull_cursor text,
                last_pull_at timestamptz,
                last_push_at timestamptz,
                last_push_batch text,
                last_seen_at timestamptz,
                client text
            );
            CREATE TABLE sessions (
                id_hash bytea PRIMARY KEY,
                principal_id bigint NOT NULL REFERENCES principals (id),
                csrf text NOT NULL,
                expires_at timestamptz NOT NULL
            );
            CREATE INDEX sessions_by_expiry ON sessions (expires_at);
            CREATE TABLE audit (
                id bigserial PRIMARY KEY,
                seq bigint NOT NULL,
                collection text NOT NULL,
                record_id text NOT NULL,
                principal_id bigint REFERENCES principals (id),
                replica text NOT NULL,
                at timestamptz NOT NULL,
                kind text NOT NULL CHECK (kind IN ('push', 'resolve')),
                before text,
                after text NOT NULL,
                reason text
            );
            CREATE INDEX audit_by_record ON audit (collection, record_id, id);
            """
        ),
        (
            2, "evidence files and their uploads",
            // PROTOCOL.md §13, as the embedded store's v6: bytes are chunk rows owned by an upload
            // ('u:<id>') while received, by the file ('f:<sha256>') after.
            """
            CREATE TABLE evidence_files (
                sha256 text PRIMARY KEY,
                size bigint NOT NULL,
                type text NOT NULL,
                created_at timestamptz NOT NULL,
                unreferenced_since timestamptz
            );
            CREATE TABLE evidence_access (
                sha256 text NOT NULL REFERENCES evidence_files (sha256),
                school text NOT NULL,
                granted_at timestamptz NOT NULL,
                PRIMARY KEY (sha256, school)
            );
            CREATE TABLE evidence_uploads (
                id text PRIMARY KEY,
                school text NOT NULL,
                sha256 text NOT NULL,
                length bigint NOT NULL,
                upload_offset bigint NOT NULL,
                filename text,
                created_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                finished boolean NOT NULL,
                nonce text,
                UNIQUE (school, sha256)
            );
            CREATE TABLE evidence_chunks (
                owner text NOT NULL,
                chunk_offset bigint NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (owner, chunk_offset)
            );
            """
        ),
    ]

    /// The key of the session-level advisory lock the migrating server holds (any number no other
    /// program on the database uses; "SS" and 1).
    static let migrationLock: Int64 = 0x5353_0001

    /// Applies the steps the database has not seen, each in its own transaction, while holding an
    /// advisory lock, so servers starting together apply each step once.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                    logger: logger
                )
                var applied: Set<Int> = []
                for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int32.self) {
                    applied.insert(Int(version))
                }
                for step in migrations where !applied.contains(step.version) {
                    try await connection.query("BEGIN", logger: logger)
                    do {
                        // One statement at a time: the extended protocol takes no more.
                        for statement in statements(of: step.sql) {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query(
                            "INSERT INTO schema_migrations (version, name) VALUES (\(Int32(step.version)), \(step.name))",
                            logger: logger
                        )
                        try await connection.query("COMMIT", logger: logger)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                    logger.info("migrated the database", metadata: ["store.migration": "\(step.version): \(step.name)"])
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
        }
    }

    /// A step's statements: it ends each with `;` at the end of a line.
    static func statements(of sql: String) -> [String] {
        sql.components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }.map {
            $0.hasSuffix(";") ? String($0.dropLast()) : $0
        }
    }

    /// The database's epoch, minted by the first server to ask; the others read the same one.
    static func readEpoch(_ client: PostgresClient, logger: Logger) async throws -> Epoch {
        let fresh = Epoch.random().description
        try await client.query("INSERT INTO store_meta (key, value) VALUES ('epoch', \(fresh)) ON CONFLICT (key) DO NOTHING", logger: logger)
        for try await text in try await client.query("SELECT value FROM store_meta WHERE key = 'epoch'", logger: logger).decode(String.self) {
            return try Epoch(parsing: text)
        }
        throw StoreError(.damaged, "the database has no epoch; restore it from a backup")
    }
}
