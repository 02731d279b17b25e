import Foundation
import SyncCore
import Testing

@testable import SyncServer

/// Tokens are remembered for a second; a revocation forgets them and cannot be undone by a lookup
/// that started before it.
struct PrincipalCacheTests {
    let device = Principal(id: 7, kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran")
    let hash = Data(repeating: 0xAB, count: 32)

    @Test func anEntryLivesOneSecond() {
        let cache = PrincipalCache()
        let start = ContinuousClock.now
        cache.remember(device, forTokenHash: hash, readAt: cache.generation, now: start)
        #expect(cache.principal(forTokenHash: hash, now: start + .milliseconds(999)) == device)
        #expect(cache.principal(forTokenHash: hash, now: start + .seconds(1)) == nil)
    }

    @Test func aLookupThatBeganBeforeARevocationIsNotRemembered() {
        let cache = PrincipalCache()
        let before = cache.generation
        cache.removeAll()
        cache.remember(device, forTokenHash: hash, readAt: before)
        #expect(cache.principal(forTokenHash: hash) == nil)
        cache.remember(device, forTokenHash: hash, readAt: cache.generation)
        #expect(cache.principal(forTokenHash: hash) == device)
        cache.removeAll()
        #expect(cache.principal(forTokenHash: hash) == nil)
    }
}
