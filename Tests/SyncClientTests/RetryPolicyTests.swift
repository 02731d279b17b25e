import NIOHTTP1
import SyncCore
import Testing

@testable import SyncClient

struct RetryPolicyTests {
    struct FixedGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
    }

    @Test func delaysGrowExponentiallyWithFullJitterUnderTheCap() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(500), maxDelay: .seconds(8))
        var generator = FixedGenerator(state: 42)
        for attempt in 1...9 {
            let cap = min(Duration.seconds(8), .milliseconds(500) * (1 << (attempt - 1)))
            var seen: [Duration] = []
            for _ in 0..<200 {
                let delay = policy.delay(beforeRetry: attempt, using: &generator)
                #expect(delay >= .zero && delay <= cap)
                seen.append(delay)
            }
            #expect(Set(seen).count > 150, "jitter spreads retries of many schools apart")
            #expect(seen.max().map { $0 > cap * 0.8 } == true)
        }
    }

    @Test func retryAfterFromTheServerIsHonouredWithinTheCap() {
        let policy = RetryPolicy(baseDelay: .milliseconds(10), maxDelay: .seconds(30))
        var generator = FixedGenerator(state: 1)
        #expect(policy.delay(beforeRetry: 1, retryAfter: .seconds(5), using: &generator) == .seconds(5))
        #expect(policy.delay(beforeRetry: 1, retryAfter: .seconds(600), using: &generator) == .seconds(30))
    }

    @Test func onlyNetworkTroubleAndServerFaultsAreRetried() {
        #expect(SyncClientError(.unreachable, "").isRetryable)
        #expect(SyncClientError(.server, "").isRetryable)
        #expect(SyncClientError(.rateLimited, "").isRetryable, "429 waits for Retry-After and tries again")
        for code: SyncClientError.Code in [
            .unauthorized, .forbidden, .badRequest, .tooLarge, .replicaStale, .epochChanged, .invalidResponse, .integrity,
        ] {
            #expect(!SyncClientError(code, "").isRetryable, "\(code)")
        }
        #expect(RetryPolicy.none.maxAttempts == 1)
    }

    @Test func answersMapToCodesThatSayWhatToDo() {
        #expect(ServerConnection.failure(status: .tooManyRequests, body: nil).code == .rateLimited)
        let foreign = ErrorBody(error: .replicaForeign, message: "…", details: nil)
        #expect(ServerConnection.failure(status: .forbidden, body: foreign).code == .replicaStale, "a copied database re-mints")
        #expect(ServerConnection.failure(status: .forbidden, body: nil).code == .forbidden)
    }
}
