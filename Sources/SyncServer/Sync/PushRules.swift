import Reporting
import SyncCore

/// The pure decisions of a push: receipt checks and what to do with each record. Stores call
/// these inside their transaction, so every store decides alike and the rules are tested without I/O.
package enum PushRules {
    /// What the server remembers about a replica's pushes in the current epoch.
    package struct ReplicaProgress: Sendable, Equatable {
        /// The sequence number of the replica's last accepted push (its receipt's `n`).
        package var sequence: UInt64
        /// The batch id of that push, replayed when it comes again (PROTOCOL.md §6.2).
        package var lastBatch: String

        /// Makes a progress record.
        package init(sequence: UInt64, lastBatch: String) {
            self.sequence = sequence
            self.lastBatch = lastBatch
        }
    }

    enum ReceiptDecision: Equatable {
        /// Go ahead; an accepted push gets this sequence.
        case proceed(nextSequence: UInt64)
        /// Answer the stored response of the last batch again.
        case replay
        case stale(expected: PushReceipt?)
        case epochChanged
        /// The replica id belongs to another principal: answer 403 and say nothing of its receipts.
        case foreign
        /// A new push (current receipt) under the batch id of the last accepted one (PROTOCOL.md
        /// §6.2 step 3): neither a retry nor a fresh push, so nothing is applied.
        case batchReused
    }

    /// PROTOCOL.md §5 "Ownership": a replica id belongs to the principal that first pushed under
    /// it (or, for server-side users, for whom the server minted it); nobody else may use it.
    static func mayUse(replicaOwnedBy owner: Int64?, _ principal: Principal) -> Bool {
        owner == nil || owner == principal.id
    }

    /// PROTOCOL.md §6.3's table, after the ownership check. `batch` is nil for pulls, which can
    /// never be replays. Every number here came from a client or a table, so nothing may overflow:
    /// a receipt of 2^64 − 1 is just a receipt the server never issued.
    static func checkReceipt(
        _ receipt: PushReceipt?,
        batch: BatchID?,
        stored: ReplicaProgress?,
        owner: Int64?,
        principal: Principal,
        epoch: Epoch
    ) -> ReceiptDecision {
        guard mayUse(replicaOwnedBy: owner, principal) else { return .foreign }
        if let receipt, receipt.epoch != epoch { return .epochChanged }
        let expected = stored.map { PushReceipt(epoch: epoch, sequence: $0.sequence) }
        switch (receipt, stored) {
        case (nil, nil):
            return .proceed(nextSequence: 1)
        case (let receipt?, let stored?) where receipt.sequence == stored.sequence:
            // A sequence at the store's ceiling cannot be followed; such a row was not written by us.
            guard stored.sequence < Cursor.maxSequence else { return .stale(expected: expected) }
            // A retry of the last push carries the receipt it was built with, never the one its
            // answer gave: the same id with the current receipt would be answered with another
            // push's results while its own records were never looked at.
            if let batch, batch.rawValue == stored.lastBatch { return .batchReused }
            return .proceed(nextSequence: stored.sequence + 1)
        case (let receipt, let stored?)
        where batch?.rawValue == stored.lastBatch && stored.sequence > 0 && (receipt?.sequence ?? 0) == stored.sequence - 1:
            return .replay
        default:
            return .stale(expected: expected)
        }
    }

    enum RecordDecision {
        case reject(RejectReason)
        /// The joined state equals the stored one.
        case unchanged(RecordState)
        /// Store this state (and log the change).
        case store(RecordState)
    }

    /// Validates one pushed record against the principal, the collections, what is stored and the
    /// domain's rules (read through `lookup` in the caller's transaction), and joins it.
    static func decide(
        _ record: SyncRecord,
        stored: (scope: Scope, state: RecordState)?,
        principal: Principal,
        rules: CollectionRules,
        lookup: (RecordKey) throws -> RecordState? = { _ in nil }
    ) rethrows -> RecordDecision {
        guard principal.canWrite(record.scope) else {
            return .reject(RejectReason(code: .scopeDenied, message: "\(principal.name) may not write to \(record.scope)"))
        }
        if let reason = rules.rejection(for: record) { return .reject(reason) }
        // Before the stored record is looked at, so the answer never tells one school whether
        // another school has a record under that id (PROTOCOL.md §5 "Ownership").
        if rules.appliesDomainRules, let violation = RecordRules.ownershipViolation(key: record.key, scope: record.scope) {
            return .reject(RejectReason(code: violation.code, message: violation.message))
        }
        guard let stored else {
            if let reason = sizeRejection(record.state, stored: nil) { return .reject(reason) }
            return try domainCheck(record, joined: record.state, stored: nil, principal: principal, rules: rules, lookup: lookup)
        }
        guard stored.scope == record.scope else {
            return .reject(RejectReason(code: .scopeMismatch, message: "\(record.key) is stored in \(stored.scope), not \(record.scope)"))
        }
        let joined: RecordState
        do {
            joined = try stored.state.joined(with: record.state)
            // Joins can grow registers past the limits a single replica checks when writing.
            _ = try RecordState(context: joined.context, fields: joined.fields, deleted: joined.deleted)
        } catch {
            let code: RejectCode = error.code == .integrity ? .integrity : .tooLarge
            return .reject(RejectReason(code: code, message: error.message))
        }
        if joined == stored.state { return .unchanged(joined) }
        if let reason = sizeRejection(joined, stored: stored.state) { return .reject(reason) }
        return try domainCheck(record, joined: joined, stored: stored.state, principal: principal, rules: rules, lookup: lookup)
    }

    /// PROTOCOL.md §10: a joined state may not pass ``SyncLimits/maxStateBytes`` — unless the
    /// record is already past it and this write does not grow it, so that the write that settles an
    /// oversized record (a resolution, a discard) is never refused.
    static func sizeRejection(_ joined: RecordState, stored: RecordState?, limit: Int = SyncLimits.maxStateBytes) -> RejectReason? {
        let replicas = joined.context.counters.count
        if replicas > SyncLimits.maxContextReplicas, replicas > stored?.context.counters.count ?? 0 {
            return RejectReason(
                code: .tooLarge,
                message: "the record's context would name \(replicas) replicas, more than the \(SyncLimits.maxContextReplicas) one record may have seen"
            )
        }
        guard joined.mayExceed(encodedBytes: limit) else { return nil }
        let size = joined.encodedSize
        guard size > limit else { return nil }
        if let stored, size <= stored.encodedSize { return nil }
        return RejectReason(
            code: .tooLarge,
            message:
                "the record would hold \(size) bytes, more than the \(limit) one record may hold; an administrator resolves its conflicts to shrink it, or the school shortens its text"
        )
    }

    private static func domainCheck(
        _ record: SyncRecord,
        joined: RecordState,
        stored: RecordState?,
        principal: Principal,
        rules: CollectionRules,
        lookup: (RecordKey) throws -> RecordState?
    ) rethrows -> RecordDecision {
        guard rules.appliesDomainRules else { return .store(joined) }
        let violation = try RecordRules.violation(
            key: record.key,
            scope: record.scope,
            state: joined,
            stored: stored,
            bySchool: principal.kind == .device,
            lookup: lookup
        )
        if let violation { return .reject(RejectReason(code: violation.code, message: violation.message)) }
        return .store(joined)
    }

    /// The result a client sees for a record the store accepted.
    static func result(for key: RecordKey, state: RecordState, changed: Bool) -> PushResult {
        if state.isConflicted {
            return PushResult(key: key, status: .conflict, conflictFields: state.conflictingFields, deleteConflict: state.isDeleteConflict)
        }
        return PushResult(key: key, status: changed ? .applied : .unchanged)
    }
}
