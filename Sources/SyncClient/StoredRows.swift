import Foundation
import GRDB
import SyncCore

// The sync tables live in an ordinary SQLite file that other programs can write, so nothing read
// back from them may trap the process: GRDB's `row["column"]` subscript traps on NULL or a value
// of the wrong type. Reads of sync tables go through `field`, which throws instead; a record that
// cannot be read is then held back as damaged, and display paths read text with CAST, which never
// fails (SQLite returns the bytes as text; invalid UTF-8 is shown repaired).

extension Row {
    /// The column's value as `T` (an optional `T` for a column that may be NULL).
    ///
    /// - Throws: ``SyncClientError/Code/integrity`` naming the column when it holds no value of that type.
    func field<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws -> T {
        do {
            return try decode(T.self, forColumn: column)
        } catch {
            throw SyncClientError(.integrity, "the database's column \(column) does not hold a \(T.self) (another program changed it)")
        }
    }

    /// The value at `index`, the column `column`, as `T`: ``field(_:as:)`` for a caller that found the column already.
    ///
    /// - Throws: ``SyncClientError/Code/integrity`` naming the column when it holds no value of that type.
    func field<T: DatabaseValueConvertible>(at index: Int, named column: String, as type: T.Type = T.self) throws -> T {
        do {
            return try decode(T.self, atIndex: index)
        } catch {
            throw SyncClientError(.integrity, "the database's column \(column) does not hold a \(T.self) (another program changed it)")
        }
    }
}

/// The one codec of the `state` and `server_state` columns of `sync_records`: a record state as
/// canonical JSON text, its wire form, so what the replica stores is what it sends.
enum StateColumn {
    /// - Throws: ``SyncClientError/Code/integrity`` when another program wrote something that is not
    ///   a state (a typed error, as ``Row/field(_:as:)`` throws, so a write over such a record is
    ///   refused with what to do rather than failing with a decoder's error); callers that read
    ///   hold such a record back as `damaged`.
    static func decode(_ text: String) throws -> RecordState {
        do {
            return try CanonicalJSON.decode(RecordState.self, from: Data(text.utf8))
        } catch {
            throw SyncClientError(.integrity, "the sync data of a record in the database cannot be read (another program changed it: \(error))", cause: error)
        }
    }

    static func encode(_ state: RecordState) throws -> String {
        String(decoding: try CanonicalJSON.encode(state), as: UTF8.self)
    }
}
