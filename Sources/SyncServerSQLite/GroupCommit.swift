import GRDB
import SyncServer
import Synchronization

/// Runs the database work that arrives while earlier work is still running together, in one
/// transaction per group, one group at a time.
///
/// With a thousand schools syncing, a transaction per request made SQLite's fixed costs the
/// bottleneck: a durable commit per push (`synchronous = FULL`) and a reader checkout per pull.
/// Grouped, every request keeps its own answer, and runs after the ones before it exactly as it
/// would in a transaction of its own:
/// - ``writes(_:)``: each job in its own savepoint, so one that fails takes nothing of the others
///   with it, and all of them become durable with one commit.
/// - ``reads(_:)``: all jobs in one snapshot, which is a snapshot each of them could have had.
final class GroupCommit<Output: Sendable>: Sendable {
    typealias Work = @Sendable (Database) throws -> Output
    typealias RunGroup = @Sendable ([Work]) async -> [Result<Output, any Error>]

    private struct Job: Sendable {
        let work: Work
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
    }

    /// Bounds how long the first job of a group waits for the last one.
    private let maxGroup: Int
    private let runGroup: RunGroup
    private let queue = Mutex(Queue())

    private init(maxGroup: Int, runGroup: @escaping RunGroup) {
        self.maxGroup = maxGroup
        self.runGroup = runGroup
    }

    /// Groups of writes: one transaction, a savepoint per job.
    /// Up to 256 pushes share a commit: measured with 1,000 schools, larger groups than reads
    /// want, since each commit waits for the disk.
    static func writes(_ pool: DatabasePool) -> GroupCommit {
        GroupCommit(maxGroup: 256) { works in
            do {
                return try await pool.write { db in
                    works.map { work in
                        Result {
                            var output: Output?
                            try db.inSavepoint {
                                output = try work(db)
                                return .commit
                            }
                            guard let output else { throw DatabaseError(message: "a grouped write returned nothing") }
                            return output
                        }
                    }
                }
            } catch {
                // The transaction itself failed (the disk is full, say): nothing of this group was stored.
                return works.map { _ in .failure(error) }
            }
        }
    }

    /// Groups of reads: one snapshot.
    static func reads(_ pool: DatabasePool) -> GroupCommit {
        GroupCommit(maxGroup: 64) { works in
            do {
                return try await pool.read { db in works.map { work in Result { try work(db) } } }
            } catch {
                return works.map { _ in .failure(error) }
            }
        }
    }

    /// Runs `work` in the next group and returns what it returned, or throws what it threw.
    func run(_ work: @escaping Work) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = queue.withLock { queue in
                queue.jobs.append(Job(work: work, continuation: continuation))
                guard !queue.draining else { return false }
                queue.draining = true
                return true
            }
            // A task of its own: a cancelled request must not cancel the group it joined.
            if startDrain { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let jobs = queue.withLock { queue in
                let taken = Array(queue.jobs.prefix(maxGroup))
                queue.jobs.removeFirst(taken.count)
                if taken.isEmpty { queue.draining = false }
                return taken
            }
            guard !jobs.isEmpty else { return }
            let results = await runGroup(jobs.map(\.work))
            for (job, result) in zip(jobs, results) { job.continuation.resume(with: result) }
        }
    }
}
