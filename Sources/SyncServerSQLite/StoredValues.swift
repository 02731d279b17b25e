import Foundation
import GRDB
import SyncCore
import SyncServer

// Reading back what the store wrote. The file may have been written by another program (a
// restored backup, a hand edit, a damaged disk), so nothing read from it may trap the process:
// GRDB's `row["column"]` subscript traps on NULL or a value of the wrong type, and decoding
// errors of stored JSON would otherwise reach the client as its own mistake (400). Everything
// here throws `StoreError.damaged` instead, which the server answers 500 and logs.

extension Row {
    /// The column's value as `T` (an optional `T` for a column that may be NULL).
    ///
    /// - Throws: `StoreError.damaged` naming the column when it holds no value of that type.
    func stored<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws -> T {
        do {
            return try decode(T.self, forColumn: column)
        } catch {
            throw StoreError(.damaged, "column \(column) does not hold a \(T.self)")
        }
    }

    /// A stored record: its key, scope and state, each checked as a pushed record would be.
    ///
    /// - Throws: `StoreError.damaged` when any part is not what the server writes.
    func storedRecord() throws -> SyncRecord {
        let key = RecordKey(collection: try stored("collection"), id: try stored("id"))
        do {
            try key.validate()
            return SyncRecord(key: key, scope: try Scope(parsing: try stored("scope")), state: try storedState())
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.damaged, "the stored record \(key.collection)/\(key.id.prefix(128)) cannot be read: \(error)")
        }
    }

    /// The `state` column as a record state.
    func storedState() throws -> RecordState {
        try SQLiteStore.decodeStored(RecordState.self, from: try stored("state", as: String.self))
    }
}

extension SQLiteStore {
    /// Decodes JSON the store wrote.
    ///
    /// - Throws: `StoreError.damaged` when it does not decode.
    static func decodeStored<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        do {
            return try CanonicalJSON.decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError(.damaged, "a stored \(T.self) cannot be read: \(error)")
        }
    }
}
