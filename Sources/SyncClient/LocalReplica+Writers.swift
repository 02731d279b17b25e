import Foundation
import GRDB
import SyncCore

// Who writes under each replica id: a value's dot names only a replica (PROTOCOL.md §2.3), and the
// server tells a school's device which device owns each of its school's replicas
// (`GET /v1/school/replicas`, §12). The replica keeps the names in `sync_writers`, so a field in
// conflict can show its values side by side with who wrote them (§3.4), offline too.

extension LocalReplica {
    /// Keeps the names of the devices that write under the school's replicas, as
    /// ``HTTPSyncTransport/schoolReplicas()`` gave them, in one transaction.
    ///
    /// A replica already known takes the new name; replicas not in `writers` keep theirs, so an empty
    /// answer (a server without the endpoint) forgets nothing. An entry whose replica is not a
    /// replica id (32 lowercase hexadecimal digits) is left out: no dot could name it.
    ///
    /// - Parameter writers: replicas and the names of the devices that own them.
    /// - Throws: ``SyncClientError/Code/storage`` or ``SyncClientError/Code/busy`` when the database
    ///   cannot be written; nothing is kept then.
    public func rememberWriters(_ writers: [SchoolReplicas.Writer]) async throws {
        let rows = writers.compactMap { writer in
            (try? ReplicaID(parsing: writer.replica)).map { ($0.description, writer.name) }
        }
        try await transaction { db in
            // Another program may have dropped the table; it is only a cache of the server's answer.
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS sync_writers (replica TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL) WITHOUT ROWID")
            // By the text of the replica, so a row another program stored as bytes is replaced too.
            let delete = try db.cachedStatement(sql: "DELETE FROM sync_writers WHERE CAST(replica AS TEXT) = ?")
            let insert = try db.cachedStatement(sql: "INSERT INTO sync_writers (replica, name) VALUES (?, ?)")
            for (replica, name) in rows {
                try delete.execute(arguments: [replica])
                try insert.execute(arguments: [replica, name])
            }
        }
    }

    /// The names of the devices that write under this school's replicas: replica id (its text, as
    /// in a dot) → device name, as ``rememberWriters(_:)`` kept them; empty before the first.
    ///
    /// Whatever another program stored in `sync_writers` is read without failing: bytes or numbers
    /// are read as text, and a row without a replica or a name is left out.
    ///
    /// - Throws: ``SyncClientError/Code/storage`` or ``SyncClientError/Code/busy`` when the database
    ///   cannot be read.
    public func writerNames() async throws -> [String: String] {
        try await snapshot { db in
            guard try db.tableExists("sync_writers") else { return [:] }
            var names: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT CAST(replica AS TEXT) AS replica, CAST(name AS TEXT) AS name FROM sync_writers") {
                guard let replica = try row.field("replica", as: String?.self), let name = try row.field("name", as: String?.self) else { continue }
                names[replica] = name
            }
            return names
        }
    }
}
