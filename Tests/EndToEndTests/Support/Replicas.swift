import Foundation
import GRDB
import SyncCore
import SyncServer

/// A report narrative a person wrote at a device (or an administrator's resolution), kept to check
/// afterwards that no accepted write was lost (DESIGN §4).
struct NarrativeEdit {
    var device: String
    var reportID: String
    /// The narrative written; unique in a run, so it names the edit.
    var token: String
    /// The narratives the editor saw just before: the values this edit knowingly replaces
    /// (one for a device's edit, every conflicting value for an administrator's resolution).
    var seen: [String]
    var operation: Int
    /// Whether the server acknowledged it: a sync of its device ended with everything pushed after it.
    var confirmed = false
    /// Whether it may be missing for a reason of the test's own (its device was restored from an
    /// older copy of its file before it was pushed).
    var excused = false
}

/// What the end-to-end tests read and write in replica files and check against the server's records.
enum Replicas {
    /// The record states in a SQLite file: a client's `sync_records`, or an SQLite server's `records`;
    /// only those of `scopes` when given.
    static func states(_ path: String, table: String, scopes: Set<String>?) async throws -> [RecordKey: RecordState] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT collection, id, scope, state FROM \(table)") }
        var states: [RecordKey: RecordState] = [:]
        for row in rows {
            let scope: String = row["scope"]
            if let scopes, !scopes.contains(scope) { continue }
            let key = RecordKey(collection: row["collection"], id: row["id"])
            states[key] = try CanonicalJSON.decode(RecordState.self, from: Data((row["state"] as String).utf8))
        }
        return states
    }

    /// The current record states a server store holds, read through the store itself (any engine),
    /// only those of `scopes` when given.
    static func states(of store: any SyncStore, scopes: Set<String>?) async throws -> [RecordKey: RecordState] {
        var states: [RecordKey: RecordState] = [:]
        var after: UInt64 = 0
        while true {
            guard case .page(let page) = try await store.pull(after: after, limit: 500, scopes: nil, replica: nil) else {
                throw ReplicaCheckError("the store refused a pull without a replica")
            }
            for record in page.records where scopes?.contains(record.scope.rawValue) ?? true { states[record.key] = record.state }
            after = page.next
            if !page.more { return states }
        }
    }

    /// The narrative a person at the device sees now (NULL while in conflict or absent).
    static func shownNarrative(_ path: String, reportID: String) async throws -> String? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try await queue.read { db in try String.fetchOne(db, sql: "SELECT narrative FROM reports WHERE id = ?", arguments: [reportID]) }
    }

    /// Sets a report's narrative with plain SQL, as another program would (an upsert of the
    /// domain table); returns the narrative shown before. The replica's triggers refuse the write,
    /// with a `DatabaseError` whose message says so, while the narrative is in conflict.
    static func writeNarrative(
        _ path: String,
        reportID: String,
        school: String,
        measure: String,
        period: String,
        narrative: String
    ) async throws -> String? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try await queue.write { db -> String? in
            let seen = try String.fetchOne(db, sql: "SELECT narrative FROM reports WHERE id = ?", arguments: [reportID])
            try db.execute(
                sql: """
                    INSERT INTO reports (id, school_id, measure_id, period, narrative) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET narrative = excluded.narrative
                    """,
                arguments: [reportID, school, measure, period, narrative]
            )
            return seen
        }
    }

    /// Writes a catalog into an enrolled bureau replica with plain SQL, as another program would:
    /// the measures of plan `qixing-2024`, each assigned to every school. The bureau syncs it next.
    static func writeCatalog(measures: [String], schools: [String], intoReplicaAt path: String) async throws {
        let sql = try DatabaseQueue(path: path)
        defer { try? sql.close() }
        try await sql.write { db in
            for measure in measures {
                try db.execute(sql: "INSERT INTO measures (id, plan_id, title) VALUES (?, 'qixing-2024', ?)", arguments: [measure, "措施 \(measure)"])
                for school in schools {
                    try db.execute(
                        sql: "INSERT INTO assignments (id, school_id, measure_id) VALUES (?, ?, ?)",
                        arguments: ["\(school)/\(measure)", school, measure]
                    )
                }
            }
        }
    }

    /// The edits of `edits` that `server` lost: not excused, their narrative not among the record's
    /// current values, and not knowingly replaced by another edit of `edits` (one that saw it).
    static func lostEdits(_ edits: [NarrativeEdit], server: [RecordKey: RecordState]) -> [NarrativeEdit] {
        edits.filter { edit in
            guard !edit.excused else { return false }
            let kept = server[RecordKey(collection: "reports", id: edit.reportID)]?.fields["narrative"]?.entries.map(\.value) ?? []
            if kept.contains(.string(edit.token)) { return false }
            return !edits.contains { $0.reportID == edit.reportID && $0.seen.contains(edit.token) }
        }
    }
}

/// A check of the end-to-end tests that could not be made as written.
struct ReplicaCheckError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
