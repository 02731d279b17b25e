import NIOHTTP1
import SyncCore
import Testing

@testable import SyncClient

/// The engine's decisions after a failed request, with no server and no database
/// (PROTOCOL.md §6.2–§6.4, §7.4, §8).
struct SyncStateMachineTests {
    typealias Machine = SyncEngine.StateMachine

    struct Generator: RandomNumberGenerator {
        var state: UInt64 = 7
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
    }

    static func answer(_ status: Int, _ code: ErrorCode?, details: [String: String]? = nil, retryAfter: Duration? = nil) -> SyncClientError {
        let body = code.map { ErrorBody(error: $0, message: "said", details: details) }
        var error = ServerConnection.failure(status: .init(statusCode: status), body: body)
        error.retryAfter = retryAfter
        return error
    }

    @Test func serverFaultsAreRetriedWithBackoffThenStop() {
        var machine = Machine(retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100), maxDelay: .seconds(1)), batchSize: 10)
        var generator = Generator()
        for expected in 1...2 {
            guard case .retry(let delay, let attempt, _) = machine.failed(Self.answer(500, .internal), request: .pull, using: &generator) else {
                Issue.record("attempt \(expected) is retried")
                return
            }
            #expect(attempt == expected)
            #expect(delay <= .milliseconds(100) * (1 << (expected - 1)))
        }
        guard case .fail(let error) = machine.failed(Self.answer(500, .internal), request: .pull, using: &generator) else {
            Issue.record("the third failure of three attempts stops")
            return
        }
        #expect(error.code == .server)
    }

    @Test func retryAfterOn503IsHonoured() {
        var machine = Machine(retry: RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(1), maxDelay: .seconds(60)), batchSize: 10)
        var generator = Generator()
        let busy = Self.answer(503, .unavailable, retryAfter: .seconds(7))
        guard case .retry(let delay, _, _) = machine.failed(busy, request: .push(records: 3), using: &generator) else {
            Issue.record("503 is retried")
            return
        }
        #expect(delay == .seconds(7))
    }

    @Test func aSuccessStartsTheAttemptsAgain() {
        var machine = Machine(retry: RetryPolicy(maxAttempts: 2), batchSize: 10)
        var generator = Generator()
        guard case .retry = machine.failed(Self.answer(502, nil), request: .pull, using: &generator) else { return #expect(Bool(false)) }
        machine.succeeded()
        guard case .retry = machine.failed(Self.answer(502, nil), request: .pull, using: &generator) else {
            Issue.record("the count restarted after the answer")
            return
        }
    }

    @Test func clientMistakesAreNeverRetried() {
        var machine = Machine(retry: RetryPolicy(maxAttempts: 5), batchSize: 10)
        var generator = Generator()
        for (status, code) in [(401, ErrorCode.unauthorized), (403, .forbidden), (400, .invalidCursor), (404, .notFound)] {
            guard case .fail = machine.failed(Self.answer(status, code), request: .pull, using: &generator) else {
                Issue.record("\(status) \(code) stops at once")
                continue
            }
        }
    }

    @Test func aWholeBatchRefusedIsHalvedUntilOneRecordIsHeldBack() {
        var machine = Machine(retry: RetryPolicy(), batchSize: 8)
        var generator = Generator()
        for refusal in [Self.answer(400, .invalidJSON), Self.answer(413, .bodyTooLarge), Self.answer(413, .batchTooLarge)] {
            guard case .splitBatch(let size) = machine.failed(refusal, request: .push(records: 8), using: &generator) else {
                Issue.record("\(refusal.code) splits a batch of 8")
                continue
            }
            #expect(size == 4)
        }
        guard case .holdBack(let reason) = machine.failed(Self.answer(400, .invalidJSON), request: .push(records: 1), using: &generator) else {
            return #expect(Bool(false), "a single refused record is held back")
        }
        #expect(reason.code == .refusedWhole)
        #expect(!reason.code.isLocal, "a server may accept it later: it is lifted like a server's rejection")
        guard case .holdBack(let large) = machine.failed(Self.answer(413, .bodyTooLarge), request: .push(records: 1), using: &generator) else {
            return #expect(Bool(false), "a single record too large is held back")
        }
        #expect(large.code == .tooLarge)
        // A 400 for a pull is the client's own mistake, not one record's.
        guard case .fail = machine.failed(Self.answer(400, .invalidJSON), request: .pull, using: &generator) else {
            return #expect(Bool(false))
        }
    }

    @Test func aReusedBatchIsRebuilt() {
        var machine = Machine(retry: RetryPolicy(), batchSize: 8)
        var generator = Generator()
        guard case .rebuildBatch = machine.failed(Self.answer(409, .batchReused), request: .push(records: 3), using: &generator) else {
            return #expect(Bool(false))
        }
    }

    @Test func staleAndForeignReplicasReMintAndANewEpochResets() throws {
        var machine = Machine(retry: RetryPolicy(), batchSize: 8)
        var generator = Generator()
        guard case .remint = machine.failed(Self.answer(409, .replicaStale), request: .push(records: 1), using: &generator) else {
            return #expect(Bool(false), "replica_stale re-mints")
        }
        guard case .remint = machine.failed(Self.answer(403, .replicaForeign), request: .pull, using: &generator) else {
            return #expect(Bool(false), "replica_foreign re-mints")
        }
        let epoch = Epoch.random()
        guard case .resetEpoch(let reset) = machine.failed(Self.answer(409, .epochChanged, details: ["epoch": epoch.description]), request: .pull, using: &generator) else {
            return #expect(Bool(false), "epoch_changed resets")
        }
        #expect(reset == epoch)
        guard case .fail = machine.failed(Self.answer(409, .epochChanged), request: .pull, using: &generator) else {
            return #expect(Bool(false), "an epoch_changed without the epoch cannot be acted on")
        }
    }

    @Test func recoveriesAreBoundedSoAServerThatKeepsAskingEndsTheRun() {
        var machine = Machine(retry: RetryPolicy(), batchSize: 8)
        var generator = Generator()
        for _ in 0..<Machine.maxRecoveries {
            guard case .remint = machine.failed(Self.answer(409, .replicaStale), request: .pull, using: &generator) else {
                return #expect(Bool(false))
            }
        }
        guard case .fail(let error) = machine.failed(Self.answer(409, .replicaStale), request: .pull, using: &generator) else {
            return #expect(Bool(false))
        }
        #expect(error.code == .replicaStale)
    }

    @Test func pushRoundsAreBounded() {
        var machine = Machine(retry: RetryPolicy(), batchSize: 10)
        machine.pushStarted(waiting: 0)
        var rounds = 0
        while machine.pushRoundStarted() == nil { rounds += 1 }
        #expect(rounds == 4 * 1 + 64)
    }

    /// Retries re-send the same batch: they are bounded by the retry policy and are not push rounds,
    /// so a long outage with many attempts ends as "server failing", never as "no progress".
    @Test func retriesAreNotCountedAsPushRounds() {
        var machine = Machine(retry: RetryPolicy(maxAttempts: 1000, baseDelay: .nanoseconds(1), maxDelay: .nanoseconds(1)), batchSize: 200)
        var generator = Generator()
        machine.pushStarted(waiting: 1)
        for _ in 0..<500 {
            #expect(machine.pushRoundStarted() == nil)
            guard case .retry = machine.failed(Self.answer(503, .unavailable), request: .push(records: 1), using: &generator) else {
                Issue.record("503 is retried")
                return
            }
        }
        #expect(machine.pushRounds == 1)
    }

    /// A page size the server refuses (its limits changed since enrolment) asks for the limits
    /// again; another parameter's refusal does not.
    @Test func aRefusedPageSizeRefreshesTheLimits() {
        var machine = Machine(retry: RetryPolicy(), batchSize: 8)
        var generator = Generator()
        let limit = Self.answer(400, .invalidParameter, details: ["parameter": "limit"])
        guard case .refreshLimits = machine.failed(limit, request: .pull, using: &generator) else {
            return #expect(Bool(false))
        }
        guard case .fail = machine.failed(Self.answer(400, .invalidParameter, details: ["parameter": "wait"]), request: .pull, using: &generator) else {
            return #expect(Bool(false))
        }
    }
}
