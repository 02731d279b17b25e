import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import NIOCore
import SyncCore

extension EvidenceTransfer {
    /// Fetches a file into the replica (`GET /v1/evidence/files/<sha256>`, PROTOCOL.md §13.4) and
    /// checks its SHA-256; read it then with ``LocalReplica/evidenceBytes(sha256:)``.
    ///
    /// Bytes are kept as they arrive (pieces of at most 256 KiB, one transaction each), so a cut
    /// download goes on with `Range: bytes=<held>-`, after a backoff in this call or in a later one.
    /// A file already whole here is not fetched again.
    ///
    /// - Parameters:
    ///   - sha256: the file's SHA-256, 64 lowercase hex digits, as a report's evidence item names it.
    ///   - name: the name to keep it under (the item's); by default the SHA-256.
    /// - Returns: the file as the replica now keeps it, whole.
    /// - Throws: ``SyncClientError/Code/usage`` for a malformed SHA-256; ``SyncClientError/Code/forbidden``
    ///   when the file is not this school's (403); ``SyncClientError/Code/notFound`` when the server does
    ///   not hold it yet (404); ``SyncClientError/Code/integrity`` when the bytes received have another
    ///   SHA-256 (they are dropped); ``SyncClientError/Code/unreachable`` or ``SyncClientError/Code/server``
    ///   when the attempts ran out without progress (what arrived is kept for the next try).
    @discardableResult
    public func download(sha256: String, name: String? = nil) async throws -> EvidenceFile {
        guard EvidenceItem.isSHA256(sha256) else {
            throw SyncClientError(.usage, "'\(sha256)' is not a SHA-256: give the 64 lowercase hex digits a report's evidence lists")
        }
        let name = name ?? sha256
        var backoff = Backoff(retry: retry)
        while true {
            if let file = try await replica.evidenceFile(sha256: sha256), file.isComplete { return try await verified(file) }
            let held = try await replica.evidenceFile(sha256: sha256)?.storedBytes ?? 0
            backoff.reached(held)
            do {
                try await fetch(sha256: sha256, name: name, from: held)
            } catch let error as SyncClientError {
                switch error.status {
                case 403?:
                    throw SyncClientError(
                        .forbidden,
                        "this file belongs to another school: the server lets a device fetch only its own school's evidence (\(sha256))",
                        status: 403,
                        body: error.body
                    )
                case 404?:
                    throw SyncClientError(
                        .notFound,
                        "the server does not hold this file yet: the device that added it has not uploaded it; sync that device, then try again",
                        status: 404,
                        body: error.body
                    )
                default:
                    guard error.isRetryable, let delay = backoff.failed(error) else { throw error }
                    progress(.retrying(name: name, attempt: backoff.failures, after: delay, reason: error.message))
                    try await sleep(delay)
                }
            }
        }
    }

    /// One GET from byte `from`, keeping what arrives even when the connection is cut.
    private func fetch(sha256: String, name: String, from: Int) async throws {
        let known = try await replica.evidenceFile(sha256: sha256)
        let response = try await transport.download(sha256: sha256, from: from, expectedBytes: (known?.size ?? EvidenceLimits.maxFileBytes) - from)
        var start = from
        let total: Int
        switch response.status {
        case .partialContent:
            guard let range = response.headers.first(name: "Content-Range").flatMap(Self.contentRange), range.start == from else {
                throw SyncClientError(.invalidResponse, "the server answered a ranged download without a matching Content-Range", status: 206)
            }
            total = range.total
        case .rangeNotSatisfiable:
            // What is held here does not fit the server's file: start again.
            try await replica.forgetEvidence(sha256)
            throw SyncClientError(.server, "the server's copy is shorter than the part downloaded before; downloading it again", status: 416)
        default:
            if from > 0 { try await replica.forgetEvidence(sha256) }  // a whole answer to a ranged question
            start = 0
            guard let length = response.headers.first(name: "Content-Length").flatMap({ Int($0) }) else {
                throw SyncClientError(.invalidResponse, "the server sent a file without its Content-Length", status: 200)
            }
            total = length
        }
        guard (1...EvidenceLimits.maxFileBytes).contains(total) else {
            throw SyncClientError(.invalidResponse, "the server announced a file of \(total) bytes, outside 1 byte to 25 MiB")
        }
        let type = response.headers.first(name: "Content-Type") ?? "application/octet-stream"
        let held = try await replica.beginEvidenceDownload(sha256: sha256, name: name, size: total, type: type)
        guard held == start else {
            throw SyncClientError(.server, "the file changed size between two downloads; downloading it again")
        }
        var offset = start
        var pending = Data()
        func flush() async throws {
            try await replica.appendEvidenceBytes(sha256: sha256, at: offset, pending)
            offset += pending.count
            pending.removeAll(keepingCapacity: true)
            progress(.downloading(name: name, bytes: offset, of: total))
        }
        do {
            for try await buffer in response.body {
                guard offset + pending.count + buffer.readableBytes <= total else {
                    throw SyncClientError(.invalidResponse, "the server sent more bytes than the file's length")
                }
                pending.append(contentsOf: buffer.readableBytesView)
                if pending.count >= LocalReplica.evidenceChunkBytes { try await flush() }
            }
        } catch {
            // Keep what arrived: the next try asks for the rest only.
            try await flush()
            if let error = error as? SyncClientError { throw error }
            throw SyncClientError(.unreachable, "the download of \(name) was cut off at byte \(offset) (\(ServerConnection.describe(error))); it goes on from there", cause: error)
        }
        try await flush()
        guard offset == total else {
            throw SyncClientError(.unreachable, "the download of \(name) ended at byte \(offset) of \(total); it goes on from there")
        }
    }

    /// Checks a whole file's SHA-256; a file that fails is dropped, so the next try fetches it again.
    private func verified(_ file: EvidenceFile) async throws -> EvidenceFile {
        guard try await replica.evidenceIsIntact(sha256: file.sha256) else {
            try await replica.forgetEvidence(file.sha256)
            throw SyncClientError(
                .integrity,
                "the bytes received for \(file.name) do not have its SHA-256, so they were dropped; run 'schoolsync evidence get' again"
            )
        }
        return file
    }

    /// `bytes <a>-<b>/<total>` as its start and total.
    static func contentRange(_ header: String) -> (start: Int, total: Int)? {
        guard header.hasPrefix("bytes ") else { return nil }
        let parts = header.dropFirst(6).split(separator: "/")
        guard parts.count == 2, let total = Int(parts[1]) else { return nil }
        let bounds = parts[0].split(separator: "-")
        guard bounds.count == 2, let start = Int(bounds[0]) else { return nil }
        return (start, total)
    }
}
