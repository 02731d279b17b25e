/// One piece of evidence a report names: an item of the report's `evidence` field (DOMAIN-PROTOCOL.md
/// §6, PROTOCOL.md §13). The file itself travels apart from the record, by upload (§13.2), and is
/// addressed by its SHA-256.
///
/// For example: `{"name":"照片.jpg","sha256":"9f86d0…","size":48213,"type":"image/jpeg"}`.
public struct EvidenceItem: Sendable, Hashable, Codable {
    /// The file's name as the school gave it, e.g. `照片.jpg`; shown to reviewers, never used as a path.
    public var name: String
    /// The SHA-256 of the file's bytes, 64 lowercase hex digits: the file's address on every replica.
    public var sha256: String
    /// The file's length in bytes (1 … ``EvidenceLimits/maxFileBytes``); absent in items written before §13.
    public var size: Int?
    /// The type the file's bytes were sniffed as (``EvidenceType``), e.g. `image/jpeg`; absent in old items.
    public var type: String?

    /// Makes an item.
    public init(name: String, sha256: String, size: Int? = nil, type: String? = nil) {
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.type = type
    }

    /// Whether `text` is a SHA-256 as the protocol writes it: exactly 64 lowercase hex digits.
    public static func isSHA256(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// The fixed limits of evidence files (PROTOCOL.md §13.1).
public enum EvidenceLimits {
    /// The largest file, in bytes: 25 MiB. A larger `Upload-Length` is 413 `file_too_large` before
    /// any byte of it is read.
    public static let maxFileBytes = 25 * 1024 * 1024
    /// How long an unfinished upload is kept after its creation, in seconds (24 hours); after that
    /// it is 410 `upload_expired` and its bytes are removed.
    public static let uploadLifetimeSeconds = 24 * 3600
    /// The most unfinished uploads one school may hold at once.
    public static let maxOpenUploadsPerSchool = 64
    /// The most bytes the unfinished uploads of one school may declare together (1 GiB).
    public static let maxOpenUploadBytesPerSchool: Int64 = 1 << 30
    /// How many bytes the server looks at to sniff a file's type at offset 0.
    public static let sniffBytes = 8
}

/// The kinds of file a report may carry as evidence (PROTOCOL.md §13.1), recognised by their
/// bytes, never by name or declared type.
public enum EvidenceType: String, Sendable, CaseIterable, Codable {
    /// A JPEG photo: `FF D8 FF`.
    case jpeg = "image/jpeg"
    /// A PNG image: `89 50 4E 47 0D 0A 1A 0A`.
    case png = "image/png"
    /// A PDF document: `%PDF-`.
    case pdf = "application/pdf"
    /// A Word document (Office Open XML): a ZIP holding `[Content_Types].xml` and `word/`.
    case docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    /// An Excel workbook (Office Open XML): a ZIP holding `[Content_Types].xml` and `xl/`.
    case xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    /// A PowerPoint presentation (Office Open XML): a ZIP holding `[Content_Types].xml` and `ppt/`.
    case pptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    /// A legacy Office document (.doc, .xls, .ppt): an OLE2 compound file, `D0 CF 11 E0 A1 B1 1A E1`.
    case legacyOffice = "application/vnd.ms-office"

    /// Whether the file is shown as a picture (pages scale it) rather than offered as a download.
    public var isImage: Bool { self == .jpeg || self == .png }

    /// What the first bytes of a file can be: a type, `zip` (an Office Open XML document until the
    /// whole file says which, or that it is not one), or nil when no allowed type starts so. Needs
    /// ``EvidenceLimits/sniffBytes`` bytes (fewer only for a whole file that short).
    public enum Prefix: Sendable, Equatable {
        /// The prefix decides the type.
        case type(EvidenceType)
        /// A ZIP archive: decided by ``sniff(_:)`` on the whole file.
        case zip
    }

    /// The kind the first bytes of a file announce, or nil when they start no allowed type.
    public static func sniffPrefix(_ bytes: some Collection<UInt8>) -> Prefix? {
        let head = Array(bytes.prefix(sniffLength))
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts([0xFF, 0xD8, 0xFF]) { return .type(.jpeg) }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .type(.png) }
        if starts(Array("%PDF-".utf8)) { return .type(.pdf) }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) { return .type(.legacyOffice) }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return .zip }
        return nil
    }

    /// The type of a whole file, or nil when it is not an allowed kind: the prefix decides, and a
    /// ZIP is an Office document only when its local file headers name `[Content_Types].xml` and
    /// one of `word/`, `xl/` or `ppt/` (what Word, Excel, PowerPoint, WPS and LibreOffice write).
    public static func sniff(_ bytes: some Collection<UInt8>) -> EvidenceType? {
        switch sniffPrefix(bytes) {
        case .type(let type): return type
        case nil: return nil
        case .zip: return officeType(ofZip: Array(bytes))
        }
    }

    private static let sniffLength = EvidenceLimits.sniffBytes

    /// Walks the ZIP's local file headers (signature `PK\3\4`, name length at 26, extra length at
    /// 28, name at 30) without trusting any length to stay inside the file.
    private static func officeType(ofZip bytes: [UInt8]) -> EvidenceType? {
        var names: [String] = []
        var offset = 0
        // A document's first few dozen entries always include the ones that say what it is.
        while offset + 30 <= bytes.count, names.count < 64,
            bytes[offset] == 0x50, bytes[offset + 1] == 0x4B, bytes[offset + 2] == 0x03, bytes[offset + 3] == 0x04
        {
            let flags = Int(bytes[offset + 6]) | Int(bytes[offset + 7]) << 8
            let compressed = Int(bytes[offset + 18]) | Int(bytes[offset + 19]) << 8 | Int(bytes[offset + 20]) << 16 | Int(bytes[offset + 21]) << 24
            let nameLength = Int(bytes[offset + 26]) | Int(bytes[offset + 27]) << 8
            let extraLength = Int(bytes[offset + 28]) | Int(bytes[offset + 29]) << 8
            let nameStart = offset + 30
            guard nameStart + nameLength <= bytes.count else { break }
            names.append(String(decoding: bytes[nameStart..<nameStart + nameLength], as: UTF8.self))
            // With a data descriptor (flag bit 3) the size is not in the header: the names seen so far decide.
            guard flags & 0x08 == 0 else { break }
            let next = nameStart + nameLength + extraLength + compressed
            guard next > offset, next <= bytes.count else { break }
            offset = next
        }
        guard names.contains("[Content_Types].xml") else { return nil }
        if names.contains(where: { $0.hasPrefix("word/") }) { return .docx }
        if names.contains(where: { $0.hasPrefix("xl/") }) { return .xlsx }
        if names.contains(where: { $0.hasPrefix("ppt/") }) { return .pptx }
        return nil
    }
}

/// Names and values of the tus 1.0.0 resumable-upload protocol as §13.2 uses them
/// (tus.io/protocols/resumable-upload: core, creation, checksum, expiration).
public enum TusProtocol {
    /// The only version spoken: `1.0.0`.
    public static let version = "1.0.0"
    /// The extensions the server offers, as `Tus-Extension` lists them.
    public static let extensions = "creation,checksum,expiration"
    /// The checksum algorithms `Upload-Checksum` may name, as `Tus-Checksum-Algorithm` lists them.
    public static let checksumAlgorithms = "sha1,sha256"
    /// The content type of a PATCH body.
    public static let patchContentType = "application/offset+octet-stream"
    /// The non-standard status of a checksum mismatch (tus checksum extension).
    public static let checksumMismatchStatus = 460

    /// The header names.
    public enum Header {
        /// `Tus-Resumable`: on every request and answer but OPTIONS requests.
        public static let resumable = "Tus-Resumable"
        /// `Tus-Version`: the versions the server speaks (OPTIONS, and 412 answers).
        public static let version = "Tus-Version"
        /// `Tus-Extension`: the extensions offered (OPTIONS).
        public static let `extension` = "Tus-Extension"
        /// `Tus-Max-Size`: the largest upload in bytes (OPTIONS).
        public static let maxSize = "Tus-Max-Size"
        /// `Tus-Checksum-Algorithm`: the checksum algorithms (OPTIONS).
        public static let checksumAlgorithm = "Tus-Checksum-Algorithm"
        /// `Upload-Length`: the whole file's length in bytes (POST, HEAD).
        public static let length = "Upload-Length"
        /// `Upload-Offset`: how many bytes the server holds (HEAD, PATCH answers) or where a PATCH starts.
        public static let offset = "Upload-Offset"
        /// `Upload-Metadata`: comma-separated `key base64(value)` pairs (POST).
        public static let metadata = "Upload-Metadata"
        /// `Upload-Checksum`: `<algorithm> <base64 digest>` of one PATCH body.
        public static let checksum = "Upload-Checksum"
        /// `Upload-Expires`: when an unfinished upload is removed (RFC 9110 date).
        public static let expires = "Upload-Expires"
        /// SchoolSync's addition: the nonce that lets a school prove it holds a file the server has (§13.3).
        public static let possessionNonce = "SchoolSync-Possession-Nonce"
    }

    /// `Upload-Metadata` as pairs: keys are ASCII without spaces or commas, values base64 of any
    /// bytes (UTF-8 here). Returns nil for a header that breaks that form (a repeated key included).
    public static func parseMetadata(_ header: String) -> [String: String]? {
        var pairs: [String: String] = [:]
        for item in header.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.trimmingSpaces.split(separator: " ", omittingEmptySubsequences: true)
            guard let key = parts.first, parts.count <= 2, !key.isEmpty, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
                pairs[String(key)] == nil
            else { return nil }
            if parts.count == 2 {
                guard let bytes = Base64.decode(String(parts[1])) else { return nil }
                guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
                pairs[String(key)] = text
            } else {
                pairs[String(key)] = ""
            }
        }
        return pairs
    }

    /// `Upload-Metadata` for `pairs`, keys in sorted order.
    public static func formatMetadata(_ pairs: [String: String]) -> String {
        pairs.keys.sorted().map { key in "\(key) \(Base64.encode(Array(pairs[key, default: ""].utf8)))" }.joined(separator: ",")
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// Standard base64 (RFC 4648 §4, with padding), in pure Swift so SyncCore needs no Foundation.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The base64 text of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let b0 = input[index]
            let b1 = index + 1 < input.count ? input[index + 1] : 0
            let b2 = index + 2 < input.count ? input[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < input.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < input.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes of padded base64 `text`, or nil when it is not exactly that.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        func value(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): 62
            case UInt8(ascii: "/"): 63
            default: nil
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let padding = isLast ? input[index...].reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count : 0
            guard padding <= 2 else { return nil }
            var quad: [UInt8] = []
            for offset in 0..<(4 - padding) {
                guard let decoded = value(input[index + offset]) else { return nil }
                quad.append(decoded)
            }
            output.append(quad[0] << 2 | quad[1] >> 4)
            if quad.count > 2 { output.append(quad[1] << 4 | quad[2] >> 2) }
            if quad.count > 3 { output.append(quad[2] << 6 | quad[3]) }
            index += 4
        }
        return output
    }
}

/// Hexadecimal text of bytes, as the protocol writes digests, nonces and proofs: lowercase out,
/// either case in (PROTOCOL.md §13).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lowercase hex digits a byte.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of hex `text` in either case, or nil when it is not an even number of hex digits.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
