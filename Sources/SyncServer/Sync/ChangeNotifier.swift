import ServiceLifecycle
import SyncCore

/// Wakes long-polling pulls when a push commits a change to what they read.
///
/// Pushes in this process announce themselves, and ``ChangeWatcher`` announces those of other
/// processes when the store can tell (PostgreSQL: ``SyncStore/announcesChangesAcrossProcesses``).
/// Where it cannot (a SQLite file another process writes too), a long poll also re-reads the store
/// every second (`SyncServerConfiguration.longPollRecheck`).
///
/// A long poll subscribes before its first read of the store and waits on the subscription after
/// it: an announcement in between is kept, not lost, so the poll looks again at once.
actor ChangeNotifier {
    /// One long poll's place in line.
    struct Subscription: Hashable, Sendable {
        fileprivate let id: Int
    }

    private struct Waiter {
        /// The scopes the long poll reads; `nil`: every scope.
        var scopes: Set<Scope>?
        /// An announcement came while the poll was not waiting.
        var announced = false
        var continuation: CheckedContinuation<Bool, Never>?
    }

    private var waiters: [Int: Waiter] = [:]
    private var nextID = 0

    /// Wakes the long polls that read any of `scopes` (`nil`: every one, e.g. for a revocation or
    /// a change whose scopes are not known). A school's push wakes that school's devices and the
    /// users reading everything, not the other schools' thousands of held polls.
    func announce(scopes: Set<Scope>? = nil) {
        for (id, waiter) in waiters {
            if let scopes, let reading = waiter.scopes, reading.isDisjoint(with: scopes) { continue }
            if let continuation = waiter.continuation {
                waiters[id]?.continuation = nil
                continuation.resume(returning: true)
            } else {
                waiters[id]?.announced = true
            }
        }
    }

    /// Starts keeping the announcements for `scopes` (`nil`: any) for a long poll; end it with
    /// ``unsubscribe(_:)``.
    func subscribe(reading scopes: [Scope]?) -> Subscription {
        let id = nextID
        nextID += 1
        waiters[id] = Waiter(scopes: scopes.map(Set.init))
        return Subscription(id: id)
    }

    /// Stops keeping announcements for `subscription`.
    func unsubscribe(_ subscription: Subscription) {
        waiters.removeValue(forKey: subscription.id)?.continuation?.resume(returning: false)
    }

    /// Returns at once if an announcement for `subscription` came since it last waited, else
    /// after the next one or after `timeout`, whichever comes first.
    ///
    /// - Returns: whether an announcement woke it (`false`: the timeout, or the task was cancelled).
    func wait(_ subscription: Subscription, atMost timeout: Duration) async -> Bool {
        if waiters[subscription.id]?.announced == true {
            waiters[subscription.id]?.announced = false
            return true
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            group.addTask { await self.suspend(subscription) }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func suspend(_ subscription: Subscription) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled || waiters[subscription.id] == nil {
                    continuation.resume(returning: false)
                } else if waiters[subscription.id]?.announced == true {
                    waiters[subscription.id]?.announced = false
                    continuation.resume(returning: true)
                } else {
                    waiters[subscription.id]?.continuation = continuation
                }
            }
        } onCancel: {
            Task { await self.stopWaiting(subscription) }
        }
    }

    private func stopWaiting(_ subscription: Subscription) {
        guard let continuation = waiters[subscription.id]?.continuation else { return }
        waiters[subscription.id]?.continuation = nil
        continuation.resume(returning: false)
    }
}

/// Wakes this process's long polls for changes other processes commit, through
/// ``SyncStore/watchChanges(_:)``, until graceful shutdown.
struct ChangeWatcher: Service {
    let store: any SyncStore
    let notifier: ChangeNotifier

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await store.watchChanges { [notifier] scopes in await notifier.announce(scopes: scopes) }
            }
        } catch is CancellationError {
            return
        }
        // A store without notifications returns at once; a service that ends early would stop the
        // whole server, so this one waits for the shutdown like the others.
        try? await gracefulShutdown()
    }
}
