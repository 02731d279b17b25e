import Foundation
import PostgresNIO
import SyncCore
import SyncServer

/// The rows a plan's record writes come to, each table's as one JSON array that a single statement
/// reads with `json_to_recordset`: a push of 500 records is a handful of statements, not 2,000.
///
/// Rows carry each write's offset in the batch, not its sequence number: the JSON is made before
/// the transaction takes its numbers from `log_head`, whose lock is held until commit, and the
/// statements add the first number (`seq = first + offset`), so no encoding happens under the lock.
///
/// A batch may write one record twice; the rows then are what writing one after the other would
/// leave (the embedded store's statements, write by write): the last state in `records`, every
/// write in `audit`, and per record one upsert or delete of its row in the conflicts index.
struct WrittenRecords {
    struct RecordRow: Encodable {
        var collection: String
        var id: String
        var scope: String
        var state: String
        var offset: Int64
        var conflicted: Bool
        var pushed_by: String?
    }

    struct AuditRow: Encodable {
        var offset: Int64
        var collection: String
        var record_id: String
        var principal_id: Int64
        var replica: String
        /// Seconds since 1970, read with `to_timestamp`.
        var at: Double
        var kind: String
        var before: String?
        var after: String
        var reason: String?
    }

    struct ConflictRow: Encodable {
        var collection: String
        var id: String
        var scope: String
        var fields: String
        var delete_conflict: Bool
        var since_offset: Int64
        var detected_at: Double
    }

    var records: [RecordRow] = []
    var audit: [AuditRow] = []
    /// Conflicts that arose in this batch: inserted, or replacing the row of one settled earlier in it.
    var newConflicts: [ConflictRow] = []
    /// Conflicts open before this batch: only their fields change.
    var openConflicts: [ConflictRow] = []
    /// Records whose conflict this batch settled.
    var settled: [RecordKey] = []

    /// The rows of `writes`, numbered in order from offset 0.
    init(_ writes: [PlannedTransaction.RecordWrite]) throws {
        var lastRow: [RecordKey: Int] = [:]
        var conflict: [RecordKey: (row: ConflictRow, isNew: Bool)?] = [:]
        var order: [RecordKey] = []
        for (offset, write) in writes.enumerated() {
            let seq = Int64(offset)
            let state = String(decoding: try CanonicalJSON.encode(write.state), as: UTF8.self)
            let row = RecordRow(
                collection: write.key.collection, id: write.key.id, scope: write.scope.rawValue, state: state, offset: seq,
                conflicted: write.state.isConflicted, pushed_by: write.pushedBy?.description
            )
            if let index = lastRow[write.key] {
                records[index] = row
            } else {
                lastRow[write.key] = records.count
                records.append(row)
                order.append(write.key)
            }
            audit.append(
                AuditRow(
                    offset: seq, collection: write.key.collection, record_id: write.key.id, principal_id: write.change.principalID,
                    replica: write.change.replica.description, at: write.change.time.timeIntervalSince1970, kind: write.change.kind.rawValue,
                    before: try write.before.map(AuditEntry.view), after: try AuditEntry.view(write.state), reason: write.change.reason
                )
            )
            let fields = write.state.conflictingFields.joined(separator: ",")
            if write.state.isConflicted {
                if case .some(.some(var open)) = conflict[write.key] {
                    open.row.fields = fields
                    open.row.delete_conflict = write.state.isDeleteConflict
                    conflict[write.key] = open
                } else {
                    // Open before the batch when its first write found it conflicted; else new here.
                    let wasOpen = conflict[write.key] == nil && write.before?.isConflicted == true
                    let row = ConflictRow(
                        collection: write.key.collection, id: write.key.id, scope: write.scope.rawValue, fields: fields,
                        delete_conflict: write.state.isDeleteConflict, since_offset: seq, detected_at: write.change.time.timeIntervalSince1970
                    )
                    conflict[write.key] = .some((row, !wasOpen))
                }
            } else if write.before?.isConflicted == true {
                conflict[write.key] = .some(nil)
            }
        }
        for key in order {
            switch conflict[key] {
            case .some(.some(let open)) where open.isNew: newConflicts.append(open.row)
            case .some(.some(let open)): openConflicts.append(open.row)
            case .some(.none): settled.append(key)
            case .none: break
            }
        }
    }

    /// `rows` as the JSON text `json_to_recordset` reads.
    static func json(_ rows: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
    }

    /// `rows` as JSON arrays of at most `maxBytes` each (one row alone may pass it): a statement's
    /// value must stay far below PostgreSQL's 1 GB, and a push of 500 small edits to records near
    /// the 1 MiB state limit carries half a gigabyte of states and twice that of audit views.
    static func jsonChunks<Row: Encodable>(_ rows: [Row], maxBytes: Int = 16 << 20) throws -> [String] {
        let encoder = JSONEncoder()
        var chunks: [String] = []
        var chunk = Data("[".utf8)
        for row in rows {
            let encoded = try encoder.encode(row)
            if chunk.count > 1, chunk.count + encoded.count + 1 > maxBytes {
                chunk.append(UInt8(ascii: "]"))
                chunks.append(String(decoding: chunk, as: UTF8.self))
                chunk = Data("[".utf8)
            }
            if chunk.count > 1 { chunk.append(UInt8(ascii: ",")) }
            chunk.append(encoded)
        }
        if chunk.count > 1 {
            chunk.append(UInt8(ascii: "]"))
            chunks.append(String(decoding: chunk, as: UTF8.self))
        }
        return chunks
    }
}

/// A replica's new receipt as a row of `replicas`, for `json_to_recordset`.
struct ReceiptRow: Encodable {
    var replica: String
    var sequence: Int64
    var last_batch: String
    /// The stored answer, canonical JSON (PROTOCOL.md §6.2: a replay answers it byte for byte).
    var last_response: String
    var principal_id: Int64
    /// Seconds since 1970, read with `to_timestamp`.
    var last_seen: Double

    init(_ receipt: PlannedTransaction.Receipt) throws {
        replica = receipt.replica.description
        sequence = Int64(clamping: receipt.sequence)
        last_batch = receipt.batch.rawValue
        last_response = String(decoding: try CanonicalJSON.encode(receipt.response), as: UTF8.self)
        principal_id = receipt.principalID
        last_seen = receipt.time.timeIntervalSince1970
    }
}

/// A replica's first owner, a row of `replica_owners`.
struct OwnerRow: Encodable {
    var replica: String
    var principal_id: Int64
}

/// A user's server-side replica minted in an epoch, a row of `user_replicas`.
struct MintedRow: Encodable {
    var principal_id: Int64
    var epoch: String
    var replica: String
}

/// One statement made of data-modifying `WITH` parts and a final `SELECT`, with its values bound as
/// parameters (`$1`, `$2`, …), never spliced into the text. Parts run in one snapshot and modify
/// disjoint rows (``PostgresStore/apply(_:_:)``), as PostgreSQL requires of them.
struct GroupStatement {
    private var parts: [String] = []
    private var bindings = PostgresBindings()

    /// Binds `value` and returns its parameter's name.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    /// Binds `rows` as the JSON text `json_to_recordset` reads and returns its parameter's name.
    mutating func json(_ rows: some Encodable) throws -> String {
        bind(try WrittenRecords.json(rows))
    }

    /// Adds a `name AS (…)` part.
    mutating func add(_ part: String) {
        parts.append(part)
    }

    /// The statement ending with `select`.
    func query(select: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: parts.isEmpty ? select : "WITH " + parts.joined(separator: ",\n") + "\n" + select, binds: bindings)
    }
}
