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

/// What one `pull`, `push` or `sync` did: the counts of its pulls and of its pushes.
public struct SyncSummary: Sendable, Hashable {
    /// Records received and what they changed.
    public var pulled = PullSummary()
    /// Records sent and what the server answered for them.
    public var pushed = PushSummary()
}

/// Runs the protocol for one replica: pull pages until `more` is false, push dirty records in
/// batches, and `sync` = pull, push, pull. Retries network errors and 5xx with backoff and jitter,
/// never 4xx; answers `replica_stale` and `epoch_changed` as PROTOCOL.md §6.3 and §7.4 say.
public struct SyncEngine: Sendable {
    /// The local database this engine syncs.
    public let replica: LocalReplica
    /// How it reaches the server: ``HTTPSyncTransport``, or a test's wrapper of it.
    public let transport: any SyncTransport
    /// When a failed request is tried again: network errors, 5xx and 429 only, never another 4xx (PROTOCOL.md §8).
    public var retry: RetryPolicy
    /// Records per push (default 200, at least 1), capped by the server's `maxBatchRecords` (PROTOCOL.md §10);
    /// a batch refused as too large (413) is sent again in halves.
    public var batchSize: Int
    /// Records per pull page, the `limit` of PROTOCOL.md §7.1 (default 500, at least 1), capped by the
    /// server's `maxPullLimit` (§10).
    public var pageSize: Int
    /// Where the engine logs pages and retries (debug) and a re-mint (notice).
    public var logger: Logger
    /// Called with progress; the CLI prints it.
    public var progress: @Sendable (SyncProgress) -> Void
    /// Waits between retries; tests pass one that does not sleep.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// How long `sync`, `pull` and `push` wait for another sync of the same database file to end
    /// before throwing ``SyncClientError/Code/busy``; zero gives up at once.
    public var lockWait: Duration = .zero

    /// Makes an engine for one replica; a `batchSize` or `pageSize` below 1 counts as 1. Nothing is sent
    /// until ``SyncEngine/sync()``, ``SyncEngine/pull()`` or ``SyncEngine/push()``.
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
    public func sync() async throws -> SyncSummary {
        try await recordingOutcome { sizes in
            var report = SyncSummary(pushed: try await pushUnanswered(sizes))
            report.pulled = try await pullAll(sizes)
            let pushed = try await pushAll(sizes)
            report.pushed.sent += pushed.sent
            report.pushed.applied += pushed.applied
            report.pushed.conflicts += pushed.conflicts
            report.pushed.rejected += pushed.rejected
            // The second pull brings back what others changed while we pushed, and the merged states
            // of our conflicts; with nothing pushed there is nothing to wait for, so a quiet sync is one round trip.
            if pushed.sent > 0 {
                let second = try await pullAll(sizes)
                report.pulled.received += second.received
                report.pulled.changed += second.changed
                report.pulled.conflicts = second.conflicts
            }
            return report
        }
    }

    /// Pulls until the server has nothing more.
    @discardableResult
    public func pull() async throws -> SyncSummary {
        try await recordingOutcome { sizes in
            let unanswered = try await pushUnanswered(sizes)
            return SyncSummary(pulled: try await pullAll(sizes), pushed: unanswered)
        }
    }

    /// Pushes every dirty record (an unanswered earlier push first).
    @discardableResult
    public func push() async throws -> SyncSummary {
        try await recordingOutcome { sizes in
            SyncSummary(pushed: try await pushAll(sizes))
        }
    }

    /// Runs one sync operation holding the database's sync lock, and records its outcome for `status`.
    /// A sync refused because another is running records nothing: the running one's outcome stands.
    private func recordingOutcome(_ body: (Sizes) async throws -> SyncSummary) async throws -> SyncSummary {
        let lock = try await SyncLock.acquire(for: replica.path, wait: lockWait, sleep: sleep)
        defer { lock.release() }
        do {
            if try await replica.takeRemintRequest() {
                progress(.reminted(try await replica.remint()))
            }
            let report = try await body(try await sizes())
            try await replica.recordOutcome(error: nil)
            return report
        } catch let error as SyncClientError {
            try? await replica.recordOutcome(error: error)
            throw error
        }
    }

    /// Retries a push whose answer never came, before anything else: a pull would carry a receipt
    /// the server may have moved past (PROTOCOL.md §6.1).
    func pushUnanswered(_ sizes: Sizes) async throws -> PushSummary {
        guard try await replica.hasPendingPush() else { return PushSummary() }
        return try await pushAll(sizes, onlyUnanswered: true)
    }

    /// The batch and page sizes of one run: the engine's own, capped by the server's limits
    /// (`/v1/session`, PROTOCOL.md §10), which the replica remembers from enrolment. A replica
    /// enrolled before it kept them asks once; if the server cannot be reached, the engine's sizes
    /// stand (a 413 splits a batch, and a refused page size asks again: ``StateMachine/Action/refreshLimits``).
    struct Sizes {
        var batch: Int
        var page: Int
    }

    func sizes() async throws -> Sizes {
        if let limits = try await replica.serverLimits() { return sizes(within: limits) }
        return try await refreshedSizes() ?? Sizes(batch: batchSize, page: pageSize)
    }

    private func sizes(within limits: SessionInfo.Limits) -> Sizes {
        Sizes(batch: max(1, min(batchSize, limits.maxBatchRecords)), page: max(1, min(pageSize, limits.maxPullLimit)))
    }

    /// Asks `/v1/session` for the server's limits and keeps them; `nil` when the server cannot be
    /// reached now. A refused token ends the run here, as its pull would.
    private func refreshedSizes() async throws -> Sizes? {
        do {
            let session = try await transport.session()
            try await replica.rememberServerLimits(session.limits)
            return sizes(within: session.limits)
        } catch let error as SyncClientError where error.code == .unauthorized {
            throw error
        } catch {
            return nil
        }
    }

    func pullAll(_ sizes: Sizes) async throws -> PullSummary {
        var sizes = sizes
        var machine = StateMachine(retry: retry, batchSize: sizes.batch)
        var generator = SystemRandomNumberGenerator()
        var total = PullSummary()
        while true {
            let request = try await replica.nextPull(limit: sizes.page)
            let page: PullResponse
            do {
                page = try await transport.pull(request)
                machine.succeeded()
            } catch {
                let action = machine.failed(error, request: .pull, using: &generator)
                if case .refreshLimits = action {
                    guard let fresh = try await refreshedSizes() else { throw error }
                    sizes = fresh
                    continue
                }
                try await perform(action)
                continue
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

    func pushAll(_ sizes: Sizes, onlyUnanswered: Bool = false) async throws -> PushSummary {
        var machine = StateMachine(retry: retry, batchSize: sizes.batch)
        var generator = SystemRandomNumberGenerator()
        var total = PushSummary()
        let waiting = try await replica.pendingCount()
        machine.pushStarted(waiting: waiting)
        var size = sizes.batch
        while let pending = try await replica.preparePush(maxRecords: size) {
            if let stuck = machine.pushRoundStarted() { throw stuck }
            let response: PushResponse
            do {
                response = try await transport.push(pending.request, encoded: pending.body)
                machine.succeeded()
            } catch {
                let action = machine.failed(error, request: .push(records: pending.request.records.count), using: &generator)
                switch action {
                case .rebuildBatch:
                    try await replica.dropPendingPush()
                case .splitBatch(let maxRecords):
                    try await replica.dropPendingPush()
                    size = maxRecords
                case .holdBack(let reason):
                    // Refused whole, so nothing of it was applied: forgetting the batch reuses no
                    // batch id, and the record stays dirty until an edit fixes it.
                    try await replica.dropPendingPush()
                    if let key = pending.request.records.first?.key { try await replica.holdBack(key, reason) }
                default:
                    try await perform(action)
                    continue
                }
                if onlyUnanswered { break }
                continue
            }
            let summary = try await replica.acknowledge(pending, with: response)
            total.sent += summary.sent
            total.applied += summary.applied
            total.conflicts += summary.conflicts
            total.rejected += summary.rejected
            progress(.pushed(records: total.sent, of: max(waiting, total.sent)))
            size = sizes.batch
            if onlyUnanswered { break }
        }
        return total
    }

    /// Performs the actions of ``StateMachine`` that are the same for pulls and pushes.
    private func perform(_ action: StateMachine.Action) async throws {
        switch action {
        case .retry(let delay, let attempt, let error):
            progress(.retrying(attempt: attempt, after: delay, reason: error.message))
            logger.debug("retrying", metadata: ["sync.attempt": "\(attempt)", "sync.error": "\(error.code)"])
            try await sleep(delay)
        case .remint:
            let fresh = try await replica.remint()
            logger.warning("replica re-minted after replica_stale", metadata: ["sync.replica": "\(fresh)"])
            progress(.reminted(fresh))
        case .resetEpoch(let epoch):
            try await replica.resetForNewEpoch(epoch)
            progress(.epochReset(epoch))
        case .fail(let error):
            throw error
        case .rebuildBatch, .splitBatch, .holdBack, .refreshLimits:
            // The loop that can get these performs them itself (a push the first three, a pull the last).
            break
        }
    }
}
