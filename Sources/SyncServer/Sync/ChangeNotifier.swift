/// Wakes long-polling pulls when a push commits a change.
///
/// Only pushes in this process announce themselves; a long poll also re-reads the store's head
/// at least every second, so changes written by another process on the same database are seen too.
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
