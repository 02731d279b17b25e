import Foundation
import GRDB
import SyncCore

/// One record as the replica keeps it.
struct TrackedRecord {
    var key: RecordKey
    var scope: Scope
    var state: RecordState
    var serverState: RecordState?
    var dirty: Bool
    var editSeq: Int64
    var rejection: RejectReason?
    var rejectedEditSeq: Int64?

    static func load(_ key: RecordKey, _ db: Database) throws -> TrackedRecord? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM sync_records WHERE collection = ? AND id = ?"),
                arguments: [key.collection, key.id]
            )
        else { return nil }
        return try TrackedRecord(row: row)
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

    /// Reads a `sync_records` row; `columns`, when given, says where its columns are (rows of one
    /// statement), so they are not looked up by name in every row.
    init(row: Row, columns: Columns? = nil) throws {
        func field<T: DatabaseValueConvertible>(_ name: String, _ index: KeyPath<Columns, Int>, as type: T.Type = T.self) throws -> T {
            guard let columns else { return try row.field(name) }
            return try row.field(at: columns[keyPath: index], named: name)
        }
        key = RecordKey(collection: try field("collection", \.collection), id: try field("id", \.id))
        let scopeText: String = try field("scope", \.scope)
        do throws(SyncCoreError) {
            scope = try Scope(parsing: scopeText)
        } catch {
            throw SyncClientError(.integrity, "the database's column scope holds no scope (another program changed it): \(error.message)", cause: error)
        }
        state = try StateColumn.decode(try field("state", \.state, as: String.self))
        serverState = try field("server_state", \.serverState, as: String?.self).map(StateColumn.decode)
        dirty = try field("dirty", \.dirty)
        editSeq = try field("edit_seq", \.editSeq)
        let code = try field("rejected_code", \.rejectedCode, as: String?.self)
        let message = try field("rejected_message", \.rejectedMessage, as: String?.self)
        rejection = code.map { RejectReason(code: RejectCode(rawValue: $0), message: message ?? "") }
        rejectedEditSeq = try field("rejected_edit_seq", \.rejectedEditSeq)
    }

    /// Where the columns ``init(row:columns:)`` reads are in the rows of one statement, found
    /// once: GRDB finds a column by name by lowercasing every column's name, which was a seventh
    /// of building a push.
    struct Columns {
        let collection: Int
        let id: Int
        let scope: Int
        let state: Int
        let serverState: Int
        let dirty: Int
        let editSeq: Int
        let rejectedCode: Int
        let rejectedMessage: Int
        let rejectedEditSeq: Int

        /// The columns of `row`'s statement, found as GRDB finds them (the leftmost of that name,
        /// in any case); `nil` when one is missing, for ``init(row:columns:)`` to say so by name.
        init?(of row: Row) {
            let names: [String] = Array(row.columnNames).map { $0.lowercased() }
            func index(_ name: String) -> Int? { names.firstIndex(of: name) }
            guard let collection = index("collection"), let id = index("id"), let scope = index("scope"), let state = index("state"),
                let serverState = index("server_state"), let dirty = index("dirty"), let editSeq = index("edit_seq"),
                let rejectedCode = index("rejected_code"), let rejectedMessage = index("rejected_message"),
                let rejectedEditSeq = index("rejected_edit_seq")
            else { return nil }
            (self.collection, self.id, self.scope, self.state, self.serverState) = (collection, id, scope, state, serverState)
            (self.dirty, self.editSeq, self.rejectedCode, self.rejectedMessage, self.rejectedEditSeq) = (
                dirty, editSeq, rejectedCode, rejectedMessage, rejectedEditSeq
            )
        }
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
            key.collection, key.id, scope.rawValue, try StateColumn.encode(state), try serverState.map(StateColumn.encode), dirty, editSeq,
            rejection?.code.rawValue, rejection?.message, rejectedEditSeq, rejection?.code.rawValue,
        ])
    }

    /// Whether every answer about this record was a refusal (here or by the server) and no state of
    /// it was ever acknowledged: deleting or discarding it then forgets it, since no server holds
    /// it and none would take a tombstone for it (an id naming another school, a bad id).
    var neverAccepted: Bool { serverState == nil && rejection != nil }

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
    /// - Parameters:
    ///   - key: the record, e.g. `reports` / `qx-zhuoran/2025-S1/qixing-2024.a1.m2`.
    ///   - values: the fields to set; other fields keep their values.
    ///   - scope: where a new record lives; by default the catalog for catalog collections
    ///     and, for school collections, the school named in its `school_id` value or this device's school.
    /// - Throws: ``SyncClientError/Code/refused`` for a conflicted field or an invalid value.
    public func write(_ key: RecordKey, _ values: [String: Value], scope: Scope? = nil) async throws {
        try await write([(key, values)], scope: scope)
    }

    /// Writes several records in one transaction: all of them or none.
    public func write(_ changes: [(RecordKey, [String: Value])], scope: Scope? = nil) async throws {
        try await transaction { db in try self.write(changes, scope: scope, db) }
    }

    /// Writes several records inside the caller's transaction.
    func write(_ changes: [(RecordKey, [String: Value])], scope: Scope?, _ db: Database) throws {
        let replica = try Self.replicaID(db)
        for (key, values) in changes {
            var record =
                try TrackedRecord.load(key, db)
                ?? TrackedRecord(key: key, scope: try scope ?? self.defaultScope(for: key, values: values, db), state: RecordState())
            if let scope, scope != record.scope {
                throw SyncClientError(.refused, "\(key) already lives in \(record.scope), not \(scope)")
            }
            try self.commitEdit(&record, db) { state throws(SyncCoreError) in try state.write(values, by: replica) }
        }
    }

    /// Deletes a record at this replica.
    public func delete(_ key: RecordKey) async throws {
        try await transaction { db in
            guard var record = try TrackedRecord.load(key, db) else {
                throw SyncClientError(.refused, "there is no record \(key) to delete")
            }
            let replica = try Self.replicaID(db)
            try self.commitEdit(&record, db) { state throws(SyncCoreError) in try state.delete(by: replica) }
        }
    }

    /// Discards this device's unsent or rejected edits of a record by writing back what the server
    /// last had (a new write, DESIGN §4 invariant 5). The discard itself is pushed with the next sync.
    /// A record the server never had is forgotten instead; one whose sync data was damaged is
    /// forgotten and pulled again from the server.
    public func discard(_ key: RecordKey) async throws {
        try await transaction { db in
            let loaded: TrackedRecord?
            do {
                loaded = try TrackedRecord.load(key, db)
            } catch {
                // Its server copy, if any, must come back, and the server skips echoes of what this
                // replica pushed: the next sync (under the sync lock) takes a new replica id and pulls
                // everything again with nothing skipped.
                try self.forget(key, shown: RecordState(), db)
                try SyncState.update(db) { $0.remintRequested = true }
                return
            }
            guard var record = loaded, record.dirty else {
                throw SyncClientError(.refused, "\(key) has no local changes to discard")
            }
            if (try? key.validate()) == nil || record.neverAccepted {
                try self.forget(key, shown: record.state, db)  // never on any server (see capture)
                return
            }
            let replica = try Self.replicaID(db)
            let previous = record.serverState ?? RecordState()
            record.rejection = nil
            record.rejectedEditSeq = nil
            try self.commitEdit(&record, db) { state throws(SyncCoreError) in try state.revert(to: previous, by: replica) }
        }
    }

    /// Removes a record from its table and from the sync tables.
    private func forget(_ key: RecordKey, shown: RecordState, _ db: Database) throws {
        if let schema = schemas[key.collection] {
            try DomainTables.writeRow(RecordState(), for: key, schema: schema, replacing: shown, in: db)
        }
        try LocalRejection.forget(key, db)
    }

    /// Applies one local edit to a record's state, marks it dirty, saves it and shows it in its table;
    /// a refusal by the engine (a conflicted field, a bad value) becomes a ``SyncClientError``.
    private func commitEdit(_ record: inout TrackedRecord, _ db: Database, _ edit: (inout RecordState) throws(SyncCoreError) -> Void) throws {
        var state = record.state
        do throws(SyncCoreError) {
            try edit(&state)
        } catch {
            throw SyncClientError(.refused, "\(record.key): \(error.message)", cause: error)
        }
        let previous = record.state
        record.edited(to: state)
        try record.save(db)
        try writeDomainRow(record, replacing: previous, db)
    }

    /// A record's state, local flags and the server's reason if it was rejected.
    public func record(_ key: RecordKey) async throws -> LocalRecord? {
        try await transaction { db in try Self.readRecord(key, db) }
    }

    /// Several records as ``record(_:)`` reads each, in one transaction (one snapshot, and one
    /// capture of plain-SQL edits, not one per record: a form of thousands of values reads them
    /// all at once), in the order of `keys`.
    public func records(_ keys: [RecordKey]) async throws -> [LocalRecord?] {
        try await transaction { db in try keys.map { try Self.readRecord($0, db) } }
    }

    private static func readRecord(_ key: RecordKey, _ db: Database) throws -> LocalRecord? {
        do {
            return try TrackedRecord.load(key, db).map(LocalRecord.init)
        } catch {
            // Reading must not fail because of one damaged row: show it as held back, with why.
            let reason = LocalRejection.damaged(error)
            try LocalRejection.mark(key, reason, db)
            return LocalRecord(key: key, scope: .catalog, state: RecordState(), hasLocalChanges: true, rejection: reason)
        }
    }

    // MARK: Plain-SQL edits

    /// Turns every edit other programs made to the domain tables into versioned writes at this
    /// replica. Runs first in every transaction that reads or merges records (``transaction(_:)``).
    ///
    /// A row that cannot become a valid record (an id with a control character, a value no replica
    /// can carry, a record with no school) never stops the capture of the others and never makes a
    /// command fail: it is kept, marked rejected here with its reason (``LocalRejection``), held
    /// back from every push until it is fixed with SQL or discarded, and shown by `status`.
    func captureEdits(_ db: Database) throws {
        // Ids are read as bytes: SQLite keeps whatever bytes another program stored, and reading
        // them as text would repair invalid UTF-8 and cut at a NUL, so a row would be looked up
        // (and its edit lost) under an id it does not have.
        let captured = try Row.fetchAll(db.cachedStatement(sql: "SELECT collection, CAST(id AS BLOB) AS id_bytes FROM sync_captured"))
        guard !captured.isEmpty else { return }
        let replica = try Self.replicaID(db)
        for row in captured {
            let collection = try row.field("collection", as: String.self)
            let bytes = try row.field("id_bytes", as: Data?.self) ?? Data()
            try db.cachedStatement(sql: "DELETE FROM sync_captured WHERE collection = ? AND CAST(id AS BLOB) = ?").execute(arguments: [collection, bytes])
            guard let schema = schemas[collection] else { continue }
            let id = String(decoding: bytes, as: UTF8.self)
            let exact = Data(id.utf8) == bytes && !bytes.contains(0)
            try capture(RecordKey(collection: collection, id: id), idBytes: exact ? nil : bytes, schema: schema, by: replica, db)
        }
    }

    /// - Parameter idBytes: the row's id when it is not valid UTF-8 text (`key.id` is then its
    ///   repaired spelling, under which the record is held back).
    private func capture(_ key: RecordKey, idBytes: Data?, schema: CollectionSchema, by replica: ReplicaID, _ db: Database) throws {
        let shown = try DomainTables.row(for: key, idBytes: idBytes, schema: schema, in: db)
        let stored: TrackedRecord?
        do {
            stored = try TrackedRecord.load(key, db)
        } catch {
            try LocalRejection.markDamaged(key, error, db)
            return
        }
        var problems = shown?.problems ?? []
        if idBytes != nil { problems.append("the id is not valid UTF-8 text") }
        var record: TrackedRecord
        if let stored {
            record = stored
            // A record the server never accepted (held back here, or refused there) takes its
            // scope from the row as it is now: fixing `school_id` is a way out of `scope_denied`.
            if record.serverState == nil, record.rejection != nil, let shown,
                let scope = try? defaultScope(for: key, values: shown.values, db)
            {
                record.scope = scope  // a row fixed after it was rejected here: it may now name its school
            }
        } else {
            guard let shown else { return }  // inserted and deleted again before capture: nothing happened
            do {
                record = TrackedRecord(key: key, scope: try defaultScope(for: key, values: shown.values, db), state: RecordState())
            } catch {
                problems.append("\(error)")
                // Never pushed while rejected; the placeholder scope is replaced once the row is fixed.
                record = TrackedRecord(key: key, scope: .catalog, state: RecordState())
            }
        }
        var state = record.state
        if let shown {
            let isNew = state.isEmpty || state.isDeleted
            var changes: [String: Value] = [:]
            for (name, value) in shown.values {
                guard state.fields[name]?.isConflicted != true else { continue }
                do throws(SyncCoreError) {
                    try value.validate()
                } catch {
                    problems.append("\(name): \(error.message)")
                    continue
                }
                let current = state.isDeleted ? nil : state.fields[name]?.settledValue
                if current ?? .null != value, !(isNew && value == .null) { changes[name] = value }
            }
            guard !changes.isEmpty || isNew || !problems.isEmpty || record.rejection.map(LocalRejection.isLocal) == true else { return }
            if !changes.isEmpty || isNew {
                do throws(SyncCoreError) {
                    try state.write(changes, by: replica)
                } catch {
                    problems.append(error.message)
                }
            }
        } else {
            guard !state.isEmpty, !state.isDeleted else { return }
            if idBytes != nil || (try? key.validate()) == nil || record.neverAccepted {
                // No server can hold a record under this id: deleting the row forgets it (the way
                // out of a bad id). A valid id gets a tombstone instead — even one this database
                // believes unsent may be on the server (a push whose answer was lost, a restored copy).
                try LocalRejection.forget(key, db)
                return
            }
            do throws(SyncCoreError) {
                try state.delete(by: replica)
            } catch {
                problems.append(error.message)
            }
        }
        do throws(SyncCoreError) {
            try key.validate()
        } catch {
            problems.append(error.message)
        }
        record.edited(to: state)
        if problems.isEmpty {
            if record.rejection.map(LocalRejection.isLocal) == true { record.rejection = nil }
        } else {
            record.rejection = LocalRejection.invalidRow(key, problems: problems)
            record.rejectedEditSeq = record.editSeq
        }
        try record.save(db)
    }

    /// Where a new record lives when nobody said.
    func defaultScope(for key: RecordKey, values: [String: Value], _ db: Database) throws -> Scope {
        guard let schema = schemas[key.collection] else {
            throw SyncClientError(.usage, "this replica has no collection '\(key.collection)'")
        }
        if schema.scopeKind == .catalog { return .catalog }
        if case .string(let school)? = values["school_id"], let scope = try? Scope.school(school) { return scope }
        guard let school = try SyncState.read(db).schoolID, let scope = try? Scope.school(school) else {
            throw SyncClientError(.usage, "\(key) belongs to a school, but this device has none and the record names none in school_id")
        }
        return scope
    }

    /// Shows a record's state in its table; `previous` is the state shown until now.
    func writeDomainRow(_ record: TrackedRecord, replacing previous: RecordState, _ db: Database) throws {
        guard let schema = schemas[record.key.collection] else { return }
        try DomainTables.writeRow(record.state, for: record.key, schema: schema, replacing: previous, in: db)
    }
}

/// A record as an application sees it.
public struct LocalRecord: Sendable {
    /// The record's collection and id.
    public var key: RecordKey
    /// Where the record lives: `catalog`, or `school:<id>` for a school's records (PROTOCOL.md §5).
    public var scope: Scope
    /// The merged state.
    public var state: RecordState
    /// Whether it has changes the server has not acknowledged.
    public var hasLocalChanges: Bool
    /// Why the server last rejected it, if it did.
    public var rejection: RejectReason?

    init(key: RecordKey, scope: Scope, state: RecordState, hasLocalChanges: Bool, rejection: RejectReason?) {
        self.key = key
        self.scope = scope
        self.state = state
        self.hasLocalChanges = hasLocalChanges
        self.rejection = rejection
    }

    init(_ record: TrackedRecord) {
        key = record.key
        scope = record.scope
        state = record.state
        hasLocalChanges = record.dirty
        rejection = record.rejection
    }
}
