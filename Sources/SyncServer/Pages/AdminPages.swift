import Foundation
import Hummingbird
import Logging
import Mustache
import SyncCore

/// The administrator's pages: open conflicts, one conflict side by side, and a form that resolves
/// it (same rules as `POST /v1/conflicts/…`: the shown context travels with the form, a stale view
/// is refused, a reason is required). Forms carry the session's CSRF token.
struct AdminPages {
    let pages: PageRoutes
    let store: any SyncStore
    let notifier: ChangeNotifier
    /// The configured collections (``SyncServerConfiguration/collections``): who may resolve where.
    let rules: CollectionRules

    func register(on router: Router<SyncRequestContext>) {
        // Bureau users see the pages; resolving is narrower, per collection: see `resolve`.
        router.signedInPages(pages, for: PageRoutes.roles)
            .get("admin/conflicts", use: list)
            .get("admin/conflicts/:collection/**", use: show)
            .post("admin/conflicts/:collection/**", use: resolve)
    }

    struct ListItem {
        let collection: String
        let id: String
        /// `collection/id` for a link, each segment percent-encoded (see ``AdminPages/path(of:)``).
        let path: String
        let scope: String
        let what: String
        let detectedAt: String
    }

    func list(_ request: Request, context: PageRequestContext) async throws -> Response {
        let session = context.session
        let formatter = ISO8601DateFormatter()
        let items = try await store.conflicts(scope: nil, collection: nil, detectedBefore: nil, after: 0, limit: 1000).map {
            ListItem(
                collection: $0.collection,
                id: $0.id,
                path: Self.path(of: RecordKey(collection: $0.collection, id: $0.id)),
                scope: $0.scope,
                what: $0.deleteConflict ? "删除与编辑冲突 deleted vs edited" : "字段 " + $0.fields.joined(separator: ", "),
                detectedAt: $0.detectedAt.map(formatter.string(from:)) ?? ""
            )
        }
        let message = request.uri.queryParameters["resolved"].map { "已解决 Resolved: \($0)" }
        return try pages.html(
            pages.render(["title": "冲突", "who": session.principal.name, "conflicts": items, "message": message], "conflicts")
        )
    }

    struct Candidate {
        let field: String
        let index: Int
        let value: String
        let writer: String
        let first: Bool
    }

    struct Field {
        let name: String
        let candidates: [Candidate]
    }

    struct Setting {
        let name: String
        let value: String
    }

    /// A record's key as the tail of a page URL, `<collection>/<id>` with the id percent-encoded
    /// as one segment — its `/` too, so `%`, `?`, `#`, spaces, CJK and empty segments all survive —
    /// which `recordKey()` (on the request context) decodes exactly once.
    static func path(of key: RecordKey) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return [key.collection, key.id].map { $0.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }.joined(separator: "/")
    }

    func show(_ request: Request, context: PageRequestContext) async throws -> Response {
        let session = context.session
        let key = try context.recordKey()
        return try await page(for: key, session: session, error: nil, status: .ok)
    }

    private func page(for key: RecordKey, session: PageRoutes.Session, error: String?, status: HTTPResponse.Status) async throws -> Response {
        guard let detail = try await store.conflictDetail(key) else {
            return Response(status: .seeOther, headers: [.location: "/admin/conflicts"])
        }
        let fields = detail.conflicts.keys.sorted().map { name in
            Field(
                name: name,
                candidates: (detail.conflicts[name] ?? []).enumerated().map { index, candidate in
                    Candidate(field: name, index: index, value: candidate.value.description, writer: candidate.writer, first: index == 0)
                }
            )
        }
        let object: [String: Any?] = [
            "title": "\(key.collection)/\(key.id)", "collection": key.collection, "id": key.id, "path": Self.path(of: key), "scope": detail.scope,
            "csrf": session.csrf, "seen": String(decoding: try CanonicalJSON.encode(detail.context), as: UTF8.self),
            "fields": fields, "deleteConflict": !detail.deletedBy.isEmpty, "deletedBy": detail.deletedBy.joined(separator: "、"),
            "lastContent": (detail.lastContent ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
            "settled": detail.settled.sorted { $0.key < $1.key }.map { Setting(name: $0.key, value: $0.value.description) },
            "error": error,
        ]
        return try pages.html(pages.render(object, "conflict"), status: status)
    }

    func resolve(_ request: Request, context: PageRequestContext) async throws -> Response {
        let session = context.session
        let key = try context.recordKey()
        let form = try await pages.readFormFields(request)
        guard form["csrf"] == session.csrf else { throw APIError.forbidden("The form is stale; reload the page and try again.") }
        if !session.principal.mayResolve(in: key.collection, rules: rules) {
            return try await page(
                for: key,
                session: session,
                error: "只有管理员可以解决学校记录的冲突。Only administrators resolve schools' records.",
                status: .forbidden
            )
        }
        guard let detail = try await store.conflictDetail(key) else {
            return Response(status: .seeOther, headers: [.location: "/admin/conflicts"])
        }
        guard let reason = FreeText.reason(form["reason"] ?? "") else {
            return try await page(for: key, session: session, error: "请填写理由（1–2000字）。A reason of 1–2000 characters is required.", status: .badRequest)
        }
        guard let seenText = form["seen"], let seen = try? CanonicalJSON.decode(VersionVector.self, from: Data(seenText.utf8)) else {
            throw APIError.invalidParameter("seen", "The form lost the context it showed; reload the page.")
        }
        var values: [String: Value] = [:]
        var delete = false
        if !detail.deletedBy.isEmpty {
            if form["outcome"] == "delete" {
                delete = true
            } else {
                values = detail.lastContent ?? [:]
                values.merge(detail.settled) { _, settled in settled }
            }
        }
        for (name, candidates) in detail.conflicts where !delete {
            switch form["choice.\(name)"] {
            case "new":
                values[name] = Value(typed: form["new.\(name)"] ?? "", like: candidates.first?.value)
            case let choice?:
                guard let index = Int(choice), candidates.indices.contains(index) else {
                    return try await page(for: key, session: session, error: "新的值已到达，请重新选择。New values arrived; choose again.", status: .conflict)
                }
                values[name] = candidates[index].value
            case nil:
                return try await page(for: key, session: session, error: "请为每个冲突字段选择一个值。Choose a value for every field.", status: .badRequest)
            }
        }
        let resolution = ResolutionRequest(seen: seen, values: delete ? nil : values, delete: delete ? true : nil, reason: reason)
        switch try await store.resolve(key, resolution, by: session.principal, at: pages.clock()) {
        case .resolved:
            await notifier.announce()
            let id = "\(key.collection)/\(key.id)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return Response(status: .seeOther, headers: [.location: "/admin/conflicts?resolved=\(id)"])
        case .refused(let error) where error.code == .staleResolution:
            return try await page(
                for: key,
                session: session,
                error: "新的值在您查看后到达，请重新查看后再解决。New values arrived since you looked; here is the current state.",
                status: .conflict
            )
        case .refused(let error):
            return try await page(for: key, session: session, error: error.message, status: .badRequest)
        case .notFound:
            return Response(status: .seeOther, headers: [.location: "/admin/conflicts"])
        }
    }
}
