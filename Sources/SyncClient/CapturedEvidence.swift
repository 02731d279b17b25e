import Crypto
import Foundation
import SyncCore

/// A file read and checked for use as evidence (PROTOCOL.md §13.1), not yet kept anywhere: its
/// bytes, its SHA-256, its size and the type its bytes were sniffed as.
///
/// Reading checks everything the server would refuse, so nothing is written for a file that could
/// never be uploaded. Keep it in a replica with ``LocalReplica/addEvidence(_:)`` or
/// ``LocalReplica/write(_:addingEvidence:scope:)``.
///
/// For example:
/// ```swift
/// let photo = try CapturedEvidence(contentsOf: URL(fileURLWithPath: "照片.jpg"))
/// print(photo.item)   // {name: 照片.jpg, sha256: 9f86d0…, size: 48213, type: image/jpeg}
/// ```
public struct CapturedEvidence: Sendable, Hashable {
    /// The item a report's `evidence` list carries for this file.
    public let item: EvidenceItem
    /// The file's bytes.
    public let bytes: Data

    /// Reads and checks the file at `url`.
    ///
    /// - Parameters:
    ///   - url: a local file.
    ///   - name: the name reviewers see; by default the file's own name (`照片.jpg`).
    /// - Throws: ``SyncClientError/Code/usage`` when the file cannot be read;
    ///   ``SyncClientError/Code/refused`` when it is empty, larger than 25 MiB
    ///   (SyncCore's `EvidenceLimits.maxFileBytes`), or not a kind §13.1 allows (judged by its bytes, never its name).
    public init(contentsOf url: URL, name: String? = nil) throws(SyncClientError) {
        let name = name ?? url.lastPathComponent
        let size: Int
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            guard attributes[.type] as? FileAttributeType != .typeDirectory else {
                throw SyncClientError(.usage, "\(url.path) is a folder; give the path of one file")
            }
            size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch let error as SyncClientError {
            throw error
        } catch {
            throw SyncClientError(.usage, "cannot read \(url.path): \(error.localizedDescription)", cause: error)
        }
        // Refused before the bytes are read: a 2 GB video is not loaded to be told it is too big.
        try Self.checkSize(size, name: name)
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw SyncClientError(.usage, "cannot read \(url.path): \(error.localizedDescription)", cause: error)
        }
        try self.init(bytes: bytes, name: name)
    }

    /// Checks `bytes` as a file called `name`.
    ///
    /// - Throws: ``SyncClientError/Code/refused`` for an empty file, one over 25 MiB or one of a
    ///   kind §13.1 does not allow; ``SyncClientError/Code/usage`` for an empty name.
    public init(bytes: Data, name: String) throws(SyncClientError) {
        guard !name.isEmpty else { throw SyncClientError(.usage, "give the evidence file a name") }
        try Self.checkSize(bytes.count, name: name)
        guard let type = EvidenceType.sniff(bytes) else {
            throw SyncClientError(
                .refused,
                "\(name) is not a file a report can carry: by its contents it is not a JPEG or PNG picture, a PDF, or a Word, Excel or PowerPoint document (renaming a file does not change what it is); save or scan it as one of those and add it again"
            )
        }
        self.bytes = bytes
        item = EvidenceItem(name: name, sha256: Self.sha256(bytes), size: bytes.count, type: type.rawValue)
    }

    private static func checkSize(_ size: Int, name: String) throws(SyncClientError) {
        guard size > 0 else { throw SyncClientError(.refused, "\(name) is empty; evidence must hold at least one byte") }
        guard size <= EvidenceLimits.maxFileBytes else {
            throw SyncClientError(
                .refused,
                "\(name) is \(EvidenceFormat.bytes(size)); a piece of evidence may be at most 25 MiB — shrink the photo or split the document, then add it again"
            )
        }
    }

    /// The SHA-256 of `bytes` as 64 lowercase hex digits.
    static func sha256(_ bytes: some DataProtocol) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }
}

extension EvidenceItem {
    /// The items of a report's `evidence` field (DOMAIN-PROTOCOL.md §6): `[]` when the field is absent,
    /// null or not a list of items (the server refuses such a value, so it can only be a local mistake).
    public static func items(in value: Value?) -> [EvidenceItem] {
        guard case .string(let text)? = value else { return [] }
        return (try? JSONDecoder().decode([EvidenceItem].self, from: Data(text.utf8))) ?? []
    }

    /// The item's name made safe as the name of a file in one folder, for saving a download: never a
    /// path (folders in the name are dropped, `/` and `\` alike), never hidden or empty (leading dots
    /// go; an empty result is the SHA-256's first 16 digits), no control characters or `:`.
    ///
    /// For example: `../../etc/照片.jpg` → `照片.jpg`, `..` → `9f86d081884c7d65`.
    public var safeFileName: String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String(String.UnicodeScalarView(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) && $0 != ":" }))
        while cleaned.hasPrefix(".") { cleaned.removeFirst() }
        cleaned = cleaned.trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty ? String(sha256.prefix(16)) : cleaned
    }

    /// The value of a report's `evidence` field for `items`: JSON text with sorted keys, the same
    /// bytes on every device for the same list (values compare by their bytes, PROTOCOL.md §2.2).
    public static func field(_ items: [EvidenceItem]) -> Value {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(items)) ?? Data("[]".utf8)
        return .string(String(decoding: data, as: UTF8.self))
    }
}

/// How sizes are written for people.
enum EvidenceFormat {
    /// `48 KiB`, `5.0 MiB`, `812 bytes`.
    static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) bytes" }
        if count < 1024 * 1024 { return "\(count / 1024) KiB" }
        let tenths = count / (1024 * 1024) * 10 + count % (1024 * 1024) * 10 / (1024 * 1024)  // `count * 10` traps near Int.max
        return "\(tenths / 10).\(tenths % 10) MiB"
    }

}
