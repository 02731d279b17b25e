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

    /// The body's bytes, decoded (PROTOCOL.md §4).
    ///
    /// - Throws: 415 `unsupported_media_type` for a type other than `application/json`, 415
    ///   `unsupported_encoding`, 413 `body_too_large` when the body or what it inflates to passes
    ///   the limit, 400 `invalid_body` for gzip that is not one whole, intact member.
    func read(_ request: Request) async throws -> ByteBuffer {
        if let type = request.headers[.contentType], !Self.isJSON(type) {
            throw APIError(.unsupportedMediaType, .unsupportedMediaType, "Send request bodies as application/json, not \(type.prefix(100)).")
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
            return try inflate(body)
        default:
            throw APIError(.unsupportedMediaType, .unsupportedEncoding, "Content-Encoding '\(encoding.prefix(40))' is not supported; use gzip or none.")
        }
    }

    /// `application/json`, with or without parameters such as `charset=utf-8`.
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// Inflates one gzip member. compress-nio inflates; the checks around it make the answer exact:
    /// its output buffers may be larger than asked for, so the size is checked on the result, and
    /// it returns what it has when the input stops early, so the member's trailer (RFC 1952: CRC-32
    /// and length of the data) is checked against what came out, which also refuses bytes after it.
    private func inflate(_ body: ByteBuffer) throws -> ByteBuffer {
        let invalid = { (why: String) in APIError(.badRequest, .invalidBody, "The body is marked gzip but is not one whole gzip member (\(why)).") }
        var compressed = body
        let trailer = Array(body.readableBytesView.suffix(8))
        let inflated: ByteBuffer
        do {
            inflated = try compressed.decompress(with: .gzip(), maxSize: maxBodyBytes + 1)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw APIError.bodyTooLarge(limit: maxBodyBytes)
        } catch {
            throw invalid("\(error)")
        }
        guard inflated.readableBytes <= maxBodyBytes else { throw APIError.bodyTooLarge(limit: maxBodyBytes) }
        guard trailer.count == 8 else { throw invalid("it is shorter than a gzip trailer") }
        func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        guard littleEndian(trailer[4..<8]) == UInt32(truncatingIfNeeded: inflated.readableBytes),
            littleEndian(trailer[0..<4]) == inflated.withUnsafeReadableBytes({ CRC32.checksum($0) })
        else { throw invalid("it is cut short, or its trailer does not match its data") }
        return inflated
    }

    /// The most JSON values (objects, arrays, strings, numbers, literals) one body may hold.
    ///
    /// A parsed value costs far more memory than its bytes: 8 MiB of `{"a":0},` is a million
    /// objects and took 440 MB to parse. The largest record PROTOCOL.md §10 allows holds about
    /// 60,000 values, so this passes several of any size, and a client that meets the 413 halves
    /// its batch until it fits.
    static let maxJSONValues = 262_144

    /// Reads and decodes a JSON body, turning decoding failures into 400s that name the path.
    /// A ``StrictBody`` is first held to the wire types' rules: no duplicate or unknown keys.
    ///
    /// - Throws: 413 `body_too_large` when the body holds more than ``maxJSONValues`` values.
    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let data = Data(try await read(request).readableBytesView)
        guard Self.valueCountBound(data) <= Self.maxJSONValues else {
            throw APIError(
                .contentTooLarge,
                .bodyTooLarge,
                "The body holds more than \(Self.maxJSONValues) JSON values; send fewer records per push.",
                details: ["limit": String(maxBodyBytes), "values": String(Self.maxJSONValues)]
            )
        }
        do {
            if let strict = type as? any StrictBody.Type {
                guard let keys = try CanonicalJSON.strictObjectKeys(in: data) else {
                    throw APIError.invalidJSON("The body must be a JSON object.")
                }
                if let unknown = keys.sorted().first(where: { !strict.keys.contains($0) }) {
                    throw APIError.invalidJSON(
                        "Unknown key .\(unknown.prefix(64)); allowed: \(strict.keys.sorted().joined(separator: ", ")).",
                        path: ".\(unknown.prefix(64))"
                    )
                }
            }
            return try CanonicalJSON.decode(type, from: data)
        } catch let error as DecodingError {
            throw APIError.describing(error)
        }
    }
}

extension RequestBodyReader {
    /// An upper bound on the number of values in a JSON text, without parsing it: every value but
    /// the first follows a `,` or a `:`, or opens right after a `[`, all outside strings. Invalid
    /// JSON gets some bound too; the parser refuses it afterwards.
    static func valueCountBound(_ data: Data) -> Int {
        data.withUnsafeBytes { valueCountBound($0) }
    }

    private static func valueCountBound(_ bytes: UnsafeRawBufferPointer) -> Int {
        var count = 1
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "["): count += 1
            default: break
            }
        }
        return count
    }
}

/// A request body decoded through Foundation whose keys are exactly ``keys``: like a push, it
/// refuses unknown and duplicate keys instead of dropping them (PROTOCOL.md §8 `invalid_json`).
protocol StrictBody: Decodable {
    static var keys: Set<String> { get }
}

extension ResolutionRequest: StrictBody {
    static var keys: Set<String> { ["seen", "values", "delete", "reason"] }
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

/// CRC-32 (IEEE 802.3, the polynomial gzip uses), to check a gzip member's trailer.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc = ~UInt32(0)
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            return ~crc
        }
    }
}
