import Foundation
import PostgresNIO
import SyncCore
import SyncServer

/// The rows a plan's record writes come to, each table's bound as one array per column that a
/// single statement reads with `unnest`: a push of 500 records is a handful of statements, not
/// 2,000, and no row is printed as text or parsed again on either side (arrays travel in
/// PostgreSQL's binary form).
///
/// Rows carry each write's offset in the batch, not its sequence number: the rows are made before
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

    /// `rows` as the JSON text `json_to_recordset` reads (the few, small rows of receipts and owners).
    static func json(_ rows: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
    }

    /// `rows` in runs of at most `maxBytes` by `size` (one row alone may pass it): a statement's
    /// values must stay far below PostgreSQL's 1 GB, and a push of 500 small edits to records near
    /// the 1 MiB state limit carries half a gigabyte of states and twice that of audit views.
    static func chunks<Row>(_ rows: [Row], maxBytes: Int = 16 << 20, size: (Row) -> Int) -> [ArraySlice<Row>] {
        var chunks: [ArraySlice<Row>] = []
        var start = rows.startIndex
        var bytes = 0
        for index in rows.indices {
            let rowBytes = size(rows[index])
            if index > start, bytes + rowBytes > maxBytes {
                chunks.append(rows[start..<index])
                start = index
                bytes = 0
            }
            bytes += rowBytes
        }
        if start < rows.endIndex { chunks.append(rows[start...]) }
        return chunks
    }
}

extension WrittenRecords.RecordRow {
    /// The bytes the row's values take.
    var size: Int { collection.utf8.count + id.utf8.count + scope.utf8.count + state.utf8.count + (pushed_by?.utf8.count ?? 0) + 16 }

    /// `unnest(…) AS w(…)` over `rows`, each column bound to `statement` as one array; a replica
    /// id is never empty, so `''` stands for none (read back with `NULLIF`).
    static func unnest(_ rows: ArraySlice<Self>, into statement: inout GroupStatement) -> String {
        let collections = statement.bind(rows.map(\.collection))
        let ids = statement.bind(rows.map(\.id))
        let scopes = statement.bind(rows.map(\.scope))
        let states = statement.bind(rows.map(\.state))
        let offsets = statement.bind(rows.map(\.offset))
        let conflicted = statement.bind(rows.map(\.conflicted))
        let pushedBy = statement.bind(rows.map { $0.pushed_by ?? "" })
        return """
            unnest(\(collections)::text[], \(ids)::text[], \(scopes)::text[], \(states)::text[], \(offsets)::bigint[], \(conflicted)::boolean[], \(pushedBy)::text[])
                AS w(collection, id, scope, state, "offset", conflicted, pushed_by)
            """
    }
}

extension WrittenRecords.AuditRow {
    /// The bytes the row's values take.
    var size: Int {
        collection.utf8.count + record_id.utf8.count + replica.utf8.count + kind.utf8.count + (before?.utf8.count ?? 0) + after.utf8.count
            + (reason?.utf8.count ?? 0) + 24
    }

    /// `unnest(…) AS w(…)` over `rows`, each column bound to `statement` as one array; a view is
    /// never empty text and a reason has at least one character, so `''` stands for none.
    static func unnest(_ rows: ArraySlice<Self>, into statement: inout GroupStatement) -> String {
        let offsets = statement.bind(rows.map(\.offset))
        let collections = statement.bind(rows.map(\.collection))
        let ids = statement.bind(rows.map(\.record_id))
        let principals = statement.bind(rows.map(\.principal_id))
        let replicas = statement.bind(rows.map(\.replica))
        let times = statement.bind(rows.map(\.at))
        let kinds = statement.bind(rows.map(\.kind))
        let befores = statement.bind(rows.map { $0.before ?? "" })
        let afters = statement.bind(rows.map(\.after))
        let reasons = statement.bind(rows.map { $0.reason ?? "" })
        return """
            unnest(\(offsets)::bigint[], \(collections)::text[], \(ids)::text[], \(principals)::bigint[], \(replicas)::text[], \(times)::double precision[],
                   \(kinds)::text[], \(befores)::text[], \(afters)::text[], \(reasons)::text[])
                AS w("offset", collection, record_id, principal_id, replica, at, kind, before, after, reason)
            """
    }
}

extension WrittenRecords.ConflictRow {
    /// `unnest(…) AS w(…)` over `rows`, each column bound to `statement` as one array.
    static func unnest(_ rows: [Self], into statement: inout GroupStatement) -> String {
        let collections = statement.bind(rows.map(\.collection))
        let ids = statement.bind(rows.map(\.id))
        let scopes = statement.bind(rows.map(\.scope))
        let fields = statement.bind(rows.map(\.fields))
        let deleteConflicts = statement.bind(rows.map(\.delete_conflict))
        let offsets = statement.bind(rows.map(\.since_offset))
        let times = statement.bind(rows.map(\.detected_at))
        return """
            unnest(\(collections)::text[], \(ids)::text[], \(scopes)::text[], \(fields)::text[], \(deleteConflicts)::boolean[], \(offsets)::bigint[], \(times)::double precision[])
                AS w(collection, id, scope, fields, delete_conflict, since_offset, detected_at)
            """
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
