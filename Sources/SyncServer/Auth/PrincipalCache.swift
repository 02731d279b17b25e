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

    private let entries = Mutex<[Data: Entry]>([:])

    func principal(forTokenHash hash: Data, now: ContinuousClock.Instant = .now) -> Principal? {
        entries.withLock { entries in
            guard let entry = entries[hash] else { return nil }
            guard entry.expires > now else {
                entries[hash] = nil
                return nil
            }
            return entry.principal
        }
    }

    func remember(_ principal: Principal, forTokenHash hash: Data, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[hash] = Entry(principal: principal, expires: now + Self.lifetime)
        }
    }

    func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
