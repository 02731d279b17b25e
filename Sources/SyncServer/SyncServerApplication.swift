import Hummingbird
import Logging
import NIOCore
import SyncCore

/// Builds the SchoolSync server: routes, middleware and the given store.
///
/// For example:
/// ```swift
/// let store = try SQLiteStore(path: "schoolsync.sqlite")
/// let app = makeSyncServer(configuration: SyncServerConfiguration(), store: store, logger: logger)
/// try await app.runService()   // SIGTERM / SIGINT shut it down gracefully
/// ```
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
    let router = makeSyncRouter(configuration: configuration, store: store, metrics: metrics, activity: activity)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "SchoolSync"),
        services: [activity],
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
    let router = Router(context: SyncRequestContext.self)
    // Outermost first: the request id must reach error responses, metrics must see final statuses.
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    router.add(middleware: ErrorMiddleware())
    let principals = PrincipalCache()
    router.add(middleware: TokenAuthenticator(store: store, cache: principals))
    let bodyReader = RequestBodyReader(maxBodyBytes: configuration.maxBodyBytes)
    let notifier = ChangeNotifier()
    let activity = activity ?? DeviceActivityLog(store: store, logger: Logger(label: "SchoolSync.activity"))
    SyncRoutes(store: store, configuration: configuration, metrics: metrics, notifier: notifier, bodyReader: bodyReader, activity: activity)
        .register(on: router)
    ConflictRoutes(store: store, bodyReader: bodyReader, notifier: notifier).register(on: router)
    AdminRoutes(store: store, bodyReader: bodyReader, principals: principals).register(on: router)
    let bureau = BureauRoutes(store: store, today: configuration.clock)
    bureau.register(on: router)
    if let library = try? PageTemplates.library() {
        let pages = PageRoutes(store: store, bureau: bureau, library: library, clock: configuration.clock)
        pages.register(on: router)
        AdminPages(pages: pages, store: store, notifier: notifier).register(on: router)
    }
    OperationsRoutes(store: store, metrics: metrics).register(on: router)
    return router
}
