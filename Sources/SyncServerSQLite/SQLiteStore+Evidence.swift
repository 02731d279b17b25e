import Foundation
import GRDB
import SyncServer

/// Evidence files and uploads in the SQLite file (PROTOCOL.md §13), each method one transaction.
extension SQLiteStore {
    /// The upload of `sha256` by `school`, finished or not (``EvidenceStore``; PROTOCOL.md §13.2).
    public func evidenceUpload(school: String, sha256: String) async throws -> EvidenceUpload? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM evidence_uploads WHERE school = ? AND sha256 = ?", arguments: [school, sha256]).map(Self.upload)
        }
    }

    /// The upload with this id (``EvidenceStore``).
    public func evidenceUpload(id: String) async throws -> EvidenceUpload? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM evidence_uploads WHERE id = ?", arguments: [id]).map(Self.upload)
        }
    }

    /// Stores a new upload unless the school has one of that SHA-256 already; returns the one stored (``EvidenceStore``).
    public func insertEvidenceUpload(_ upload: EvidenceUpload) async throws -> EvidenceUpload {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO evidence_uploads (id, school, sha256, length, upload_offset, filename, created_at, expires_at, finished, nonce)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (school, sha256) DO NOTHING
                    """,
                arguments: [
                    upload.id, upload.school, upload.sha256, upload.length, upload.offset, upload.filename, upload.createdAt, upload.expiresAt,
                    upload.isFinished, upload.nonce,
                ]
            )
            if upload.isFinished {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO evidence_access (sha256, school, granted_at) VALUES (?, ?, ?)",
                    arguments: [upload.sha256, upload.school, upload.createdAt]
                )
            }
            guard
                let stored = try Row.fetchOne(
                    db,
                    sql: "SELECT * FROM evidence_uploads WHERE school = ? AND sha256 = ?",
                    arguments: [upload.school, upload.sha256]
                ).map(Self.upload)
            else { throw StoreError(.damaged, "an evidence upload just stored cannot be read back") }
            return stored
        }
    }

    /// The school's unfinished uploads: how many, and the lengths they declare together (PROTOCOL.md §13.1).
    public func openEvidenceUploads(school: String) async throws -> (count: Int, bytes: Int64) {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) AS n, COALESCE(SUM(length), 0) AS bytes FROM evidence_uploads WHERE school = ? AND finished = 0",
                    arguments: [school]
                )
            else { return (0, 0) }
            return (try row.stored("n"), try row.stored("bytes"))
        }
    }

    /// Stores `bytes` at `offset` only if the upload's offset is `offset` now; returns whether it did (PROTOCOL.md §13.2).
    public func appendEvidence(uploadID: String, at offset: Int64, _ bytes: [UInt8]) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE evidence_uploads SET upload_offset = upload_offset + ? WHERE id = ? AND upload_offset = ? AND finished = 0",
                arguments: [bytes.count, uploadID, offset]
            )
            guard db.changesCount == 1 else { return false }
            try db.execute(
                sql: "INSERT INTO evidence_chunks (owner, chunk_offset, data) VALUES (?, ?, ?)",
                arguments: [EvidenceChunkOwner.upload(uploadID).key, offset, Data(bytes)]
            )
            return true
        }
    }

    /// The chunk of `owner` holding byte `offset`: its first byte's offset and its bytes (``EvidenceStore``).
    public func evidenceChunk(of owner: EvidenceChunkOwner, containing offset: Int64) async throws -> (offset: Int64, bytes: [UInt8])? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT chunk_offset, data FROM evidence_chunks WHERE owner = ? AND chunk_offset <= ? ORDER BY chunk_offset DESC LIMIT 1"
                    ),
                    arguments: [owner.key, offset]
                )
            else { return nil }
            let data: Data = try row.stored("data")
            return (try row.stored("chunk_offset"), Array(data))
        }
    }

    /// Finishes an upload, conditionally and in one transaction (``EvidenceStore/completeEvidenceUpload(_:file:at:)``).
    public func completeEvidenceUpload(_ upload: EvidenceUpload, file: StoredEvidenceFile, at time: Date) async throws -> Bool {
        /// Rolls the transaction back: the upload is not what the caller finished.
        struct Vanished: Error {}
        do {
            try await pool.write { db in
                // Unfinished, and either all its bytes are in or it waits for a proof (no bytes).
                try db.execute(
                    sql: """
                        UPDATE evidence_uploads SET upload_offset = length, finished = 1, nonce = NULL
                        WHERE id = ? AND finished = 0 AND (upload_offset = length OR (nonce IS NOT NULL AND upload_offset = 0))
                        """,
                    arguments: [upload.id]
                )
                guard db.changesCount == 1 else { throw Vanished() }
                let uploadOwner = EvidenceChunkOwner.upload(upload.id).key
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM evidence_files WHERE sha256 = ?", arguments: [file.sha256]) != nil {
                    try db.execute(sql: "DELETE FROM evidence_chunks WHERE owner = ?", arguments: [uploadOwner])
                } else {
                    let held = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(length(data)), 0) FROM evidence_chunks WHERE owner = ?", arguments: [uploadOwner])
                    guard held == file.size else { throw Vanished() }
                    try db.execute(
                        sql: "INSERT INTO evidence_files (sha256, size, type, created_at, unreferenced_since) VALUES (?, ?, ?, ?, ?)",
                        arguments: [file.sha256, file.size, file.type, time, time]
                    )
                    try db.execute(
                        sql: "UPDATE evidence_chunks SET owner = ? WHERE owner = ?",
                        arguments: [EvidenceChunkOwner.file(file.sha256).key, uploadOwner]
                    )
                }
                try db.execute(
                    sql: "INSERT OR IGNORE INTO evidence_access (sha256, school, granted_at) VALUES (?, ?, ?)",
                    arguments: [file.sha256, upload.school, time]
                )
            }
            return true
        } catch is Vanished {
            return false
        }
    }

    /// Removes an upload and its bytes.
    public func discardEvidenceUpload(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM evidence_chunks WHERE owner = ?", arguments: [EvidenceChunkOwner.upload(id).key])
            try db.execute(sql: "DELETE FROM evidence_uploads WHERE id = ?", arguments: [id])
        }
    }

    /// The finished file of that SHA-256, or nil.
    public func evidenceFile(sha256: String) async throws -> StoredEvidenceFile? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT sha256, size, type FROM evidence_files WHERE sha256 = ?", arguments: [sha256]).map {
                StoredEvidenceFile(sha256: try $0.stored("sha256"), size: try $0.stored("size"), type: try $0.stored("type"))
            }
        }
    }

    /// Whether `school` may read the file (PROTOCOL.md §13.3–§13.4).
    public func evidenceAccess(sha256: String, school: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM evidence_access WHERE sha256 = ? AND school = ?", arguments: [sha256, school]) != nil
        }
    }

    /// Which of `hashes` are finished files here (the review pages' "pending upload").
    public func presentEvidence(_ hashes: [String]) async throws -> Set<String> {
        guard !hashes.isEmpty else { return [] }
        return try await pool.read { db in
            var present: Set<String> = []
            // In slices, well under SQLite's limit on bound parameters.
            for start in stride(from: 0, to: hashes.count, by: 500) {
                let slice = Array(hashes[start..<min(start + 500, hashes.count)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                for hash in try String.fetchAll(db, sql: "SELECT sha256 FROM evidence_files WHERE sha256 IN (\(marks))", arguments: StatementArguments(slice)) {
                    present.insert(hash)
                }
            }
            return present
        }
    }

    /// Every file and since when no report names it (PROTOCOL.md §13.5).
    public func evidenceFileMarks() async throws -> [EvidenceFileMark] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT sha256, unreferenced_since FROM evidence_files ORDER BY sha256").map {
                EvidenceFileMark(sha256: try $0.stored("sha256"), unreferencedSince: try $0.stored("unreferenced_since", as: Date?.self))
            }
        }
    }

    /// Sets when files became unreferenced; nil when a report names them again.
    public func markEvidence(_ marks: [EvidenceFileMark]) async throws {
        try await pool.write { db in
            for mark in marks {
                try db.execute(
                    sql: "UPDATE evidence_files SET unreferenced_since = ? WHERE sha256 = ?",
                    arguments: [mark.unreferencedSince, mark.sha256]
                )
            }
        }
    }

    /// Removes files with their bytes, access rows and finished uploads (PROTOCOL.md §13.5).
    public func deleteEvidenceFiles(_ hashes: [String]) async throws {
        try await pool.write { db in
            for hash in hashes {
                try db.execute(sql: "DELETE FROM evidence_chunks WHERE owner = ?", arguments: [EvidenceChunkOwner.file(hash).key])
                try db.execute(sql: "DELETE FROM evidence_access WHERE sha256 = ?", arguments: [hash])
                // Finished uploads of it would answer "already uploaded" for a file that is gone.
                try db.execute(sql: "DELETE FROM evidence_uploads WHERE sha256 = ? AND finished = 1", arguments: [hash])
                try db.execute(sql: "DELETE FROM evidence_files WHERE sha256 = ?", arguments: [hash])
            }
        }
    }

    /// Removes uploads past their `Upload-Expires`, with the bytes of unfinished ones; returns how many.
    public func deleteExpiredEvidenceUploads(before time: Date) async throws -> Int {
        try await pool.write { db in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM evidence_uploads WHERE expires_at < ?", arguments: [time])
            for id in ids {
                try db.execute(sql: "DELETE FROM evidence_chunks WHERE owner = ?", arguments: [EvidenceChunkOwner.upload(id).key])
                try db.execute(sql: "DELETE FROM evidence_uploads WHERE id = ?", arguments: [id])
            }
            return ids.count
        }
    }

    /// An upload row, every column checked (another program may have written it).
    static func upload(_ row: Row) throws -> EvidenceUpload {
        EvidenceUpload(
            id: try row.stored("id"),
            school: try row.stored("school"),
            sha256: try row.stored("sha256"),
            length: try row.stored("length"),
            offset: try row.stored("upload_offset"),
            filename: try row.stored("filename", as: String?.self),
            createdAt: try row.stored("created_at"),
            expiresAt: try row.stored("expires_at"),
            isFinished: try row.stored("finished"),
            nonce: try row.stored("nonce", as: String?.self)
        )
    }
}
