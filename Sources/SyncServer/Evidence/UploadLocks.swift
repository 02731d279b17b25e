/// One request at a time per upload, in this server process, as tusd locks its uploads: a HEAD
/// that follows a cut PATCH waits until that PATCH's handler has stored the bytes it received, so
/// the offset it answers is where the client can go on (PROTOCOL.md §13.2). Across server
/// processes the store's conditional append still keeps writers from interleaving.
actor UploadLocks {
    private var held: Set<String> = []
    private var waiters: [String: [(token: UInt64, continuation: CheckedContinuation<Bool, Never>)]] = [:]
    private var nextToken: UInt64 = 0

    /// Takes the lock of upload `id`, waiting at most `limit`; returns whether it was taken.
    func lock(_ id: String, within limit: Duration) async -> Bool {
        if !held.contains(id) {
            held.insert(id)
            return true
        }
        nextToken += 1
        let token = nextToken
        let timeout = Task {
            try? await Task.sleep(for: limit)
            self.expire(id, token)
        }
        let taken = await withCheckedContinuation { continuation in
            waiters[id, default: []].append((token, continuation))
        }
        timeout.cancel()
        return taken
    }

    /// Hands the lock of `id` to the next waiter, or frees it.
    func unlock(_ id: String) {
        guard var queue = waiters[id], !queue.isEmpty else {
            held.remove(id)
            return
        }
        let next = queue.removeFirst()
        waiters[id] = queue.isEmpty ? nil : queue
        next.continuation.resume(returning: true)
    }

    /// Runs `body` holding the lock of `id`, or throws `busy` when it stays held past `limit`.
    func with<T: Sendable>(_ id: String, within limit: Duration, busy: @autoclosure () -> any Error, _ body: () async throws -> T) async throws -> T {
        guard await lock(id, within: limit) else { throw busy() }
        do {
            let value = try await body()
            unlock(id)
            return value
        } catch {
            unlock(id)
            throw error
        }
    }

    private func expire(_ id: String, _ token: UInt64) {
        guard var queue = waiters[id], let index = queue.firstIndex(where: { $0.token == token }) else { return }
        let waiter = queue.remove(at: index)
        waiters[id] = queue.isEmpty ? nil : queue
        waiter.continuation.resume(returning: false)
    }
}
