import GRDB
import Synchronization

/// Runs the pushes that arrive while the writer is busy together, in one transaction: each in its
/// own savepoint, so one push that fails takes nothing of the others with it.
///
/// Commits wait for the disk (`synchronous = FULL`); with many schools pushing at once, one wait
/// per push made the single SQLite writer the bottleneck. Grouping keeps each push's own answer,
/// receipt and change-log order (they run one after another, as separate transactions would).
final class GroupCommit<Output: Sendable>: Sendable {
    typealias Work = @Sendable (Database) throws -> Output

    private struct Job: Sendable {
        let work: Work
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
    }

    /// Bounds how long the first push of a group waits for the last one.
    static var maxGroup: Int { 64 }

    private let pool: DatabasePool
    private let queue = Mutex(Queue())

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs `work` in the next group's transaction and returns what it returned, or throws what it threw.
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
                let taken = Array(queue.jobs.prefix(Self.maxGroup))
                queue.jobs.removeFirst(taken.count)
                if taken.isEmpty { queue.draining = false }
                return taken
            }
            guard !jobs.isEmpty else { return }
            let results: [Result<Output, any Error>]
            do {
                results = try await pool.write { db in
                    jobs.map { job in
                        Result {
                            var output: Output?
                            try db.inSavepoint {
                                output = try job.work(db)
                                return .commit
                            }
                            guard let output else { throw DatabaseError(message: "a grouped write returned nothing") }
                            return output
                        }
                    }
                }
            } catch {
                // The transaction itself failed (the disk is full, say): nothing of this group was stored.
                results = jobs.map { _ in .failure(error) }
            }
            for (job, result) in zip(jobs, results) { job.continuation.resume(with: result) }
        }
    }
}
