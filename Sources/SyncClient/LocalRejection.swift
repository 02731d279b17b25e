import GRDB
import SyncCore

/// Records this device holds back itself because they can never be sent as they are: the reasons
/// use the rejection columns of `sync_records`, like the server's, so `status` lists both.
///
/// A local rejection holds until the record's next edit (fixing the row with SQL, `report set`,
/// `report discard`); a pull does not lift it, since only an edit can fix the record.
enum LocalRejection {
    /// The codes of PROTOCOL.md §11 (``RejectCode/allLocal``), as the SQL of this module binds them.
    static let codes = RejectCode.allLocal.map(\.rawValue)

    static func isLocal(_ reason: RejectReason) -> Bool { reason.code.isLocal }

    static func invalidRow(_ key: RecordKey, problems: [String]) -> RejectReason {
        RejectReason(
            code: .invalidRow,
            message: "kept on this device and not sent: \(problems.joined(separator: "; ")) — fix the row in the \(key.collection) table, or delete it"
        )
    }

    static func damaged(_ error: any Error) -> RejectReason {
        RejectReason(
            code: .damaged,
            message: "this record's sync data in the database cannot be read (\(error)); it is not sent — 'schoolsync report discard' or deleting the row replaces it with the server's copy"
        )
    }

    /// Marks a record held back, straight in SQL, so it works even when the row cannot be decoded.
    static func mark(_ key: RecordKey, _ reason: RejectReason, _ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE sync_records SET rejected_code = ?, rejected_message = ?, rejected_edit_seq = edit_seq,
                    rejected_at = COALESCE(rejected_at, CURRENT_TIMESTAMP)
                WHERE collection = ? AND id = ?
                """,
            arguments: [reason.code.rawValue, reason.message, key.collection, key.id]
        )
    }

    /// Marks a record held back by its row id, which names the row even when its text does not
    /// read back as stored.
    static func mark(rowid: Int64, _ reason: RejectReason, _ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE sync_records SET rejected_code = ?, rejected_message = ?, rejected_edit_seq = edit_seq,
                    rejected_at = COALESCE(rejected_at, CURRENT_TIMESTAMP)
                WHERE rowid = ?
                """,
            arguments: [reason.code.rawValue, reason.message, rowid]
        )
    }

    static func markDamaged(_ key: RecordKey, _ error: any Error, _ db: Database) throws {
        try mark(key, damaged(error), db)
    }

    /// Forgets a record the server never had: its row, its sync data and its conflict marks.
    static func forget(_ key: RecordKey, _ db: Database) throws {
        for table in ["sync_records", "sync_conflicts", "sync_conflict_fields", "sync_captured"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE collection = ? AND id = ?", arguments: [key.collection, key.id])
        }
    }
}
