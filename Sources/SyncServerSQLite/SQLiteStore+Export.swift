import Foundation
import GRDB
import SyncCore
import SyncServer

extension SQLiteStore {
    /// Every table a move to another store carries, parents before children (schools before the
    /// principals that name them), in the order ``exportTables(chunkSize:_:)`` hands them over.
    public static let exportedTables = [
        "store_meta", "schools", "principals", "records", "conflicts", "replicas", "replica_owners", "user_replicas",
        "device_sync", "sessions", "audit", "evidence_files", "evidence_access", "evidence_uploads", "evidence_chunks",
    ]

    /// Columns that hold times: GRDB writes them as UTC text without a zone, which is given here.
    static let timeColumns: Set<String> = [
        "created_at", "revoked_at", "last_seen", "last_pull_at", "last_push_at", "last_seen_at", "expires_at", "at", "detected_at", "granted_at", "unreferenced_since",
    ]

    /// Hands every row of the store to `body`, table by table (``exportedTables``) in chunks of at
    /// most `chunkSize` rows and about `maxChunkBytes`, each chunk a JSON array of objects keyed by
    /// column name in the input forms PostgreSQL reads with `json_populate_recordset`: blobs as `\x`
    /// and hex digits, times as UTC with their zone, everything else as stored. Text is read as
    /// SQLite hands it over, up to a first NUL (which PostgreSQL's text could not hold anyway; names,
    /// labels and reasons have refused it since ``FreeText``). Reads one snapshot; the server may
    /// keep running, but what it writes afterwards is not carried. ``spoolTables(chunkSize:maxChunkBytes:)``
    /// then ``ExportSpool/forEachChunk(_:)``, for a caller that needs nothing between the two.
    ///
    /// - Returns: the highest change-log sequence number in the snapshot.
    /// - Throws: GRDB's `DatabaseError`; Foundation's file errors for the spool; whatever `body` throws.
    public func exportTables(
        chunkSize: Int = 1000,
        maxChunkBytes: Int = 16 << 20,
        _ body: (_ table: String, _ chunk: String) async throws -> Void
    ) async throws -> UInt64 {
        let spool = try await spoolTables(chunkSize: chunkSize, maxChunkBytes: maxChunkBytes)
        try await spool.forEachChunk(body)
        return spool.head
    }

    /// Reads one snapshot of every table into a spool (``exportTables(chunkSize:maxChunkBytes:_:)``
    /// says in what form): the snapshot's read is synchronous, so the chunks go to a temporary file
    /// first and are handed over one at a time afterwards; a county's whole history never has to fit
    /// in memory (one chunk does), and nothing waits on the reader, e.g. a PostgreSQL transaction
    /// that would be ended for idling while a large county is read.
    ///
    /// The file is made in the system's temporary directory, readable by this user alone, and
    /// unlinked as soon as it is open: it holds token hashes and every record, and no crash leaves
    /// it behind.
    ///
    /// - Throws: GRDB's `DatabaseError`; Foundation's file errors for the spool.
    public func spoolTables(chunkSize: Int = 1000, maxChunkBytes: Int = 16 << 20) async throws -> ExportSpool {
        let spoolURL = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-export-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: spoolURL.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: spoolURL.path])
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forUpdating: spoolURL)
            try FileManager.default.removeItem(at: spoolURL)
        } catch {
            try? FileManager.default.removeItem(at: spoolURL)
            throw error
        }
        let spool = ExportSpool(handle: handle, path: spoolURL.path)
        // One snapshot for every table: a read transaction held for the whole export.
        spool.head = try await pool.read { db -> UInt64 in
            for table in Self.exportedTables {
                var chunk: [Data] = []
                var bytes = 0
                func flush() throws {
                    guard !chunk.isEmpty else { return }
                    var array = Data("[".utf8)
                    array.append(contentsOf: chunk.joined(separator: Data(",".utf8)))
                    array.append(UInt8(ascii: "]"))
                    // A record of the spool: the table's name, the chunk's length, then the chunk.
                    try handle.write(contentsOf: Data("\(table)\t\(array.count)\n".utf8) + array)
                    chunk = []
                    bytes = 0
                }
                let rows = try Row.fetchCursor(db, sql: "SELECT * FROM \(table)")
                while let row = try rows.next() {
                    var object: [String: Any] = [:]
                    for (column, value) in row {
                        switch value.storage {
                        case .null: object[column] = NSNull()
                        case .int64(let number): object[column] = number
                        case .double(let number): object[column] = number
                        case .string(let text): object[column] = Self.timeColumns.contains(column) ? text + "Z" : text
                        case .blob(let bytes): object[column] = "\\x" + bytes.map { String(format: "%02x", $0) }.joined()
                        }
                    }
                    let encoded = try JSONSerialization.data(withJSONObject: object)
                    if !chunk.isEmpty, chunk.count >= chunkSize || bytes + encoded.count > maxChunkBytes { try flush() }
                    chunk.append(encoded)
                    bytes += encoded.count + 1
                }
                try flush()
            }
            return try Self.head(db)
        }
        return spool
    }
}

/// One snapshot of an SQLite store's tables in a temporary file that has no name any more
/// (``SQLiteStore/spoolTables(chunkSize:maxChunkBytes:)``); closed when released.
public final class ExportSpool {
    /// The highest change-log sequence number in the snapshot.
    public fileprivate(set) var head: UInt64 = 0
    /// The name the file had before it was unlinked.
    public let path: String
    private let handle: FileHandle

    fileprivate init(handle: FileHandle, path: String) {
        self.handle = handle
        self.path = path
    }

    deinit { try? handle.close() }

    /// Hands the chunks to `body` in the order they were read: `(table, JSON array)`.
    ///
    /// - Throws: `CocoaError` when the spool does not read back; whatever `body` throws.
    public func forEachChunk(_ body: (_ table: String, _ chunk: String) async throws -> Void) async throws {
        try handle.seek(toOffset: 0)
        while let header = try readLine() {
            let parts = header.split(separator: "\t")
            guard parts.count == 2, let length = Int(parts[1]), let data = try handle.read(upToCount: length), data.count == length else {
                throw CocoaError(.fileReadCorruptFile)
            }
            try await body(String(parts[0]), String(decoding: data, as: UTF8.self))
        }
    }

    /// The spool's next header line, without its newline; `nil` at the end.
    private func readLine() throws -> String? {
        var line = Data()
        while let byte = try handle.read(upToCount: 1), let first = byte.first {
            if first == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(first)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }
}
