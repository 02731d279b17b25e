import CoreMetrics
import Hummingbird
import Prometheus

/// The server's metrics, made from one Prometheus registry that `/metrics` renders.
///
/// Metrics are built with an explicit factory instead of the process-wide `MetricsSystem`, so two
/// applications in one test process keep separate counts.
public struct SyncMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let pushedRecords: CoreMetrics.Counter
    let pulledRecords: CoreMetrics.Counter
    let conflictsOpen: CoreMetrics.Gauge
    let rejectedRecords: CoreMetrics.Counter
    /// Long polls held open right now.
    let longPollsWaiting: CoreMetrics.Meter
    /// Pushes in the store right now: waiting for a lock, for their group commit, or being stored.
    let pushesStoring: CoreMetrics.Meter

    /// Makes the metrics on a fresh registry.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        pushedRecords = CoreMetrics.Counter(label: "schoolsync_push_records_total", factory: factory)
        pulledRecords = CoreMetrics.Counter(label: "schoolsync_pull_records_total", factory: factory)
        rejectedRecords = CoreMetrics.Counter(label: "schoolsync_push_rejected_records_total", factory: factory)
        conflictsOpen = CoreMetrics.Gauge(label: "schoolsync_conflicts_open", factory: factory)
        longPollsWaiting = CoreMetrics.Meter(label: "schoolsync_long_polls_waiting", factory: factory)
        pushesStoring = CoreMetrics.Meter(label: "schoolsync_pushes_storing", factory: factory)
    }

    func recordPush(records: Int, rejected: Int) {
        pushedRecords.increment(by: records)
        rejectedRecords.increment(by: rejected)
    }

    func recordPull(records: Int) {
        pulledRecords.increment(by: records)
    }

    /// A long poll starts or stops waiting.
    func longPollWaiting(_ waiting: Bool) {
        if waiting { longPollsWaiting.increment() } else { longPollsWaiting.decrement() }
    }

    /// A push enters or leaves the store.
    func pushStoring(_ storing: Bool) {
        if storing { pushesStoring.increment() } else { pushesStoring.decrement() }
    }

    func recordOpenConflicts(_ count: Int) {
        conflictsOpen.record(count)
    }

    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        let dimensions = [("method", method), ("route", route), ("status", String(status))]
        CoreMetrics.Counter(label: "schoolsync_http_requests_total", dimensions: dimensions, factory: factory).increment()
        CoreMetrics.Timer(label: "schoolsync_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// Prometheus text exposition format.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Counts requests and their latency per route and status.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: SyncMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, since: start)
            return response
        } catch {
            record(request, context, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        // The matched route, never the raw path, so metric labels stay few.
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(method: request.method.rawValue, route: route, status: status, duration: ContinuousClock.now - start)
    }
}
