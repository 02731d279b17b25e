import Foundation
import GRDB
import Reporting
import SyncCore
import SyncServer

extension SQLiteStore {
    /// Makes a workflow move on a report at `principal`'s server-side replica, in one write
    /// transaction with the check that the report's context is still `expected`
    /// (`StoreAlgorithms.review`: the same rules, change log and audit as a pushed write).
    ///
    /// - Throws: ``StoreError`` `.damaged` when a stored record cannot be read; GRDB's `DatabaseError`
    ///   (`SQLITE_BUSY` past the busy timeout is answered 503 `unavailable`).
    public func review(
        _ key: RecordKey,
        expecting expected: VersionVector,
        transition: ReportWorkflow.Transition,
        by principal: Principal,
        rules: CollectionRules,
        at time: Date
    ) async throws -> ReviewOutcome {
        let epoch = self.epoch
        return try await pool.write { db in
            try StoreAlgorithms.review(
                key,
                expecting: expected,
                transition: transition,
                by: principal,
                rules: rules,
                epoch: epoch,
                at: time,
                in: SQLiteTransaction(db: db, changeTime: time)
            )
        }
    }
}
