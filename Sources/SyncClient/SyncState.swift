import Foundation
import GRDB
import SyncCore

/// The replica's protocol state: the one row of `sync_state` (GRDB's single-row-table recipe), and
/// the only code that reads or writes it.
///
/// Every column is read leniently, since another program may have written anything into it: a value
/// that is not what this type writes reads as absent, which is safe for each of them (PROTOCOL.md
/// §6.3, §7.4): without an epoch the next answer sets it, without a cursor the next pull starts from
/// the beginning, without a receipt the server answers `replica_stale` and the replica re-mints, and
/// an unreadable stored push is rebuilt from the dirty marks. A damaged replica id is told apart from
/// a missing one (``replicaIsDamaged``), because it must never be reused for a dot.
struct SyncState: Sendable, Equatable {
    // MARK: Enrolment (`schoolsync init`)

    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    var serverURL: String?
    /// The device's bearer token.
    var token: String?
    /// The principal's name, as `/v1/session` gave it.
    var deviceName: String?
    /// The device's school id; `nil` for a user's token.
    var schoolID: String?
    /// The server's limits (`/v1/session`, PROTOCOL.md §10), when kept.
    var limits: SessionInfo.Limits?

    // MARK: The protocol (PROTOCOL.md §6–§7)

    /// This replica's id; made when the database is first written.
    var replica: ReplicaID?
    /// Whether the stored replica id could not be read (another program damaged it).
    var replicaIsDamaged = false
    /// The server store's epoch the cursor and receipt belong to.
    var epoch: Epoch?
    /// Where the next pull starts.
    var cursor: SyncCore.Cursor?
    /// The receipt of the last acknowledged push.
    var receipt: PushReceipt?
    /// The unanswered push in its wire form and its records' edit counters (``PendingPush``'s codec).
    var pendingPush: String?
    var pendingPushEditSeqs: String?
    /// A re-mint was asked for outside a sync (discarding a damaged record); the next sync does it.
    var remintRequested = false

    // MARK: Outcomes, for `status` (wall-clock ISO 8601 text; nothing compares them)

    var lastAttemptAt: String?
    var lastSyncAt: String?
    var lastPullAt: String?
    var lastPushAt: String?
    /// The message of the last failed sync, `nil` after a success.
    var lastError: String?
    /// Whether the server answered the last attempt.
    var reachable: Bool?

    // MARK: Changes

    /// Forgets where this replica stands with the server — cursor, receipt and the unanswered push —
    /// after a re-mint (PROTOCOL.md §6.3) or an epoch change (§7.4): the next pull starts from the
    /// beginning and the next push is built anew.
    mutating func forgetServerProgress() {
        cursor = nil
        receipt = nil
        forgetPendingPush()
    }

    /// Forgets the unanswered push; its records keep their dirty marks.
    mutating func forgetPendingPush() {
        pendingPush = nil
        pendingPushEditSeqs = nil
    }

    // MARK: Reading and writing

    static let columns = [
        "server_url", "token", "device_name", "school_id", "max_batch_records", "max_body_bytes", "max_pull_limit",
        "replica", "epoch", "cursor", "receipt", "pending_push", "pending_push_edit_seqs", "remint_requested",
        "last_attempt_at", "last_sync_at", "last_pull_at", "last_push_at", "last_error", "reachable",
    ]

    /// The state as stored; the empty state when the row is missing (a database never enrolled, or
    /// one whose row another program deleted).
    static func read(_ db: Database) throws -> SyncState {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(columns.joined(separator: ", ")) FROM sync_state WHERE id = 1")) else {
            return SyncState()
        }
        var state = SyncState()
        state.serverURL = text(row, "server_url")
        state.token = text(row, "token")
        state.deviceName = text(row, "device_name")
        state.schoolID = text(row, "school_id")
        if let batch = integer(row, "max_batch_records"), let body = integer(row, "max_body_bytes"), let page = integer(row, "max_pull_limit") {
            state.limits = SessionInfo.Limits(maxBatchRecords: batch, maxBodyBytes: body, maxPullLimit: page)
        }
        let replica = row["replica"] as DatabaseValue
        state.replica = text(row, "replica").flatMap { try? ReplicaID(parsing: $0) }
        state.replicaIsDamaged = !replica.isNull && state.replica == nil
        state.epoch = text(row, "epoch").flatMap { try? Epoch(parsing: $0) }
        state.cursor = text(row, "cursor").flatMap { try? SyncCore.Cursor(parsing: $0) }
        state.receipt = text(row, "receipt").flatMap { try? PushReceipt(parsing: $0) }
        state.pendingPush = text(row, "pending_push")
        state.pendingPushEditSeqs = text(row, "pending_push_edit_seqs")
        state.remintRequested = integer(row, "remint_requested").map { $0 != 0 } ?? false
        state.lastAttemptAt = text(row, "last_attempt_at")
        state.lastSyncAt = text(row, "last_sync_at")
        state.lastPullAt = text(row, "last_pull_at")
        state.lastPushAt = text(row, "last_push_at")
        state.lastError = text(row, "last_error")
        state.reachable = integer(row, "reachable").map { $0 != 0 }
        return state
    }

    /// Writes the whole row.
    func write(_ db: Database) throws {
        let placeholders = Array(repeating: "?", count: Self.columns.count + 1).joined(separator: ", ")
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO sync_state (id, \(Self.columns.joined(separator: ", "))) VALUES (\(placeholders))")
            .execute(arguments: [
                1, serverURL, token, deviceName, schoolID, limits?.maxBatchRecords, limits?.maxBodyBytes, limits?.maxPullLimit,
                replica?.description, epoch?.description, cursor?.description, receipt?.description, pendingPush, pendingPushEditSeqs,
                remintRequested ? 1 : 0, lastAttemptAt, lastSyncAt, lastPullAt, lastPushAt, lastError, reachable.map { $0 ? 1 : 0 },
            ])
    }

    /// Reads the state, lets `change` modify it, and writes it back, in the caller's transaction.
    @discardableResult
    static func update<T>(_ db: Database, _ change: (inout SyncState) throws -> T) throws -> T {
        var state = try read(db)
        let before = state
        let result = try change(&state)
        if state != before { try state.write(db) }
        return result
    }

    /// Text as stored; anything else (a number, a BLOB) reads as absent.
    private static func text(_ row: Row, _ column: String) -> String? {
        guard case .string(let text) = (row[column] as DatabaseValue).storage else { return nil }
        return text
    }

    /// An integer as stored (or its canonical text); anything else reads as absent.
    private static func integer(_ row: Row, _ column: String) -> Int? {
        switch (row[column] as DatabaseValue).storage {
        case .int64(let value): Int(exactly: value)
        case .string(let text): Int(text)
        default: nil
        }
    }
}
