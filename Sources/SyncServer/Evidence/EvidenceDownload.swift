import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SyncCore

/// The answer to a download of an evidence file (PROTOCOL.md §13.4): the whole file or one byte
/// range of it, streamed from the store chunk by chunk, so a 25 MiB file is never held whole and
/// a cut download resumes with `Range`.
struct EvidenceDownload {
    let uploads: EvidenceUploads
    let file: StoredEvidenceFile
    /// `attachment` for the API; the review pages show pictures `inline`.
    var disposition = "attachment"
    /// Where a stream cut short by missing bytes is logged (the status line has left by then).
    let logger: Logger

    func response(to request: Request) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = file.type
        headers[.eTag] = "\"\(file.sha256)\""
        headers[.acceptRanges] = "bytes"
        headers[.contentDisposition] = disposition
        headers[named: "X-Content-Type-Options"] = "nosniff"
        headers[.cacheControl] = "private, max-age=31536000, immutable"
        let size = file.size
        var range = 0..<size
        var status = HTTPResponse.Status.ok
        switch Self.range(request.headers[.range], size: size) {
        case .whole:
            break
        case .part(let part):
            range = part
            status = .partialContent
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(size)"
        case .unsatisfiable:
            var error = APIError(
                .rangeNotSatisfiable,
                .invalidParameter,
                "The range asked for lies outside the file's \(size) bytes.",
                details: ["parameter": "Range"]
            )
            error.headers[.contentRange] = "bytes */\(size)"
            throw error
        }
        headers[.contentLength] = String(range.count)
        if request.method == .head { return Response(status: status, headers: headers) }
        let (uploads, part, logger) = (uploads, range, logger)
        let owner = EvidenceChunkOwner.file(file.sha256)
        // The first bytes are looked for before the status is sent, so a file whose bytes are gone
        // is a logged 500, not a 200 with a cut body.
        try await uploads.forEachChunk(of: owner, from: part.lowerBound, to: min(part.upperBound, part.lowerBound + 1)) { _ in }
        let body = ResponseBody(contentLength: Int(range.count)) { writer in
            do {
                try await uploads.forEachChunk(of: owner, from: part.lowerBound, to: part.upperBound) { bytes in
                    try await writer.write(ByteBuffer(bytes: bytes))
                }
            } catch {
                logger.error("evidence download cut short", metadata: ["evidence.sha256": .string(owner.key), "error": "\(error)"])
                throw error
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// What a `Range` header asks for.
    enum RangeRequest: Equatable {
        case whole
        case part(Range<Int64>)
        case unsatisfiable
    }

    /// RFC 9110 §14.1.2 for one range of bytes: `bytes=a-`, `bytes=a-b`, `bytes=-n`. A header that
    /// is not of that form (several ranges included) is ignored, as the RFC allows: the whole file.
    static func range(_ header: String?, size: Int64) -> RangeRequest {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        func number(_ text: Substring) -> Int64? {
            text.isEmpty || text.utf8.count > 18 || !text.utf8.allSatisfy({ (48...57).contains($0) }) ? nil : Int64(text)
        }
        if parts[0].isEmpty {
            guard let suffix = number(parts[1]) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)..<size)
        }
        guard let first = number(parts[0]) else { return .whole }
        let last: Int64
        if parts[1].isEmpty {
            last = size - 1
        } else {
            guard let given = number(parts[1]), given >= first else { return .whole }
            last = min(given, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .part(first..<(last + 1))
    }
}
