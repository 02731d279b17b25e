import Foundation
import SyncCore

/// The store-independent algorithms of the server: a push (receipt check, decide, join, change log,
/// audit, receipt), the receipt check of a pull, and a resolution. Each runs inside one transaction
/// of any store, through ``StoreTransaction``, so SQLite and PostgreSQL decide alike.
package enum StoreAlgorithms {
    /// Checks the push's replica, receipt and batch id (PROTOCOL.md §5 "Ownership", §6.2, §6.3), then
    /// joins its records (§6.2) and writes their change-log entries and the new receipt.
    ///
    /// - Returns: `.accepted` with the answer and how many records changed, `.replayed` with the stored
    ///   answer of the same batch, or why the push may not be joined (nothing is written then).
    /// - Throws: ``StoreError`` `.damaged` when stored data cannot be read; the store's own errors.
    package static func push(
        _ request: PushRequest,
        by principal: Principal,
        rules: CollectionRules,
        epoch: Epoch,
        at time: Date,
        in transaction: some StoreTransaction
    ) throws -> PushOutcome {
        let stored = try transaction.replicaProgress(request.replica)
        let owner = try transaction.replicaOwner(request.replica)
        switch PushRules.checkReceipt(request.receipt, batch: request.batch, stored: stored, owner: owner, principal: principal, epoch: epoch) {
        case .foreign:
            return .replicaForeign
        case .batchReused:
            return .batchReused
        case .epochChanged:
            return .epochChanged(current: epoch)
        case .stale(let expected):
            return .replicaStale(expected: expected)
        case .replay:
            return .replayed(try transaction.lastResponse(of: request.replica))
        case .proceed(let nextSequence):
            var results: [PushResult] = []
            results.reserveCapacity(request.records.count)
            var changed = 0
            // States read or written in this transaction: the domain rules look up the same
            // assignment for every report of a school, and a batch may write what it later reads.
            var known: [RecordKey: RecordState?] = [:]
            func lookup(_ key: RecordKey) throws -> RecordState? {
                if let state = known[key] { return state }
                let state = try transaction.record(key)?.state
                known[key] = state
                return state
            }
            for record in request.records {
                // A record of a scope the principal may not write is refused unread: what another
                // school holds under that id, damaged or not, is never looked at (PROTOCOL.md §5).
                let storedRecord = principal.canWrite(record.scope) ? try transaction.record(record.key) : nil
                switch try PushRules.decide(record, stored: storedRecord, principal: principal, rules: rules, lookup: lookup) {
                case .reject(let reason):
                    results.append(PushResult(key: record.key, status: .rejected, reason: reason))
                case .unchanged(let state):
                    results.append(PushRules.result(for: record.key, state: state, changed: false))
                case .store(let state):
                    let change = AuditEntry.Change(principalID: principal.id, replica: request.replica, time: time, kind: .push, reason: nil)
                    try transaction.store(
                        state,
                        for: record.key,
                        in: record.scope,
                        before: storedRecord?.state,
                        change: change,
                        pushedBy: state == record.state ? request.replica : nil
                    )
                    known[record.key] = state
                    changed += 1
                    results.append(PushRules.result(for: record.key, state: state, changed: true))
                }
            }
            if owner == nil { try transaction.setReplicaOwner(request.replica, to: principal.id) }
            let response = PushResponse(batch: request.batch, receipt: PushReceipt(epoch: epoch, sequence: nextSequence), results: results)
            try transaction.saveReceipt(
                of: request.replica,
                sequence: nextSequence,
                batch: request.batch,
                response: response,
                principalID: principal.id,
                at: time
            )
            return .accepted(response, changed: changed)
        }
    }

    /// What a pull's receipt check says (PROTOCOL.md §6.3): go on (leaving out the echoes of
    /// `echoesOf`), or answer the pull with this outcome instead.
    package enum PullCheck {
        case proceed(echoesOf: ReplicaID?)
        case answer(PullOutcome)
    }

    /// Checks the receipt a pull carries, unless this request checked it already (`.verified`).
    package static func checkPull(_ replica: PullingReplica?, epoch: Epoch, in transaction: some StoreTransaction) throws -> PullCheck {
        switch replica {
        case .verify(let check)?:
            let stored = try transaction.replicaProgress(check.replica)
            let owner = try transaction.replicaOwner(check.replica)
            switch PushRules.checkReceipt(check.receipt, batch: nil, stored: stored, owner: owner, principal: check.principal, epoch: epoch) {
            case .foreign: return .answer(.replicaForeign(check.replica))
            case .proceed, .replay, .batchReused: return .proceed(echoesOf: check.replica)
            case .stale(let expected): return .answer(.replicaStale(check.replica, expected: expected))
            case .epochChanged: return .answer(.epochChanged(current: epoch))
            }
        case .verified(let id)?:
            return .proceed(echoesOf: id)
        case nil:
            return .proceed(echoesOf: nil)
        }
    }

    /// Resolves `key` as `request` says, at `principal`'s server-side replica (a fresh one when that
    /// replica's counter is used up), with the check that the resolver saw every contested value
    /// (PROTOCOL.md §3.5). Keeping a record deleted on one side re-writes its full content (DESIGN §4
    /// invariant 6).
    ///
    /// - Returns: `.resolved` with the stored record, `.notFound` when there is no such record, or
    ///   `.refused` with the `SyncCoreError` of `RecordState.resolve`; nothing is written then.
    /// - Throws: ``StoreError`` `.damaged` when the stored record cannot be read; the store's own errors.
    package static func resolve(
        _ key: RecordKey,
        _ request: ResolutionRequest,
        by principal: Principal,
        epoch: Epoch,
        at time: Date,
        in transaction: some StoreTransaction
    ) throws -> ResolveOutcome {
        guard let (scope, stored) = try transaction.record(key) else { return .notFound }
        var replica = try transaction.serverReplica(for: principal, epoch: epoch)
        // A device can plant the user's replica in a record's context at the largest counter,
        // so the next dot cannot be minted; the user then writes under a fresh replica id.
        if stored.context[replica] >= VersionVector.maxCounter {
            replica = try transaction.mintServerReplica(for: principal, epoch: epoch)
        }
        var state = stored
        var resolution: Resolution = request.delete == true ? .delete : .write(request.values ?? [:])
        if stored.isDeleteConflict, case .write(let values) = resolution {
            // Keeping a record deleted on one side re-writes its full content (DESIGN §4
            // invariant 6), so a keep that names few fields, or none, still restores the record.
            resolution = .write((try keptContent(key, stored, in: transaction) ?? [:]).merging(values) { _, chosen in chosen })
        }
        do throws(SyncCoreError) {
            try state.resolve(resolution, by: replica, seen: request.seen)
        } catch {
            return .refused(error)
        }
        let change = AuditEntry.Change(principalID: principal.id, replica: replica, time: time, kind: .resolve, reason: request.reason)
        try transaction.store(state, for: key, in: scope, before: stored, change: change, pushedBy: nil)
        return .resolved(SyncRecord(key: key, scope: scope, state: state))
    }

    /// The detail of a conflicted record (PROTOCOL.md §3.5, §12): each conflicting value beside its
    /// dot and the name of its writer (`writers`: replica id → name; an unknown one is shown as
    /// such), its settled fields, and for an edit-vs-delete conflict what keeping it restores.
    ///
    /// - Returns: `nil` when `state` is not in conflict.
    /// - Throws: ``StoreError`` `.damaged` when the history cannot be read; the store's own errors.
    package static func conflictDetail(
        _ key: RecordKey,
        scope: Scope,
        state: RecordState,
        writers: [String: String],
        in transaction: some StoreTransaction
    ) throws -> ConflictDetail? {
        guard let conflict = state.conflict else { return nil }
        func candidates(_ entries: [FieldRegister.Entry]) -> [ConflictDetail.Candidate] {
            entries.map {
                ConflictDetail.Candidate(
                    replica: $0.dot.replica.description,
                    counter: $0.dot.counter,
                    value: $0.value,
                    writer: writers[$0.dot.replica.description] ?? "unknown replica"
                )
            }
        }
        var settled: [String: Value] = [:]
        for (name, register) in state.fields where !register.isConflicted {
            if let value = register.settledValue { settled[name] = value }
        }
        return ConflictDetail(
            collection: key.collection,
            id: key.id,
            scope: scope.rawValue,
            context: state.context,
            conflicts: conflict.fields.mapValues(candidates),
            deletedBy: conflict.deletes.map { writers[$0.replica.description] ?? $0.replica.description },
            settled: settled,
            lastContent: conflict.isDeleteConflict ? try keptContent(key, state, in: transaction) : nil
        )
    }

    /// The replica ids whose writers a conflict detail names: the contested values' and the deletes'.
    package static func writerReplicas(of state: RecordState) -> Set<String> {
        guard let conflict = state.conflict else { return [] }
        var replicas = Set(conflict.deletes.map(\.replica.description))
        for entries in conflict.fields.values { replicas.formUnion(entries.map(\.dot.replica.description)) }
        return replicas
    }

    /// What keeping a record in edit-vs-delete conflict restores: its last content before the
    /// delete, with the concurrent edits that survived the delete laid over it (PROTOCOL.md §3.5).
    package static func keptContent(_ key: RecordKey, _ state: RecordState, in transaction: some StoreTransaction) throws -> [String: Value]? {
        var content = try transaction.lastLiveContent(key) ?? [:]
        for (name, register) in state.fields {
            if let value = register.settledValue {
                content[name] = value
            } else {
                // Edited concurrently on two sides as well: the resolver chooses, history does not.
                content[name] = nil
            }
        }
        return content.isEmpty ? nil : content
    }
}
