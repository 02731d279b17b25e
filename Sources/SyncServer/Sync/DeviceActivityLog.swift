import SyncCore
import Logging
import ServiceLifecycle

/// Device activity for `GET /v1/devices`, kept in memory and written at most once a second in one
/// transaction. With many schools syncing, a write per pull and per push only for bookkeeping took
/// the single SQLite writer as often as the pushes themselves.
///
/// Run it as a service beside the server: it writes every second, and once more on graceful
/// shutdown. Readers of the device list call ``flush()`` first, so the list is never behind.
public actor DeviceActivityLog: Service {
    private let store: any SyncStore
    private let logger: Logger
    /// The latest pull and the latest push of each principal since the last write.
    private var pending: [String: DeviceActivity] = [:]
    /// The write in progress: a flush waits for it, so what it took is committed before it returns.
    private var writing: Task<Void, Never>?

    /// Makes a log that writes to `store` and logs a failed write to `logger` as a warning.
    public init(store: any SyncStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Notes one pull or push; only the latest of each kind per device is kept until the next write.
    public func record(_ activity: DeviceActivity) {
        guard activity.principal.kind == .device else { return }
        let kind =
            switch activity.kind {
            case .pull: "pull"
            case .push: "push"
            }
        // A pull names no client; the store keeps the one the last push named.
        pending["\(activity.principal.id)/\(kind)"] = activity
    }

    /// Writes everything noted so far and returns once it is committed. Failures are logged, not
    /// thrown: the list is informational. What failed is kept for the next write unless newer
    /// activity replaced it.
    public func flush() async {
        // One write at a time, and a caller returns only after the write that took its activity.
        while let running = writing { await running.value }
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = [:]
        let write = Task { await self.write(batch) }
        writing = write
        await write.value
    }

    private func write(_ batch: [String: DeviceActivity]) async {
        // Cleared before the task ends, so whoever awaited it finds no write running (or a newer one).
        defer { writing = nil }
        do {
            try await store.recordActivity(batch.values.sorted { $0.time < $1.time })
        } catch {
            logger.warning("device activity not recorded yet", metadata: ["error": "\(error)", "sync.activities": "\(batch.count)"])
            pending.merge(batch) { newer, _ in newer }
        }
    }

    /// Writes the noted activity every second until graceful shutdown, then once more; it never throws.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while true {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                await self.flush()
            }
        }
        // The shutting-down task may be cancelled, and the store refuses work in a cancelled task.
        await Task { await self.flush() }.value
    }
}
