import Reporting
import SyncCore

/// The pure decisions of a push: receipt checks and what to do with each record. Stores call
/// these inside their transaction, so every store decides alike and the rules are tested without I/O.
enum PushRules {
    /// What the server remembers about a replica's pushes in the current epoch.
    struct ReplicaRecord: Sendable, Equatable {
        var sequence: UInt64
        var lastBatch: String
    }

    enum ReceiptDecision: Equatable {
        /// Go ahead; an accepted push gets this sequence.
        case proceed(nextSequence: UInt64)
        /// Answer the stored response of the last batch again.
        case replay
        case stale(expected: PushReceipt?)
        case epochChanged
    }

    /// PROTOCOL.md §6.3's table. `batch` is nil for pulls, which can never be replays.
    static func checkReceipt(_ receipt: PushReceipt?, batch: BatchID?, stored: ReplicaRecord?, epoch: Epoch) -> ReceiptDecision {
        if let receipt, receipt.epoch != epoch { return .epochChanged }
        let expected = stored.map { PushReceipt(epoch: epoch, sequence: $0.sequence) }
        switch (receipt, stored) {
        case (nil, nil):
            return .proceed(nextSequence: 1)
        case (let receipt?, let stored?) where receipt.sequence == stored.sequence:
            return .proceed(nextSequence: stored.sequence + 1)
        case (let receipt, let stored?) where batch?.rawValue == stored.lastBatch && (receipt?.sequence ?? 0) + 1 == stored.sequence:
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
            return .reject(RejectReason(code: "scope_denied", message: "\(principal.name) may not write to \(record.scope)"))
        }
        if let reason = rules.rejection(for: record) { return .reject(reason) }
        guard let stored else {
            return try domainCheck(record, joined: record.state, stored: nil, principal: principal, rules: rules, lookup: lookup)
        }
        guard stored.scope == record.scope else {
            return .reject(RejectReason(code: "scope_mismatch", message: "\(record.key) is stored in \(stored.scope), not \(record.scope)"))
        }
        let joined: RecordState
        do {
            joined = try stored.state.joined(with: record.state)
            // Joins can grow registers past the limits a single replica checks when writing.
            _ = try RecordState(context: joined.context, fields: joined.fields, deleted: joined.deleted)
        } catch {
            let code = error.code == .integrity ? "integrity" : "too_large"
            return .reject(RejectReason(code: code, message: error.message))
        }
        if joined == stored.state { return .unchanged(joined) }
        return try domainCheck(record, joined: joined, stored: stored.state, principal: principal, rules: rules, lookup: lookup)
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
