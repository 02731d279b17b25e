import Foundation
import GRDB
import SyncCore

/// A push that was built and may have been sent: it is retried with the same batch id until the
/// server answers (PROTOCOL.md §6.1).
struct PendingPush: Sendable {
    let request: PushRequest
    /// Each record's edit counter when the push was built, in request order; a record edited
    /// since stays dirty.
    let editSeqs: [Int64]
    /// `request` in its wire form (canonical JSON), encoded once: saved in `sync_state`, then sent
    /// as it is, where encoding it for each cost a push a tenth of its client CPU.
    let body: Data
    /// Each record's state as its `server_state` column holds it (``StateColumn``), in request
    /// order: cut out of `body`, for the answer, which stores them unless the server's state was
    /// ahead (encoding each again was a third of acknowledging a batch).
    let stateTexts: [String]

    init(request: PushRequest, editSeqs: [Int64]) throws {
        self.request = request
        self.editSeqs = editSeqs
        let encoded = try CanonicalJSON.encodeWithStates(request)
        body = encoded.request
        stateTexts = encoded.states.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Persisted in `sync_state` before it is sent: the request in its wire form, and the counters.
    static func load(_ db: Database) throws -> PendingPush? {
        let state = try SyncState.read(db)
        guard let text = state.pendingPush else { return nil }
        guard let seqsText = state.pendingPushEditSeqs else { return try legacy(text) }
        let request = try CanonicalJSON.decode(PushRequest.self, from: Data(text.utf8))
        let seqs = try CanonicalJSON.decode([Int64].self, from: Data(seqsText.utf8))
        guard seqs.count == request.records.count else {
            throw SyncClientError(
                .integrity,
                "the unanswered push in this database is damaged; run 'schoolsync push' again after 'schoolsync status'"
            )
        }
        return try PendingPush(request: request, editSeqs: seqs)
    }

    /// The form version 0.1 saved, `{"editSeqs":{"<collection>/<id>":n},"request":{…}}`, so an
    /// unanswered push saved before an upgrade is still retried with its batch id.
    private static func legacy(_ text: String) throws -> PendingPush {
        struct Saved: Decodable {
            var request: PushRequest
            var editSeqs: [String: Int64]
        }
        let saved = try CanonicalJSON.decode(Saved.self, from: Data(text.utf8))
        // A record without a counter stays dirty after the answer (no counter is -1) and is offered again.
        let seqs = saved.request.records.map { saved.editSeqs["\($0.key.collection)/\($0.key.id)"] ?? -1 }
        return try PendingPush(request: saved.request, editSeqs: seqs)
    }

    /// The stored push, or `nil` when there is none or it can no longer be read (a record in it
    /// that today's rules refuse, damaged text): such a push is forgotten and the next one is
    /// rebuilt from the dirty marks, which still hold every record it carried. If the server had
    /// applied it, the rebuilt push carries an older receipt and the server answers
    /// `replica_stale`: the replica re-mints and nothing is lost (PROTOCOL.md §6.3).
    static func loadOrForget(_ db: Database) throws -> PendingPush? {
        do {
            return try load(db)
        } catch {
            try clear(db)
            return nil
        }
    }

    func save(_ db: Database) throws {
        let request = String(decoding: body, as: UTF8.self)
        let editSeqs = String(decoding: try CanonicalJSON.encode(editSeqs), as: UTF8.self)
        try SyncState.update(db) { state in
            state.pendingPush = request
            state.pendingPushEditSeqs = editSeqs
        }
    }

    static func clear(_ db: Database) throws {
        try SyncState.update(db) { $0.forgetPendingPush() }
    }
}

/// What one push round did.
public struct PushSummary: Sendable, Hashable {
    /// Records in the batches the server acknowledged.
    public var sent = 0
    /// Records the server answered `applied` or `unchanged` (PROTOCOL.md §6.4).
    public var applied = 0
    /// Records the server answered `conflict`: joined, and now in conflict there.
    public var conflicts = 0
    /// Records the server answered `rejected`; they keep their edits and the reason.
    public var rejected = 0
}

/// What one pulled page did.
public struct PullSummary: Sendable, Hashable {
    /// Records in the pulled pages.
    public var received = 0
    /// Received records whose merged state here changed (their domain rows were rewritten).
    public var changed = 0
    /// Received records that are in conflict after the join.
    public var conflicts = 0
}

extension LocalReplica {
    // MARK: Push

    /// Prepares the push to send next and persists it before anything is sent (PROTOCOL.md §6.1):
    /// the one still unanswered, with its batch id, or a new batch of dirty records under a freshly
    /// minted batch id (skipping records rejected since their last edit), saved in `sync_state`.
    /// `nil` when nothing waits.
    func preparePush(maxRecords: Int) async throws -> PendingPush? {
        try await transaction { db in
            if let pending = try PendingPush.loadOrForget(db) { return pending }
            let settings = try Self.requireSettings(db)
            var records: [TrackedRecord] = []
            // Rows that can never be sent are marked and skipped, so one bad record never stops the
            // others (and a marked row no longer matches the query, so this ends).
            while records.isEmpty {
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT rowid, CAST(id AS BLOB) AS id_bytes, typeof(id) AS id_type, * FROM sync_records
                        WHERE dirty = 1 AND (rejected_edit_seq IS NULL OR rejected_edit_seq != edit_seq)
                        ORDER BY collection, id LIMIT ?
                        """,
                    arguments: [maxRecords]
                )
                guard let first = rows.first else { return nil }
                let columns = TrackedRecord.Columns(of: first)
                for row in rows {
                    let rowid = try row.field("rowid", as: Int64.self)
                    do {
                        let record = try TrackedRecord(row: row, columns: columns)
                        // The answer is matched to this row by its id as text: an id another program
                        // stored as a BLOB, or as bytes that do not read back the same, would never
                        // be acknowledged and would be sent again for ever.
                        guard try row.field("id_type", as: String.self) == "text", try row.field("id_bytes", as: Data?.self) == Data(record.key.id.utf8)
                        else {
                            throw SyncClientError(.integrity, "its id is not stored as text (another program changed the sync tables)")
                        }
                        try Self.checkWireForm(record)
                        records.append(record)
                    } catch let error as SyncClientError where error.code != .integrity {
                        try LocalRejection.mark(rowid: rowid, RejectReason(code: .invalidRecord, message: error.message), db)
                    } catch {
                        try LocalRejection.mark(rowid: rowid, LocalRejection.damaged(error), db)
                    }
                }
            }
            let pending = try PendingPush(
                request: PushRequest(
                    batch: .random(),
                    replica: settings.replica,
                    receipt: settings.receipt,
                    client: "schoolsync/\(SyncClientVersion.current)",
                    records: records.map { SyncRecord(key: $0.key, scope: $0.scope, state: $0.state) }
                ),
                editSeqs: records.map(\.editSeq)
            )
            // Persisted before it is sent, so a crash or a lost answer retries the same batch.
            try pending.save(db)
            return pending
        }
    }

    /// Refuses a record the server's wire rules would refuse, with the same code that checks them
    /// there (SyncCore's decoder), so a bad record is held back alone instead of making the server
    /// refuse the whole batch.
    ///
    /// The server's decoder of a record checks its key (`RecordKey.validate`), parses its scope and
    /// decodes its state. A ``TrackedRecord`` read from its row has had the last two done by that
    /// same code (`Scope(parsing:)`, and ``StateColumn/decode(_:)`` is the wire decoder of a state),
    /// so only the key is left. Encoding the record and decoding it again checked nothing more and
    /// cost a push 40% of its client CPU.
    static func checkWireForm(_ record: TrackedRecord) throws {
        do {
            try record.key.validate()
        } catch {
            throw SyncClientError(.refused, "kept on this device and not sent: the record breaks the protocol's rules (\(error.message)) — fix or delete the row")
        }
    }

    /// Acknowledges a push: applies the server's answer in one transaction. Acknowledged records remember
    /// the state the server now holds and lose their dirty mark unless edited meanwhile; rejected
    /// records keep their edits and the reason.
    func acknowledge(_ pending: PendingPush, with response: PushResponse) async throws -> PushSummary {
        try await transaction { db in
            var summary = PushSummary(sent: pending.request.records.count)
            var pushed: [RecordKey: (state: RecordState, editSeq: Int64, text: String)] = [:]
            for ((record, editSeq), text) in zip(zip(pending.request.records, pending.editSeqs), pending.stateTexts) {
                pushed[record.key] = (record.state, editSeq, text)
            }
            for result in response.results {
                guard let (state, editSeq, stateText) = pushed[result.key] else { continue }
                switch result.status {
                case .applied, .unchanged, .conflict:
                    // Only the server's state and the flags change: the merged state stays as it is.
                    guard
                        let row = try Row.fetchOne(
                            db.cachedStatement(sql: "SELECT server_state FROM sync_records WHERE collection = ? AND id = ?"),
                            arguments: [result.key.collection, result.key.id]
                        )
                    else { continue }
                    let text: String? = (try? row.field("server_state", as: String?.self)) ?? nil
                    let known = text.flatMap { try? StateColumn.decode($0) }
                    let serverState = try known.map { try $0.joined(with: state) } ?? state
                    // Usually the state pushed, its server state having been behind it.
                    let serverText = known == nil || serverState == state ? stateText : try StateColumn.encode(serverState)
                    try db.cachedStatement(
                        sql: """
                            UPDATE sync_records SET server_state = ?, dirty = CASE WHEN edit_seq = ? THEN 0 ELSE dirty END,
                                rejected_code = NULL, rejected_message = NULL, rejected_edit_seq = NULL, rejected_at = NULL
                            WHERE collection = ? AND id = ?
                            """
                    ).execute(arguments: [serverText, editSeq, result.key.collection, result.key.id])
                    if result.status == .conflict { summary.conflicts += 1 } else { summary.applied += 1 }
                case .rejected:
                    guard var record = try? TrackedRecord.load(result.key, db) else { continue }
                    record.rejection = result.reason ?? RejectReason(code: .unspecified, message: "the server rejected this record without saying why")
                    record.rejectedEditSeq = editSeq
                    summary.rejected += 1
                    try record.save(db)
                }
            }
            let now = self.now()
            try SyncState.update(db) { state in
                state.receipt = response.receipt
                state.forgetPendingPush()
                state.lastPushAt = now
            }
            return summary
        }
    }

    /// Forgets an unanswered push that can never succeed as it is (413): its records stay dirty.
    func dropPendingPush() async throws {
        try await transaction { db in try PendingPush.clear(db) }
    }

    /// Holds one record back from the next pushes, with the server's reason, until it changes.
    func holdBack(_ key: RecordKey, _ reason: RejectReason) async throws {
        try await transaction { db in
            guard var record = try? TrackedRecord.load(key, db) else { return }
            record.rejection = reason
            record.rejectedEditSeq = record.editSeq
            try record.save(db)
        }
    }

    // MARK: Pull

    /// The next pull's parameters: the stored cursor, this replica and its receipt.
    func nextPull(limit: Int, wait: Int = 0) async throws -> PullRequest {
        try await snapshot { db in
            let settings = try Self.requireSettings(db)
            return PullRequest(since: settings.cursor, limit: limit, wait: wait, replica: settings.replica, receipt: settings.receipt)
        }
    }

    /// Joins a pulled page and stores its cursor in one transaction (PROTOCOL.md §7.3). Local edits
    /// made with plain SQL are captured first, so a pull never overwrites them.
    func apply(_ page: PullResponse) async throws -> PullSummary {
        try await transaction { db in
            var summary = PullSummary(received: page.records.count)
            for incoming in page.records {
                // A damaged local row cannot be joined; the server's copy replaces it (it held
                // nothing readable, and it was never sent).
                var record =
                    (try? TrackedRecord.load(incoming.key, db)) ?? TrackedRecord(key: incoming.key, scope: incoming.scope, state: RecordState())
                let merged: RecordState
                let serverState: RecordState
                do throws(SyncCoreError) {
                    merged = try record.state.joined(with: incoming.state)
                    serverState = try (record.serverState ?? RecordState()).joined(with: incoming.state)
                } catch {
                    throw SyncClientError(
                        .integrity,
                        "\(incoming.key) from the server contradicts this database (\(error.message)); sync stopped for safety — report this to the bureau",
                        cause: error
                    )
                }
                if serverState != record.serverState, record.rejection.map(LocalRejection.isLocal) != true {
                    // The server's record moved on (e.g. a report was returned): retry a rejected edit.
                    // A record held back here stays so until it is edited.
                    record.rejection = nil
                    record.rejectedEditSeq = nil
                }
                record.serverState = serverState
                let previous = record.state
                record.state = merged
                try record.save(db)
                if merged != previous {
                    summary.changed += 1
                    try self.writeDomainRow(record, replacing: previous, db)
                }
                if merged.isConflicted { summary.conflicts += 1 }
            }
            let now = self.now()
            try SyncState.update(db) { state in
                state.cursor = page.next
                state.epoch = page.epoch
                state.lastPullAt = now
            }
            return summary
        }
    }

    /// The server's store was restored: forget the cursor and receipt, and mark every record dirty
    /// so the next push offers the server everything this replica holds (PROTOCOL.md §7.4).
    func resetForNewEpoch(_ epoch: Epoch) async throws {
        try await transaction { db in try Self.resetForNewEpoch(epoch, db) }
    }

    static func resetForNewEpoch(_ epoch: Epoch, _ db: Database) throws {
        try SyncState.update(db) { state in
            state.epoch = epoch
            state.forgetServerProgress()
        }
        try offerEverything(db)
        // A restored server may have lost files uploaded after its backup: offer each again (a
        // creation for a file it holds answers "finished" at once, PROTOCOL.md §13.2).
        try db.execute(sql: "UPDATE evidence_files SET uploaded_at = NULL, upload_url = NULL WHERE stored = size")
        // The server's reasons no longer hold; this device's own do (only an edit lifts them).
        try db.execute(
            sql: """
                UPDATE sync_records SET rejected_code = NULL, rejected_message = NULL, rejected_edit_seq = NULL, rejected_at = NULL
                WHERE rejected_code NOT IN (?, ?, ?)
                """,
            arguments: StatementArguments(LocalRejection.codes)
        )
    }

    /// Marks every record this replica may write for the next push. A school's device offers its
    /// school's records, not the catalog it may only read (the server would refuse each one).
    static func offerEverything(_ db: Database) throws {
        if let school = try SyncState.read(db).schoolID, let scope = try? Scope.school(school) {
            try db.execute(sql: "UPDATE sync_records SET dirty = 1 WHERE scope = ?", arguments: [scope.rawValue])
        } else {
            try db.execute(sql: "UPDATE sync_records SET dirty = 1")
        }
    }

    /// This database forgot an acknowledged push: take a new replica id and rebuild every record
    /// with unacknowledged edits on the last state the server had, so no forgotten dot is ever
    /// reused (PROTOCOL.md §6.3). Returns the new id.
    func remint() async throws -> ReplicaID {
        try await transaction { db in try self.remint(db) }
    }

    /// Whether a re-mint was asked for outside a sync (discarding a damaged record); clears the request.
    func takeRemintRequest() async throws -> Bool {
        try await transaction { db in
            try SyncState.update(db) { state in
                defer { state.remintRequested = false }
                return state.remintRequested
            }
        }
    }

    func remint(_ db: Database) throws -> ReplicaID {
        let fresh = ReplicaID.random()
        for row in try Row.fetchAll(db, sql: "SELECT * FROM sync_records WHERE dirty = 1") {
            guard var record = try? TrackedRecord(row: row) else { continue }  // damaged: never sent, nothing to rebuild
            let previous = record.state
            let base = record.serverState ?? RecordState()
            do throws(SyncCoreError) {
                record.state = try record.state.rebased(onto: base, by: fresh)
            } catch {
                throw SyncClientError(.refused, "\(record.key) could not be rebuilt under a new replica id: \(error.message)", cause: error)
            }
            try record.save(db)
            try self.writeDomainRow(record, replacing: previous, db)
        }
        try SyncState.update(db) { state in
            state.replica = fresh
            state.forgetServerProgress()
        }
        // The server and this database disagree about what was acknowledged: this one was
        // restored or copied, or the server lost its last commits. Offer everything again;
        // joins make the repeats harmless and nothing the server lacks stays behind.
        try Self.offerEverything(db)
        return fresh
    }

    // MARK: Status

    /// Remembers the outcome of the last sync attempt for `status`.
    func recordOutcome(error: SyncClientError?) async throws {
        try await transaction { db in
            let now = self.now()
            try SyncState.update(db) { state in
                state.lastAttemptAt = now
                state.lastError = error?.message
                state.reachable = error?.code != .unreachable
                if error == nil { state.lastSyncAt = now }
            }
        }
    }

    /// Wall-clock time, for display only: nothing compares it (a device may say 1970 or 2099).
    func now() -> String {
        // The same text as `ISO8601DateFormatter`'s default, without building one (ICU) per call.
        clock().ISO8601Format()
    }
}

extension LocalReplica {
    func hasPendingPush() async throws -> Bool {
        try await snapshot { db in try SyncState.read(db).pendingPush != nil }
    }

    func pendingCount() async throws -> Int {
        try await transaction { db in
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_records WHERE dirty = 1") ?? 0
        }
    }
}
