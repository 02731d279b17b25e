import Hummingbird
import Logging
import NIOCore
import SyncCore

/// Builds the SchoolSync server: routes, middleware and the given store.
///
/// For example:
/// ```swift
/// import SyncServerSQLite
///
/// let store = try SQLiteStore(path: "schoolsync.sqlite")
/// let app = makeSyncServer(configuration: SyncServerConfiguration(), store: store, logger: logger)
/// try await app.runService()   // SIGTERM / SIGINT shut it down gracefully
/// ```
///
/// The store is one of the application's services: it is closed when the application stops, so a
/// store serves one application run.
///
/// - Parameter onServerRunning: called with the bound port once the server listens (useful with port 0).
public func makeSyncServer(
    configuration: SyncServerConfiguration,
    store: any SyncStore,
    logger: Logger,
    metrics: SyncMetrics = SyncMetrics(),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let activity = DeviceActivityLog(store: store, logger: logger)
    let notifier = ChangeNotifier()
    let router = makeSyncRouter(configuration: configuration, store: store, metrics: metrics, activity: activity, notifier: notifier)
    return Application(
        router: router,
        // Idle connections are closed, so sockets opened and left silent cannot use up the
        // server's file descriptors; a long poll being answered is not idle and is never cut.
        server: .http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "SchoolSync"),
        // Shut down in reverse: the server first, the change watcher, then the activity log's last
        // flush, then the store.
        services: [
            store, activity, ChangeWatcher(store: store, notifier: notifier),
            EvidenceCollector(
                store: store,
                grace: configuration.evidenceGraceSeconds,
                interval: configuration.evidenceCollectionInterval,
                clock: configuration.clock,
                logger: logger
            ),
        ],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

/// The router alone, for in-process tests. Without the ``DeviceActivityLog`` service running,
/// device activity is written only when the device list is read.
public func makeSyncRouter(
    configuration: SyncServerConfiguration,
    store: any SyncStore,
    metrics: SyncMetrics,
    activity: DeviceActivityLog? = nil
) -> Router<SyncRequestContext> {
    makeSyncRouter(configuration: configuration, store: store, metrics: metrics, activity: activity, notifier: ChangeNotifier())
}

func makeSyncRouter(
    configuration: SyncServerConfiguration,
    store: any SyncStore,
    metrics: SyncMetrics,
    activity: DeviceActivityLog?,
    notifier: ChangeNotifier
) -> Router<SyncRequestContext> {
    let router = Router(context: SyncRequestContext.self)
    // Outermost first: the request id must reach error responses, metrics must see final statuses.
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    router.add(middleware: ErrorMiddleware(storeError: { [store] in store.storeError(for: $0) }))
    router.add(middleware: QueryParameterMiddleware())
    let principals = PrincipalCache()
    let limiter = FailedAuthLimiter(limit: configuration.failedAuthPerMinute)
    router.add(middleware: TokenAuthenticator(store: store, cache: principals, limiter: limiter))
    let bodyReader = RequestBodyReader(maxBodyBytes: configuration.maxBodyBytes)
    let activity = activity ?? DeviceActivityLog(store: store, logger: Logger(label: "SchoolSync.activity"))
    SyncRoutes(store: store, configuration: configuration, metrics: metrics, notifier: notifier, bodyReader: bodyReader, activity: activity)
        .register(on: router)
    ConflictRoutes(store: store, bodyReader: bodyReader, notifier: notifier, rules: configuration.collections, clock: configuration.clock)
        .register(on: router)
    AdminRoutes(store: store, bodyReader: bodyReader, principals: principals, notifier: notifier, clock: configuration.clock).register(on: router)
    let bureau = BureauRoutes(store: store, today: configuration.clock)
    bureau.register(on: router)
    let evidence = EvidenceUploads(store: store, clock: configuration.clock)
    if let library = try? PageTemplates.library() {
        let pages = PageRoutes(store: store, bureau: bureau, library: library, limiter: limiter, clock: configuration.clock)
        pages.register(on: router)
        AdminPages(pages: pages, store: store, notifier: notifier, rules: configuration.collections).register(on: router)
        EvidencePages(pages: pages, uploads: evidence).register(on: router)
        ReviewPages(
            pages: pages,
            store: store,
            notifier: notifier,
            rules: configuration.collections,
            evidencePresence: { [store] in try await store.presentEvidence($0) }
        )
        .register(on: router)
    }
    EvidenceRoutes(uploads: evidence, bodyReader: bodyReader).register(on: router)
    OperationsRoutes(store: store, metrics: metrics).register(on: router)
    answerWrongMethods(on: router)
    return router
}

/// PROTOCOL.md §8: a known path called with a method it does not serve is 405
/// `method_not_allowed` with an `Allow` header, not 404 (which says the path does not exist).
private func answerWrongMethods(on router: Router<SyncRequestContext>) {
    let served = Dictionary(grouping: router.routes, by: { $0.path.description })
    // Every method a client or a scanner commonly sends; others are not routes at all (404).
    let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace, .connect, HTTPRequest.Method("QUERY")].compactMap { $0 }
    for routes in served.values {
        guard let path = routes.first?.path else { continue }
        let allowed = routes.map(\.method)
        let allow = allowed.map(\.rawValue).sorted().joined(separator: ", ")
        for method in methods where !allowed.contains(method) {
            router.on(path, method: method) { request, _ -> Response in
                var error = APIError(
                    .methodNotAllowed,
                    .methodNotAllowed,
                    "\(request.method.rawValue) is not served at \(request.uri.path.prefix(200)); use \(allow)."
                )
                error.headers[.allow] = allow
                throw error
            }
        }
    }
}
