import HTTPTypes
import Hummingbird
import Logging
import SyncCore

/// Gives every failure the protocol's error body, so no client mistake ever reaches a bare 500,
/// and logs the server faults that remain.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw Self.translate(error)
        } catch let error as DecodingError {
            throw APIError.describing(error)
        } catch let error as StoreError {
            switch error.code {
            case .alreadyExists: throw APIError(.conflict, .alreadyExists, error.message)
            case .notFound: throw APIError(.notFound, .notFound, error.message)
            case .invalid: throw APIError(.badRequest, .invalidParameter, error.message)
            case .damaged:
                context.logger.error("the database is damaged", metadata: ["sync.error": "\(error.message)"])
                throw APIError(.internalServerError, .`internal`, "The server's database is damaged; an administrator has to restore it.")
            }
        } catch let error as SyncCoreError {
            throw APIError(.badRequest, .invalidParameter, error.message)
        } catch {
            context.logger.error("request failed", metadata: ["sync.error": "\(String(reflecting: error))"])
            throw APIError(.internalServerError, .`internal`, "The server failed to handle this request; it has been logged. Try again later.")
        }
    }

    static func translate(_ error: HTTPError) -> APIError {
        let message = error.body ?? error.status.reasonPhrase
        switch error.status {
        case .notFound: return APIError(.notFound, .notFound, "No such endpoint or resource.")
        case .methodNotAllowed: return APIError(.methodNotAllowed, .methodNotAllowed, message)
        case .unauthorized: return .unauthorized
        case .forbidden: return .forbidden(message)
        case .contentTooLarge: return APIError(.contentTooLarge, .bodyTooLarge, "The request body is too large.")
        case .badRequest: return APIError(.badRequest, .invalidJSON, message)
        case .unsupportedMediaType: return APIError(.unsupportedMediaType, .unsupportedMediaType, message)
        default:
            return APIError(error.status, error.status.code >= 500 ? .internal : .badRequest, message)
        }
    }
}

/// Gives each request an id (the client's `X-Request-ID` when well formed) in the response and in
/// every log line the request writes.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = HTTPField.Name.requestID else { return try await next(request, context) }
        var context = context
        let requestID: String
        if let offered = request.headers[header], Self.isAcceptable(offered) {
            requestID = offered
            context.logger[metadataKey: "sync.request_id"] = .string(offered)
        } else {
            requestID = context.id
        }
        do {
            var response = try await next(request, context)
            response.headers[header] = requestID
            return response
        } catch let error as APIError {
            var error = error
            error.headers[header] = requestID
            throw error
        }
    }

    static func isAcceptable(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.unicodeScalars.allSatisfy {
                $0.properties.isASCIIHexDigit || $0 == "-" || $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0)
            }
    }
}

extension HTTPField.Name {
    /// `X-Request-ID` is a valid field name, so this is never nil; if it were, responses would simply carry no id.
    static let requestID = HTTPField.Name("X-Request-ID")
}
