import CompressNIO
import Foundation
import Hummingbird
import NIOCore
import SyncCore

/// Builds JSON responses in the protocol's canonical form, gzip-compressed when the client accepts it.
enum JSONResponse {
    /// Bodies smaller than this are sent as they are: gzip would not pay for its header.
    static let compressionThreshold = 512

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, for request: Request) throws -> Response {
        var buffer = ByteBuffer(bytes: try CanonicalJSON.encode(value))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if buffer.readableBytes >= compressionThreshold, acceptsGzip(request) {
            buffer = try buffer.compress(with: .gzip())
            headers[.contentEncoding] = "gzip"
        }
        headers[.contentLength] = String(buffer.readableBytes)
        headers[.vary] = "Accept-Encoding"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }

    static func acceptsGzip(_ request: Request) -> Bool {
        guard let value = request.headers[.acceptEncoding] else { return false }
        return value.split(separator: ",").contains { part in
            let item = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            return item.first == "gzip" && !item.dropFirst().contains("q=0")
        }
    }
}

/// Reads request bodies: gzip or identity, never more than the configured limit once decoded.
struct RequestBodyReader: Sendable {
    let maxBodyBytes: Int

    func read(_ request: Request) async throws -> ByteBuffer {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Send request bodies as application/json, not \(type).")
        }
        let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() ?? "identity"
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            throw APIError.bodyTooLarge(limit: maxBodyBytes)
        }
        switch encoding {
        case "identity", "":
            return body
        case "gzip", "x-gzip":
            do {
                return try body.decompress(with: .gzip(), maxSize: maxBodyBytes)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                throw APIError.bodyTooLarge(limit: maxBodyBytes)
            } catch {
                throw APIError(.badRequest, "invalid_body", "The body is marked gzip but is not valid gzip data (\(error)).")
            }
        default:
            throw APIError(.unsupportedMediaType, "unsupported_encoding", "Content-Encoding '\(encoding)' is not supported; use gzip or none.")
        }
    }

    /// Reads and decodes a JSON body, turning decoding failures into 400s that name the path.
    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let body = try await read(request)
        do {
            return try CanonicalJSON.decode(type, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw APIError.describing(error)
        }
    }
}

extension APIError {
    /// A 400 that says which key was wrong and why, in words a developer can act on.
    static func describing(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .typeMismatch(let type, let context):
            return .invalidJSON(
                "Wrong type at \(path(context.codingPath)): expected \(type). \(context.debugDescription)",
                path: path(context.codingPath)
            )
        case .valueNotFound(_, let context):
            return .invalidJSON("Missing value at \(path(context.codingPath)).", path: path(context.codingPath))
        case .keyNotFound(let key, let context):
            let at = path(context.codingPath + [key])
            return .invalidJSON("Missing key \(at).", path: at)
        case .dataCorrupted(let context):
            let at = path(context.codingPath)
            let reason = context.codingPath.isEmpty ? "The body is not valid JSON." : "Invalid value at \(at): \(context.debugDescription)"
            return .invalidJSON(reason, path: at.isEmpty ? nil : at)
        @unknown default:
            return .invalidJSON("The body could not be decoded.")
        }
    }
}
