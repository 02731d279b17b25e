/// Exponential backoff with full jitter, for connection errors, timeouts and 5xx (never 4xx).
///
/// Pure: it computes delays from an injected random generator; the caller sleeps.
public struct RetryPolicy: Sendable {
    /// How many times one request is tried in all.
    public var maxAttempts: Int
    /// The cap of the first delay; each retry doubles it.
    public var baseDelay: Duration
    /// No delay exceeds this.
    public var maxDelay: Duration

    /// The defaults of PROTOCOL.md §8: up to 0.5 s first, doubling, at most 60 s, five attempts.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(60)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `attempt` (1 for the first retry): uniformly random between
    /// zero and `min(maxDelay, baseDelay · 2^(attempt−1))`, or the server's `Retry-After` if longer.
    public func delay<G: RandomNumberGenerator>(beforeRetry attempt: Int, retryAfter: Duration? = nil, using generator: inout G) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let cap = min(maxDelay, baseDelay * (1 << exponent))
        let capNanoseconds = max(0, cap.components.seconds * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000)
        let jittered = Duration.nanoseconds(Int64.random(in: 0...capNanoseconds, using: &generator))
        if let retryAfter, retryAfter > jittered { return min(retryAfter, maxDelay) }
        return jittered
    }
}
