import Foundation
import GRDB
import Logging
import Reporting
import ServiceLifecycle
import SyncCore
import SyncServer

/// The embedded store: one SQLite file in WAL mode, opened through a GRDB `DatabasePool`.
///
/// Writes are IMMEDIATE transactions with a busy timeout, so several server processes may share
/// one file: SQLite serialises their writers, and each push's read-join-write runs inside one.
/// Because writers are serialised, change-log sequence numbers commit in order and a reader's
/// snapshot never has a hole below its highest sequence number (PROTOCOL.md §7.2).
public final class SQLiteStore: SyncStore {
    /// The store's epoch (PROTOCOL.md §7.4): read from the file when it is opened, minted when it is created.
    public let epoch: Epoch
    let pool: DatabasePool
    let pushes: GroupCommit<PushOutcome>
    let pulls: GroupCommit<PullOutcome>

    /// Opens (or creates and migrates) the store at `path`.
    ///
    /// - Parameter busyTimeout: how many seconds a write waits while another process holds the
    ///   file's write lock; past it the request is answered 503 `unavailable` with `Retry-After`
    ///   (PROTOCOL.md §8).
    /// - Throws: GRDB's `DatabaseError` when the file cannot be opened or migrated, `SyncCoreError`
    ///   when it holds an epoch that does not parse.
    public init(path: String, busyTimeout: TimeInterval = 10) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "SchoolSync.SQLiteStore"
        pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB's WAL default (NORMAL) may lose the last commits on power loss; an acknowledged push
        // must survive it, or schools would drop edits the server never keeps.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        pushes = .writes(pool)
        pulls = .reads(pool)
        try Self.migrator.migrate(pool)
        epoch = try pool.write { db in
            if let text = try String.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'epoch'") {
                return try Epoch(parsing: text)
            }
            let fresh = Epoch.random()
            try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES ('epoch', ?)", arguments: [fresh.description])
            return fresh
        }
    }

    // Shipped migrations are never edited; a change is a new migration (GRDB's rule).
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: records, change log, receipts, principals") { db in
            try db.execute(
                sql: """
                    CREATE TABLE store_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE records (
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        state TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        conflicted INTEGER NOT NULL CHECK (conflicted IN (0, 1)),
                        PRIMARY KEY (collection, id)
                    );
                    CREATE INDEX records_by_seq ON records (seq);
                    CREATE INDEX records_by_scope_seq ON records (scope, seq);
                    CREATE TABLE change_log (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        scope TEXT NOT NULL
                    );
                    CREATE TABLE conflicts (
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        fields TEXT NOT NULL,
                        delete_conflict INTEGER NOT NULL,
                        since_seq INTEGER NOT NULL,
                        PRIMARY KEY (collection, id)
                    );
                    CREATE INDEX conflicts_by_scope ON conflicts (scope, since_seq);
                    CREATE TABLE schools (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        created_at TEXT NOT NULL
                    );
                    CREATE TABLE principals (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL CHECK (kind IN ('device', 'bureau', 'admin')),
                        name TEXT NOT NULL,
                        school_id TEXT REFERENCES schools (id),
                        token_hash BLOB NOT NULL UNIQUE,
                        created_at TEXT NOT NULL,
                        revoked_at TEXT,
                        CHECK ((kind = 'device') = (school_id IS NOT NULL))
                    );
                    CREATE TABLE replicas (
                        replica TEXT PRIMARY KEY NOT NULL,
                        sequence INTEGER NOT NULL,
                        last_batch TEXT NOT NULL,
                        last_response TEXT NOT NULL,
                        principal_id INTEGER NOT NULL REFERENCES principals (id),
                        last_seen TEXT NOT NULL
                    );
                    CREATE TABLE device_sync (
                        principal_id INTEGER PRIMARY KEY NOT NULL REFERENCES principals (id),
                        last_pull_cursor TEXT,
                        last_pull_at TEXT,
                        last_push_at TEXT,
                        last_push_batch TEXT,
                        last_seen_at TEXT,
                        client TEXT
                    );
                    """
            )
        }
        migrator.registerMigration("v2: browser sessions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sessions (
                        id_hash BLOB PRIMARY KEY NOT NULL,
                        principal_id INTEGER NOT NULL REFERENCES principals (id),
                        csrf TEXT NOT NULL,
                        expires_at TEXT NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v3: audit history, server-side replicas, conflict times") { db in
            try db.execute(
                sql: """
                    ALTER TABLE conflicts ADD COLUMN detected_at TEXT;
                    CREATE TABLE user_replicas (
                        principal_id INTEGER NOT NULL REFERENCES principals (id),
                        epoch TEXT NOT NULL,
                        replica TEXT NOT NULL UNIQUE,
                        PRIMARY KEY (principal_id, epoch)
                    );
                    CREATE TABLE audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        seq INTEGER NOT NULL,
                        collection TEXT NOT NULL,
                        record_id TEXT NOT NULL,
                        principal_id INTEGER REFERENCES principals (id),
                        replica TEXT NOT NULL,
                        at TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('push', 'resolve')),
                        before TEXT,
                        after TEXT NOT NULL,
                        reason TEXT
                    );
                    CREATE INDEX audit_by_record ON audit (collection, record_id, id);
                    """
            )
        }
        migrator.registerMigration("v4: who pushed each record's current state") { db in
            // The replica whose push the stored state is, byte for byte; NULL when a join or a
            // resolution made it. A pull by that replica skips the record: it holds it already.
            try db.execute(sql: "ALTER TABLE records ADD COLUMN pushed_by TEXT")
        }
        migrator.registerMigration("v5: replica ownership; tombstones planted under another school's ids") { db in
            // Who owns each replica id (PROTOCOL.md §5): unlike `replicas`, a restore keeps it, so a
            // new epoch does not hand a replica id to whoever pushes under it first.
            try db.execute(
                sql: """
                    CREATE TABLE replica_owners (
                        replica TEXT PRIMARY KEY NOT NULL,
                        principal_id INTEGER NOT NULL REFERENCES principals (id)
                    ) WITHOUT ROWID;
                    INSERT OR IGNORE INTO replica_owners (replica, principal_id) SELECT replica, principal_id FROM user_replicas;
                    INSERT OR IGNORE INTO replica_owners (replica, principal_id) SELECT replica, principal_id FROM replicas;
                    """
            )
            // Before ids decided scopes, a school could store a tombstone under another school's id
            // and lock that school out of its own record. A tombstone holds no content, so dropping
            // it loses nothing; the rightful school's next push stores the record where it belongs.
            for row in try Row.fetchAll(db, sql: "SELECT collection, id, scope, state FROM records WHERE collection IN ('reports', 'indicator_values', 'assignments')") {
                // A row this cannot read is left as it is: the migration removes only what it is sure of.
                guard let record = try? row.storedRecord(),
                    RecordRules.ownershipViolation(key: record.key, scope: record.scope) != nil,
                    !record.state.hasCurrentValues, !record.state.isConflicted
                else { continue }
                let (collection, id) = (record.key.collection, record.key.id)
                try db.execute(sql: "DELETE FROM records WHERE collection = ? AND id = ?", arguments: [collection, id])
                try db.execute(sql: "DELETE FROM conflicts WHERE collection = ? AND id = ?", arguments: [collection, id])
            }
        }
        migrator.registerMigration("v6: evidence files and their uploads") { db in
            // PROTOCOL.md §13: files and uploads in the database, so a backup holds them. Bytes are
            // chunk rows owned by an upload ('u:<id>') while received, by the file ('f:<sha256>') after.
            try db.execute(
                sql: """
                    CREATE TABLE evidence_files (
                        sha256 TEXT PRIMARY KEY NOT NULL,
                        size INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        unreferenced_since TEXT
                    ) WITHOUT ROWID;
                    CREATE TABLE evidence_access (
                        sha256 TEXT NOT NULL REFERENCES evidence_files (sha256),
                        school TEXT NOT NULL,
                        granted_at TEXT NOT NULL,
                        PRIMARY KEY (sha256, school)
                    ) WITHOUT ROWID;
                    CREATE TABLE evidence_uploads (
                        id TEXT PRIMARY KEY NOT NULL,
                        school TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        length INTEGER NOT NULL,
                        upload_offset INTEGER NOT NULL,
                        filename TEXT,
                        created_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        finished INTEGER NOT NULL CHECK (finished IN (0, 1)),
                        nonce TEXT,
                        UNIQUE (school, sha256)
                    );
                    CREATE TABLE evidence_chunks (
                        owner TEXT NOT NULL,
                        chunk_offset INTEGER NOT NULL,
                        data BLOB NOT NULL,
                        PRIMARY KEY (owner, chunk_offset)
                    ) WITHOUT ROWID;
                    """
            )
        }
        return migrator
    }

    /// The highest sequence number the change log has used, 0 when empty.
    ///
    /// - Throws: ``StoreError`` `.damaged` when the stored number is negative; GRDB's `DatabaseError`.
    public func headSequence() async throws -> UInt64 {
        try await pool.read { db in try Self.head(db) }
    }

    static func head(_ db: Database) throws -> UInt64 {
        try sequence(Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'change_log'")) ?? 0)
    }

    /// A sequence number read from a table, which another program may have written: negative
    /// numbers are a damaged file, reported as such instead of trapping in a conversion.
    static func sequence(_ value: Int64) throws -> UInt64 {
        guard let sequence = UInt64(exactly: value) else {
            throw StoreError(.damaged, "the database holds a negative sequence number (\(value)); restore it from a backup")
        }
        return sequence
    }

    /// How many records are in conflict now.
    public func openConflictCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conflicts") ?? 0 }
    }
}

extension SQLiteStore {
    /// SQLite's busy and locked answers (another writer held the file past the busy timeout) as
    /// ``StoreError`` `.busy`, answered 503 `unavailable` with `Retry-After` (PROTOCOL.md §8).
    public func storeError(for error: any Error) -> StoreError? {
        guard let error = error as? DatabaseError, error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED else { return nil }
        return StoreError(.busy, "SQLite answered \(error.resultCode) past the busy timeout")
    }
}

extension SQLiteStore {
    /// Holds the database open until graceful shutdown, then closes it: the server and the
    /// activity log, which stop before it, have written their last (ServiceLifecycle shuts services
    /// down in reverse order). Migrations ran when the store was made, before the server started.
    /// A cancelled run leaves the pool open, since handlers may still be using it; it closes when the
    /// store is released.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        do {
            try pool.close()
        } catch {
            // Every commit is durable already; a statement left open only delays the close to the
            // store's release, which is no reason to fail a clean shutdown.
            Logger(label: "SchoolSync.SQLiteStore").warning("the database did not close at shutdown", metadata: ["sync.error": "\(error)"])
        }
    }
}
