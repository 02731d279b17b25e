import Foundation
import PostgresNIO
import Reporting
import SyncCore
import SyncServer

extension PostgresStore {
    /// Makes a workflow move on a report at `principal`'s server-side replica, in one transaction
    /// holding the report's lock, with the check that its context is still `expected`
    /// (`StoreAlgorithms.review`: the same rules, change log and audit as a pushed write).
    ///
    /// - Throws: ``StoreError`` `.damaged` when a stored record cannot be read; postgres-nio's `PSQLError`.
    public func review(
        _ key: RecordKey,
        expecting expected: VersionVector,
        transition: ReportWorkflow.Transition,
        by principal: Principal,
        rules: CollectionRules,
        at time: Date
    ) async throws -> ReviewOutcome {
        let epoch = self.epoch
        return try await write { connection in
            // The record's scope is its lock: read it, lock it, then read the record for good.
            let plan = PlannedTransaction()
            try await fetchRecords([key], into: plan, connection)
            guard let scope = try plan.record(key)?.scope else {
                return .refused(ReportWorkflowError(.missing, "there is no report \(key.id)"))
            }
            try await Self.lock(principal: principal, connection, logger)
            try await Self.lock(replicas: [], scopes: [scope], connection, logger)
            plan.records = [:]
            try await fetchRecords([key], into: plan, connection)
            let outcome = try await runPlanned(plan, connection) {
                try StoreAlgorithms.review(
                    key,
                    expecting: expected,
                    transition: transition,
                    by: principal,
                    rules: rules,
                    epoch: epoch,
                    at: time,
                    in: plan
                )
            }
            if !plan.mintedServerReplicas.isEmpty {
                // A fresh id must be nobody's: the one place a collision could only be seen in the table.
                let minted = plan.mintedServerReplicas.map(\.replica.description)
                for try await _ in try await connection.query("SELECT 1 FROM replica_owners WHERE replica = ANY(\(minted)::text[])", logger: logger) {
                    throw StoreError(.busy, "a freshly drawn replica id was taken; try again")
                }
            }
            try await apply([plan], connection)
            return outcome
        }
    }
}
