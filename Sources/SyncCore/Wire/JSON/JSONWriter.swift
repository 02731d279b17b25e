/// Writes canonical JSON: the bytes Foundation's `JSONEncoder` writes with `.sortedKeys` and
/// `.withoutEscapingSlashes` (tests compare the two on random states), without its per-value
/// boxing. Callers write object keys in sorted order; ``sortedKeys(_:)`` sorts dictionary keys.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false
    /// A NaN or infinity met while writing: JSON has no spelling for it, so the document is refused.
    private(set) var nonFinite: Double?

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// Keys in the order `.sortedKeys` writes them: by UTF-8 bytes.
    static func sortedKeys<V>(_ dictionary: [String: V]) -> [String] {
        dictionary.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    mutating func key(_ key: String) {
        separate()
        escaped(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A key and its string value.
    mutating func member(_ key: String, _ text: String) {
        self.key(key)
        string(text)
    }

    mutating func string(_ text: String) {
        separate()
        escaped(text)
        needsComma = true
    }

    mutating func int(_ number: Int64) {
        separate()
        bytes.append(contentsOf: String(number).utf8)
        needsComma = true
    }

    mutating func uint(_ number: UInt64) {
        separate()
        bytes.append(contentsOf: String(number).utf8)
        needsComma = true
    }

    /// Foundation writes a double's shortest round-trip form without a trailing `.0`.
    mutating func double(_ number: Double) {
        if !number.isFinite { nonFinite = number }
        separate()
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    mutating func bool(_ flag: Bool) {
        separate()
        bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// A quoted string: `"` and `\` escaped, control characters as `\n`-style or `\u00XX` escapes,
    /// everything else (`/`, non-ASCII) as it is.
    private mutating func escaped(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Through the string's contiguous UTF-8 (native strings have it), which the scan and the
        // copy read as a buffer instead of stepping through the UTF-8 view.
        var text = text
        let plain = text.withUTF8 { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if plain {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
