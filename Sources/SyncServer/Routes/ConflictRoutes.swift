import Foundation
import Hummingbird
import Logging
import Reporting
import SyncCore

/// `/v1/conflicts` and `/v1/history`: administrators see conflicts side by side, settle them, and
/// read any record's history. Record ids may contain `/`, so they are the path's tail.
struct ConflictRoutes {
    let store: any SyncStore
    let bodyReader: RequestBodyReader
    let notifier: ChangeNotifier
    /// The configured collections (``SyncServerConfiguration/collections``): who may resolve where.
    let rules: CollectionRules
    /// The configured clock (``SyncServerConfiguration/clock``): the time of each resolution.
    let clock: @Sendable () -> Date

    func register(on router: Router<SyncRequestContext>) {
        // Resolving is narrower still, per collection: see `resolve`.
        router.authorized("v1", for: .staff, to: "see conflicts and history")
            .get("conflicts", use: list)
            .get("conflicts/:collection/**", use: detail)
            .post("conflicts/:collection/**", use: resolve)
            .get("history/:collection/**", use: history)
    }

    /// An RFC 3339 date-time as openapi.yaml's `format: date-time` allows it: with or without
    /// fractional seconds (`toISOString()` always writes them), `T`/`Z` in either case.
    static func rfc3339Date(_ text: String) -> Date? {
        let normalised = text.uppercased()
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: normalised) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: normalised)
    }

    func list(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var scope: Scope?
        if let school = query["school"] {
            do throws(SyncCoreError) {
                scope = try Scope.school(String(school))
            } catch {
                throw APIError.invalidParameter("school", error.message)
            }
        }
        guard let limit = Int(query["limit"] ?? "100"), (1...1000).contains(limit) else {
            throw APIError.invalidParameter("limit", "'limit' must be a whole number from 1 to 1000.")
        }
        guard let after = Int64(query["after"] ?? "0"), after >= 0 else {
            throw APIError.invalidParameter("after", "'after' is the 'since' of the last conflict of the previous page.")
        }
        var before: Date?
        if let text = query["before"] {
            guard let date = Self.rfc3339Date(String(text)) else {
                throw APIError.invalidParameter("before", "'before' is a time like 2025-07-01T00:00:00Z: only conflicts older than it are listed.")
            }
            // Stored times compare as text, which only holds for four-digit years: a time before
            // 1970 or after 9999 means the same as the nearest of those (nothing, or everything).
            before = min(max(date, Date(timeIntervalSince1970: 0)), Date(timeIntervalSince1970: 253_402_300_799))
        }
        let conflicts = try await store.conflicts(
            scope: scope,
            collection: query["collection"].map(String.init),
            detectedBefore: before,
            after: after,
            limit: limit
        )
        return try JSONResponse.make(ConflictList(conflicts: conflicts), for: request)
    }

    func detail(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let key = try context.recordKey()
        guard let detail = try await store.conflictDetail(key) else {
            throw APIError(.notFound, .notFound, "\(key) is not in conflict (it may have been resolved already).")
        }
        return try JSONResponse.make(detail, for: request)
    }

    func resolve(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let principal = context.principal
        let key = try context.recordKey()
        guard principal.mayResolve(in: key.collection, rules: rules) else {
            throw APIError.forbidden(for: rules.resolvers(of: key.collection), to: "resolve conflicts in \(key.collection)")
        }
        let body = try await bodyReader.decode(ResolutionRequest.self, from: request)
        guard let reason = FreeText.reason(body.reason) else {
            throw APIError.invalidParameter("reason", "Give a reason (1–2000 characters, no NUL character); it is kept in the history.")
        }
        guard (body.delete == true) != (body.values != nil) else {
            throw APIError.invalidParameter("values", "Send either 'values' (the chosen value of every conflicting field) or 'delete': true.")
        }
        switch try await store.resolve(
            key,
            ResolutionRequest(seen: body.seen, values: body.values, delete: body.delete, reason: reason),
            by: principal,
            at: clock()
        ) {
        case .notFound:
            throw APIError(.notFound, .notFound, "There is no record \(key).")
        case .refused(let error) where error.code == .staleResolution:
            throw APIError(.conflict, .conflictStale, "New values arrived since you looked: \(error.message)")
        case .refused(let error) where error.code == .notInConflict:
            throw APIError(.conflict, .notInConflict, "\(key) is no longer in conflict; someone resolved it already.")
        case .refused(let error) where error.code == .unresolvedFields:
            throw APIError(.badRequest, .unresolvedFields, error.message)
        case .refused(let error):
            // The resolution's own values break §2 (a value out of range, a field name): the body is wrong.
            throw APIError.invalidJSON(error.message, path: "values")
        case .resolved(let record):
            await notifier.announce()
            context.logger.debug("conflict resolved", metadata: ["sync.record": "\(key)"])
            return try JSONResponse.make(record, for: request)
        }
    }

    func history(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let key = try context.recordKey()
        let query = request.uri.queryParameters
        guard let limit = Int(query["limit"] ?? "200"), (1...1000).contains(limit) else {
            throw APIError.invalidParameter("limit", "'limit' must be a whole number from 1 to 1000.")
        }
        guard let after = Int64(query["after"] ?? "0"), after >= 0 else {
            throw APIError.invalidParameter("after", "'after' is the 'seq' of the last entry of the previous page.")
        }
        let page = try await store.history(key, after: after, limit: limit)
        guard page.exists else { throw APIError(.notFound, .notFound, "There is no record \(key).") }
        return try JSONResponse.make(RecordHistoryPage(collection: key.collection, id: key.id, history: page.entries, more: page.more), for: request)
    }
}
