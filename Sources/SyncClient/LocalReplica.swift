import Foundation
import GRDB
import SyncCore

/// A school's local replica: an ordinary SQLite file whose domain tables (`reports`, `measures`, …)
/// any SQLite tool can read and write, plus `sync_*` tables with the sync metadata.
///
/// Every operation is one transaction. Edits made through this type are versioned writes at the
/// replica; edits made by other programs with plain SQL are caught by triggers and turned into
/// versioned writes before the next push or pull touches the record (DESIGN §4 invariant 3). The
/// engine's own writes to domain tables, when it applies a pull, are never captured.
///
/// For example:
/// ```swift
/// let replica = try LocalReplica(path: "school.sqlite", schemas: DomainSchema.all)
/// try await replica.write(RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/m1"), ["status": .string("done")])
/// ```
public final class LocalReplica: Sendable {
    let pool: DatabasePool
    /// The collections that have domain tables.
    public let schemas: [String: CollectionSchema]
    /// The database file.
    public let path: String
    /// The wall clock, used only for times shown to people; nothing compares them.
    let clock: @Sendable () -> Date

    /// Opens or creates the replica, migrating the sync tables and creating each schema's table and triggers.
    ///
    /// - Parameters:
    ///   - path: the SQLite file; created if missing. Other programs may open it too.
    ///   - schemas: the collections that get domain tables (Reporting's `DomainSchema.all`).
    ///   - clock: the device's clock; sync and merge never depend on it (a device set to
    ///     1970 or 2099 syncs like any other), it only stamps `status` times.
    /// - Throws: GRDB's `DatabaseError` when the file cannot be opened or migrated.
    public init(path: String, schemas: [CollectionSchema], clock: @escaping @Sendable () -> Date = Date.init) throws {
        self.clock = clock
        var configuration = Configuration()
        // Other programs write the same file: wait for their locks instead of failing at once.
        configuration.busyMode = .timeout(10)
        configuration.label = "SchoolSync.LocalReplica"
        self.path = path
        pool = try DatabasePool(path: path, configuration: configuration)
        // A saved edit survives power loss, which rural schools see often (GRDB's WAL default may
        // drop the last commits). Other programs' connections keep their own setting.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        self.schemas = Dictionary(uniqueKeysWithValues: schemas.map { ($0.name, $0) })
        try Self.migrator.migrate(pool)
        try pool.write { db in
            for schema in schemas { try DomainTables.install(schema, in: db) }
            try DomainTables.setApplying(false, db)
        }
    }

    // Shipped migrations are never edited; a change is a new migration.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: sync metadata") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sync_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE sync_control (id INTEGER PRIMARY KEY CHECK (id = 1), applying INTEGER NOT NULL CHECK (applying IN (0, 1)));
                    INSERT INTO sync_control (id, applying) VALUES (1, 0);
                    CREATE TABLE sync_records (
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        state TEXT NOT NULL,
                        server_state TEXT,
                        dirty INTEGER NOT NULL DEFAULT 0 CHECK (dirty IN (0, 1)),
                        edit_seq INTEGER NOT NULL DEFAULT 0,
                        rejected_code TEXT,
                        rejected_message TEXT,
                        rejected_edit_seq INTEGER,
                        rejected_at TEXT,
                        PRIMARY KEY (collection, id)
                    );
                    CREATE INDEX sync_records_dirty ON sync_records (dirty) WHERE dirty = 1;
                    CREATE TABLE sync_captured (collection TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (collection, id)) WITHOUT ROWID;
                    CREATE TABLE sync_conflicts (
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        fields TEXT NOT NULL,
                        delete_conflict INTEGER NOT NULL,
                        PRIMARY KEY (collection, id)
                    );
                    CREATE TABLE sync_conflict_fields (
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        field TEXT NOT NULL,
                        PRIMARY KEY (collection, id, field)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v2: dirty records in push order") { db in
            // Pushes take dirty records in key order, a batch at a time; an index of the dirty keys
            // in that order lets each batch start where the last one ended instead of sorting
            // every dirty record again (quadratic in a 100,000-record first push).
            try db.execute(
                sql: """
                    DROP INDEX sync_records_dirty;
                    CREATE INDEX sync_records_dirty_in_order ON sync_records (collection, id) WHERE dirty = 1;
                    """
            )
        }
        migrator.registerMigration("v3: the protocol state in one typed row") { db in
            // sync_meta's keys become the columns of one row (SyncState is its only reader and
            // writer). Values are copied as they are; SyncState reads anything unexpected as absent.
            // CAST as the old reader did: it read every value as text, a BLOB's bytes included.
            func meta(_ key: String) -> String { "(SELECT CAST(value AS TEXT) FROM sync_meta WHERE key = '\(key)')" }
            try db.execute(
                sql: """
                    CREATE TABLE sync_state (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        server_url TEXT, token TEXT, device_name TEXT, school_id TEXT,
                        max_batch_records INTEGER, max_body_bytes INTEGER, max_pull_limit INTEGER,
                        replica TEXT, epoch TEXT, cursor TEXT, receipt TEXT,
                        pending_push TEXT, pending_push_edit_seqs TEXT, remint_requested INTEGER NOT NULL DEFAULT 0,
                        last_attempt_at TEXT, last_sync_at TEXT, last_pull_at TEXT, last_push_at TEXT, last_error TEXT, reachable INTEGER
                    );
                    INSERT INTO sync_state (
                        id, server_url, token, device_name, school_id, max_batch_records, max_body_bytes, max_pull_limit,
                        replica, epoch, cursor, receipt, pending_push, pending_push_edit_seqs, remint_requested,
                        last_attempt_at, last_sync_at, last_pull_at, last_push_at, last_error, reachable
                    )
                    SELECT 1, \(meta("server_url")), \(meta("token")), \(meta("device_name")), \(meta("school_id")),
                        CAST(\(meta("max_batch_records")) AS INTEGER), CAST(\(meta("max_body_bytes")) AS INTEGER),
                        CAST(\(meta("max_pull_limit")) AS INTEGER),
                        \(meta("replica")), \(meta("epoch")), \(meta("cursor")), \(meta("receipt")),
                        \(meta("pending_push")), \(meta("pending_push_edit_seqs")),
                        EXISTS (SELECT 1 FROM sync_meta WHERE key = 'remint_requested'),
                        \(meta("last_attempt_at")), \(meta("last_sync_at")), \(meta("last_pull_at")), \(meta("last_push_at")),
                        \(meta("last_error")), CASE \(meta("reachable")) WHEN 'yes' THEN 1 WHEN 'no' THEN 0 END
                    WHERE EXISTS (SELECT 1 FROM sync_meta);
                    DROP TABLE sync_meta;
                    """
            )
        }
        migrator.registerMigration("v4: evidence files") { db in
            // PROTOCOL.md §13: the files a report names, kept in the replica so they survive the
            // original being moved, and sent after the records. `stored` counts the bytes held from
            // offset 0 (a download in progress holds fewer than `size`); chunks are at most 256 KiB
            // and follow each other without gaps.
            try db.execute(
                sql: """
                    CREATE TABLE evidence_files (
                        sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
                        name TEXT NOT NULL,
                        size INTEGER NOT NULL CHECK (size BETWEEN 1 AND 26214400),
                        type TEXT NOT NULL,
                        stored INTEGER NOT NULL DEFAULT 0 CHECK (stored BETWEEN 0 AND size),
                        added_at TEXT NOT NULL,
                        uploaded_at TEXT,
                        upload_url TEXT,
                        hash_mismatches INTEGER NOT NULL DEFAULT 0,
                        held_back TEXT
                    ) WITHOUT ROWID;
                    CREATE TABLE evidence_chunks (
                        sha256 TEXT NOT NULL REFERENCES evidence_files (sha256) ON DELETE CASCADE,
                        offset INTEGER NOT NULL CHECK (offset >= 0),
                        data BLOB NOT NULL CHECK (length(data) BETWEEN 1 AND 262144),
                        PRIMARY KEY (sha256, offset)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v5: who writes under each replica") { db in
            // The names of the devices that own the school's replicas (`GET /v1/school/replicas`,
            // PROTOCOL.md §12), so a conflict shows who wrote each value (LocalReplica+Writers.swift).
            try db.execute(sql: "CREATE TABLE sync_writers (replica TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL) WITHOUT ROWID")
        }
        return migrator
    }

    // MARK: Configuration

    /// What `init` recorded: the server, the token, this replica's id and the device's school.
    public struct Settings: Sendable, Equatable {
        /// The server's base URL, as given to ``LocalReplica/enrol(serverURL:token:session:)``.
        public var serverURL: String
        /// The bearer token sent with every request (PROTOCOL.md §5).
        public var token: String
        /// This replica's id, under which it mints its dots (PROTOCOL.md §2.3); replaced by a re-mint (§6.3).
        public var replica: ReplicaID
        /// The device's school from `/v1/session`; `nil` for a principal without one.
        public var schoolID: String?
        /// The principal's name from `/v1/session`; empty if none was stored.
        public var deviceName: String
        /// The epoch of the server's store this replica last knew (PROTOCOL.md §7.4).
        public var epoch: Epoch?
        /// Where the next pull starts (`since`, PROTOCOL.md §7.1); `nil` before the first pull.
        public var cursor: SyncCore.Cursor?
        /// The receipt of the last acknowledged push (PROTOCOL.md §6.3); `nil` before the first.
        public var receipt: PushReceipt?

    }

    /// Records the server and token of this device, after the server confirmed the token.
    public func enrol(serverURL: String, token: String, session: SessionInfo) async throws {
        try await transaction { db in
            let previous = try SyncState.read(db)
            if let previous = previous.token, previous != token {
                // The server's refusals were answers to another principal; this one may be allowed.
                try db.execute(
                    sql: """
                        UPDATE sync_records SET rejected_code = NULL, rejected_message = NULL, rejected_edit_seq = NULL, rejected_at = NULL
                        WHERE rejected_code NOT IN (?, ?, ?)
                        """,
                    arguments: StatementArguments(LocalRejection.codes)
                )
            }
            // Who this database is comes first: an epoch reset offers the records the new
            // principal may write, so it must see the new school.
            try SyncState.update(db) { state in
                state.serverURL = serverURL
                state.token = token
                state.deviceName = session.principal.name
                state.schoolID = session.principal.school
                state.limits = session.limits
            }
            if let epoch = previous.epoch, epoch != session.epoch {
                try Self.resetForNewEpoch(session.epoch, db)
            }
            try SyncState.update(db) { $0.epoch = session.epoch }
        }
    }

    /// The server's limits as `/v1/session` last gave them, or `nil` if this replica never kept them.
    public func serverLimits() async throws -> SessionInfo.Limits? {
        try await snapshot { db in try SyncState.read(db).limits }
    }

    /// Keeps the server's limits, so each run sizes its batches and pages by them.
    public func rememberServerLimits(_ limits: SessionInfo.Limits) async throws {
        try await transaction { db in try SyncState.update(db) { $0.limits = limits } }
    }

    /// The settings, or `nil` before `enrol`.
    public func settings() async throws -> Settings? {
        try await transaction { db in try Self.settings(db) }  // a transaction: it repairs a damaged replica id first
    }

    static func settings(_ db: Database) throws -> Settings? {
        let state = try SyncState.read(db)
        guard let url = state.serverURL, let token = state.token, let replica = state.replica else { return nil }
        return Settings(
            serverURL: url,
            token: token,
            replica: replica,
            schoolID: state.schoolID,
            deviceName: state.deviceName ?? "",
            epoch: state.epoch,
            cursor: state.cursor,
            receipt: state.receipt
        )
    }

    static func requireSettings(_ db: Database) throws -> Settings {
        guard let settings = try settings(db) else {
            throw SyncClientError(.usage, "this database is not enrolled yet; run 'schoolsync init --server URL --token TOKEN' first")
        }
        return settings
    }

    /// The replica id; made when the database is first enrolled or written.
    ///
    /// A replica id another program damaged is replaced by a fresh one, as after a re-mint: no dot
    /// is ever minted under the unreadable id again, the cursor, receipt and unanswered push are
    /// forgotten, and every record is offered again (PROTOCOL.md §6.3).
    static func replicaID(_ db: Database) throws -> ReplicaID {
        var state = try SyncState.read(db)
        if let id = state.replica { return id }
        let damaged = state.replicaIsDamaged
        let fresh = ReplicaID.random()
        state.replica = fresh
        state.replicaIsDamaged = false
        if damaged { state.forgetServerProgress() }
        try state.write(db)
        if damaged { try offerEverything(db) }
        return fresh
    }
}

extension LocalReplica {
    /// Runs `body` in one write transaction, after turning every pending plain-SQL edit into a
    /// versioned write (DESIGN §4 invariant 3). Every transaction that changes records goes through
    /// here, so no path that rewrites the domain tables from sync state (a pull, a re-mint, an
    /// epoch reset, a discard) can overwrite an edit another program made just before it.
    ///
    /// - Throws: ``SyncClientError/Code/storage`` when the disk is full or failing; other database errors as they are.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await mappingStorageErrors {
            try await pool.write { db in
                // Capture is on between transactions; a flag another program left set would
                // silently turn it off.
                try DomainTables.setApplying(false, db)
                _ = try Self.replicaID(db)  // replaces a damaged id before anything reads it
                try self.captureEdits(db)
                return try body(db)
            }
        }
    }

    /// Runs `body` on a read-only snapshot (no capture: nothing it does rewrites a table).
    func snapshot<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await mappingStorageErrors { try await pool.read(body) }
    }

    /// Turns SQLite's "disk full" and "I/O error" into an error that says what happened and what
    /// to do; the transaction was rolled back, so nothing written before it is lost.
    private func mappingStorageErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw SyncClientError(
                .busy,
                "another program has held a write lock on \(path) for over 10 seconds (a spreadsheet or script with an open transaction); close it or finish its change, then run the command again — nothing was changed",
                cause: error
            )
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR {
            let what = error.resultCode == .SQLITE_FULL ? "the disk holding \(path) is full" : "the disk holding \(path) could not be written (full or failing)"
            throw SyncClientError(
                .storage,
                "\(what); nothing already saved was lost and the unfinished step was undone — free some space, then run the command again (SQLite: \(error.message ?? "\(error.resultCode)"))",
                cause: error
            )
        }
    }
}

extension LocalReplica {
    /// Reads the database (domain tables included) in one snapshot, after capturing plain-SQL edits.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await transaction { db in
            return try body(db)
        }
    }
}
