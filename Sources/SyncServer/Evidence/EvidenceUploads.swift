import Crypto
import Foundation
import HTTPTypes
import NIOCore
import SyncCore

/// The rules of evidence uploads (PROTOCOL.md §13.2–§13.3), once for every ``EvidenceStore``:
/// creation per school and file, pieces stored only at the server's offset, the last byte's hash
/// and type checks, and the proof of possession.
struct EvidenceUploads: Sendable {
    /// The most bytes one chunk row holds: a PATCH is stored in pieces of this size as it streams in.
    static let pieceBytes = 256 * 1024
    /// The longest PATCH body with `Upload-Checksum`: it is held whole until checked, so it is bounded
    /// (PROTOCOL.md §13.2); a longer one is 413 `body_too_large`.
    static let maxChecksummedBytes = 8 * 1024 * 1024

    let store: any EvidenceStore
    let clock: @Sendable () -> Date
    /// One request at a time per upload in this process (``UploadLocks``).
    let locks = UploadLocks()
    /// How long a request waits for another on the same upload before it is 409.
    static let lockWait: Duration = .seconds(10)

    /// What a creation found or made.
    struct Created {
        let upload: EvidenceUpload
        /// Whether the upload was new (201 either way; the log says which).
        let isNew: Bool
    }

    /// Finds or creates `school`'s upload of a file (§13.2 "Creation is idempotent").
    ///
    /// - Throws: 422 `evidence_hash_mismatch` when the length differs from the file or upload of
    ///   that SHA-256 on the server.
    func create(school: String, sha256: String, length: Int64, filename: String?) async throws -> Created {
        let now = clock()
        if let existing = try await store.evidenceUpload(school: school, sha256: sha256).map(Self.checked) {
            if !existing.isFinished && existing.expiresAt <= now {
                try await store.discardEvidenceUpload(id: existing.id)
            } else {
                guard existing.length == length else { throw Self.lengthMismatch(sha256, existing.length) }
                return Created(upload: existing, isNew: false)
            }
        }
        let file = try await store.evidenceFile(sha256: sha256).map(Self.checked)
        if let file, file.size != length { throw Self.lengthMismatch(sha256, file.size) }
        let hasAccess = file == nil ? false : try await store.evidenceAccess(sha256: sha256, school: school)
        if !hasAccess {
            // Each open upload may hold 25 MiB for a day: a school cannot reserve the database.
            let open = try await store.openEvidenceUploads(school: school)
            if open.count >= EvidenceLimits.maxOpenUploadsPerSchool || open.bytes + length > EvidenceLimits.maxOpenUploadBytesPerSchool {
                throw APIError(
                    .conflict,
                    .uploadLimitReached,
                    "This school has \(open.count) unfinished uploads (\(open.bytes) bytes); at most \(EvidenceLimits.maxOpenUploadsPerSchool) "
                        + "and 1 GiB are kept at once. Finish them, or try this file again once they expire.",
                    details: ["limit": String(EvidenceLimits.maxOpenUploadsPerSchool)]
                )
            }
        }
        let upload = EvidenceUpload(
            id: Self.randomHex(16),
            school: school,
            sha256: sha256,
            length: length,
            offset: hasAccess ? length : 0,
            filename: filename,
            createdAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(EvidenceLimits.uploadLifetimeSeconds)),
            isFinished: hasAccess,
            nonce: file != nil && !hasAccess ? Self.randomHex(32) : nil
        )
        let stored = try Self.checked(try await store.insertEvidenceUpload(upload))
        return Created(upload: stored, isNew: stored.id == upload.id)
    }

    /// `upload` as the store gave it, or `StoreError.damaged` when its numbers cannot be an upload
    /// (another program wrote the row): never a trap further on.
    static func checked(_ upload: EvidenceUpload) throws -> EvidenceUpload {
        guard upload.length >= 1, upload.length <= Int64(EvidenceLimits.maxFileBytes), upload.offset >= 0, upload.offset <= upload.length,
            EvidenceItem.isSHA256(upload.sha256)
        else {
            throw StoreError(.damaged, "the evidence upload \(upload.id.prefix(64)) holds impossible numbers (length \(upload.length), offset \(upload.offset))")
        }
        return upload
    }

    /// `file` as the store gave it, checked like ``checked(_:)-(EvidenceUpload)``.
    static func checked(_ file: StoredEvidenceFile) throws -> StoredEvidenceFile {
        guard file.size >= 1, file.size <= Int64(EvidenceLimits.maxFileBytes), EvidenceItem.isSHA256(file.sha256), EvidenceType(rawValue: file.type) != nil
        else {
            throw StoreError(.damaged, "the evidence file \(file.sha256.prefix(64)) holds an impossible size (\(file.size)) or type")
        }
        return file
    }

    /// The school's upload `id`, unexpired.
    ///
    /// - Throws: 404 `not_found` for an id that is not the school's (another school's ids are not
    ///   told apart from unknown ones); 410 `upload_expired` (its bytes are removed on the way).
    func upload(id: String, school: String) async throws -> EvidenceUpload {
        guard id.utf8.count == 32, id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
            let upload = try await store.evidenceUpload(id: id).map(Self.checked), upload.school == school
        else {
            throw APIError(.notFound, .notFound, "There is no such upload for this school; create it again with POST /v1/evidence/uploads.")
        }
        if !upload.isFinished && upload.expiresAt <= clock() {
            try await store.discardEvidenceUpload(id: upload.id)
            throw APIError(.gone, .uploadExpired, "The upload expired unfinished and its bytes were removed; create it again and send the file.")
        }
        return upload
    }

    /// Stores one PATCH body at `offset`, piece by piece as it arrives, and finishes the upload when
    /// its last byte came (§13.2 "Bytes are kept as they arrive").
    ///
    /// - Parameters:
    ///   - body: the request body; when it ends early (a cut link) every byte received is kept.
    ///   - checksum: `Upload-Checksum`'s algorithm and digest: then the body is kept whole or not at all.
    /// - Returns: the upload as stored afterwards.
    /// - Throws: the §13 errors: 409 `upload_offset_mismatch`, 413 `file_too_large`, 415
    ///   `unsupported_file_type`, 460 `checksum_mismatch`, 422 `evidence_hash_mismatch`.
    func patch(
        _ upload: EvidenceUpload,
        at offset: Int64,
        body: some AsyncSequence<ByteBuffer, any Error>,
        checksum: (algorithm: String, digest: [UInt8])?
    ) async throws -> EvidenceUpload {
        guard !upload.isFinished, offset == upload.offset else { throw Self.offsetMismatch(upload.offset) }
        var offset = offset
        var pending: [UInt8] = []
        let sniffLength = Int64(min(EvidenceLimits.sniffBytes, Int(upload.length)))
        var sniffed = offset >= sniffLength
        // A first PATCH shorter than the sniff's bytes: the kind is judged once they are all known.
        var head: [UInt8] = []
        if !sniffed, offset > 0 {
            try await forEachChunk(of: .upload(upload.id), from: 0, to: offset) { head += $0 }
        }
        let remaining = upload.length - offset

        /// Stores what is pending from `offset`; false when another writer moved the offset.
        func flush() async throws {
            guard !pending.isEmpty else { return }
            guard try await store.appendEvidence(uploadID: upload.id, at: offset, pending) else { throw Self.offsetMismatch(nil) }
            offset += Int64(pending.count)
            pending.removeAll(keepingCapacity: true)
        }
        func checkPrefix(final: Bool = false) async throws {
            guard !sniffed else { return }
            let known = head + pending.prefix(Int(sniffLength))
            guard known.count >= Int(sniffLength) || (final && !known.isEmpty) else { return }
            sniffed = known.count >= Int(sniffLength)
            // A prefix no allowed kind starts with is refused even before all 8 bytes are in.
            if EvidenceType.sniffPrefix(known) == nil, known.count >= Int(sniffLength) || !Self.mayStartAllowedKind(known) {
                try await store.discardEvidenceUpload(id: upload.id)
                throw Self.unsupportedType
            }
        }

        var received: Int64 = 0
        var tooLong = false
        do {
            for try await buffer in body {
                received += Int64(buffer.readableBytes)
                if received > remaining {
                    tooLong = true
                    pending.append(contentsOf: buffer.readableBytesView.prefix(Int(remaining - (received - Int64(buffer.readableBytes)))))
                    break
                }
                pending.append(contentsOf: buffer.readableBytesView)
                try await checkPrefix()
                if checksum != nil, pending.count > Self.maxChecksummedBytes {
                    throw APIError.bodyTooLarge(limit: Self.maxChecksummedBytes)
                }
                if checksum == nil {
                    while pending.count >= Self.pieceBytes {
                        let rest = Array(pending[Self.pieceBytes...])
                        pending.removeSubrange(Self.pieceBytes...)
                        try await flush()
                        pending = rest
                    }
                }
            }
        } catch let error as APIError {
            throw error
        } catch {
            // The link was cut mid-body: keep what arrived (a checksummed body is all or nothing).
            // The handler may be cancelled with its connection, so the last bytes are stored by a
            // task of their own, which that cancellation does not reach.
            if checksum == nil, sniffed, !pending.isEmpty {
                let (store, id, at, bytes) = (store, upload.id, offset, pending)
                _ = try? await Task { try await store.appendEvidence(uploadID: id, at: at, bytes) }.value
            }
            throw error
        }
        if tooLong {
            throw APIError(
                .contentTooLarge,
                .fileTooLarge,
                "The body runs past Upload-Length (\(upload.length) bytes); nothing past it was kept.",
                details: ["limit": String(upload.length)]
            )
        }
        if let checksum {
            guard Self.digest(of: pending, algorithm: checksum.algorithm) == checksum.digest else {
                throw APIError(
                    HTTPResponse.Status(code: TusProtocol.checksumMismatchStatus, reasonPhrase: "Checksum Mismatch"),
                    .checksumMismatch,
                    "The body does not match its Upload-Checksum; none of it was kept. Send the same bytes again."
                )
            }
        }
        try await checkPrefix(final: true)
        try await flush()
        var stored = upload
        stored.offset = offset
        if offset == upload.length { stored = try await finish(stored) }
        return stored
    }

    /// Checks the whole file and makes it the school's (§13.2 "The last byte").
    private func finish(_ upload: EvidenceUpload) async throws -> EvidenceUpload {
        var hasher = SHA256()
        // The first bytes decide the kind, wherever the client's chunks began; a ZIP is kept whole
        // to read its entries (at most 25 MiB).
        var whole: [UInt8] = []
        var prefix: EvidenceType.Prefix?
        try await forEachChunk(of: .upload(upload.id), from: 0, to: upload.length) { bytes in
            hasher.update(data: bytes)
            if prefix == nil || prefix == .zip { whole.append(contentsOf: bytes) }
            if prefix == nil, whole.count >= min(EvidenceLimits.sniffBytes, Int(upload.length)) {
                prefix = EvidenceType.sniffPrefix(whole)
                if prefix != .zip { whole = Array(whole.prefix(EvidenceLimits.sniffBytes)) }
            }
        }
        let digest = Hex.encode(hasher.finalize())
        guard digest == upload.sha256 else {
            try await store.discardEvidenceUpload(id: upload.id)
            throw APIError(
                .unprocessableContent,
                .evidenceHashMismatch,
                "The uploaded bytes have SHA-256 \(digest), not \(upload.sha256) as declared; the upload was discarded. Send the file again from the beginning.",
                details: ["sha256": digest]
            )
        }
        guard let type = EvidenceType.sniff(whole) else {
            try await store.discardEvidenceUpload(id: upload.id)
            throw Self.unsupportedType
        }
        var finished = upload
        finished.offset = upload.length
        finished.isFinished = true
        guard
            try await store.completeEvidenceUpload(finished, file: StoredEvidenceFile(sha256: upload.sha256, size: upload.length, type: type.rawValue), at: clock())
        else {
            throw Self.vanished
        }
        return finished
    }

    /// Takes a proof of possession (§13.3): HMAC-SHA256 of the server's copy under the upload's nonce.
    ///
    /// - Throws: 409 `upload_offset_mismatch` when the upload holds bytes or is not waiting for a
    ///   proof; 422 `possession_proof_mismatch`.
    func prove(_ upload: EvidenceUpload, proof: String) async throws -> EvidenceUpload {
        guard !upload.isFinished, upload.offset == 0, let nonce = upload.nonce, let key = Hex.decode(nonce),
            let file = try await store.evidenceFile(sha256: upload.sha256).map(Self.checked)
        else {
            throw APIError(
                .conflict,
                .uploadOffsetMismatch,
                "This upload takes bytes, not a proof: send the file with PATCH.",
                details: ["offset": String(upload.offset)]
            )
        }
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        try await forEachChunk(of: .file(file.sha256), from: 0, to: file.size) { mac.update(data: $0) }
        let expected = Array(mac.finalize())
        guard let given = Hex.decode(proof), given.count == expected.count,
            zip(given, expected).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else {
            throw APIError(
                .unprocessableContent,
                .possessionProofMismatch,
                "The proof does not match the file on the server; upload the file's bytes instead."
            )
        }
        var finished = upload
        finished.offset = upload.length
        finished.isFinished = true
        guard try await store.completeEvidenceUpload(finished, file: file, at: clock()) else { throw Self.vanished }
        return finished
    }

    /// Calls `body` with the bytes of `owner` from `start` to `end` (exclusive), chunk by chunk.
    ///
    /// - Throws: `StoreError.damaged` when a chunk is missing or impossible (another program changed the tables).
    func forEachChunk(of owner: EvidenceChunkOwner, from start: Int64, to end: Int64, _ body: ([UInt8]) async throws -> Void) async throws {
        var position = start
        while position < end {
            // Offsets come from a table: 0 ≤ offset ≤ position keeps every difference below in range.
            guard let chunk = try await store.evidenceChunk(of: owner, containing: position), chunk.offset >= 0, chunk.offset <= position,
                position - chunk.offset < Int64(chunk.bytes.count)
            else {
                throw StoreError(.damaged, "evidence bytes of \(owner.key) at offset \(position) are missing from the store")
            }
            let from = Int(position - chunk.offset)
            let to = Int(min(Int64(chunk.bytes.count), end - chunk.offset))
            try await body(Array(chunk.bytes[from..<to]))
            position = chunk.offset + Int64(to)
        }
    }

    static func offsetMismatch(_ offset: Int64?) -> APIError {
        APIError(
            .conflict,
            .uploadOffsetMismatch,
            "Upload-Offset is not where the server's copy ends (another request wrote meanwhile?); ask with HEAD and go on from there.",
            details: offset.map { ["offset": String($0)] }
        )
    }

    /// The upload was discarded, finished or its file removed by another request while this one
    /// finished it: nothing was made of it.
    static let vanished = APIError(
        .conflict,
        .uploadOffsetMismatch,
        "The upload changed while it was being finished (another request discarded or finished it); ask with HEAD, or create it again."
    )

    /// Whether `bytes`, fewer than the sniff needs, may still begin an allowed kind.
    static func mayStartAllowedKind(_ bytes: [UInt8]) -> Bool {
        let magics: [[UInt8]] = [
            [0xFF, 0xD8, 0xFF], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], Array("%PDF-".utf8),
            [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], [0x50, 0x4B, 0x03, 0x04],
        ]
        return magics.contains { magic in zip(magic, bytes).allSatisfy { $0 == $1 } }
    }

    /// Another request held the upload past ``lockWait``.
    static var busy: APIError {
        APIError(.conflict, .uploadOffsetMismatch, "Another request is sending bytes of this upload; ask with HEAD later and go on from there.")
    }

    static let unsupportedType = APIError(
        .unsupportedMediaType,
        .unsupportedFileType,
        "Evidence must be a JPEG or PNG picture, a PDF, or an Office document (Word, Excel, PowerPoint); the file's bytes are none of these."
    )

    static func lengthMismatch(_ sha256: String, _ length: Int64) -> APIError {
        APIError(
            .unprocessableContent,
            .evidenceHashMismatch,
            "A file of SHA-256 \(sha256) is \(length) bytes long on the server; the Upload-Length given does not match. Check the file and its hash.",
            details: ["length": String(length)]
        )
    }

    static func digest(of bytes: [UInt8], algorithm: String) -> [UInt8] {
        algorithm == "sha1" ? Array(Insecure.SHA1.hash(data: bytes)) : Array(SHA256.hash(data: bytes))
    }

    static func randomHex(_ byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
