import Foundation
import GRDB
import SyncCore

/// One record as the replica keeps it.
struct StoredRecord {
    var key: RecordKey
    var scope: Scope
    var state: RecordState
    var serverState: RecordState?
    var dirty: Bool
    var editSeq: Int64
    var rejection: RejectReason?
    var rejectedEditSeq: Int64?

    static func load(_ key: RecordKey, _ db: Database) throws -> StoredRecord? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM sync_records WHERE collection = ? AND id = ?"),
                arguments: [key.collection, key.id]
            )
        else { return nil }
        return try StoredRecord(row: row)
    }

    init(key: RecordKey, scope: Scope, state: RecordState) {
        self.key = key
        self.scope = scope
        self.state = state
        serverState = nil
        dirty = false
        editSeq = 0
        rejection = nil
        rejectedEditSeq = nil
    }

    init(row: Row) throws {
        key = RecordKey(collection: row["collection"], id: row["id"])
        scope = try Scope(parsing: row["scope"])
        state = try CanonicalJSON.decode(RecordState.self, from: Data((row["state"] as String).utf8))
        serverState = try (row["server_state"] as String?).map { try CanonicalJSON.decode(RecordState.self, from: Data($0.utf8)) }
        dirty = row["dirty"]
        editSeq = row["edit_seq"]
        let code: String? = row["rejected_code"]
        rejection = code.map { RejectReason(code: $0, message: row["rejected_message"] ?? "") }
        rejectedEditSeq = row["rejected_edit_seq"]
    }

    func save(_ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO sync_records (collection, id, scope, state, server_state, dirty, edit_seq, rejected_code, rejected_message, rejected_edit_seq, rejected_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? IS NULL THEN NULL ELSE CURRENT_TIMESTAMP END)
                ON CONFLICT (collection, id) DO UPDATE SET
                    scope = excluded.scope, state = excluded.state, server_state = excluded.server_state, dirty = excluded.dirty,
                    edit_seq = excluded.edit_seq, rejected_code = excluded.rejected_code, rejected_message = excluded.rejected_message,
                    rejected_edit_seq = excluded.rejected_edit_seq,
                    rejected_at = CASE WHEN excluded.rejected_code IS NULL THEN NULL ELSE COALESCE(rejected_at, excluded.rejected_at) END
                """
        ).execute(arguments: [
            key.collection, key.id, scope.rawValue, try Self.text(state), try serverState.map(Self.text), dirty, editSeq,
            rejection?.code, rejection?.message, rejectedEditSeq, rejection?.code,
        ])
    }

    static func text(_ state: RecordState) throws -> String {
        String(decoding: try CanonicalJSON.encode(state), as: UTF8.self)
    }

    /// Records a local edit: the state changed here and must be pushed.
    mutating func edited(to state: RecordState) {
        self.state = state
        dirty = true
        editSeq += 1
    }
}

extension LocalReplica {
    // MARK: Edits through the library

    /// Writes fields of a record at this replica and shows the result in its table.
    ///
    /// - Parameter scope: where a new record lives; by default the catalog for catalog collections
    ///   and, for school collections, the school named in its `school_id` value or this device's school.
    /// - Throws: ``SyncClientError/Code/refused`` for a conflicted field or an invalid value.
    public func write(_ key: RecordKey, _ values: [String: Value], scope: Scope? = nil) async throws {
        try await write([(key, values)], scope: scope)
    }

    /// Writes several records in one transaction: all of them or none.
    public func write(_ changes: [(RecordKey, [String: Value])], scope: Scope? = nil) async throws {
        try await pool.write { db in
            try self.captureEdits(db)
            let replica = try Self.replicaID(db)
            for (key, values) in changes {
                var record =
                    try StoredRecord.load(key, db)
                    ?? StoredRecord(key: key, scope: try scope ?? self.defaultScope(for: key, values: values, db), state: RecordState())
                if let scope, scope != record.scope {
                    throw SyncClientError(.refused, "\(key) already lives in \(record.scope), not \(scope)")
                }
                try self.commitEdit(&record, db) { state throws(SyncCoreError) in try state.write(values, by: replica) }
            }
        }
    }

    /// Deletes a record at this replica.
    public func delete(_ key: RecordKey) async throws {
        try await pool.write { db in
            try self.captureEdits(db)
            guard var record = try StoredRecord.load(key, db) else {
                throw SyncClientError(.refused, "there is no record \(key) to delete")
            }
            let replica = try Self.replicaID(db)
            try self.commitEdit(&record, db) { state throws(SyncCoreError) in try state.delete(by: replica) }
        }
    }

    /// Discards this device's unsent or rejected edits of a record by writing back what the server
    /// last had (a new write, DESIGN §4 invariant 5). The discard itself is pushed with the next sync.
    public func discard(_ key: RecordKey) async throws {
        try await pool.write { db in
            try self.captureEdits(db)
            guard var record = try StoredRecord.load(key, db), record.dirty else {
                throw SyncClientError(.refused, "\(key) has no local changes to discard")
            }
            let replica = try Self.replicaID(db)
            let previous = record.serverState ?? RecordState()
            record.rejection = nil
            record.rejectedEditSeq = nil
            try self.commitEdit(&record, db) { state throws(SyncCoreError) in try state.revert(to: previous, by: replica) }
        }
    }

    /// Applies one local edit to a record's state, marks it dirty, saves it and shows it in its table;
    /// a refusal by the engine (a conflicted field, a bad value) becomes a ``SyncClientError``.
    private func commitEdit(_ record: inout StoredRecord, _ db: Database, _ edit: (inout RecordState) throws(SyncCoreError) -> Void) throws {
        var state = record.state
        do throws(SyncCoreError) {
            try edit(&state)
        } catch {
            throw SyncClientError(.refused, "\(record.key): \(error.message)", cause: error)
        }
        let previous = record.state
        record.edited(to: state)
        try record.save(db)
        try show(record, replacing: previous, db)
    }

    /// A record's state, local flags and the server's reason if it was rejected.
    public func record(_ key: RecordKey) async throws -> LocalRecord? {
        try await pool.write { db in
            try self.captureEdits(db)
            return try StoredRecord.load(key, db).map(LocalRecord.init)
        }
    }

    // MARK: Plain-SQL edits

    /// Turns every edit other programs made to the domain tables into versioned writes at this
    /// replica. Runs first in every transaction that reads or merges records.
    func captureEdits(_ db: Database) throws {
        let captured = try Row.fetchAll(db.cachedStatement(sql: "SELECT collection, id FROM sync_captured"))
        guard !captured.isEmpty else { return }
        let replica = try Self.replicaID(db)
        for row in captured {
            let key = RecordKey(collection: row["collection"], id: row["id"])
            try db.cachedStatement(sql: "DELETE FROM sync_captured WHERE collection = ? AND id = ?").execute(arguments: [key.collection, key.id])
            guard let schema = schemas[key.collection] else { continue }
            let shown = try DomainTables.row(for: key, schema: schema, in: db)
            let stored = try StoredRecord.load(key, db)
            var record = try stored ?? StoredRecord(key: key, scope: defaultScope(for: key, values: shown ?? [:], db), state: RecordState())
            var state = record.state
            do throws(SyncCoreError) {
                if let shown {
                    let isNew = state.isEmpty || state.isDeleted
                    var changes: [String: Value] = [:]
                    for (name, value) in shown {
                        guard state.fields[name]?.isConflicted != true else { continue }
                        let current = state.isDeleted ? nil : state.fields[name]?.settledValue
                        if current ?? .null != value, !(isNew && value == .null) { changes[name] = value }
                    }
                    guard !changes.isEmpty || isNew else { continue }
                    try state.write(changes, by: replica)
                } else {
                    guard !state.isEmpty, !state.isDeleted else { continue }
                    try state.delete(by: replica)
                }
            } catch {
                throw SyncClientError(.refused, "an edit of \(key) made outside SchoolSync could not be recorded: \(error.message)", cause: error)
            }
            record.edited(to: state)
            try record.save(db)
        }
    }

    /// Where a new record lives when nobody said.
    func defaultScope(for key: RecordKey, values: [String: Value], _ db: Database) throws -> Scope {
        guard let schema = schemas[key.collection] else {
            throw SyncClientError(.usage, "this replica has no collection '\(key.collection)'")
        }
        if schema.scopeKind == .catalog { return .catalog }
        if case .string(let school)? = values["school_id"], let scope = try? Scope.school(school) { return scope }
        guard let school = try Meta.get("school_id", db), let scope = try? Scope.school(school) else {
            throw SyncClientError(.usage, "\(key) belongs to a school, but this device has none and the record names none in school_id")
        }
        return scope
    }

    /// Shows a record's state in its table; `previous` is the state shown until now.
    func show(_ record: StoredRecord, replacing previous: RecordState, _ db: Database) throws {
        guard let schema = schemas[record.key.collection] else { return }
        try DomainTables.show(record.state, for: record.key, schema: schema, replacing: previous, in: db)
    }
}

/// A record as an application sees it.
public struct LocalRecord: Sendable {
    public var key: RecordKey
    public var scope: Scope
    /// The merged state.
    public var state: RecordState
    /// Whether it has changes the server has not acknowledged.
    public var hasLocalChanges: Bool
    /// Why the server last rejected it, if it did.
    public var rejection: RejectReason?

    init(_ record: StoredRecord) {
        key = record.key
        scope = record.scope
        state = record.state
        hasLocalChanges = record.dirty
        rejection = record.rejection
    }
}
