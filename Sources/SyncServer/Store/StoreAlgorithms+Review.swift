import Foundation
import Reporting
import SyncCore

extension StoreAlgorithms {
    /// Makes a workflow move on a report (``ReportWorkflow``) as a write at `principal`'s server-side
    /// replica of `epoch`, like a resolution, provided the report's context is still `expected`
    /// (what the reviewer was shown). The write passes the same rules as a pushed one
    /// (``PushRules``: scope, collection, size, DOMAIN-PROTOCOL.md) and is logged and audited like
    /// any accepted change; an approval records the context it approved (DESIGN §4 invariant 8).
    ///
    /// - Returns: `.reviewed` with the stored record, `.stale` with the record as it is now,
    ///   `.refused` with the workflow's error, or `.rejected` with the domain rule's reason;
    ///   nothing is written unless `.reviewed`.
    /// - Throws: ``StoreError`` `.damaged` when a stored record cannot be read; the store's own errors.
    package static func review(
        _ key: RecordKey,
        expecting expected: VersionVector,
        transition: ReportWorkflow.Transition,
        by principal: Principal,
        rules: CollectionRules,
        epoch: Epoch,
        at time: Date,
        in transaction: some StoreTransaction
    ) throws -> ReviewOutcome {
        guard key.collection == "reports" else {
            return .refused(ReportWorkflowError(.missing, "\(key.collection)/\(key.id) is not a report"))
        }
        let stored = try transaction.record(key)
        if let (scope, state) = stored, state.context != expected {
            return .stale(SyncRecord(key: key, scope: scope, state: state))
        }
        let fields: [String: Value]
        do throws(ReportWorkflowError) {
            fields = try ReportWorkflow.fields(for: transition, of: stored?.state, reportID: key.id, at: time)
        } catch {
            return .refused(error)
        }
        guard let (scope, state) = stored else { return .refused(ReportWorkflowError(.missing, "there is no report \(key.id)")) }
        var replica = try transaction.serverReplica(for: principal, epoch: epoch)
        // As for a resolution: a device can plant the user's replica at the largest counter.
        if state.context[replica] >= VersionVector.maxCounter {
            replica = try transaction.mintServerReplica(for: principal, epoch: epoch)
        }
        var written = state
        do throws(SyncCoreError) {
            try written.write(fields, by: replica)
        } catch {
            return .rejected(RejectReason(code: error.code == .conflicted ? .validation : .tooLarge, message: error.message))
        }
        let record = SyncRecord(key: key, scope: scope, state: written)
        switch try PushRules.decide(record, stored: (scope, state), principal: principal, rules: rules, lookup: { try transaction.record($0)?.state }) {
        case .reject(let reason):
            return .rejected(reason)
        case .unchanged(let same):
            return .reviewed(SyncRecord(key: key, scope: scope, state: same))
        case .store(let joined):
            // Audited as the bureau's CLI review is: a write of the reviewer's, under its replica.
            let change = AuditEntry.Change(principalID: principal.id, replica: replica, time: time, kind: .push, reason: nil)
            try transaction.store(joined, for: key, in: scope, before: state, change: change, pushedBy: nil)
            return .reviewed(SyncRecord(key: key, scope: scope, state: joined))
        }
    }
}
