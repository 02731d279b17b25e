import Logging
import SyncCore

/// Progress of a long pull or push, for a progress line.
public enum SyncProgress: Sendable, Equatable {
    /// Records pulled so far in this run.
    case pulled(records: Int)
    /// Records pushed so far, out of the records that were dirty when the push began.
    case pushed(records: Int, of: Int)
    /// A request failed and will be retried after a delay.
    case retrying(attempt: Int, after: Duration, reason: String)
    /// The server asked this replica to re-mint (its database forgot a push).
    case reminted(ReplicaID)
    /// The server's store was restored; everything is pulled and offered again.
    case epochReset(Epoch)
}

/// The result of `pull`, `push` or `sync`.
public struct SyncReport: Sendable, Hashable {
    public var pulled = PullSummary()
    public var pushed = PushSummary()
}

/// Runs the protocol for one replica: pull pages until `more` is false, push dirty records in
/// batches, and `sync` = pull, push, pull. Retries network errors and 5xx with backoff and jitter,
/// never 4xx; answers `replica_stale` and `epoch_changed` as PROTOCOL.md §6.3 and §7.4 say.
public struct SyncEngine: Sendable {
    public let replica: LocalReplica
    public let transport: any SyncTransport
    public var retry: RetryPolicy
    public var batchSize: Int
    public var pageSize: Int
    public var logger: Logger
    /// Called with progress; the CLI prints it.
    public var progress: @Sendable (SyncProgress) -> Void
    /// Waits between retries; tests pass one that does not sleep.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// How long `sync`, `pull` and `push` wait for another sync of the same database file to end
    /// before throwing ``SyncClientError/Code/busy``; zero gives up at once.
    public var lockWait: Duration = .zero

    public init(
        replica: LocalReplica,
        transport: any SyncTransport,
        retry: RetryPolicy = RetryPolicy(),
        batchSize: Int = 200,
        pageSize: Int = 500,
        logger: Logger = Logger(label: "SyncClient"),
        progress: @escaping @Sendable (SyncProgress) -> Void = { _ in },
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.replica = replica
        self.transport = transport
        self.retry = retry
        self.batchSize = max(1, batchSize)
        self.pageSize = max(1, pageSize)
        self.logger = logger
        self.progress = progress
        self.sleep = sleep
    }

    /// Pull, push, pull: local edits go up and everyone else's come down (the second pull only
    /// when something was pushed).
    @discardableResult
    public func sync() async throws -> SyncReport {
        try await recordingOutcome {
            var report = SyncReport(pushed: try await pushUnanswered())
            report.pulled = try await pullAll()
            let pushed = try await pushAll()
            report.pushed.sent += pushed.sent
            report.pushed.applied += pushed.applied
            report.pushed.conflicts += pushed.conflicts
            report.pushed.rejected += pushed.rejected
            // The second pull brings back what others changed while we pushed, and the merged states
            // of our conflicts; with nothing pushed there is nothing to wait for, so a quiet sync is one round trip.
            if pushed.sent > 0 {
                let second = try await pullAll()
                report.pulled.received += second.received
                report.pulled.changed += second.changed
                report.pulled.conflicts = second.conflicts
            }
            return report
        }
    }

    /// Pulls until the server has nothing more.
    @discardableResult
    public func pull() async throws -> SyncReport {
        try await recordingOutcome {
            let unanswered = try await pushUnanswered()
            return SyncReport(pulled: try await pullAll(), pushed: unanswered)
        }
    }

    /// Pushes every dirty record (an unanswered earlier push first).
    @discardableResult
    public func push() async throws -> SyncReport {
        try await recordingOutcome {
            SyncReport(pushed: try await pushAll())
        }
    }

    /// Runs one sync operation holding the database's sync lock, and records its outcome for `status`.
    /// A sync refused because another is running records nothing: the running one's outcome stands.
    private func recordingOutcome(_ body: () async throws -> SyncReport) async throws -> SyncReport {
        let lock = try await SyncLock.acquire(for: replica.path, wait: lockWait, sleep: sleep)
        defer { lock.release() }
        do {
            if try await replica.takeRemintRequest() {
                progress(.reminted(try await replica.remint()))
            }
            let report = try await body()
            try await replica.recordOutcome(error: nil)
            return report
        } catch let error as SyncClientError {
            try? await replica.recordOutcome(error: error)
            throw error
        }
    }

    /// Retries a push whose answer never came, before anything else: a pull would carry a receipt
    /// the server may have moved past (PROTOCOL.md §6.1).
    func pushUnanswered() async throws -> PushSummary {
        guard try await replica.hasPendingPush() else { return PushSummary() }
        return try await pushAll(onlyUnanswered: true)
    }

    func pullAll() async throws -> PullSummary {
        var total = PullSummary()
        while true {
            let request = try await replica.nextPull(limit: pageSize)
            let page: PullResponse
            do {
                page = try await withRetries { try await transport.pull(request) }
            } catch {
                if try await recover(from: error) { continue }
                throw error
            }
            let summary = try await replica.apply(page)
            total.received += summary.received
            total.changed += summary.changed
            total.conflicts += summary.conflicts
            progress(.pulled(records: total.received))
            logger.debug("pulled page", metadata: ["sync.records": "\(page.records.count)", "sync.next": "\(page.next)"])
            if !page.more { return total }
        }
    }

    func pushAll(onlyUnanswered: Bool = false) async throws -> PushSummary {
        var total = PushSummary()
        let waiting = try await replica.pendingCount()
        var size = batchSize
        // Every round acknowledges, holds back or halves: more rounds than that allows means the
        // rounds make no progress (a row the answers cannot reach), and the loop must end.
        var rounds = 0
        let maxRounds = 4 * (waiting / max(1, batchSize) + 1) + 64 + 2 * waiting
        while let pending = try await replica.nextPush(maxRecords: size) {
            rounds += 1
            guard rounds <= maxRounds else {
                throw SyncClientError(
                    .integrity,
                    "the push made no progress after \(rounds - 1) rounds (a record's sync data in the database cannot be acknowledged); run 'schoolsync status' and report this"
                )
            }
            let response: PushResponse
            do {
                response = try await withRetries { try await transport.push(pending.request) }
            } catch let error as SyncClientError where error.body?.error == "batch_reused" {
                // Nothing was applied; the records are still dirty and go again under a fresh id.
                try await replica.dropPendingPush()
                if onlyUnanswered { break }
                continue
            } catch let error as SyncClientError
                where error.code == .tooLarge || (error.status == 400 && error.body?.error == "invalid_json")
            {
                // The server refused the whole batch without applying any of it, so forgetting it
                // reuses no batch id and its records stay dirty. Halving finds the one record that
                // cannot pass; it is held back alone and the others go on (one bad record never
                // stops a school).
                try await replica.dropPendingPush()
                if pending.request.records.count == 1, let key = pending.request.records.first?.key {
                    let reason =
                        error.code == .tooLarge
                        ? RejectReason(code: "too_large", message: "this record is larger than the server accepts; shorten it (\(error.message))")
                        : RejectReason(code: error.body?.error ?? "bad_request", message: "the server refuses this record: \(error.message); fix or discard it")
                    try await replica.holdBack(key, reason)
                } else {
                    size = max(1, pending.request.records.count / 2)
                }
                if onlyUnanswered { break }
                continue
            } catch {
                if try await recover(from: error) { continue }
                throw error
            }
            let summary = try await replica.complete(pending, with: response)
            total.sent += summary.sent
            total.applied += summary.applied
            total.conflicts += summary.conflicts
            total.rejected += summary.rejected
            progress(.pushed(records: total.sent, of: max(waiting, total.sent)))
            size = batchSize
            if onlyUnanswered { break }
        }
        return total
    }

    /// Handles the two answers that need the replica to change before trying again.
    private func recover(from error: any Error) async throws -> Bool {
        guard let error = error as? SyncClientError else { return false }
        switch error.code {
        case .replicaStale:
            let fresh = try await replica.remint()
            logger.notice("replica re-minted after replica_stale", metadata: ["sync.replica": "\(fresh)"])
            progress(.reminted(fresh))
            return true
        case .epochChanged:
            guard let text = error.body?.details?["epoch"], let epoch = try? Epoch(parsing: text) else { return false }
            try await replica.resetForNewEpoch(epoch)
            progress(.epochReset(epoch))
            return true
        default:
            return false
        }
    }

    private func withRetries<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as SyncClientError where error.isRetryable && attempt < retry.maxAttempts {
                let delay = retry.delay(beforeRetry: attempt, retryAfter: error.retryAfter, using: &generator)
                progress(.retrying(attempt: attempt, after: delay, reason: error.message))
                logger.debug("retrying", metadata: ["sync.attempt": "\(attempt)", "sync.error": "\(error.code)"])
                try await sleep(delay)
                attempt += 1
            }
        }
    }
}
