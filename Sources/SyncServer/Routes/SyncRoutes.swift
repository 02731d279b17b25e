import Foundation
import Hummingbird
import Logging
import SyncCore

/// `/v1/session`, `/v1/push`, `/v1/pull`, `/v1/devices` and `/v1/school/replicas` (PROTOCOL.md §5–§7, §12).
struct SyncRoutes {
    let store: any SyncStore
    let configuration: SyncServerConfiguration
    let metrics: SyncMetrics
    let notifier: ChangeNotifier
    let bodyReader: RequestBodyReader
    let activity: DeviceActivityLog

    func register(on router: Router<SyncRequestContext>) {
        router.authenticated("v1")
            .get("session", use: session)
            .post("push", use: push)
            .get("pull", use: pull)
        router.authorized("v1", for: .staff, to: "list devices")
            .get("devices", use: devices)
        router.authorized("v1/school", for: .schoolDevices, to: Self.nameWriters)
            .get("replicas", use: schoolReplicas)
    }

    /// What only a school's device may do with `/v1/school/replicas`, for its 403 (PROTOCOL.md §12).
    static let nameWriters = "list their school's replicas; bureau and admin users see who wrote each value in GET /v1/conflicts/{collection}/{id}"

    func session(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let principal = context.principal
        let body = SessionInfo(
            epoch: store.epoch,
            principal: .init(kind: principal.kind, name: principal.name, school: principal.schoolID),
            readScopes: context.readableScopes?.map(\.rawValue) ?? ["*"],
            writeScopes: context.writableScopes?.map(\.rawValue) ?? ["*"],
            limits: .init(
                maxBatchRecords: configuration.maxBatchRecords,
                maxBodyBytes: configuration.maxBodyBytes,
                maxPullLimit: configuration.maxPullLimit
            )
        )
        return try JSONResponse.make(body, for: request)
    }

    func push(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let principal = context.principal
        let push = try await bodyReader.decode(PushRequest.self, from: request)
        guard push.records.count <= configuration.maxBatchRecords else {
            throw APIError(
                .contentTooLarge,
                .batchTooLarge,
                "A push may carry at most \(configuration.maxBatchRecords) records; this one has \(push.records.count). Split it.",
                details: ["limit": String(configuration.maxBatchRecords)]
            )
        }
        var keys = Set<RecordKey>()
        for record in push.records where !keys.insert(record.key).inserted {
            throw APIError.invalidJSON("\(record.key) appears twice in one push; send each record once.", path: ".records")
        }
        // Code points, as openapi.yaml's maxLength counts: a grapheme can hold any number of them.
        if let client = push.client, client.unicodeScalars.count > 64 || FreeText.holdsControlCharacter(client) {
            throw APIError.invalidJSON("'client' may be at most 64 characters, without control characters.", path: ".client")
        }
        var logger = context.logger
        logger[metadataKey: "sync.replica"] = "\(push.replica)"
        logger[metadataKey: "sync.batch"] = "\(push.batch)"
        let now = configuration.clock()
        metrics.pushStoring(true)
        let outcome: PushOutcome
        do {
            outcome = try await store.push(push, by: principal, rules: configuration.collections, at: now)
            metrics.pushStoring(false)
        } catch {
            metrics.pushStoring(false)
            throw error
        }
        switch outcome {
        case .accepted(let response, let changed):
            if changed > 0 { await notifier.announce(scopes: Set(push.records.map(\.scope))) }
            let rejected = response.results.count { $0.status == .rejected }
            let conflicts = response.results.count { $0.status == .conflict }
            metrics.recordPush(records: push.records.count, rejected: rejected)
            logger.debug(
                "push accepted",
                metadata: [
                    "sync.records": "\(push.records.count)", "sync.changed": "\(changed)",
                    "sync.conflicts": "\(conflicts)", "sync.rejected": "\(rejected)", "sync.receipt": "\(response.receipt)",
                ]
            )
            await activity.record(DeviceActivity(principal: principal, kind: .push(push.batch), client: push.client, time: now))
            return try JSONResponse.make(response, for: request)
        case .replayed(let response):
            logger.debug("push replayed", metadata: ["sync.receipt": "\(response.receipt)"])
            return try JSONResponse.make(response, for: request)
        case .replicaStale(let expected):
            logger.warning("push from a stale replica refused", metadata: ["sync.receipt": "\(push.receipt.map(\.description) ?? "none")"])
            throw APIError.replicaStale(push.replica, expected: expected)
        case .epochChanged(let epoch):
            throw APIError.epochChanged(epoch)
        case .replicaForeign:
            logger.warning("push under another principal's replica id refused")
            throw APIError.replicaForeign
        case .batchReused:
            logger.warning("push reusing the last batch id with the current receipt refused", metadata: ["sync.batch": "\(push.batch)"])
            throw APIError(
                .conflict,
                .batchReused,
                "Batch \(push.batch) was already accepted, and this push carries the receipt its answer gave: it is a new push under an old id, so nothing was applied. Send it again under a fresh batch id (PROTOCOL.md §6.2)."
            )
        }
    }

    func pull(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let principal = context.principal
        let query = request.uri.queryParameters
        let epoch = store.epoch
        var since: UInt64 = 0
        if let text = query["since"].map(String.init), text != "0" {
            let cursor: Cursor
            do {
                cursor = try Cursor(parsing: text)
            } catch where error.code == .outOfRange {
                throw APIError.invalidParameter("since", "\(error.message). Omit 'since' to pull from the beginning.")
            } catch {
                throw APIError(.badRequest, .invalidCursor, "\(error.message). Omit 'since' to pull from the beginning.")
            }
            guard cursor.epoch == epoch else { throw APIError.epochChanged(epoch) }
            since = cursor.seq
        }
        let limit = try integer(query["limit"], name: "limit", default: configuration.defaultPullLimit, range: 1...configuration.maxPullLimit)
        let wait = try integer(query["wait"], name: "wait", default: 0, range: 0...configuration.maxWaitSeconds)
        var logger = context.logger
        let verifying = try replicaReceipt(
            query["replica"].map(String.init),
            receipt: query["receipt"].map(String.init),
            principal: principal,
            logger: &logger
        )

        // A long poll listens before its first read: a change committed in between wakes it.
        let subscription = wait > 0 ? await notifier.subscribe(reading: context.readableScopes) : nil
        let page: PullPage
        do {
            page = try await pullPage(
                after: since, limit: limit, wait: wait, subscription: subscription, verifying: verifying, principal: principal, context: context,
                logger: logger
            )
        } catch {
            if let subscription { await notifier.unsubscribe(subscription) }
            throw error
        }
        if let subscription { await notifier.unsubscribe(subscription) }
        let next = Cursor(epoch: epoch, seq: page.next)
        metrics.recordPull(records: page.records.count)
        logger.debug("pull served", metadata: ["sync.records": "\(page.records.count)", "sync.next": "\(next)", "sync.more": "\(page.more)"])
        await activity.record(DeviceActivity(principal: principal, kind: .pull(next), client: nil, time: configuration.clock()))
        return try JSONResponse.make(PullResponse(epoch: epoch, records: page.records, next: next, more: page.more), for: request)
    }

    /// A pull's page; with `wait`, held until a change for the poll's scopes commits, the wait
    /// ends or the principal is revoked (PROTOCOL.md §7.3, §5).
    private func pullPage(
        after since: UInt64,
        limit: Int,
        wait: Int,
        subscription: ChangeNotifier.Subscription?,
        verifying: ReplicaReceipt?,
        principal: Principal,
        context: AuthenticatedRequestContext,
        logger: Logger
    ) async throws -> PullPage {
        var page: PullPage
        switch try await store.pull(after: since, limit: limit, scopes: context.readableScopes, replica: verifying.map(PullingReplica.verify)) {
        case .page(let first): page = first
        case .replicaStale(let replica, let expected): throw APIError.replicaStale(replica, expected: expected)
        case .epochChanged(let current): throw APIError.epochChanged(current)
        case .replicaForeign: throw APIError.replicaForeign
        }
        guard since <= page.head else {
            throw APIError(.badRequest, .invalidCursor, "The cursor is beyond the end of the change log. Pull from the beginning.")
        }
        if page.records.isEmpty, wait > 0, let subscription {
            metrics.longPollWaiting(true)
            defer { metrics.longPollWaiting(false) }
            let deadline = ContinuousClock.now + .seconds(wait)
            while page.records.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
                // A store that announces every other process's changes and revocations is read
                // again when one concerns this poll (and seldom unwoken); otherwise every second.
                let recheck = store.announcesChangesAcrossProcesses ? configuration.announcedLongPollRecheck : configuration.longPollRecheck
                let left = deadline - ContinuousClock.now
                let announced = await notifier.wait(subscription, atMost: min(recheck, left))
                if !announced, ContinuousClock.now >= deadline { break }
                // A revocation ends a held poll within the second PROTOCOL.md §5 promises, and it is
                // checked after the wake-up, so nothing written after the revocation gets through.
                guard try await store.isActive(principalID: principal.id) else {
                    logger.info("long poll ended: the principal was revoked")
                    throw APIError.unauthorized
                }
                // The receipt checked out above; looking again only leaves out the replica's echoes.
                let again = verifying.map { PullingReplica.verified($0.replica) }
                if case .page(let next) = try await store.pull(after: since, limit: limit, scopes: context.readableScopes, replica: again) {
                    page = next
                }
            }
            // A revocation between the last check and that read must not let its page out either.
            guard try await store.isActive(principalID: principal.id) else { throw APIError.unauthorized }
        }
        return page
    }

    /// The pulling replica and its receipt from the query, checked with the pull itself so a stale
    /// replica joins nothing (PROTOCOL.md §6.3, §7.1).
    private func replicaReceipt(
        _ replicaText: String?,
        receipt receiptText: String?,
        principal: Principal,
        logger: inout Logger
    ) throws -> ReplicaReceipt? {
        guard let replicaText else {
            if receiptText != nil { throw APIError.invalidParameter("receipt", "'receipt' needs 'replica' beside it.") }
            return nil
        }
        let replica: ReplicaID
        do {
            replica = try ReplicaID(parsing: replicaText)
        } catch {
            throw APIError.invalidParameter("replica", error.message)
        }
        logger[metadataKey: "sync.replica"] = "\(replica)"
        var receipt: PushReceipt?
        if let receiptText {
            do {
                receipt = try PushReceipt(parsing: receiptText)
            } catch {
                throw APIError(.badRequest, .invalidCursor, error.message)
            }
        }
        return ReplicaReceipt(replica: replica, receipt: receipt, principal: principal)
    }

    private func integer(_ text: Substring?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.invalidParameter(name, "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return number
    }

    /// `GET /v1/school/replicas`: the replicas of the caller's own school with their devices'
    /// names, so a device can say who wrote each value of a field in conflict (PROTOCOL.md §3.4, §12).
    func schoolReplicas(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        // A device always has a school (the store's CHECK); one without is refused, never answered with every school.
        guard let school = context.principal.schoolID else { throw APIError.forbidden(for: .schoolDevices, to: Self.nameWriters) }
        let writers = try await store.replicas(ofSchool: school)
        return try JSONResponse.make(SchoolReplicas(replicas: writers), for: request)
    }

    func devices(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        struct Body: Encodable { let devices: [DeviceInfo] }
        await activity.flush()
        return try JSONResponse.make(Body(devices: try await store.devices()), for: request)
    }
}
