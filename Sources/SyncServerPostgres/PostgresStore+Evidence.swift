import Foundation
import NIOCore
import PostgresNIO
import SyncServer

/// Evidence files and uploads in PostgreSQL (PROTOCOL.md §13), each method one transaction, so
/// every server on the database serves every file and `pg_dump` holds them.
extension PostgresStore {
    private static let uploadColumns = "id, school, sha256, length, upload_offset, filename, created_at, expires_at, finished, nonce"

    /// The upload of `sha256` by `school`, finished or not (``EvidenceStore``; PROTOCOL.md §13.2).
    public func evidenceUpload(school: String, sha256: String) async throws -> EvidenceUpload? {
        try await read { connection in
            try await Self.upload(
                connection.query(
                    "SELECT \(unescaped: Self.uploadColumns) FROM evidence_uploads WHERE school = \(school) AND sha256 = \(sha256)",
                    logger: logger
                )
            )
        }
    }

    /// The upload with this id (``EvidenceStore``).
    public func evidenceUpload(id: String) async throws -> EvidenceUpload? {
        try await read { connection in
            try await Self.upload(
                connection.query("SELECT \(unescaped: Self.uploadColumns) FROM evidence_uploads WHERE id = \(id)", logger: logger)
            )
        }
    }

    /// Stores a new upload unless the school has one of that SHA-256 already; returns the one stored (``EvidenceStore``).
    public func insertEvidenceUpload(_ upload: EvidenceUpload) async throws -> EvidenceUpload {
        try await write { connection in
            try await connection.query(
                """
                INSERT INTO evidence_uploads (\(unescaped: Self.uploadColumns))
                VALUES (\(upload.id), \(upload.school), \(upload.sha256), \(upload.length), \(upload.offset), \(upload.filename),
                        \(upload.createdAt), \(upload.expiresAt), \(upload.isFinished), \(upload.nonce))
                ON CONFLICT (school, sha256) DO NOTHING
                """,
                logger: logger
            )
            if upload.isFinished {
                try await connection.query(
                    """
                    INSERT INTO evidence_access (sha256, school, granted_at) VALUES (\(upload.sha256), \(upload.school), \(upload.createdAt))
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
            }
            guard
                let stored = try await Self.upload(
                    connection.query(
                        "SELECT \(unescaped: Self.uploadColumns) FROM evidence_uploads WHERE school = \(upload.school) AND sha256 = \(upload.sha256)",
                        logger: logger
                    )
                )
            else { throw StoreError(.damaged, "an evidence upload just stored cannot be read back") }
            return stored
        }
    }

    /// The school's unfinished uploads: how many, and the lengths they declare together (PROTOCOL.md §13.1).
    public func openEvidenceUploads(school: String) async throws -> (count: Int, bytes: Int64) {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT count(*)::bigint, COALESCE(sum(length), 0)::bigint FROM evidence_uploads WHERE school = \(school) AND NOT finished",
                logger: logger
            )
            for try await (count, bytes) in rows.decode((Int64, Int64).self) { return (Int(count), bytes) }
            return (0, 0)
        }
    }

    /// Stores `bytes` at `offset` only if the upload's offset is `offset` now; returns whether it did (PROTOCOL.md §13.2).
    public func appendEvidence(uploadID: String, at offset: Int64, _ bytes: [UInt8]) async throws -> Bool {
        try await write { connection in
            let moved = try await connection.query(
                """
                UPDATE evidence_uploads SET upload_offset = upload_offset + \(Int64(bytes.count))
                WHERE id = \(uploadID) AND upload_offset = \(offset) AND NOT finished RETURNING id
                """,
                logger: logger
            )
            var found = false
            for try await _ in moved.decode(String.self) { found = true }
            guard found else { return false }
            try await connection.query(
                "INSERT INTO evidence_chunks (owner, chunk_offset, data) VALUES (\(EvidenceChunkOwner.upload(uploadID).key), \(offset), \(ByteBuffer(bytes: bytes)))",
                logger: logger
            )
            return true
        }
    }

    /// The chunk of `owner` holding byte `offset`: its first byte's offset and its bytes (``EvidenceStore``).
    public func evidenceChunk(of owner: EvidenceChunkOwner, containing offset: Int64) async throws -> (offset: Int64, bytes: [UInt8])? {
        try await read { connection in
            let rows = try await connection.query(
                """
                SELECT chunk_offset, data FROM evidence_chunks WHERE owner = \(owner.key) AND chunk_offset <= \(offset)
                ORDER BY chunk_offset DESC LIMIT 1
                """,
                logger: logger
            )
            for try await (start, data) in rows.decode((Int64, ByteBuffer).self) {
                return (start, Array(data.readableBytesView))
            }
            return nil
        }
    }

    /// Finishes an upload, conditionally and in one transaction (``EvidenceStore/completeEvidenceUpload(_:file:at:)``).
    public func completeEvidenceUpload(_ upload: EvidenceUpload, file: StoredEvidenceFile, at time: Date) async throws -> Bool {
        /// Rolls the transaction back: the upload is not what the caller finished.
        struct Vanished: Error {}
        do {
            try await write { connection in
                // Unfinished, and either all its bytes are in or it waits for a proof (no bytes).
                let marked = try await connection.query(
                    """
                    UPDATE evidence_uploads SET upload_offset = length, finished = true, nonce = NULL
                    WHERE id = \(upload.id) AND NOT finished AND (upload_offset = length OR (nonce IS NOT NULL AND upload_offset = 0))
                    RETURNING id
                    """,
                    logger: logger
                )
                var found = false
                for try await _ in marked.decode(String.self) { found = true }
                guard found else { throw Vanished() }
                let uploadOwner = EvidenceChunkOwner.upload(upload.id).key
                // Two schools finishing the same file at once: the second finds it and drops its bytes.
                let existing = try await connection.query("SELECT sha256 FROM evidence_files WHERE sha256 = \(file.sha256) FOR SHARE", logger: logger)
                var exists = false
                for try await _ in existing.decode(String.self) { exists = true }
                if exists {
                    try await connection.query("DELETE FROM evidence_chunks WHERE owner = \(uploadOwner)", logger: logger)
                } else {
                    let sums = try await connection.query(
                        "SELECT COALESCE(SUM(length(data)), 0)::bigint FROM evidence_chunks WHERE owner = \(uploadOwner)",
                        logger: logger
                    )
                    var held: Int64 = -1
                    for try await sum in sums.decode(Int64.self) { held = sum }
                    guard held == file.size else { throw Vanished() }
                    let inserted = try await connection.query(
                        """
                        INSERT INTO evidence_files (sha256, size, type, created_at, unreferenced_since)
                        VALUES (\(file.sha256), \(file.size), \(file.type), \(time), \(time)) ON CONFLICT DO NOTHING RETURNING sha256
                        """,
                        logger: logger
                    )
                    var isNew = false
                    for try await _ in inserted.decode(String.self) { isNew = true }
                    if isNew {
                        try await connection.query(
                            "UPDATE evidence_chunks SET owner = \(EvidenceChunkOwner.file(file.sha256).key) WHERE owner = \(uploadOwner)",
                            logger: logger
                        )
                    } else {
                        try await connection.query("DELETE FROM evidence_chunks WHERE owner = \(uploadOwner)", logger: logger)
                    }
                }
                try await connection.query(
                    "INSERT INTO evidence_access (sha256, school, granted_at) VALUES (\(file.sha256), \(upload.school), \(time)) ON CONFLICT DO NOTHING",
                    logger: logger
                )
            }
            return true
        } catch is Vanished {
            return false
        }
    }

    /// Removes an upload and its bytes.
    public func discardEvidenceUpload(id: String) async throws {
        try await write { connection in
            try await connection.query("DELETE FROM evidence_chunks WHERE owner = \(EvidenceChunkOwner.upload(id).key)", logger: logger)
            try await connection.query("DELETE FROM evidence_uploads WHERE id = \(id)", logger: logger)
        }
    }

    /// The finished file of that SHA-256, or nil.
    public func evidenceFile(sha256: String) async throws -> StoredEvidenceFile? {
        try await read { connection in
            let rows = try await connection.query("SELECT sha256, size, type FROM evidence_files WHERE sha256 = \(sha256)", logger: logger)
            for try await (hash, size, type) in rows.decode((String, Int64, String).self) {
                return StoredEvidenceFile(sha256: hash, size: size, type: type)
            }
            return nil
        }
    }

    /// Whether `school` may read the file (PROTOCOL.md §13.3–§13.4).
    public func evidenceAccess(sha256: String, school: String) async throws -> Bool {
        try await read { connection in
            let rows = try await connection.query(
                "SELECT sha256 FROM evidence_access WHERE sha256 = \(sha256) AND school = \(school)",
                logger: logger
            )
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }

    /// Which of `hashes` are finished files here (the review pages' "pending upload").
    public func presentEvidence(_ hashes: [String]) async throws -> Set<String> {
        guard !hashes.isEmpty else { return [] }
        return try await read { connection in
            let rows = try await connection.query("SELECT sha256 FROM evidence_files WHERE sha256 = ANY(\(hashes))", logger: logger)
            var present: Set<String> = []
            for try await hash in rows.decode(String.self) { present.insert(hash) }
            return present
        }
    }

    /// Every file and since when no report names it (PROTOCOL.md §13.5).
    public func evidenceFileMarks() async throws -> [EvidenceFileMark] {
        try await read { connection in
            let rows = try await connection.query("SELECT sha256, unreferenced_since FROM evidence_files ORDER BY sha256", logger: logger)
            var marks: [EvidenceFileMark] = []
            for try await (hash, since) in rows.decode((String, Date?).self) {
                marks.append(EvidenceFileMark(sha256: hash, unreferencedSince: since))
            }
            return marks
        }
    }

    /// Sets when files became unreferenced; nil when a report names them again.
    public func markEvidence(_ marks: [EvidenceFileMark]) async throws {
        try await write { connection in
            for mark in marks {
                try await connection.query(
                    "UPDATE evidence_files SET unreferenced_since = \(mark.unreferencedSince) WHERE sha256 = \(mark.sha256)",
                    logger: logger
                )
            }
        }
    }

    /// Removes files with their bytes, access rows and finished uploads (PROTOCOL.md §13.5).
    public func deleteEvidenceFiles(_ hashes: [String]) async throws {
        let owners = hashes.map { EvidenceChunkOwner.file($0).key }
        try await write { connection in
            try await connection.query("DELETE FROM evidence_chunks WHERE owner = ANY(\(owners))", logger: logger)
            try await connection.query("DELETE FROM evidence_access WHERE sha256 = ANY(\(hashes))", logger: logger)
            // Finished uploads of them would answer "already uploaded" for a file that is gone.
            try await connection.query("DELETE FROM evidence_uploads WHERE finished AND sha256 = ANY(\(hashes))", logger: logger)
            try await connection.query("DELETE FROM evidence_files WHERE sha256 = ANY(\(hashes))", logger: logger)
        }
    }

    /// Removes uploads past their `Upload-Expires`, with the bytes of unfinished ones; returns how many.
    public func deleteExpiredEvidenceUploads(before time: Date) async throws -> Int {
        try await write { connection in
            let rows = try await connection.query("DELETE FROM evidence_uploads WHERE expires_at < \(time) RETURNING id", logger: logger)
            var owners: [String] = []
            for try await id in rows.decode(String.self) { owners.append(EvidenceChunkOwner.upload(id).key) }
            if !owners.isEmpty {
                try await connection.query("DELETE FROM evidence_chunks WHERE owner = ANY(\(owners))", logger: logger)
            }
            return owners.count
        }
    }

    private static func upload(_ rows: PostgresRowSequence) async throws -> EvidenceUpload? {
        for try await row in rows {
            let (id, school, sha256, length, offset, filename, createdAt, expiresAt, finished, nonce) = try row.decode(
                (String, String, String, Int64, Int64, String?, Date, Date, Bool, String?).self
            )
            return EvidenceUpload(
                id: id,
                school: school,
                sha256: sha256,
                length: length,
                offset: offset,
                filename: filename,
                createdAt: createdAt,
                expiresAt: expiresAt,
                isFinished: finished,
                nonce: nonce
            )
        }
        return nil
    }
}
