import HTTPTypes
import Hummingbird
import Logging
import SyncCore

/// Gives every failure the protocol's error body, so no client mistake ever reaches a bare 500,
/// and logs the server faults that remain. Every 503 it sends carries `Retry-After` (PROTOCOL.md §8).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The store's translation of its driver's errors (``SyncStore/storeError(for:)``).
    let storeError: @Sendable (any Error) -> StoreError?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var answer = Self.answer(for: storeError(error) ?? error, logger: context.logger)
            if answer.status == .serviceUnavailable, answer.headers[.retryAfter] == nil {
                answer.headers[.retryAfter] = String(APIError.defaultRetryAfterSeconds)
            }
            throw answer
        }
    }

    /// The protocol's answer to whatever a handler or an inner middleware threw.
    static func answer(for error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            return translate(error)
        case let error as DecodingError:
            return APIError.describing(error)
        case let error as StoreError:
            switch error.code {
            case .alreadyExists: return APIError(.conflict, .alreadyExists, error.message)
            case .notFound: return APIError(.notFound, .notFound, error.message)
            case .invalid: return APIError(.badRequest, .invalidParameter, error.message)
            case .damaged:
                logger.error("the database is damaged", metadata: ["sync.error": "\(error.message)"])
                return APIError(.internalServerError, .`internal`, "The server's database is damaged; an administrator has to restore it.")
            case .busy:
                // Another writer held the database past the timeout: a moment's wait, not a fault.
                logger.warning("the store is busy", metadata: ["sync.error": "\(error.message)"])
                return APIError.storeBusy
            }
        case let error as SyncCoreError:
            return APIError(.badRequest, .invalidParameter, error.message)
        default:
            logger.error("request failed", metadata: ["sync.error": "\(String(reflecting: error))"])
            return APIError(.internalServerError, .`internal`, "The server failed to handle this request; it has been logged. Try again later.")
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
