import Foundation
import SyncCore
import SyncServer
import Synchronization

/// Group commit for pushes on PostgreSQL: the pushes that arrive while earlier ones are being
/// stored run together, in one transaction per group, each group with one `log_head` statement and
/// one commit.
///
/// Every writer holds `log_head`'s row lock from its sequence numbers through its commit (the
/// cursor guarantee, PROTOCOL.md §7.2), so a server's pushes commit one at a time, each waiting for
/// its own round trips and its own WAL flush. Grouped, a group pays those once: measured in the
/// bench (`push group size`).
///
/// A group holds only pushes that share no replica and no writable scope, with each other or with a
/// group still running (``Claim``): their records are disjoint (ids decide scopes, PROTOCOL.md §5),
/// so each push reads exactly what it would read alone, and no group waits in PostgreSQL for a lock
/// a group of the same server holds. A push whose claims are taken waits for the next group, in its
/// turn. A group only tries its locks: a push whose lock another server or a resolution holds
/// leaves the group and goes again alone, waiting for it there, so one busy school never holds up
/// thirty-one others. Each push keeps its own outcome (a damaged row fails only the push that reads
/// it); a fault of the database (a lock wait past the timeout, the connection lost), a changed epoch
/// or a record stored meanwhile under another scope fails its whole group, and every push of it is
/// answered 503, as it would be alone.
final class PushGroups: Sendable {
    /// What a push locks in PostgreSQL: its replica and the scopes its principal may write.
    enum Claim: Hashable, Sendable {
        case replica(ReplicaID)
        case scope(Scope)
        /// A record, where ids do not decide scopes (``CollectionRules/appliesDomainRules`` off):
        /// two schools' pushes may then name one record, and one statement cannot write it twice.
        case record(RecordKey)
    }

    /// One push waiting for its group.
    struct Job: Sendable {
        var request: PushRequest
        var principal: Principal
        var rules: CollectionRules
        var time: Date
        var claims: Set<Claim>
        /// Its locks were held elsewhere when its group took them: it goes alone next time, and
        /// waits for them there.
        var alone = false
        fileprivate var continuation: CheckedContinuation<PushOutcome, any Error>?
    }

    /// Stores a group and returns each push's result in order; `nil` for one whose locks another
    /// transaction holds, which then goes again alone.
    typealias RunGroup = @Sendable ([Job]) async -> [Result<PushOutcome, any Error>?]

    private struct Queue {
        var jobs: [Job] = []
        /// Claims of the groups now running.
        var claimed: Set<Claim> = []
        var running = 0
    }

    /// The most pushes in one group (1: every push alone).
    let maxPushes: Int
    /// A group stops taking pushes once it holds this many records (its first push always goes in):
    /// one group's statement stays well below PostgreSQL's limits and one commit's work bounded.
    let maxRecords: Int
    /// Groups running at once: while one waits for `log_head` or its commit, the next is read and
    /// planned on another connection.
    let maxGroups: Int
    private let queue = Mutex(Queue())

    init(maxPushes: Int, maxRecords: Int = 4_000, maxGroups: Int = 2) {
        self.maxPushes = max(1, maxPushes)
        self.maxRecords = max(1, maxRecords)
        self.maxGroups = max(1, maxGroups)
    }

    /// Stores `request` in the next group it fits in and returns its own outcome, or throws what its
    /// group's transaction threw. `runGroup` stores a group (every caller passes the same: the
    /// store's); it is not kept beyond the groups it runs, so the store and its groups hold no cycle.
    func push(
        _ request: PushRequest,
        by principal: Principal,
        rules: CollectionRules,
        at time: Date,
        claims: Set<Claim>,
        runGroup: @escaping RunGroup
    ) async throws -> PushOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(request: request, principal: principal, rules: rules, time: time, claims: claims, continuation: continuation)
            let startDrain = queue.withLock { queue in
                queue.jobs.append(job)
                guard queue.running < maxGroups else { return false }
                queue.running += 1
                return true
            }
            // A task of its own: a cancelled request must not cancel the group it joined.
            if startDrain { Task { await self.drain(runGroup) } }
        }
    }

    /// Pushes waiting for a group (not those being stored).
    var waiting: Int { queue.withLock { $0.jobs.count } }

    /// Runs groups until no waiting push can go into one; the last drain to stop leaves nothing
    /// waiting that it could have taken, and a group's end starts its drain's next look.
    private func drain(_ runGroup: RunGroup) async {
        while true {
            let group = queue.withLock { queue -> [Job] in
                let group = Self.takeGroup(from: &queue, maxPushes: maxPushes, maxRecords: maxRecords)
                if group.isEmpty { queue.running -= 1 }
                return group
            }
            guard !group.isEmpty else { return }
            let results = await runGroup(group)
            var again: [Job] = []
            for (job, result) in zip(group, results) {
                if let result {
                    job.continuation?.resume(with: result)
                } else {
                    var alone = job
                    alone.alone = true
                    again.append(alone)
                }
            }
            queue.withLock { queue in
                for job in group { queue.claimed.subtract(job.claims) }
                // First in line again, in their order: nothing of theirs may overtake them.
                queue.jobs.insert(contentsOf: again, at: 0)
            }
        }
    }

    /// The waiting pushes, oldest first, that fit together and clash with no running group; their
    /// claims become the running ones. A push left waiting blocks later ones with a claim of its,
    /// so no push overtakes an earlier one of its replica or school.
    private static func takeGroup(from queue: inout Queue, maxPushes: Int, maxRecords: Int) -> [Job] {
        var group: [Job] = []
        var records = 0
        var blocked = queue.claimed
        var left: [Job] = []
        var scanned = 0
        // Stops at a full group: with thousands of schools waiting, a scan of the whole queue
        // for every group would cost more than storing the group.
        for job in queue.jobs {
            guard group.count < maxPushes, group.first?.alone != true else { break }
            scanned += 1
            let fits = group.isEmpty || (!job.alone && records + job.request.records.count <= maxRecords)
            if fits, job.claims.isDisjoint(with: blocked) {
                queue.claimed.formUnion(job.claims)
                records += job.request.records.count
                group.append(job)
            } else {
                left.append(job)
            }
            blocked.formUnion(job.claims)
        }
        left.append(contentsOf: queue.jobs[scanned...])
        queue.jobs = left
        return group
    }
}

extension Set<PushGroups.Claim> {
    /// The replicas claimed.
    var replicas: [ReplicaID] {
        var replicas: [ReplicaID] = []
        for case .replica(let replica) in self { replicas.append(replica) }
        return replicas
    }

    /// The scopes claimed.
    var scopes: Set<Scope> {
        var scopes: Set<Scope> = []
        for case .scope(let scope) in self { scopes.insert(scope) }
        return scopes
    }
}
