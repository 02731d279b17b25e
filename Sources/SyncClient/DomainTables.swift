import Foundation
import GRDB
import SyncCore

/// The ordinary SQL tables that show records to people and other programs, and the triggers that
/// catch their edits.
enum DomainTables {
    /// Creates the table (adding columns a newer schema has), and re-creates its triggers.
    static func install(_ schema: CollectionSchema, in db: Database) throws {
        let table = schema.name.quotedDatabaseIdentifier
        let columns = schema.columns.map { "\($0.name.quotedDatabaseIdentifier) \(sqlType($0.type))" }
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS \(table) (id TEXT PRIMARY KEY NOT NULL\(columns.map { ", " + $0 }.joined()))")
        let existing = Set(try db.columns(in: schema.name).map(\.name))
        for column in schema.columns where !existing.contains(column.name) {
            try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN \(column.name.quotedDatabaseIdentifier) \(sqlType(column.type))")
        }
        let name = schema.name
        let literal = "'\(name)'"
        // A missing control row (another program deleted it) means "capture": edits are never
        // dropped because the flag cannot be read.
        let notApplying = "COALESCE((SELECT applying FROM sync_control WHERE id = 1), 0) = 0"
        for suffix in ["insert", "update", "delete", "guard_insert", "guard_update", "guard_delete"] {
            try db.execute(sql: "DROP TRIGGER IF EXISTS \("sync_\(name)_\(suffix)".quotedDatabaseIdentifier)")
        }
        try db.execute(
            sql: """
                CREATE TRIGGER \("sync_\(name)_insert".quotedDatabaseIdentifier) AFTER INSERT ON \(table) WHEN \(notApplying)
                BEGIN INSERT INTO sync_captured (collection, id) VALUES (\(literal), NEW.id) ON CONFLICT DO NOTHING; END;
                CREATE TRIGGER \("sync_\(name)_update".quotedDatabaseIdentifier) AFTER UPDATE ON \(table) WHEN \(notApplying)
                BEGIN
                    INSERT INTO sync_captured (collection, id) VALUES (\(literal), OLD.id) ON CONFLICT DO NOTHING;
                    INSERT INTO sync_captured (collection, id) VALUES (\(literal), NEW.id) ON CONFLICT DO NOTHING;
                END;
                CREATE TRIGGER \("sync_\(name)_delete".quotedDatabaseIdentifier) AFTER DELETE ON \(table) WHEN \(notApplying)
                BEGIN INSERT INTO sync_captured (collection, id) VALUES (\(literal), OLD.id) ON CONFLICT DO NOTHING; END;
                """
        )
        // A conflicted column never takes a plain edit, and a record in edit-vs-delete conflict takes none at all.
        let deleteConflict = "EXISTS (SELECT 1 FROM sync_conflicts WHERE collection = \(literal) AND id = OLD.id AND delete_conflict = 1)"
        // An id must be text without NUL: GRDB, SQLite's text functions and every replica read ids as
        // text, and a BLOB or NUL id could never be synced, shown or even deleted by its key.
        let idGuard =
            "SELECT RAISE(ABORT, 'the id of a \(name) row must be text without NUL characters') WHERE typeof(NEW.id) != 'text' OR instr(CAST(NEW.id AS BLOB), x'00') > 0;"
        var guards = [
            idGuard,
            "SELECT RAISE(ABORT, 'this \(name) record was deleted on one device and edited on another; an administrator must resolve it first') WHERE \(deleteConflict);",
        ]
        for column in schema.columns {
            let field = column.name.quotedDatabaseIdentifier
            guards.append(
                """
                SELECT RAISE(ABORT, '\(column.name) of this \(name) record holds conflicting values; resolve the conflict instead of editing it')
                WHERE NEW.\(field) IS NOT OLD.\(field)
                AND EXISTS (SELECT 1 FROM sync_conflict_fields WHERE collection = \(literal) AND id = OLD.id AND field = '\(column.name)');
                """
            )
        }
        try db.execute(
            sql: """
                CREATE TRIGGER \("sync_\(name)_guard_insert".quotedDatabaseIdentifier) BEFORE INSERT ON \(table) WHEN \(notApplying)
                BEGIN \(idGuard) END;
                CREATE TRIGGER \("sync_\(name)_guard_update".quotedDatabaseIdentifier) BEFORE UPDATE ON \(table) WHEN \(notApplying)
                BEGIN \(guards.joined(separator: "\n")) END;
                CREATE TRIGGER \("sync_\(name)_guard_delete".quotedDatabaseIdentifier) BEFORE DELETE ON \(table) WHEN \(notApplying)
                BEGIN
                    SELECT RAISE(ABORT, 'this \(name) record is in conflict; resolve the conflict instead of deleting it')
                    WHERE EXISTS (SELECT 1 FROM sync_conflicts WHERE collection = \(literal) AND id = OLD.id);
                END;
                """
        )
    }

    static func sqlType(_ type: CollectionSchema.ColumnType) -> String {
        switch type {
        case .text, .json: "TEXT"
        case .integer, .bool: "INTEGER"
        case .real: "REAL"
        }
    }

    /// Shows a record's merged state in its table: settled values in their columns, conflicted
    /// columns NULL (never one value as if settled), deleted records removed.
    /// `previous` is the state shown until now: only a record that was in conflict has conflict
    /// rows to clear.
    static func writeRow(_ state: RecordState, for key: RecordKey, schema: CollectionSchema, replacing previous: RecordState, in db: Database) throws {
        try setApplying(true, db)
        let table = schema.name.quotedDatabaseIdentifier
        if state.isEmpty || state.isDeleted {
            try db.cachedStatement(sql: "DELETE FROM \(table) WHERE id = ?").execute(arguments: [key.id])
        } else {
            let names = schema.columns.map(\.name.quotedDatabaseIdentifier)
            let values: [(any DatabaseValueConvertible)?] = schema.columns.map { column in
                state.fields[column.name]?.settledValue.flatMap { databaseValue($0, as: column.type) }
            }
            let assignments = names.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            try db.cachedStatement(
                sql: """
                    INSERT INTO \(table) (id\(names.map { ", " + $0 }.joined())) VALUES (?\(String(repeating: ", ?", count: names.count)))
                    ON CONFLICT (id) DO UPDATE SET \(assignments.isEmpty ? "id = excluded.id" : assignments)
                    """
            ).execute(arguments: StatementArguments([key.id] + values))
        }
        if previous.isConflicted {
            try db.cachedStatement(sql: "DELETE FROM sync_conflict_fields WHERE collection = ? AND id = ?").execute(arguments: [
                key.collection, key.id,
            ])
        }
        if state.isConflicted {
            let fields = state.conflictingFields
            try db.cachedStatement(
                sql: """
                    INSERT INTO sync_conflicts (collection, id, fields, delete_conflict) VALUES (?, ?, ?, ?)
                    ON CONFLICT (collection, id) DO UPDATE SET fields = excluded.fields, delete_conflict = excluded.delete_conflict
                    """
            ).execute(arguments: [key.collection, key.id, fields.joined(separator: ","), state.isDeleteConflict])
            for field in fields {
                try db.cachedStatement(sql: "INSERT INTO sync_conflict_fields (collection, id, field) VALUES (?, ?, ?)").execute(arguments: [
                    key.collection, key.id, field,
                ])
            }
        } else if previous.isConflicted {
            try db.cachedStatement(sql: "DELETE FROM sync_conflicts WHERE collection = ? AND id = ?").execute(arguments: [key.collection, key.id])
        }
        try setApplying(false, db)
    }

    /// Sets the flag that keeps the engine's own writes from being captured, re-creating the
    /// control row if another program deleted it.
    static func setApplying(_ applying: Bool, _ db: Database) throws {
        try db.cachedStatement(
            sql: "INSERT INTO sync_control (id, applying) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET applying = excluded.applying"
        ).execute(arguments: [applying])
    }

    /// The row as field values, or `nil` if the row does not exist. A column whose stored value
    /// cannot become a field value (a non-finite REAL, a BLOB) is left out and named in `problems`.
    ///
    /// Text is read as its bytes and decoded strictly: a text that is not valid UTF-8, or holds a
    /// NUL, is a problem, never silently repaired or cut short (PROTOCOL.md §2.2 compares bytes).
    ///
    /// - Parameter idBytes: look the row up by these id bytes (an id that is not valid UTF-8).
    static func row(for key: RecordKey, idBytes: Data? = nil, schema: CollectionSchema, in db: Database) throws -> (
        values: [String: Value], problems: [String]
    )? {
        let table = schema.name.quotedDatabaseIdentifier
        let bytesColumns = schema.columns.map { "CAST(\($0.name.quotedDatabaseIdentifier) AS BLOB) AS \("__bytes_\($0.name)".quotedDatabaseIdentifier)" }
        let select = "SELECT *\(bytesColumns.map { ", " + $0 }.joined()) FROM \(table)"
        let found =
            if let idBytes {
                try Row.fetchOne(db, sql: "\(select) WHERE CAST(id AS BLOB) = ?", arguments: [idBytes])
            } else {
                try Row.fetchOne(db, sql: "\(select) WHERE id = ?", arguments: [key.id])
            }
        guard let row = found else { return nil }
        var values: [String: Value] = [:]
        var problems: [String] = []
        for column in schema.columns {
            let stored = row[column.name] as DatabaseValue
            if case .string = stored.storage {
                let bytes = try row.field("__bytes_\(column.name)", as: Data?.self) ?? Data()
                guard let text = String(validating: bytes, as: UTF8.self), !bytes.contains(0) else {
                    problems.append("\(column.name) holds \(bytes.count) bytes that are not valid UTF-8 text (or hold a NUL)")
                    continue
                }
                values[column.name] = .string(text)
                continue
            }
            switch value(stored, as: column.type) {
            case .success(let value): values[column.name] = value
            case .failure(let problem): problems.append("\(column.name) \(problem.message)")
            }
        }
        return (values, problems)
    }

    static func databaseValue(_ value: Value, as type: CollectionSchema.ColumnType) -> (any DatabaseValueConvertible)? {
        switch value {
        case .null: nil
        case .string(let text): text
        case .int(let number): type == .bool ? (number != 0) : number
        case .double(let number): number
        case .bool(let flag): flag
        }
    }

    /// Why a stored SQLite value cannot be a field value.
    struct Unrepresentable: Error {
        var message: String
    }

    /// Converts what plain SQL stored back into a value, keeping its storage class so nothing is
    /// silently coerced: a wrong type reaches the server, which rejects it with a reason. A value
    /// no replica could carry (infinity, NaN, bytes) is refused here instead of turning into
    /// something else.
    static func value(_ stored: DatabaseValue, as type: CollectionSchema.ColumnType) -> Result<Value, Unrepresentable> {
        switch stored.storage {
        case .null: return .success(.null)
        case .int64(let number):
            switch type {
            case .bool: return .success(.bool(number != 0))
            case .real: return .success(.double(Double(number)))
            default: return .success(.int(number))
            }
        case .double(let number):
            do throws(SyncCoreError) {
                return .success(try Value.number(number))
            } catch {
                return .failure(Unrepresentable(message: "holds \(number), which is not a finite number"))
            }
        case .string(let text): return .success(.string(text))
        case .blob(let data): return .failure(Unrepresentable(message: "holds \(data.count) bytes of binary data (a BLOB); store text or a number"))
        }
    }
}
