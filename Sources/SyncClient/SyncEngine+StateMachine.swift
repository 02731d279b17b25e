import SyncCore

extension SyncEngine {
    /// Every decision a sync makes after a request fails: retry after a delay, rebuild or halve the
    /// push batch, hold one record back, re-mint the replica id, reset for a new epoch, or stop.
    ///
    /// A value type with no I/O (AsyncHTTPClient's `Transaction+StateMachine` pattern): the engine
    /// performs the ``Action`` each event returns, so the rules of PROTOCOL.md §6.2–§6.4, §7.4 and §8
    /// are in one place and are tested without a server. One machine lives for one `pull`, `push`
    /// or `sync` call.
    struct StateMachine {
        /// What the engine does next.
        enum Action {
            /// Send the same request again after waiting this long (§8: backoff with full jitter,
            /// at least the server's `Retry-After`); `attempt` is 1 for the first retry.
            case retry(after: Duration, attempt: Int, reason: SyncClientError)
            /// Forget the stored push and build the batch again from the dirty records under a fresh
            /// batch id (§6.2 `batch_reused`: nothing of it was applied).
            case rebuildBatch
            /// Forget the stored push and try the same records in batches of at most this many: the
            /// server refused the whole batch because of one record it cannot take (§6.4).
            case splitBatch(maxRecords: Int)
            /// Forget the stored push and keep this single record on the device with the reason; the
            /// others go on (one bad record never stops a school).
            case holdBack(RejectReason)
            /// Mint a fresh replica id, re-apply unsent edits and offer every record again (§6.3).
            case remint
            /// The server's store was restored: reset the cursor and offer everything again (§7.4).
            case resetEpoch(Epoch)
            /// The server refused the page size (400 `invalid_parameter` naming `limit`): its limits
            /// changed since they were kept; ask `/v1/session` again and pull with the new ones.
            case refreshLimits
            /// Give up and throw this error.
            case fail(SyncClientError)
        }

        /// The request that failed.
        enum Request: Equatable {
            case pull
            /// A push of this many records.
            case push(records: Int)
        }

        let retry: RetryPolicy
        /// The batch size a push starts with and returns to after a success.
        let batchSize: Int
        /// Attempts of the current request so far (1 for the first try).
        private(set) var attempt = 1
        /// Push rounds so far in this call.
        private(set) var pushRounds = 0
        /// Re-mints and epoch resets so far: a server that keeps asking for them is not making progress.
        private(set) var recoveries = 0
        private var maxPushRounds = Int.max
        /// Whether the last action was a retry: the next round re-sends the same batch, which is
        /// bounded by the retry policy, not a new round.
        private var retrying = false

        /// At most this many re-mints or epoch resets in one call: each one answers a single fact
        /// about the server, so many more means the answers do not change anything.
        static let maxRecoveries = 8

        init(retry: RetryPolicy, batchSize: Int) {
            self.retry = retry
            self.batchSize = max(1, batchSize)
        }

        /// A push is about to start with `waiting` dirty records: bounds the rounds, since every round
        /// acknowledges, holds back or halves, and more rounds than that means none makes progress.
        mutating func pushStarted(waiting: Int) {
            pushRounds = 0
            maxPushRounds = 4 * (waiting / batchSize + 1) + 64 + 2 * waiting
        }

        /// A push round is about to send a batch; `nil` to go on, or the failure that ends the loop.
        mutating func pushRoundStarted() -> SyncClientError? {
            if retrying {
                retrying = false
                return nil
            }
            pushRounds += 1
            guard pushRounds > maxPushRounds else { return nil }
            return SyncClientError(
                .integrity,
                "the push made no progress after \(pushRounds - 1) rounds (a record's sync data in the database cannot be acknowledged); run 'schoolsync status' and report this"
            )
        }

        /// The request was answered: the next failure starts counting attempts again.
        mutating func succeeded() {
            attempt = 1
            retrying = false
        }

        /// The request failed with `error`; what to do next. `generator` draws the jitter.
        mutating func failed<G: RandomNumberGenerator>(
            _ error: any Error,
            request: Request,
            using generator: inout G
        ) -> Action {
            retrying = false
            guard let error = error as? SyncClientError else {
                return .fail(SyncClientError(.usage, "\(error)", cause: error))
            }
            let serverCode = error.body?.error
            if case .push(let records) = request {
                if serverCode == .batchReused {
                    attempt = 1
                    return .rebuildBatch
                }
                if error.code == .tooLarge || (error.status == 400 && serverCode == .invalidJSON) {
                    attempt = 1
                    guard records <= 1 else { return .splitBatch(maxRecords: max(1, records / 2)) }
                    return .holdBack(
                        error.code == .tooLarge
                            ? RejectReason(code: .tooLarge, message: "this record is larger than the server accepts; shorten it (\(error.message))")
                            : RejectReason(code: .refusedWhole, message: "the server refuses this record: \(error.message); fix or discard it")
                    )
                }
            }
            if error.isRetryable && attempt < retry.maxAttempts {
                let delay = retry.delay(beforeRetry: attempt, retryAfter: error.retryAfter, using: &generator)
                attempt += 1
                retrying = true
                return .retry(after: delay, attempt: attempt - 1, reason: error)
            }
            if request == .pull, serverCode == .invalidParameter, error.body?.details?["parameter"] == "limit", recoveries < Self.maxRecoveries {
                recoveries += 1
                attempt = 1
                return .refreshLimits
            }
            switch error.code {
            case .replicaStale where recoveries < Self.maxRecoveries:
                recoveries += 1
                attempt = 1
                return .remint
            case .epochChanged where recoveries < Self.maxRecoveries:
                guard let text = error.body?.details?["epoch"], let epoch = try? Epoch(parsing: text) else { return .fail(error) }
                recoveries += 1
                attempt = 1
                return .resetEpoch(epoch)
            default:
                return .fail(error)
            }
        }
    }
}
