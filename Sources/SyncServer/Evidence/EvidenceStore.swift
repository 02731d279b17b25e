import Foundation

/// Where the server keeps evidence files and their uploads (PROTOCOL.md §13): in the database, so
/// every server on it serves them and a backup holds them.
///
/// Each method is one transaction and knows nothing of tus, hashes or types: ``EvidenceUploads``
/// holds those rules once for every store. Bytes live in chunk rows of at most
/// ``EvidenceUploads/pieceBytes`` keyed by their owner (an upload while it is received, the file once
/// it is finished) and their offset in it.
public protocol EvidenceStore: Sendable {
    /// The upload of `sha256` by `school` (finished or not), or nil.
    func evidenceUpload(school: String, sha256: String) async throws -> EvidenceUpload?

    /// The upload with this id, or nil.
    func evidenceUpload(id: String) async throws -> EvidenceUpload?

    /// Stores a new upload unless `school` already has one of that SHA-256 (two creations racing);
    /// returns the one stored.
    func insertEvidenceUpload(_ upload: EvidenceUpload) async throws -> EvidenceUpload

    /// How many unfinished uploads `school` holds, and the lengths they declare together.
    func openEvidenceUploads(school: String) async throws -> (count: Int, bytes: Int64)

    /// Stores `bytes` at `offset` of an unfinished upload and moves its offset past them, only if
    /// its offset is `offset` now; returns whether it did (false: another request wrote meanwhile,
    /// or the upload is gone), so two writers never interleave (PROTOCOL.md §13.2).
    func appendEvidence(uploadID: String, at offset: Int64, _ bytes: [UInt8]) async throws -> Bool

    /// The chunk of `owner` that holds byte `offset`: its first byte's offset and its bytes; nil
    /// past the end.
    func evidenceChunk(of owner: EvidenceChunkOwner, containing offset: Int64) async throws -> (offset: Int64, bytes: [UInt8])?

    /// Finishes an upload in one transaction: marks it finished at its length, makes `file` the
    /// upload's bytes unless the store holds that file already (then the upload's bytes are
    /// dropped), and lets `upload.school` read the file. Returns false, changing nothing, when the
    /// upload is no longer unfinished with all its bytes (or, for a proof of possession, waiting for
    /// one), or when neither the store's file nor the upload's chunks hold `file.size` bytes: a
    /// racing discard, expiry or removal never leaves a file without bytes.
    func completeEvidenceUpload(_ upload: EvidenceUpload, file: StoredEvidenceFile, at time: Date) async throws -> Bool

    /// Removes an upload and its bytes.
    func discardEvidenceUpload(id: String) async throws

    /// A file the store holds, or nil.
    func evidenceFile(sha256: String) async throws -> StoredEvidenceFile?

    /// Whether `school` may read the file (it uploaded it or proved it holds it, §13.3).
    func evidenceAccess(sha256: String, school: String) async throws -> Bool

    /// Which of `hashes` the store holds as finished files.
    func presentEvidence(_ hashes: [String]) async throws -> Set<String>

    /// Every file with the time it became unreferenced (its upload, at first), for removal (§13.5).
    func evidenceFileMarks() async throws -> [EvidenceFileMark]

    /// Sets when files became unreferenced (nil: referenced again).
    func markEvidence(_ marks: [EvidenceFileMark]) async throws

    /// Removes files, their bytes and access rows.
    func deleteEvidenceFiles(_ hashes: [String]) async throws

    /// Removes uploads whose `expiresAt` is before `time`, with the bytes of the unfinished ones;
    /// returns how many.
    func deleteExpiredEvidenceUploads(before time: Date) async throws -> Int
}

/// One upload of one file by one school (PROTOCOL.md §13.2): a tus upload resource.
public struct EvidenceUpload: Sendable, Hashable {
    /// The resource's id in `/v1/evidence/uploads/<id>`: 32 random hex digits.
    public var id: String
    /// The school it belongs to.
    public var school: String
    /// The SHA-256 the file must have, 64 lowercase hex digits.
    public var sha256: String
    /// The file's length in bytes (`Upload-Length`).
    public var length: Int64
    /// How many bytes the server holds (`Upload-Offset`).
    public var offset: Int64
    /// The name the client gave (`filename` metadata), for logs.
    public var filename: String?
    /// When it was created; it expires ``EvidenceLimits/uploadLifetimeSeconds`` later.
    public var createdAt: Date
    /// When an unfinished upload is removed (`Upload-Expires`).
    public var expiresAt: Date
    /// Whether the file is the school's (the last byte arrived and matched, or possession was proved).
    public var isFinished: Bool
    /// The proof-of-possession nonce, 64 hex digits, when another school's copy is on the server (§13.3).
    public var nonce: String?

    /// Makes an upload.
    public init(
        id: String,
        school: String,
        sha256: String,
        length: Int64,
        offset: Int64,
        filename: String?,
        createdAt: Date,
        expiresAt: Date,
        isFinished: Bool,
        nonce: String?
    ) {
        self.id = id
        self.school = school
        self.sha256 = sha256
        self.length = length
        self.offset = offset
        self.filename = filename
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.isFinished = isFinished
        self.nonce = nonce
    }
}

/// A finished evidence file the server holds.
public struct StoredEvidenceFile: Sendable, Hashable {
    /// Its SHA-256, 64 lowercase hex digits.
    public var sha256: String
    /// Its length in bytes.
    public var size: Int64
    /// The type its bytes were sniffed as (``EvidenceType``'s raw value).
    public var type: String

    /// Makes a file description.
    public init(sha256: String, size: Int64, type: String) {
        self.sha256 = sha256
        self.size = size
        self.type = type
    }
}

/// Whose bytes a chunk row holds.
public enum EvidenceChunkOwner: Sendable, Hashable {
    /// An upload being received.
    case upload(String)
    /// A finished file.
    case file(String)

    /// The owner as the chunk table stores it: `u:<upload id>` or `f:<sha256>`.
    public var key: String {
        switch self {
        case .upload(let id): "u:" + id
        case .file(let sha256): "f:" + sha256
        }
    }
}

/// A file and since when no report references it (PROTOCOL.md §13.5).
public struct EvidenceFileMark: Sendable, Hashable {
    /// The file's SHA-256.
    public var sha256: String
    /// Since when no report names it; nil while one does.
    public var unreferencedSince: Date?

    /// Makes a mark.
    public init(sha256: String, unreferencedSince: Date?) {
        self.sha256 = sha256
        self.unreferencedSince = unreferencedSince
    }
}
