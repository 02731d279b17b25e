import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import Mustache
import Reporting
import SchoolReports
import SyncClient
import SyncCore

/// What ``Workbench/sync`` did, in words for the status line.
public struct WorkbenchSyncOutcome: Sendable, Hashable {
    /// One line for the person who pressed the button, Chinese first.
    public var message: String
}

/// The school's offline workbench (`schoolsync ui`): server-rendered pages over the local replica
/// on 127.0.0.1 — what is due, the report form, sync, conflicts and proposals — through
/// ``ReportBook`` (the CLI's write path) and ``SyncEngine``.
///
/// Nothing here needs the network but the sync button. The session is bound to this process
/// (``WorkbenchSession``).
public struct Workbench: Sendable {
    /// The school's reports over its replica.
    public let book: ReportBook
    /// This process's secrets.
    public let session: WorkbenchSession
    /// Runs one sync (the button): pull, push, pull, then evidence uploads for a while.
    public let sync: @Sendable () async throws -> WorkbenchSyncOutcome
    let library: MustacheLibrary
    let logger: Logger

    /// A workbench over `book`.
    ///
    /// - Parameters:
    ///   - book: the school's reports over the replica.
    ///   - session: this process's secrets (a new one per start).
    ///   - logger: request failures are logged here with the replica id.
    ///   - sync: what the sync button runs (``httpSync(replica:http:uploadTime:timeout:attempts:logger:)``).
    /// - Throws: only if a template does not compile (a programming error the tests catch).
    public init(
        book: ReportBook,
        session: WorkbenchSession = WorkbenchSession(),
        logger: Logger,
        sync: @escaping @Sendable () async throws -> WorkbenchSyncOutcome
    ) throws {
        self.book = book
        self.session = session
        self.logger = logger
        self.sync = sync
        library = try WorkbenchTemplates.library()
    }

    /// The sync the button runs against the server the replica was enrolled with: a
    /// ``SyncEngine`` sync, then evidence uploads for at most `uploadTime`.
    ///
    /// - Throws: ``SyncClientError`` as ``SyncEngine/sync()`` throws it (the page shows its message).
    public static func httpSync(
        replica: LocalReplica,
        http: HTTPClient,
        uploadTime: Duration,
        timeout: Duration = .seconds(30),
        attempts: Int = 3,
        logger: Logger
    ) -> @Sendable () async throws -> WorkbenchSyncOutcome {
        {
            guard let settings = try await replica.settings() else {
                throw SyncClientError(.usage, "这台电脑还没有登记；请先运行 schoolsync init（not enrolled: run 'schoolsync init'）")
            }
            var logger = logger
            logger[metadataKey: "sync.replica"] = .string(settings.replica.description)
            let transport = HTTPSyncTransport(http: http, baseURL: settings.serverURL, token: settings.token, timeout: timeout, logger: logger)
            let engine = SyncEngine(replica: replica, transport: transport, retry: RetryPolicy(maxAttempts: attempts), logger: logger)
            let summary = try await engine.sync()
            // Who wrote each value of a conflict (PROTOCOL.md §12 `GET /v1/school/replicas`): a
            // failure here only leaves the names as they were, never the sync undone.
            if let writers = try? await transport.schoolReplicas(), !writers.isEmpty {
                try await replica.rememberWriters(writers)
            }
            let transfer = EvidenceTransfer(
                replica: replica,
                transport: EvidenceTransport(http: http, baseURL: settings.serverURL, token: settings.token, timeout: timeout, logger: logger),
                retry: RetryPolicy(maxAttempts: attempts),
                logger: logger
            )
            let files = try await transfer.uploadWaiting(timeLimit: uploadTime)
            var message = "同步完成：收到 \(summary.pulled.received) 条，发送 \(summary.pushed.sent) 条"
            if summary.pushed.rejected > 0 { message += "，被拒收 \(summary.pushed.rejected) 条（见同步情况）" }
            if files.uploaded > 0 { message += "，上传文件 \(files.uploaded) 个" }
            if files.waiting > 0 { message += "，还有 \(files.waiting) 个文件下次继续上传" }
            return WorkbenchSyncOutcome(message: message + "。")
        }
    }

    /// The workbench's routes, behind its guard (loopback host names, the session, CSRF).
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: WorkbenchGuard(session: session, library: library))
        let routes = WorkbenchRoutes(workbench: self)
        router.get("open", use: routes.open)
        router.get("/", use: routes.home)
        router.get("report", use: routes.report)
        router.post("report/save", use: routes.save)
        router.post("report/submit", use: routes.submit)
        router.post("report/propose", use: routes.propose)
        router.post("report/evidence", use: routes.attach)
        router.post("report/evidence/remove", use: routes.removeEvidence)
        router.post("sync", use: routes.syncNow)
        router.post("discard", use: routes.discard)
        router.get("status", use: routes.status)
        return router
    }

    /// The application: the workbench on `host`:`port` (0: a free port), calling
    /// `onServerRunning` with the bound port.
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "SchoolSync-Workbench"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// The link to print: opening it signs this browser in to this process's workbench.
    public func launchURL(host: String = "127.0.0.1", port: Int) -> String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "http://\(shown):\(port)/open?key=\(session.launchKey)"
    }
}

/// Refuses what is not this process's session: other host names, requests without the session
/// cookie (except opening the printed link), and posts without the CSRF token or from another site.
struct WorkbenchGuard<Context: RequestContext>: RouterMiddleware {
    let session: WorkbenchSession
    let library: MustacheLibrary

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard WorkbenchSession.isLoopbackHost(request) else {
            return refusal(.misdirectedRequest, "只能在本机打开", "The workbench answers on 127.0.0.1 and localhost only.")
        }
        if request.uri.path == "/open" { return try await next(request, context) }
        guard session.isSignedIn(request) else {
            return refusal(.unauthorized, "请使用 schoolsync ui 打印的链接打开", "Open the link that 'schoolsync ui' printed; it signs this browser in to this workbench.")
        }
        if request.method == .post, WorkbenchSession.isCrossSite(request) {
            return refusal(.forbidden, "表单来自其他网页，已拒绝", "A form from another site was refused.")
        }
        return try await next(request, context)
    }

    func refusal(_ status: HTTPResponse.Status, _ heading: String, _ message: String) -> Response {
        let page = library.render(["heading": heading, "message": message], withTemplate: "bare") ?? heading
        return WorkbenchRoutes.html(page, status: status)
    }
}
