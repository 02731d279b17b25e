import Foundation
import Synchronization

/// Recently seen tokens and their principals, so that a school syncing several times a second does
/// not cost a database read per request for its token.
///
/// An entry lives ``lifetime`` at most: a token revoked through this process is forgotten at once
/// (``removeAll()``), one revoked by another process sharing the database file within a second.
final class PrincipalCache: Sendable {
    static let lifetime: Duration = .seconds(1)
    /// Bounds memory when many distinct (possibly bogus) tokens arrive.
    static let capacity = 10_000

    private struct Entry {
        var principal: Principal
        var expires: ContinuousClock.Instant
    }

    private struct State {
        var entries: [Data: Entry] = [:]
        /// Moves on with every ``removeAll()``: a lookup that began before a revocation must not
        /// put back what the revocation removed.
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Take this before reading the store, and give it back to ``remember(_:forTokenHash:readAt:now:)``.
    var generation: UInt64 { state.withLock { $0.generation } }

    func principal(forTokenHash hash: Data, now: ContinuousClock.Instant = .now) -> Principal? {
        state.withLock { state in
            guard let entry = state.entries[hash] else { return nil }
            guard entry.expires > now else {
                state.entries[hash] = nil
                return nil
            }
            return entry.principal
        }
    }

    /// Remembers a principal read from the store, unless tokens were revoked since `generation`.
    func remember(_ principal: Principal, forTokenHash hash: Data, readAt generation: UInt64, now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[hash] = Entry(principal: principal, expires: now + Self.lifetime)
        }
    }

    func removeAll() {
        state.withLock { state in
            state.entries.removeAll()
            state.generation &+= 1
        }
    }
}
