import Foundation
import Logging
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// Checks the push's replica, receipt and batch id (PROTOCOL.md §5 "Ownership", §6.2, §6.3), then
    /// joins its records (§6.2) and writes their change-log entries and the new receipt, in one
    /// transaction holding the locks of the replica and the batch's scopes. Pushes that arrive
    /// meanwhile share the transaction and its commit (``PushGroups``), each with its own outcome.
    ///
    /// - Returns: `.accepted` with the answer and how many records changed, `.replayed` with the stored
    ///   answer of the same batch, or why the push may not be joined.
    /// - Throws: ``StoreError`` `.damaged` when stored data cannot be read; postgres-nio's `PSQLError`
    ///   (a lock wait past the lock timeout is answered 503 `unavailable`).
    public func push(_ request: PushRequest, by principal: Principal, rules: CollectionRules, at time: Date) async throws -> PushOutcome {
        // Only scopes this principal may write: a record for any other is refused unread.
        var claims: Set<PushGroups.Claim> = [.replica(request.replica)]
        for scope in request.records.map(\.scope) where principal.canWrite(scope) { claims.insert(.scope(scope)) }
        if !rules.appliesDomainRules {
            for record in request.records { claims.insert(.record(record.key)) }
        }
        return try await pushGroups.push(request, by: principal, rules: rules, at: time, claims: claims) { [self] jobs in
            await storeGroup(jobs)
        }
    }

    /// Stores a group of pushes that share no replica and no scope, in one transaction: their locks
    /// in one statement, their replicas and records in one read each, each push's plan made alone
    /// (a push that fails takes nothing of the others with it), and every plan written in one
    /// statement that takes the group's sequence numbers (``apply(_:_:)``).
    ///
    /// - Returns: each push's outcome, in order; every push fails with the transaction's error when
    ///   the database fails (nothing of the group is stored then).
    func storeGroup(_ jobs: [PushGroups.Job]) async -> [Result<PushOutcome, any Error>?] {
        let epoch = self.epoch
        do {
            return try await write { connection in
                // Alone, a push waits for its locks; in a group, each push only tries its own, and
                // one whose lock another transaction holds goes again alone (``PushGroups``).
                let locked: [Bool]
                if jobs.count == 1 {
                    try await Self.lock(replicas: [jobs[0].request.replica], scopes: jobs[0].claims.scopes, connection, logger)
                    locked = [true]
                } else {
                    locked = try await Self.tryLocks(jobs.map(\.claims), connection, logger)
                }
                let stored = zip(jobs, locked).filter(\.1).map(\.0)
                let fetched = PlannedTransaction()
                try await fetchReplicas(stored.map(\.request.replica), into: fetched, connection)
                try await fetchRecords(Set(stored.flatMap { $0.request.records.map(\.key) }), into: fetched, connection)
                var results: [Result<PushOutcome, any Error>?] = []
                var plans: [PlannedTransaction] = []
                for (job, isLocked) in zip(jobs, locked) {
                    guard isLocked else {
                        results.append(nil)
                        continue
                    }
                    let plan = fetched.sharingFetched()
                    do {
                        let outcome = try await runPlanned(plan, connection) {
                            try StoreAlgorithms.push(job.request, by: job.principal, rules: job.rules, epoch: epoch, at: job.time, in: plan)
                        }
                        plans.append(plan)
                        results.append(.success(outcome))
                    } catch let error as PSQLError {
                        // The transaction is aborted: nothing of the group can be stored.
                        throw error
                    } catch {
                        results.append(.failure(error))
                    }
                }
                try await apply(plans, connection)
                return results
            }
        } catch {
            return jobs.map { _ in .failure(error) }
        }
    }

    /// A page of the records in `scopes` (`nil`: every scope) changed after sequence number `seq`, in
    /// one snapshot (PROTOCOL.md §7.2): at most `limit` records, ending after the record whose state
    /// takes the page past 8 MiB. With `replica`, its receipt is checked first (§6.3) unless this
    /// request checked it already, and the states it pushed are left out (§7.2).
    ///
    /// - Throws: ``StoreError`` `.damaged` when stored data cannot be read; postgres-nio's `PSQLError`.
    public func pull(after seq: UInt64, limit: Int, scopes: [Scope]?, replica: PullingReplica?) async throws -> PullOutcome {
        let epoch = self.epoch
        return try await read { connection in
            let echoesOf: ReplicaID?
            let plan = PlannedTransaction()
            if case .verify(let check)? = replica { try await fetchReplica(check.replica, into: plan, connection) }
            switch try StoreAlgorithms.checkPull(replica, epoch: epoch, in: plan) {
            case .answer(let outcome): return outcome
            case .proceed(let replica): echoesOf = replica
            }
            // The head first: in this snapshot every sequence number up to it is committed, and
            // none below it can commit later (log_head's lock orders the commits).
            let head = try await head(connection)
            let after = Int64(clamping: seq)
            let echo = echoesOf?.description ?? ""
            let scopeNames = scopes?.map(\.rawValue) ?? []
            let everyScope = scopes == nil
            let rows = try await connection.execute(
                Prepared.Page(
                    after: after, head: Int64(clamping: head), echo: echo, everyScope: everyScope, scopes: scopeNames, limit: Int64(limit) + 1
                ),
                logger: logger
            )
            var page: [SyncRecord] = []
            var lastSeq: Int64 = 0
            var bytes = 0
            var more = false
            for try await (collection, id, scope, state, rowSeq) in rows {
                // A page ends at `limit` records or after the record that takes it past the byte
                // budget (PROTOCOL.md §7.2), so large records cannot make one answer huge.
                if page.count >= limit || (!page.isEmpty && bytes >= Self.pageByteBudget) {
                    more = true
                    break
                }
                page.append(try Self.storedRecord(collection: collection, id: id, scope: scope, state: state))
                bytes += state.utf8.count
                lastSeq = rowSeq
            }
            if more {
                return .page(PullPage(records: page, next: try Self.sequence(lastSeq), more: true, head: head))
            }
            return .page(PullPage(records: page, next: max(head, seq), more: false, head: head))
        }
    }

    /// The current states of every record in `collections`, by collection and id (bytewise); with a
    /// `period`, the records of `periodCollections` only where their id holds `/<period>/`.
    ///
    /// - Throws: ``StoreError`` `.damaged` when a stored record cannot be read; postgres-nio's `PSQLError`.
    public func records(in collections: [String], periodCollections: Set<String>, period: String?) async throws -> [SyncRecord] {
        let whole = collections.filter { period == nil || !periodCollections.contains($0) }
        let ofPeriod = period == nil ? [] : collections.filter { periodCollections.contains($0) }
        let marker = period.map { "/\($0)/" } ?? ""
        return try await read { connection in
            // strpos, not LIKE: a period is matched as text, whatever characters it holds.
            let rows = try await connection.query(
                """
                SELECT collection, id, scope, state FROM records
                WHERE collection = ANY(\(whole)::text[]) OR (collection = ANY(\(ofPeriod)::text[]) AND strpos(id, \(marker)) > 0)
                ORDER BY collection COLLATE "C", id COLLATE "C"
                """,
                logger: logger
            )
            var records: [SyncRecord] = []
            for try await (collection, id, scope, state) in rows.decode((String, String, String, String).self) {
                records.append(try Self.storedRecord(collection: collection, id: id, scope: scope, state: state))
            }
            return records
        }
    }

    /// The current state of the record `key`, or `nil` when the store holds none.
    ///
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read; postgres-nio's `PSQLError`.
    public func record(_ key: RecordKey) async throws -> SyncRecord? {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT collection, id, scope, state FROM records WHERE collection = \(key.collection) AND id = \(key.id)",
                logger: logger
            )
            // (collection, id) is the primary key: one row at most.
            var record: SyncRecord?
            for try await (collection, id, scope, state) in rows.decode((String, String, String, String).self) {
                record = try Self.storedRecord(collection: collection, id: id, scope: scope, state: state)
            }
            return record
        }
    }

    /// Writes devices' pulls and pushes to the device list in one transaction, each device's in the
    /// order given; users' activity is skipped and a client name is cut to 64 characters.
    public func recordActivity(_ activities: [DeviceActivity]) async throws {
        // By principal, each one's activities still in their order: two servers writing the same
        // devices' rows then lock them in one order and never deadlock.
        let devices = activities.enumerated().filter { $0.element.principal.kind == .device }
            .sorted { ($0.element.principal.id, $0.offset) < ($1.element.principal.id, $1.offset) }.map(\.element)
        guard !devices.isEmpty else { return }
        try await write { connection in
            for activity in devices {
                var pullCursor: String?
                var pullAt: Date?
                var pushBatch: String?
                var pushAt: Date?
                switch activity.kind {
                case .pull(let cursor): (pullCursor, pullAt) = (cursor.description, activity.time)
                case .push(let batch): (pushBatch, pushAt) = (batch.rawValue, activity.time)
                }
                let client = activity.client.map { String($0.prefix(64)) }
                // A pull leaves the push columns as they were, and a push the pull columns.
                try await connection.query(
                    """
                    INSERT INTO device_sync AS d (principal_id, last_pull_cursor, last_pull_at, last_push_batch, last_push_at, last_seen_at, client)
                    VALUES (\(activity.principal.id), \(pullCursor), \(pullAt), \(pushBatch), \(pushAt), \(activity.time), \(client))
                    ON CONFLICT (principal_id) DO UPDATE SET
                        last_pull_cursor = COALESCE(excluded.last_pull_cursor, d.last_pull_cursor),
                        last_pull_at = COALESCE(excluded.last_pull_at, d.last_pull_at),
                        last_push_batch = COALESCE(excluded.last_push_batch, d.last_push_batch),
                        last_push_at = COALESCE(excluded.last_push_at, d.last_push_at),
                        last_seen_at = excluded.last_seen_at,
                        client = COALESCE(excluded.client, d.client)
                    """,
                    logger: logger
                )
            }
        }
    }

    /// The state bytes after which a pull page ends (PROTOCOL.md §7.2): the default body limit.
    static let pageByteBudget = 8 * 1024 * 1024

    // MARK: Planned transactions

    /// Runs a store-independent algorithm on `plan` until it reads only what was fetched, fetching
    /// what each run missed (``PlannedTransaction``). A domain rule looks records up a few levels
    /// deep at most, so a handful of runs suffice; more is a fault, reported, never a loop.
    func runPlanned<T>(_ plan: PlannedTransaction, _ connection: PostgresConnection, _ algorithm: () throws -> T) async throws -> T {
        for _ in 0..<16 {
            plan.rerun()
            do {
                let result = try algorithm()
                if plan.isComplete { return result }
                try await fetchRecords(plan.missingRecords, into: plan, connection)
            } catch let missing as PlannedTransaction.Missing {
                try await fetch(missing, into: plan, connection)
            }
        }
        throw StoreError(.damaged, "a push or resolution kept reading records it had not read before; nothing was stored")
    }

    func fetch(_ missing: PlannedTransaction.Missing, into plan: PlannedTransaction, _ connection: PostgresConnection) async throws {
        switch missing {
        case .lastResponse(let replica):
            let rows = try await connection.query("SELECT last_response FROM replicas WHERE replica = \(replica.description)", logger: logger)
            var text = ""
            for try await response in rows.decode(String.self) { text = response }
            plan.responses[replica] = try Self.decodeStored(PushResponse.self, from: text)
        case .serverReplica(let principalID):
            let rows = try await connection.query(
                "SELECT replica FROM user_replicas WHERE principal_id = \(principalID) AND epoch = \(epoch.description)",
                logger: logger
            )
            var replica: ReplicaID?
            for try await text in rows.decode(String.self) {
                do {
                    replica = try ReplicaID(parsing: text)
                } catch {
                    throw StoreError(.damaged, "a stored server-side replica id is not one: \(error.message)")
                }
            }
            plan.serverReplicas[principalID] = .some(replica)
        case .lastLiveContent(let key):
            plan.liveContents[key] = .some(try await lastLiveContent(key, connection))
        }
    }

    /// Fetches a replica's progress and owner into `plan`.
    func fetchReplica(_ replica: ReplicaID, into plan: PlannedTransaction, _ connection: PostgresConnection) async throws {
        try await fetchReplicas([replica], into: plan, connection)
    }

    /// Fetches replicas' progress and owners into `plan`, in one statement.
    func fetchReplicas(_ replicas: [ReplicaID], into plan: PlannedTransaction, _ connection: PostgresConnection) async throws {
        guard !replicas.isEmpty else { return }
        let byName = Dictionary(replicas.map { ($0.description, $0) }, uniquingKeysWith: { first, _ in first })
        let names = Array(byName.keys)
        let rows = try await connection.execute(Prepared.Replicas(replicas: names), logger: logger)
        for replica in replicas {
            plan.progress[replica] = .some(nil)
            plan.owners[replica] = .some(nil)
        }
        for try await (name, sequence, batch, owner) in rows {
            guard let replica = byName[name] else { continue }
            if let sequence, let batch {
                do {
                    plan.progress[replica] = .some(PushRules.ReplicaProgress(sequence: try Self.sequence(sequence), lastBatch: batch))
                } catch let damage as StoreError {
                    plan.damagedReplicas[replica] = damage
                }
            }
            plan.owners[replica] = .some(owner)
        }
    }

    /// Fetches records into `plan`; those the store does not hold are fetched as absent.
    func fetchRecords(_ keys: Set<RecordKey>, into plan: PlannedTransaction, _ connection: PostgresConnection) async throws {
        let wanted = keys.filter { plan.records[$0] == nil }
        guard !wanted.isEmpty else { return }
        for key in wanted { plan.records[key] = .some(nil) }
        let collections = wanted.map(\.collection)
        let ids = wanted.map(\.id)
        for try await (collection, id, scope, state) in try await connection.execute(Prepared.Records(collections: collections, ids: ids), logger: logger) {
            do {
                let record = try Self.storedRecord(collection: collection, id: id, scope: scope, state: state)
                plan.records[record.key] = .some((record.scope, record.state))
            } catch let damage as StoreError {
                // Read only if a run needs it (a record of another school is refused unread).
                plan.damagedRecords[RecordKey(collection: collection, id: id)] = damage
            }
        }
    }

    /// Applies the plans of finished runs (one push or resolution, or a group of pushes that share
    /// no record) in one statement: minted server-side replicas, new replica owners, receipts, and
    /// the record writes with their sequence numbers, taken from `log_head` in the same statement
    /// (its row lock, held until commit, orders commits by sequence number, PROTOCOL.md §7.2): the
    /// records, audit entries, conflicts index and the notification for every server's long polls
    /// (delivered at commit). One round trip under the lock, then the commit; only plans whose
    /// rows pass `maxStatementJSONBytes` (16 MiB) send their further rows in statements of their own.
    ///
    /// - Throws: ``StoreError`` `.busy` when a record was stored under another scope meanwhile or
    ///   the database's epoch changed (nothing is kept: the caller's transaction rolls back);
    ///   postgres-nio's `PSQLError`.
    func apply(_ plans: [PlannedTransaction], _ connection: PostgresConnection) async throws {
        let writes = plans.flatMap(\.writes)
        let receipts = try plans.compactMap(\.receipt).map(ReceiptRow.init)
        let owners = plans.flatMap(\.newOwners).map { OwnerRow(replica: $0.replica.description, principal_id: $0.principalID) }
        let minted = plans.flatMap(\.mintedServerReplicas).map {
            MintedRow(principal_id: $0.principalID, epoch: $0.epoch.description, replica: $0.replica.description)
        }
        guard !writes.isEmpty || !receipts.isEmpty || !owners.isEmpty || !minted.isEmpty else { return }
        // Everything but the numbers is ready before the statement that takes them: from then until
        // commit this transaction holds log_head's lock, and every other writer waits for it.
        let written = try WrittenRecords(writes)
        let records = try WrittenRecords.jsonChunks(written.records, maxBytes: configuration.maxStatementJSONBytes)
        let audit = try WrittenRecords.jsonChunks(written.audit, maxBytes: configuration.maxStatementJSONBytes)
        var statement = GroupStatement()
        if !minted.isEmpty {
            statement.add(
                """
                minted AS (
                    INSERT INTO user_replicas (principal_id, epoch, replica)
                    SELECT principal_id, epoch, replica FROM json_to_recordset(\(try statement.json(minted))::json)
                        AS w(principal_id bigint, epoch text, replica text)
                    ON CONFLICT (principal_id, epoch) DO UPDATE SET replica = excluded.replica
                )
                """
            )
        }
        if !owners.isEmpty {
            statement.add(
                """
                owners AS (
                    INSERT INTO replica_owners (replica, principal_id)
                    SELECT replica, principal_id FROM json_to_recordset(\(try statement.json(owners))::json) AS w(replica text, principal_id bigint)
                )
                """
            )
        }
        if !receipts.isEmpty {
            statement.add(
                """
                receipts AS (
                    INSERT INTO replicas (replica, sequence, last_batch, last_response, principal_id, last_seen)
                    SELECT replica, sequence, last_batch, last_response, principal_id, to_timestamp(last_seen)
                    FROM json_to_recordset(\(try statement.json(receipts))::json)
                        AS w(replica text, sequence bigint, last_batch text, last_response text, principal_id bigint, last_seen double precision)
                    ON CONFLICT (replica) DO UPDATE SET
                        sequence = excluded.sequence, last_batch = excluded.last_batch, last_response = excluded.last_response,
                        principal_id = excluded.principal_id, last_seen = excluded.last_seen
                )
                """
            )
        }
        guard !writes.isEmpty else {
            // No numbers taken, but the receipts are this epoch's: a database restored under this
            // server must not take them (``checkEpoch(_:)``).
            for try await epoch in try await connection.query(
                statement.query(select: "SELECT value FROM store_meta WHERE key = 'epoch'"),
                logger: logger
            ).decode(String?.self) {
                try checkEpoch(epoch)
            }
            return
        }
        let count = statement.bind(Int64(writes.count))
        statement.add(
            """
            head AS (
                UPDATE log_head SET seq = seq + \(count)
                RETURNING seq - \(count) + 1 AS first, (SELECT value FROM store_meta WHERE key = 'epoch') AS epoch
            )
            """
        )
        if let chunk = records.first {
            statement.add("stored AS (\(Self.storeRecords(first: "head.first", from: "head, ", json: statement.bind(chunk))) RETURNING 1)")
        }
        if let chunk = audit.first {
            statement.add("audited AS (\(Self.storeAudit(first: "head.first", from: "head, ", json: statement.bind(chunk))))")
        }
        // A new conflict takes this write's sequence number and time; one that was open before
        // keeps its own and takes only the new fields (the embedded store's upsert, per key).
        if !written.newConflicts.isEmpty {
            let rows = try statement.json(written.newConflicts)
            statement.add(
                Self.storeConflicts(
                    "new_conflicts", json: rows,
                    update: """
                        scope = excluded.scope, fields = excluded.fields, delete_conflict = excluded.delete_conflict,
                        since_seq = excluded.since_seq, detected_at = excluded.detected_at
                        """))
        }
        if !written.openConflicts.isEmpty {
            let rows = try statement.json(written.openConflicts)
            statement.add(Self.storeConflicts("open_conflicts", json: rows, update: "fields = excluded.fields, delete_conflict = excluded.delete_conflict"))
        }
        if !written.settled.isEmpty {
            statement.add(
                """
                settled AS (
                    DELETE FROM conflicts c
                    USING unnest(\(statement.bind(written.settled.map(\.collection)))::text[], \(statement.bind(written.settled.map(\.id)))::text[]) AS k(collection, id)
                    WHERE c.collection = k.collection AND c.id = k.id
                )
                """
            )
        }
        // The notification is delivered when the transaction commits, to every server's long polls
        // of the scopes written.
        let notice = statement.bind(Self.notice(scopes: Set(writes.map(\.scope))))
        statement.add("notified AS (SELECT pg_notify(\(statement.bind(Self.changeChannel)), \(notice)) AS sent)")
        let storedCount = records.isEmpty ? "0" : "(SELECT count(*) FROM stored)"
        var first: Int64 = 0
        var stored: Int64 = 0
        for try await (taken, epoch, count) in try await connection.query(
            statement.query(select: "SELECT head.first, head.epoch, \(storedCount) FROM head, notified"),
            logger: logger
        ).decode((Int64, String?, Int64).self) {
            try checkEpoch(epoch)
            (first, stored) = (taken, count)
        }
        await configuration.afterSequencesTaken?(first...(first + Int64(writes.count) - 1))
        for chunk in records.dropFirst() {
            var further = GroupStatement()
            let (firstNumber, rows) = (further.bind(first), further.bind(chunk))
            let sql = "WITH stored AS (\(Self.storeRecords(first: firstNumber, from: "", json: rows)) RETURNING 1) SELECT count(*) FROM stored"
            for try await count in try await connection.query(further.query(select: sql), logger: logger).decode(Int64.self) {
                stored += count
            }
        }
        // A record is stored in one scope for ever. Another writer, holding another scope's lock,
        // stored it under a different scope after this transaction read it as absent: nothing of
        // this one is kept, and the retry reads it and refuses it (scope_mismatch).
        guard stored == Int64(written.records.count) else {
            throw StoreError(.busy, "a record of this push was stored under another scope meanwhile; send it again")
        }
        for chunk in audit.dropFirst() {
            var further = GroupStatement()
            let (firstNumber, rows) = (further.bind(first), further.bind(chunk))
            try await connection.query(further.query(select: Self.storeAudit(first: firstNumber, from: "", json: rows)), logger: logger)
        }
    }

    /// The `name AS (…)` part that upserts conflicts-index rows from JSON rows
    /// (``WrittenRecords/ConflictRow``), numbered from `head.first`; a row already there takes `update`.
    static func storeConflicts(_ name: String, json: String, update: String) -> String {
        """
        \(name) AS (
            INSERT INTO conflicts (collection, id, scope, fields, delete_conflict, since_seq, detected_at)
            SELECT collection, id, scope, fields, delete_conflict, head.first + since_offset, to_timestamp(detected_at)
            FROM head, json_to_recordset(\(json)::json)
                AS w(collection text, id text, scope text, fields text, delete_conflict boolean, since_offset bigint, detected_at double precision)
            ON CONFLICT (collection, id) DO UPDATE SET \(update)
        )
        """
    }

    /// The upsert of records from JSON rows (``WrittenRecords/RecordRow``), numbered from `first`;
    /// a record already stored under another scope is left as it was (and not returned).
    static func storeRecords(first: String, from: String, json: String) -> String {
        """
        INSERT INTO records AS r (collection, id, scope, state, seq, conflicted, pushed_by)
        SELECT collection, id, scope, state, \(first) + "offset", conflicted, pushed_by
        FROM \(from)json_to_recordset(\(json)::json)
            AS w(collection text, id text, scope text, state text, "offset" bigint, conflicted boolean, pushed_by text)
        ON CONFLICT (collection, id) DO UPDATE SET
            state = excluded.state, seq = excluded.seq, conflicted = excluded.conflicted, pushed_by = excluded.pushed_by
        WHERE r.scope = excluded.scope
        """
    }

    /// The insert of audit entries from JSON rows (``WrittenRecords/AuditRow``), numbered from `first`.
    static func storeAudit(first: String, from: String, json: String) -> String {
        """
        INSERT INTO audit (seq, collection, record_id, principal_id, replica, at, kind, before, after, reason)
        SELECT \(first) + "offset", collection, record_id, principal_id, replica, to_timestamp(at), kind, before, after, reason
        FROM \(from)json_to_recordset(\(json)::json)
            AS w("offset" bigint, collection text, record_id text, principal_id bigint, replica text, at double precision,
                 kind text, before text, after text, reason text)
        ORDER BY "offset"
        """
    }

    /// A notification's payload: the scopes written, comma-separated (no scope holds a comma,
    /// PROTOCOL.md §5), or empty — every scope — when they would pass PostgreSQL's 8000 bytes.
    static func notice(scopes: Set<Scope>) -> String {
        let text = scopes.map(\.rawValue).sorted().joined(separator: ",")
        return text.utf8.count <= 7_000 ? text : ""
    }

    /// The scopes a notification's payload names; `nil` (every scope) for an empty one, or one
    /// that does not read as scopes (another program's NOTIFY on the channel).
    static func scopes(inNotice payload: String) -> Set<Scope>? {
        guard !payload.isEmpty else { return nil }
        var scopes: Set<Scope> = []
        for name in payload.split(separator: ",", omittingEmptySubsequences: false) {
            guard let scope = try? Scope(parsing: String(name)) else { return nil }
            scopes.insert(scope)
        }
        return scopes
    }

    /// The channel every writing transaction notifies and every server listens on.
    static let changeChannel = "schoolsync_changes"

    // MARK: Rows

    /// A stored record, each part checked as a pushed record would be.
    ///
    /// - Throws: ``StoreError`` `.damaged` when any part is not what the server writes.
    static func storedRecord(collection: String, id: String, scope: String, state: String) throws -> SyncRecord {
        let key = RecordKey(collection: collection, id: id)
        do {
            try key.validate()
            return SyncRecord(key: key, scope: try Scope(parsing: scope), state: try decodeStored(RecordState.self, from: state))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.damaged, "the stored record \(collection.prefix(64))/\(id.prefix(128)) cannot be read: \(error)")
        }
    }

    /// Decodes JSON the store wrote.
    ///
    /// - Throws: ``StoreError`` `.damaged` when it does not decode.
    static func decodeStored<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        do {
            return try CanonicalJSON.decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError(.damaged, "a stored \(T.self) cannot be read: \(error)")
        }
    }
}
