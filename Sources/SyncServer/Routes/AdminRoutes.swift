import Foundation
import Hummingbird
import Logging
import NIOCore
import SyncCore

/// `/v1/admin/…`: schools, device enrolment, users and revocation, for administrators only.
struct AdminRoutes {
    let store: any SyncStore
    let bodyReader: RequestBodyReader
    let principals: PrincipalCache
    /// Woken on a revocation, so held long polls of the revoked principal end at once.
    let notifier: ChangeNotifier
    /// The configured clock (``SyncServerConfiguration/clock``): when schools and principals are
    /// created and revoked.
    let clock: @Sendable () -> Date

    func register(on router: Router<SyncRequestContext>) {
        router.authorized("v1/admin", for: .administrators, to: "manage schools, devices and users")
            .get("schools", use: listSchools)
            .post("schools", use: createSchool)
            .post("devices", use: createDevice)
            .post("users", use: createUser)
            .post("principals/:id/revoke", use: revoke)
    }

    struct NewSchool: StrictBody {
        static let keys: Set<String> = ["id", "name"]
        let id: String
        let name: String
    }

    struct NewDevice: StrictBody {
        static let keys: Set<String> = ["school", "name"]
        let school: String
        let name: String
    }

    struct NewUser: StrictBody {
        static let keys: Set<String> = ["name", "role"]
        let name: String
        let role: String
    }

    /// A new principal with its token, which the server shows this once.
    struct Issued: Encodable {
        let id: Int64
        let kind: Principal.Kind
        let name: String
        let school: String?
        let token: String
    }

    func listSchools(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        struct Body: Encodable { let schools: [SchoolInfo] }
        return try JSONResponse.make(Body(schools: try await store.schools()), for: request)
    }

    func createSchool(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let body = try await bodyReader.decode(NewSchool.self, from: request)
        let school = try await store.createSchool(id: body.id, name: body.name, at: clock())
        context.logger.debug("school created", metadata: ["sync.school": "\(school.id)"])
        return try JSONResponse.make(school, status: .created, for: request)
    }

    func createDevice(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let body = try await bodyReader.decode(NewDevice.self, from: request)
        return try await issue(.device, name: body.name, school: body.school, request: request, context: context)
    }

    func createUser(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let body = try await bodyReader.decode(NewUser.self, from: request)
        guard let kind = Principal.Kind(rawValue: body.role), kind != .device else {
            throw APIError.invalidParameter("role", "'role' must be 'bureau' or 'admin'; enrol devices with POST /v1/admin/devices.")
        }
        return try await issue(kind, name: body.name, school: nil, request: request, context: context)
    }

    private func issue(
        _ kind: Principal.Kind,
        name: String,
        school: String?,
        request: Request,
        context: AuthenticatedRequestContext
    ) async throws -> Response {
        let (principal, token) = try await store.createPrincipal(kind: kind, name: name, schoolID: school, at: clock())
        context.logger.debug("principal created", metadata: ["sync.issued_principal": "\(kind.rawValue):\(principal.id)"])
        let body = Issued(id: principal.id, kind: kind, name: principal.name, school: principal.schoolID, token: token)
        return try JSONResponse.make(body, status: .created, for: request)
    }

    func revoke(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        guard let id = context.parameters.get("id", as: Int64.self) else {
            throw APIError.invalidParameter("id", "The principal id must be a number.")
        }
        guard try await store.revokePrincipal(id: id, at: clock()) else {
            throw APIError(.notFound, .notFound, "No principal with id \(id).")
        }
        // Tokens are remembered by hash, not by principal id: forget them all.
        principals.removeAll()
        // Held long polls look again at once, see the revocation and end.
        await notifier.announce()
        struct Body: Encodable {
            let id: Int64
            let revoked: Bool
        }
        return try JSONResponse.make(Body(id: id, revoked: true), for: request)
    }
}

/// `/healthz` and `/metrics`, which need no token.
struct OperationsRoutes {
    let store: any SyncStore
    let metrics: SyncMetrics

    func register(on router: Router<SyncRequestContext>) {
        router.get("healthz", use: health)
        router.get("metrics", use: renderMetrics)
    }

    func health(_ request: Request, context: SyncRequestContext) async throws -> Response {
        struct Body: Encodable { let status: String }
        do {
            try await store.checkHealth()
        } catch {
            context.logger.error("health check failed", metadata: ["sync.error": "\(error)"])
            throw APIError.unavailable("The store does not answer.")
        }
        return try JSONResponse.make(Body(status: "ok"), for: request)
    }

    func renderMetrics(_ request: Request, context: SyncRequestContext) async throws -> Response {
        metrics.recordOpenConflicts(try await store.openConflictCount())
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render()))
        )
    }
}
