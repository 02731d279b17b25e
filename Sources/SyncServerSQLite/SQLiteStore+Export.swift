import Foundation
import GRDB
import SyncCore
import SyncServer

extension SQLiteStore {
    /// Every table a move to another store carries, parents before children (schools before the
    /// principals that name them), in the order ``exportTables(chunkSize:_:)`` hands them over.
    public static let exportedTables = [
        "store_meta", "schools", "principals", "records", "conflicts", "replicas", "replica_owners", "user_replicas",
        "device_sync", "sessions", "audit",
    ]

    /// Columns that hold times: GRDB writes them as UTC text without a zone, which is given here.
    static let timeColumns: Set<String> = ["created_at", "revoked_at", "last_seen", "last_pull_at", "last_push_at", "last_seen_at", "expires_at", "at", "detected_at"]

    /// Hands every row of the store to `body`, table by table (``exportedTables``) in chunks of at
    /// most `chunkSize` rows and about `maxChunkBytes`, each chunk a JSON array of objects keyed by
    /// column name in the input forms PostgreSQL reads with `json_populate_recordset`: blobs as `\x`
    /// and hex digits, times as UTC with their zone, everything else as stored. Text is read as
    /// SQLite hands it over, up to a first NUL (which PostgreSQL's text could not hold anyway; names,
    /// labels and reasons have refused it since ``FreeText``). Reads one snapshot; the server may
    /// keep running, but what it writes afterwards is not carried.
    ///
    /// The snapshot's read is synchronous and `body` is not, so the chunks are spooled to a
    /// temporary file next to the database while the snapshot is read, then handed over one at a
    /// time: a county's whole history never has to fit in memory (one chunk does).
    ///
    /// - Returns: the highest change-log sequence number in the snapshot.
    /// - Throws: GRDB's `DatabaseError`; Foundation's file errors for the spool; whatever `body` throws.
    public func exportTables(
        chunkSize: Int = 1000,
        maxChunkBytes: Int = 16 << 20,
        _ body: (_ table: String, _ chunk: String) async throws -> Void
    ) async throws -> UInt64 {
        let spoolURL = URL(fileURLWithPath: pool.path + ".export-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: spoolURL.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: spoolURL.path])
        }
        defer { try? FileManager.default.removeItem(at: spoolURL) }
        let spool = try FileHandle(forUpdating: spoolURL)
        defer { try? spool.close() }
        // One snapshot for every table: a read transaction held for the whole export.
        let head = try await pool.read { db -> UInt64 in
            for table in Self.exportedTables {
                var chunk: [Data] = []
                var bytes = 0
                func flush() throws {
                    guard !chunk.isEmpty else { return }
                    var array = Data("[".utf8)
                    array.append(contentsOf: chunk.joined(separator: Data(",".utf8)))
                    array.append(UInt8(ascii: "]"))
                    // A record of the spool: the table's name, the chunk's length, then the chunk.
                    try spool.write(contentsOf: Data("\(table)\t\(array.count)\n".utf8) + array)
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
        try spool.seek(toOffset: 0)
        while let header = try Self.readLine(spool) {
            let parts = header.split(separator: "\t")
            guard parts.count == 2, let length = Int(parts[1]), let data = try spool.read(upToCount: length), data.count == length else {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: spoolURL.path])
            }
            try await body(String(parts[0]), String(decoding: data, as: UTF8.self))
        }
        return head
    }

    /// The spool's next header line, without its newline; `nil` at the end.
    private static func readLine(_ handle: FileHandle) throws -> String? {
        var line = Data()
        while let byte = try handle.read(upToCount: 1), let first = byte.first {
            if first == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(first)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }
}
