import Foundation
import Hummingbird
import Logging
import Mustache
import Reporting
import SyncCore

/// The browser pages: a sign-in form that turns a token into a session cookie, and the bureau's
/// summary page. The `/v1` API never accepts the cookie, only bearer tokens, so the cookie cannot
/// be used for cross-site writes to it; forms on pages carry the session's CSRF token.
struct PageRoutes {
    static let cookieName = "schoolsync_session"
    static let sessionLength: TimeInterval = 8 * 3600
    /// Who may sign in to the pages at all: bureau and admin users; a school's device token may not.
    static let roles: Set<Principal.Kind> = .staff

    let store: any SyncStore
    let bureau: BureauRoutes
    let library: MustacheLibrary
    /// Failed sign-ins count against the client's address like failed bearer tokens.
    let limiter: FailedAuthLimiter
    let clock: @Sendable () -> Date

    func register(on router: Router<SyncRequestContext>) {
        router.get("login", use: loginForm)
        router.post("login", use: login)
        router.post("logout", use: logout)
        router.signedInPages(self, for: Self.roles)
            .get("bureau", use: bureauPage)
    }

    struct LoginForm: Decodable {
        let token: String
        let next: String?
    }

    struct LogoutForm: Decodable {
        let csrf: String?
    }

    func loginForm(_ request: Request, context: SyncRequestContext) async throws -> Response {
        try html(render(["title": "登录", "next": Self.safeNext(request.uri.queryParameters["next"].map(String.init))], "login"))
    }

    func login(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let form = try await readForm(LoginForm.self, request)
        let next = Self.safeNext(form.next)
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        let hash = Token.hash(form.token.trimmingCharacters(in: .whitespaces))
        if let wait = limiter.retryAfter(address), !limiter.isKnownValid(hash) {
            let error = FailedAuthLimiter.tooManyAttempts(retryAfter: wait)
            var response = try html(render(["title": "登录", "next": next, "error": "尝试次数过多，请稍后再试。\(error.message)"], "login"), status: .tooManyRequests)
            response.headers.append(contentsOf: error.headers)
            return response
        }
        guard let principal = try await store.principal(forTokenHash: hash) else {
            limiter.recordFailure(address)
            return try html(render(["title": "登录", "next": next, "error": "令牌无效或已被吊销。The token is not valid."], "login"), status: .unauthorized)
        }
        limiter.rememberValid(hash)
        guard Self.roles.contains(principal.kind) else {
            return try html(render(["title": "登录", "next": next, "error": "学校设备令牌不能登录网页；请使用区教育局或管理员令牌。"], "login"), status: .forbidden)
        }
        let now = clock()
        let session = try await store.createSession(
            for: principal,
            csrf: Token.generate(),
            expiresAt: now.addingTimeInterval(Self.sessionLength),
            at: now
        )
        var response = Response(status: .seeOther, headers: [.location: next])
        response.setCookie(
            Cookie(name: Self.cookieName, value: session, maxAge: Int(Self.sessionLength), path: "/", httpOnly: true, sameSite: .strict)
        )
        context.logger.debug("page session opened", metadata: ["sync.principal": "\(principal.kind.rawValue):\(principal.id)"])
        return response
    }

    func logout(_ request: Request, context: SyncRequestContext) async throws -> Response {
        if let (hash, _, csrf) = try await currentSession(request) {
            let form = try await readForm(LogoutForm.self, request)
            guard form.csrf == csrf else { throw APIError.forbidden("The form is stale; reload the page and try again.") }
            try await store.deleteSession(idHash: hash)
        }
        var response = Response(status: .seeOther, headers: [.location: "/login"])
        response.setCookie(Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    /// A signed-in page user.
    struct Session: Sendable {
        let principal: Principal
        let csrf: String
    }

    /// The session's user if it holds one of `roles`, else nil (``PageSessionMiddleware`` then
    /// redirects to the sign-in form).
    func session(_ request: Request, for roles: Set<Principal.Kind>) async throws -> Session? {
        guard let (_, principal, csrf) = try await currentSession(request), roles.contains(principal.kind) else { return nil }
        return Session(principal: principal, csrf: csrf)
    }

    func redirectToLogin(_ request: Request) -> Response {
        let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/bureau"
        return Response(status: .seeOther, headers: [.location: "/login?next=\(encoded)"])
    }

    /// A form body as name → value (the last value of a repeated name wins).
    func readFormFields(_ request: Request) async throws -> [String: String] {
        let body = String(buffer: try await Self.collectForm(request, upTo: 1024 * 1024))
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    func bureauPage(_ request: Request, context: PageRequestContext) async throws -> Response {
        let (principal, csrf) = (context.session.principal, context.session.csrf)
        let period = try await chosenPeriod(request)
        let summary = try await bureau.makeSummary(period: period)
        if request.uri.queryParameters["format"] == "csv" {
            return Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"schoolsync-\(period).csv\""],
                body: ResponseBody(byteBuffer: ByteBuffer(string: SummaryFormat.csv(summary)))
            )
        }
        return try html(render(BureauPage(summary: summary, who: principal.name, csrf: csrf), "bureau"))
    }

    /// The period asked for, or the latest one the bureau has published, or this year.
    func chosenPeriod(_ request: Request) async throws -> String {
        if let asked = request.uri.queryParameters["period"].map(String.init) {
            guard RecordRules.isPeriod(asked) else { throw APIError.invalidParameter("period", "Use a term like 2025-S1 or a year like 2025.") }
            return asked
        }
        let published = try await store.records(in: ["periods"]).filter { !$0.state.isDeleted }.map(\.key.id).sorted()
        return published.last ?? String(Calendar(identifier: .gregorian).component(.year, from: clock()))
    }

    /// The session named by the request's cookie: its id hash, principal and CSRF token.
    private func currentSession(_ request: Request) async throws -> (Data, Principal, String)? {
        guard let id = request.cookies[Self.cookieName]?.value, !id.isEmpty, id.utf8.count <= 128 else { return nil }
        let hash = Token.hash(id)
        guard let (principal, csrf) = try await store.session(forIDHash: hash, at: clock()) else { return nil }
        return (hash, principal, csrf)
    }

    /// Only same-origin paths: an open redirect would let another site bounce users through the
    /// login. Browsers drop tabs and newlines from a `Location` and read `\` as `/`, so
    /// `/<TAB>/evil` and `/\evil` lead off-site; the checks hold for the text and for its
    /// percent-decoded form alike. Anything else goes to the default page.
    static func safeNext(_ next: String?) -> String {
        let fallback = "/bureau"
        guard let next, next.utf8.count < 512 else { return fallback }
        func isSamePath(_ text: String, allowingSpaces: Bool) -> Bool {
            text.hasPrefix("/") && !text.hasPrefix("//")
                && !text.unicodeScalars.contains { scalar in
                    scalar == "\\" || scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
                        || (!allowingSpaces && scalar.properties.isWhitespace)
                }
        }
        // Raw, it goes into the Location header as it is: no white space at all. Decoded (what a
        // browser might make of it), no control characters, no backslash, no second slash.
        guard isSamePath(next, allowingSpaces: false), isSamePath(next.removingPercentEncoding ?? "//", allowingSpaces: true) else {
            return fallback
        }
        // The path must stay a path when parsed: no scheme, no host.
        guard let parsed = URLComponents(string: next), parsed.scheme == nil, parsed.host == nil else { return fallback }
        return next
    }

    private func readForm<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let body = try await Self.collectForm(request, upTo: 16 * 1024)
        do {
            return try URLEncodedFormDecoder().decode(type, from: String(buffer: body))
        } catch {
            throw APIError(.badRequest, .invalidBody, "The form could not be read; reload the page and try again.")
        }
    }

    /// A form body of at most `limit` bytes.
    ///
    /// - Throws: 413 `body_too_large` past it, never a 500. The conflict form carries the context
    ///   it showed, which grows with the replicas that wrote the record, so its limit is larger.
    static func collectForm(_ request: Request, upTo limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw APIError.bodyTooLarge(limit: limit)
        }
    }

    func render(_ object: Any, _ template: String) -> String {
        library.render(object, withTemplate: template) ?? ""
    }

    /// Renders named values; a nil value is left out, so the template sees "absent" (a section
    /// that does not show) rather than an `Optional` boxed in `Any`, which renders as "nil".
    func render(_ values: [String: Any?], _ template: String) -> String {
        render(values.compactMapValues { $0 } as Any, template)
    }

    /// An HTML page with the pages' headers: no scripts, no frames, forms only to this server; with
    /// `showsImages`, images from this server too (the review page's evidence photos).
    func html(_ page: String, status: HTTPResponse.Status = .ok, showsImages: Bool = false) throws -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: "default-src 'none'; \(showsImages ? "img-src 'self'; " : "")style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .cacheControl: "no-store",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: page))
        )
    }
}
