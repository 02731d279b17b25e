import Foundation
import HTTPTypes
import SyncCore
import Synchronization

/// Counts failed sign-ins and failed bearer-token checks per client address, and says when an
/// address has failed too often (PROTOCOL.md §5 "Rate limits").
///
/// Tokens are 256-bit, so guessing one is hopeless anyway; this is defence in depth, and it keeps a
/// broken or hostile client from making the server hash and look up thousands of tokens a second.
/// Only failures count, and a token this server accepted in the last ten minutes is never held
/// back, so schools that share one address with a misbehaving machine keep syncing. (Knowing such a
/// token means having it, so this tells a guesser nothing.)
final class FailedAuthLimiter: Sendable {
    /// The most failures one address may have in one ``window``; 0 turns the limit off.
    let limit: Int
    /// The length of a counting window.
    let window: Duration
    /// Bounds memory when failures come from very many addresses.
    static let capacity = 10_000

    private struct Entry {
        var start: ContinuousClock.Instant
        var failures: Int
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// SHA-256 hashes of tokens accepted recently, and when each was last accepted.
    private let validTokens = Mutex<[Data: ContinuousClock.Instant]>([:])
    /// How long an accepted token passes a limited address without another failure counting.
    static let validTokenMemory: Duration = .seconds(600)

    init(limit: Int, window: Duration = .seconds(60)) {
        self.limit = max(0, limit)
        self.window = window
    }

    /// How long `address` must wait before its next attempt, or nil when it may try now.
    func retryAfter(_ address: String, now: ContinuousClock.Instant = .now) -> Duration? {
        guard limit > 0 else { return nil }
        return entries.withLock { entries in
            guard let entry = entries[address] else { return nil }
            let ends = entry.start + window
            guard now < ends else {
                entries[address] = nil
                return nil
            }
            return entry.failures >= limit ? ends - now : nil
        }
    }

    /// Notes a token (by its hash) that the store just accepted.
    func rememberValid(_ hash: Data, now: ContinuousClock.Instant = .now) {
        guard limit > 0 else { return }
        validTokens.withLock { tokens in
            if tokens[hash] == nil, tokens.count >= Self.capacity {
                tokens = tokens.filter { now < $0.value + Self.validTokenMemory }
                if tokens.count >= Self.capacity { tokens.removeAll(keepingCapacity: true) }
            }
            tokens[hash] = now
        }
    }

    /// Whether a token (by its hash) was accepted within ``validTokenMemory``; it is still looked up,
    /// so a revoked one is refused as usual.
    func isKnownValid(_ hash: Data, now: ContinuousClock.Instant = .now) -> Bool {
        validTokens.withLock { tokens in
            guard let accepted = tokens[hash] else { return false }
            return now < accepted + Self.validTokenMemory
        }
    }

    /// Notes one failed attempt from `address`.
    func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) {
        guard limit > 0 else { return }
        entries.withLock { entries in
            if var entry = entries[address], now < entry.start + window {
                entry.failures = min(entry.failures + 1, limit)
                entries[address] = entry
                return
            }
            if entries.count >= Self.capacity {
                entries = entries.filter { now < $0.value.start + window }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[address] = Entry(start: now, failures: 1)
        }
    }

    /// The 429 for an address that must wait, with `Retry-After` in whole seconds (at least 1).
    static func tooManyAttempts(retryAfter: Duration) -> APIError {
        let seconds = max(1, Int(retryAfter.components.seconds) + (retryAfter.components.attoseconds > 0 ? 1 : 0))
        var error = APIError(
            .tooManyRequests,
            .tooManyRequests,
            "Too many failed sign-ins or token checks from this address. Wait \(seconds) s, then try again with a valid token.",
            details: ["retryAfter": String(seconds)]
        )
        error.headers[.retryAfter] = String(seconds)
        return error
    }
}
