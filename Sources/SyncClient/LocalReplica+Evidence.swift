import Crypto
import Foundation
import GRDB
import SyncCore

/// A file this replica keeps for the evidence of its reports (PROTOCOL.md §13), as
/// ``LocalReplica/evidenceFiles()`` lists it.
public struct EvidenceFile: Sendable, Hashable, Codable {
    /// The SHA-256 of its bytes, 64 lowercase hex digits.
    public var sha256: String
    /// The name it was added or first downloaded under, e.g. `照片.jpg`.
    public var name: String
    /// Its length in bytes.
    public var size: Int
    /// The type its bytes were sniffed as (a raw value of SyncCore's `EvidenceType`).
    public var type: String
    /// How many of its bytes this replica holds, from the first: `size` once it is whole here.
    public var storedBytes: Int
    /// When it was added here (the device's clock, ISO 8601; display only).
    public var addedAt: String
    /// When the server was found to hold it for this school (uploaded, proven or downloaded); `nil` while it waits.
    public var uploadedAt: String?
    /// Why it is not uploaded any more (the server refused it, or the copy here is damaged); `nil` otherwise.
    public var heldBack: String?

    /// Whether every byte is here.
    public var isComplete: Bool { storedBytes == size }
    /// Whether the server holds it for this school.
    public var isUploaded: Bool { uploadedAt != nil }
}

/// One item of one report's `evidence` field, as ``LocalReplica/evidenceReferences()`` lists them.
public struct EvidenceReference: Sendable, Hashable, Codable {
    /// The report's id, e.g. `qx-zhuoran/2025-S1/qixing-2024/m2.1`.
    public var report: String
    /// The item, as the report names it.
    public var item: EvidenceItem
}

extension LocalReplica {
    /// The largest piece of a file kept in one row: 256 KiB, as the server keeps them (PROTOCOL.md §13.5).
    static let evidenceChunkBytes = 256 * 1024

    // MARK: Capture

    /// Reads the file at `url`, checks it (PROTOCOL.md §13.1) and keeps a copy in this replica, so the
    /// report keeps its evidence when the original is moved or deleted. Adding a file already kept is
    /// harmless. The report does not name it until its `evidence` field does: see
    /// ``write(_:addingEvidence:scope:)``.
    ///
    /// - Parameters:
    ///   - url: a local file of at most 25 MiB.
    ///   - name: the name reviewers see; by default the file's own name.
    /// - Returns: the item a report's `evidence` list carries for it: name, SHA-256, size in bytes, type.
    /// - Throws: ``SyncClientError/Code/refused`` for an empty file, one over 25 MiB or of a kind §13.1
    ///   does not allow (nothing is kept); ``SyncClientError/Code/usage`` when it cannot be read;
    ///   ``SyncClientError/Code/storage`` when the disk is full.
    @discardableResult
    public func addEvidence(contentsOf url: URL, name: String? = nil) async throws -> EvidenceItem {
        let captured = try CapturedEvidence(contentsOf: url, name: name)
        try await addEvidence(captured)
        return captured.item
    }

    /// Keeps a checked file in this replica (see ``addEvidence(contentsOf:name:)``).
    ///
    /// - Throws: ``SyncClientError/Code/storage`` when the disk is full.
    public func addEvidence(_ file: CapturedEvidence) async throws {
        try await transaction { db in try self.keep(file, db) }
    }

    /// Keeps `files` and writes `changes` in one transaction: either the report names its new
    /// evidence and the bytes are here, or neither (a conflicted `evidence` field refuses both).
    ///
    /// - Throws: what ``write(_:scope:)`` throws.
    public func write(_ changes: [(RecordKey, [String: Value])], addingEvidence files: [CapturedEvidence], scope: Scope? = nil) async throws {
        try await write(changes, addingEvidence: files, scope: scope, expecting: nil)
    }

    /// Writes `changes` (keeping `files` first, as ``write(_:addingEvidence:scope:)``) only if
    /// every record named in `expected` still has the causal context given there (`nil`: no such
    /// record) — after capturing plain-SQL edits, in the same transaction as the write. A form
    /// opened on one state can so never overwrite values that arrived, or were typed into the
    /// table by another program, after it was opened.
    ///
    /// - Parameters:
    ///   - changes: each record and the fields to set, as ``write(_:scope:)`` takes them.
    ///   - files: checked evidence files to keep with the write.
    ///   - scope: where new records live (see ``write(_:scope:)``).
    ///   - expected: record → its context as the caller read it; `nil` writes unconditionally.
    /// - Throws: ``SyncClientError/Code/changedMeanwhile`` naming the first record that changed
    ///   (nothing is written); otherwise what ``write(_:scope:)`` throws.
    public func write(
        _ changes: [(RecordKey, [String: Value])],
        addingEvidence files: [CapturedEvidence],
        scope: Scope? = nil,
        expecting expected: [RecordKey: VersionVector?]?
    ) async throws {
        try await transaction { db in
            for (key, context) in expected ?? [:] {
                let current = try TrackedRecord.load(key, db)?.state.context
                guard current == context else {
                    throw SyncClientError(.changedMeanwhile, "\(key) changed since it was read; read it again and repeat the change")
                }
            }
            for file in files { try self.keep(file, db) }
            try self.write(changes, scope: scope, db)
        }
    }

    private func keep(_ file: CapturedEvidence, _ db: Database) throws {
        let sha = file.item.sha256
        if let existing = try Self.evidenceFile(sha, db), existing.isComplete, existing.heldBack == nil { return }
        // A partial download, or a copy found damaged: the whole file replaces it.
        try db.execute(sql: "DELETE FROM evidence_chunks WHERE sha256 = ?", arguments: [sha])
        try db.execute(
            sql: """
                INSERT INTO evidence_files (sha256, name, size, type, stored, added_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (sha256) DO UPDATE SET stored = excluded.stored, type = excluded.type, held_back = NULL, hash_mismatches = 0, upload_url = NULL
                """,
            arguments: [sha, file.item.name, file.bytes.count, file.item.type ?? "", file.bytes.count, isoNow()]
        )
        var offset = 0
        while offset < file.bytes.count {
            let end = min(offset + Self.evidenceChunkBytes, file.bytes.count)
            try db.execute(
                sql: "INSERT INTO evidence_chunks (sha256, offset, data) VALUES (?, ?, ?)",
                arguments: [sha, offset, file.bytes.subdata(in: file.bytes.startIndex + offset..<file.bytes.startIndex + end)]
            )
            offset = end
        }
    }

    func isoNow() -> String { ISO8601DateFormatter().string(from: clock()) }

    // MARK: Reading

    /// The file of that SHA-256 kept here, whole or in part; `nil` when none is.
    public func evidenceFile(sha256: String) async throws -> EvidenceFile? {
        try await snapshot { db in try Self.evidenceFile(sha256, db) }
    }

    /// Every file kept here, by name.
    public func evidenceFiles() async throws -> [EvidenceFile] {
        try await snapshot { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.fileColumns) FROM evidence_files ORDER BY name, sha256").map(Self.evidenceFile(row:))
        }
    }

    /// The whole bytes of the file of that SHA-256; `nil` when it is not all here.
    ///
    /// - Throws: ``SyncClientError/Code/integrity`` when the bytes kept no longer have that SHA-256
    ///   (another program changed them); the file is then held back from uploads.
    public func evidenceBytes(sha256: String) async throws -> Data? {
        let data: Data? = try await snapshot { db in
            guard let file = try Self.evidenceFile(sha256, db), file.isComplete else { return nil }
            var data = Data(capacity: min(max(file.size, 0), EvidenceLimits.maxFileBytes))  // the size is another program's to change
            for chunk in try Data.fetchAll(db, sql: "SELECT \(Self.chunkData) FROM evidence_chunks WHERE sha256 = ? ORDER BY offset", arguments: [sha256]) {
                data.append(chunk)
            }
            return data
        }
        guard let data else { return nil }
        guard CapturedEvidence.sha256(data) == sha256 else {
            try await holdBackEvidence(sha256, reason: Self.damagedCopy)
            throw SyncClientError(.integrity, Self.damagedCopy)
        }
        return data
    }

    static let damagedCopy =
        "the copy of this file kept in the school's database was changed by another program and no longer matches its SHA-256; add the original file again with 'schoolsync report set --evidence PATH'"

    /// Every evidence item of every report here, settled or in conflict (every value of a conflicted
    /// `evidence` field counts, as on the server, PROTOCOL.md §13.5), by report id.
    public func evidenceReferences() async throws -> [EvidenceReference] {
        try await snapshot { db in try Self.evidenceReferences(db) }
    }

    static func evidenceReferences(_ db: Database) throws -> [EvidenceReference] {
        var references: [EvidenceReference] = []
        // CAST: an id another program stored as bytes must not fail every status read.
        let ids = try String.fetchAll(db, sql: "SELECT CAST(id AS TEXT) FROM sync_records WHERE collection = 'reports' AND id IS NOT NULL ORDER BY id")
        for id in ids {
            guard let record = try? TrackedRecord.load(RecordKey(collection: "reports", id: id), db), !record.state.isDeleted,
                let register = record.state.fields["evidence"]
            else { continue }
            var seen: Set<String> = []
            for value in register.distinctValues {
                for item in EvidenceItem.items(in: value) where seen.insert(item.sha256 + "\u{0}" + item.name).inserted {
                    references.append(EvidenceReference(report: id, item: item))
                }
            }
        }
        return references
    }

    static func evidenceFile(_ sha256: String, _ db: Database) throws -> EvidenceFile? {
        try Row.fetchOne(db, sql: "SELECT \(fileColumns) FROM evidence_files WHERE sha256 = ?", arguments: [sha256]).map(evidenceFile(row:))
    }

    // The evidence tables are in a file other programs can write, and GRDB's `row["column"]` traps
    // on a value of another type (a BLOB name that is not UTF-8, a text offset): every column is
    // read through CAST, which never fails, and NULL becomes a value that fails the checks later
    // (a size that does not match, bytes that do not hash to the SHA-256) instead of the process.

    /// The columns of `evidence_files` as ``evidenceFile(row:)`` reads them.
    static let fileColumns = """
        CAST(sha256 AS TEXT) AS sha256, CAST(name AS TEXT) AS name, CAST(size AS INTEGER) AS size, CAST(type AS TEXT) AS type,
        CAST(stored AS INTEGER) AS stored, CAST(added_at AS TEXT) AS added_at, CAST(uploaded_at AS TEXT) AS uploaded_at,
        CAST(held_back AS TEXT) AS held_back
        """
    /// A chunk's bytes, whatever another program stored in the column.
    static let chunkData = "CAST(data AS BLOB) AS data"

    private static func evidenceFile(row: Row) -> EvidenceFile {
        EvidenceFile(
            sha256: row["sha256"] ?? "",
            name: row["name"] ?? "",
            size: row["size"] ?? 0,
            type: row["type"] ?? "",
            storedBytes: row["stored"] ?? 0,
            addedAt: row["added_at"] ?? "",
            uploadedAt: row["uploaded_at"],
            heldBack: row["held_back"]
        )
    }

    /// Up to `maxBytes` bytes of a file kept here, from `offset`: the rest of the chunk that holds it.
    /// Empty at or past what is stored.
    func evidenceBytes(sha256: String, from offset: Int, maxBytes: Int = evidenceChunkBytes) async throws -> Data {
        try await snapshot { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT CAST(offset AS INTEGER) AS offset, \(Self.chunkData) FROM evidence_chunks WHERE sha256 = ? AND offset <= ? ORDER BY offset DESC LIMIT 1",
                    arguments: [sha256, offset]
                ),
                let start = row["offset"] as Int?, let data = row["data"] as Data?, start <= offset
            else { return Data() }
            guard offset - start < data.count else { return Data() }
            let slice = data.dropFirst(offset - start).prefix(maxBytes)
            return Data(slice)
        }
    }

    /// The HMAC-SHA256 of a whole file kept here under `key` (PROTOCOL.md §13.3), in hex.
    func evidenceHMAC(sha256: String, key: [UInt8]) async throws -> String {
        try await snapshot { db in
            var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
            let rows = try Row.fetchCursor(db, sql: "SELECT \(Self.chunkData) FROM evidence_chunks WHERE sha256 = ? ORDER BY offset", arguments: [sha256])
            while let row = try rows.next() {
                hmac.update(data: row["data"] as Data? ?? Data())
            }
            return Hex.encode(hmac.finalize())
        }
    }

    /// Whether the bytes kept for a whole file still have its SHA-256.
    func evidenceIsIntact(sha256: String) async throws -> Bool {
        try await snapshot { db in
            var hash = SHA256()
            let rows = try Row.fetchCursor(db, sql: "SELECT \(Self.chunkData) FROM evidence_chunks WHERE sha256 = ? ORDER BY offset", arguments: [sha256])
            while let row = try rows.next() {
                hash.update(data: row["data"] as Data? ?? Data())
            }
            return Hex.encode(hash.finalize()) == sha256
        }
    }

    // MARK: Upload bookkeeping

    /// The files to upload: whole here, referenced by a report, not known to be on the server and not held back; by name.
    func evidenceToUpload() async throws -> [EvidenceFile] {
        try await snapshot { db in try Self.evidenceToUpload(db) }
    }

    static func evidenceToUpload(_ db: Database) throws -> [EvidenceFile] {
        let referenced = Set(try evidenceReferences(db).map(\.item.sha256))
        guard !referenced.isEmpty else { return [] }
        return try Row.fetchAll(
            db,
            sql: "SELECT \(fileColumns) FROM evidence_files WHERE uploaded_at IS NULL AND held_back IS NULL AND stored = size ORDER BY added_at, name, sha256"
        )
        .map(evidenceFile(row:))
        .filter { referenced.contains($0.sha256) }
    }

    /// The files the server refused or that were found damaged, with why.
    static func evidenceHeldBack(_ db: Database) throws -> [EvidenceFile] {
        try Row.fetchAll(db, sql: "SELECT \(fileColumns) FROM evidence_files WHERE held_back IS NOT NULL ORDER BY name, sha256").map(evidenceFile(row:))
    }

    /// The tus upload of a file under way, when one was created (PROTOCOL.md §13.2).
    func evidenceUploadURL(sha256: String) async throws -> (url: String?, hashMismatches: Int) {
        try await snapshot { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT CAST(upload_url AS TEXT) AS upload_url, CAST(hash_mismatches AS INTEGER) AS hash_mismatches FROM evidence_files WHERE sha256 = ?",
                arguments: [sha256])
            return (row?["upload_url"], row?["hash_mismatches"] ?? 0)
        }
    }

    /// Keeps (or forgets, with `nil`) where a file's upload lives, so a later run resumes it.
    func setEvidenceUploadURL(_ sha256: String, _ url: String?) async throws {
        try await transaction { db in
            try db.execute(sql: "UPDATE evidence_files SET upload_url = ? WHERE sha256 = ?", arguments: [url, sha256])
        }
    }

    /// Counts a whole upload whose bytes the server found to have another SHA-256; returns how many there were.
    func noteEvidenceHashMismatch(_ sha256: String) async throws -> Int {
        try await transaction { db in
            try db.execute(
                sql: "UPDATE evidence_files SET hash_mismatches = hash_mismatches + 1, upload_url = NULL WHERE sha256 = ?",
                arguments: [sha256]
            )
            return try Int.fetchOne(db, sql: "SELECT CAST(hash_mismatches AS INTEGER) FROM evidence_files WHERE sha256 = ?", arguments: [sha256]) ?? 0
        }
    }

    /// Records that the server holds the file for this school.
    func markEvidenceUploaded(_ sha256: String) async throws {
        let now = isoNow()
        try await transaction { db in
            try db.execute(
                sql: "UPDATE evidence_files SET uploaded_at = ?, upload_url = NULL, hash_mismatches = 0 WHERE sha256 = ?",
                arguments: [now, sha256]
            )
        }
    }

    /// Stops uploading a file until it is added again, keeping `reason` for `status`.
    func holdBackEvidence(_ sha256: String, reason: String) async throws {
        try await transaction { db in
            try db.execute(sql: "UPDATE evidence_files SET held_back = ?, upload_url = NULL WHERE sha256 = ?", arguments: [reason, sha256])
        }
    }

    // MARK: Download bookkeeping

    /// Starts keeping a file being downloaded, or returns how many of its bytes are already here.
    /// A partial file of another size is started again from 0.
    func beginEvidenceDownload(sha256: String, name: String, size: Int, type: String) async throws -> Int {
        let now = isoNow()
        return try await transaction { db in
            if let existing = try Self.evidenceFile(sha256, db) {
                if existing.size == size { return existing.storedBytes }
                try db.execute(sql: "DELETE FROM evidence_files WHERE sha256 = ?", arguments: [sha256])
            }
            try db.execute(
                sql: "INSERT INTO evidence_files (sha256, name, size, type, stored, added_at, uploaded_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                arguments: [sha256, name, size, type, now, now]
            )
            return 0
        }
    }

    /// Appends downloaded bytes at `offset`, which must be what is stored: one transaction per call,
    /// so a cut download keeps every piece it wrote.
    func appendEvidenceBytes(sha256: String, at offset: Int, _ data: Data) async throws {
        guard !data.isEmpty else { return }
        try await transaction { db in
            let stored = try Int.fetchOne(db, sql: "SELECT CAST(stored AS INTEGER) FROM evidence_files WHERE sha256 = ?", arguments: [sha256])
            guard stored == offset else {
                throw SyncClientError(.integrity, "the download of \(sha256) was written by two programs at once; run 'schoolsync evidence get' again")
            }
            var start = 0
            while start < data.count {
                let end = min(start + Self.evidenceChunkBytes, data.count)
                try db.execute(
                    sql: "INSERT INTO evidence_chunks (sha256, offset, data) VALUES (?, ?, ?)",
                    arguments: [sha256, offset + start, data.subdata(in: data.startIndex + start..<data.startIndex + end)]
                )
                start = end
            }
            try db.execute(sql: "UPDATE evidence_files SET stored = stored + ? WHERE sha256 = ?", arguments: [data.count, sha256])
        }
    }

    /// Forgets a file's bytes (a download that did not have its SHA-256).
    func forgetEvidence(_ sha256: String) async throws {
        try await transaction { db in try db.execute(sql: "DELETE FROM evidence_files WHERE sha256 = ?", arguments: [sha256]) }
    }
}
