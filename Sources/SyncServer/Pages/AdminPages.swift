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

    /// The school's proposal for settling the conflict (DOMAIN-PROTOCOL.md §6.2 `proposal`), shown
    /// above the form: the `proposal` of the conflicted report, or of the report a conflicted
    /// indicator value belongs to. It informs the administrator; it settles nothing.
    struct Proposal {
        /// One text, or each value while the proposal itself is in conflict.
        let texts: [ProposalText]
        /// Whether the proposal itself is in conflict (then every value is shown).
        let conflicted: Bool
    }

    /// One value of a proposal, as the template shows it.
    struct ProposalText {
        let text: String
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
            "proposal": try await proposal(for: key, detail: detail),
            "error": error,
        ]
        return try pages.html(pages.render(object, "conflict"), status: status)
    }

    /// The proposal of the report that `key` is, or that the indicator value `key` belongs to
    /// (`<school>/<period>/<measure_id>`, the measure read from the value's settled `measure_id` or
    /// its last content); `nil` when that report has none, or is deleted or unknown.
    private func proposal(for key: RecordKey, detail: ConflictDetail) async throws -> Proposal? {
        let values: [Value]
        switch key.collection {
        case "reports":
            // The conflict detail already holds the report's own fields.
            values = detail.conflicts["proposal"]?.map(\.value) ?? detail.settled["proposal"].map { [$0] } ?? []
        case "indicator_values":
            guard let reportKey = Self.reportKey(ofIndicatorValue: key.id, detail: detail),
                let report = try await store.record(reportKey), !report.state.isDeleted
            else { return nil }
            values = report.state.fields["proposal"]?.distinctValues ?? []
        default:
            return nil
        }
        return Self.proposal(values)
    }

    /// What the page shows of a proposal's values: each distinct one, a cleared proposal (null or
    /// blank) only beside another value; `nil` when nothing is proposed.
    static func proposal(_ values: [Value]) -> Proposal? {
        var distinct: [Value] = []
        for value in values where !distinct.contains(value) { distinct.append(value) }
        func isBlank(_ value: Value) -> Bool {
            switch value {
            case .null: true
            case .string(let text): text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            default: false
            }
        }
        guard distinct.contains(where: { !isBlank($0) }) else { return nil }
        let texts = distinct.map { value in
            switch value {
            case .string(let text) where !isBlank(value): ProposalText(text: text)
            case .string, .null: ProposalText(text: "（无建议 no proposal）")
            default: ProposalText(text: value.description)
            }
        }
        return Proposal(texts: texts, conflicted: distinct.count > 1)
    }

    /// The report of the indicator value `id` (`<school>/<period>/<indicator>`): the same school and
    /// period, and the value's `measure_id`; `nil` when the id or the measure cannot tell.
    static func reportKey(ofIndicatorValue id: String, detail: ConflictDetail) -> RecordKey? {
        let parts = id.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
            case .string(let measure)? = detail.settled["measure_id"] ?? detail.lastContent?["measure_id"], !measure.isEmpty
        else { return nil }
        let key = RecordKey(collection: "reports", id: "\(parts[0])/\(parts[1])/\(measure)")
        return (try? key.validate()) == nil ? nil : key
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
