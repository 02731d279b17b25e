import ServiceLifecycle

/// Wakes long-polling pulls when a push commits a change.
///
/// Pushes in this process announce themselves, and ``ChangeWatcher`` announces those of other
/// processes when the store can tell (PostgreSQL); a long poll also re-reads the store at least every
/// second, so changes another process wrote to a shared SQLite file are seen too.
actor ChangeNotifier {
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextID = 0

    /// Wakes every waiting pull.
    func announce() {
        let woken = waiters
        waiters = [:]
        for continuation in woken.values { continuation.resume() }
    }

    /// Returns after the next announcement or after `timeout`, whichever comes first.
    func wait(atMost timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.suspendUntilAnnounced() }
            await group.next()
            group.cancelAll()
        }
    }

    private func suspendUntilAnnounced() async {
        let id = nextID
        nextID += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume()
                } else {
                    waiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    private func cancel(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
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
                try await store.watchChanges { [notifier] in await notifier.announce() }
            }
        } catch is CancellationError {
            return
        }
        // A store without notifications returns at once; a service that ends early would stop the
        // whole server, so this one waits for the shutdown like the others.
        try? await gracefulShutdown()
    }
}
