import SyncCore
import Testing

@testable import SyncServer

/// Long polls wake for changes to what they read, and never miss one that commits between their
/// read of the store and their wait.
struct ChangeNotifierTests {
    let schoolA = (try? Scope.school("qx-a")) ?? .catalog
    let schoolB = (try? Scope.school("qx-b")) ?? .catalog

    /// An announcement between a poll's read and its wait is kept: the wait returns at once.
    @Test(.timeLimit(.minutes(1))) func anAnnouncementBeforeTheWaitIsNotLost() async {
        let notifier = ChangeNotifier()
        let poll = await notifier.subscribe(reading: [schoolA, .catalog])
        await notifier.announce(scopes: [schoolA])
        #expect(await notifier.wait(poll, atMost: .seconds(60)), "woken by the change committed before it waited")
        await notifier.unsubscribe(poll)
    }

    /// A school's push wakes that school's polls and the ones reading every scope; another
    /// school's polls go on waiting (their wait runs out: nothing they read changed).
    @Test(.timeLimit(.minutes(1))) func aChangeWakesOnlyThePollsThatReadItsScope() async {
        let notifier = ChangeNotifier()
        let readerA = await notifier.subscribe(reading: [schoolA, .catalog])
        let readerB = await notifier.subscribe(reading: [schoolB, .catalog])
        let bureau = await notifier.subscribe(reading: nil)
        await notifier.announce(scopes: [schoolA])
        #expect(await notifier.wait(readerA, atMost: .seconds(60)))
        #expect(await notifier.wait(bureau, atMost: .seconds(60)))
        #expect(await notifier.wait(readerB, atMost: .milliseconds(50)) == false, "school B's poll is not woken by school A's change")
        // The catalog is everyone's; an announcement without scopes (a revocation) wakes every poll.
        await notifier.announce(scopes: [.catalog])
        #expect(await notifier.wait(readerB, atMost: .seconds(60)))
        await notifier.announce(scopes: nil)
        #expect(await notifier.wait(readerA, atMost: .seconds(60)))
        #expect(await notifier.wait(readerB, atMost: .seconds(60)))
        for poll in [readerA, readerB, bureau] { await notifier.unsubscribe(poll) }
    }

    /// A poll already waiting is woken by the announcement, not by its timeout.
    @Test(.timeLimit(.minutes(1))) func aWaitingPollIsWokenAtOnce() async throws {
        let notifier = ChangeNotifier()
        let poll = await notifier.subscribe(reading: [schoolA])
        let woken = Task { await notifier.wait(poll, atMost: .seconds(60)) }
        // Announce until the waiting poll takes one (the first may come before it waits; then it is
        // kept and the wait returns at once, which is as good).
        await notifier.announce(scopes: [schoolA])
        #expect(await woken.value)
        await notifier.unsubscribe(poll)
    }
}
