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
        let key = "\(activity.principal.id)/\(kind)"
        var latest = activity
        // A push names the client; a later pull does not, so keep what the push said.
        if latest.client == nil { latest.client = pending[key]?.client }
        pending[key] = latest
    }

    /// Writes everything noted so far. Failures are logged, not thrown: the list is informational.
    /// What failed is kept for the next write unless newer activity replaced it.
    public func flush() async {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = [:]
        do {
            try await store.recordActivity(batch.values.sorted { $0.time < $1.time })
        } catch {
            logger.warning("device activity not recorded yet", metadata: ["error": "\(error)", "sync.activities": "\(batch.count)"])
            pending.merge(batch) { newer, _ in newer }
        }
    }

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
