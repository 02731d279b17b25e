/// A parsed JSON document, as the hand-written wire codecs read it.
///
/// Numbers keep their literal text, so each reader converts it to exactly the type it expects
/// (an `Int64` never passes through `Double`).
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    /// The members in document order, no key twice. A list, not a dictionary: a pushed state is
    /// mostly objects of one to six members, for which building and hashing a dictionary was
    /// most of the time a parse took; the readers look keys up by scanning.
    case object([(key: String, value: JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let left), .bool(let right)): left == right
        case (.number(let left), .number(let right)): left == right
        case (.string(let left), .string(let right)): left == right
        case (.array(let left), .array(let right)): left == right
        case (.object(let left), .object(let right)):
            left.count == right.count && zip(left, right).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Objects with more members than this find a repeated key through a set, not by scanning the
    /// keys before it, so a hostile object with many keys costs linear time, not quadratic.
    static let scannedMembers = 16

    /// Parses UTF-8 JSON strictly (RFC 8259): one value, no trailing commas, no duplicate keys,
    /// valid UTF-8 and escapes, nesting at most ``maxDepth`` deep.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireJSONError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.syntaxError("unexpected text after the JSON value") }
        return value
    }

    /// Deeper documents are refused before they can exhaust the stack.
    static let maxDepth = 64

    /// The name of the value's JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    func syntaxError(_ message: String) -> WireJSONError {
        WireJSONError(.syntax, "The given data was not valid JSON: \(message) at byte \(index).")
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(WireJSONError) -> JSONValue {
        guard let byte = current else { throw syntaxError("unexpected end of data") }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < JSONValue.maxDepth else { throw syntaxError("nested more than \(JSONValue.maxDepth) levels deep") }
            return try object(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < JSONValue.maxDepth else { throw syntaxError("nested more than \(JSONValue.maxDepth) levels deep") }
            return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw syntaxError("unexpected character '\(Unicode.Scalar(byte))'")
        }
    }

    mutating func literal(_ word: StaticString) throws(WireJSONError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw syntaxError("unexpected end of data") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw syntaxError("invalid literal")
        }
        index += count
    }

    mutating func object(depth: Int) throws(WireJSONError) -> JSONValue {
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        // Filled once an object passes `scannedMembers` members.
        var keys: Set<String> = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw syntaxError("expected a key in quotes") }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw syntaxError("expected ':' after a key") }
            index += 1
            skipWhitespace()
            let member = try value(depth: depth)
            let repeated: Bool
            if members.count < JSONValue.scannedMembers {
                repeated = members.contains { $0.key == key }
            } else {
                if keys.isEmpty { keys = Set(members.map(\.key)) }
                repeated = !keys.insert(key).inserted
            }
            members.append((key, member))
            guard !repeated else {
                throw WireJSONError(.syntax, "The given data was not valid JSON: the key '\(key.prefix(80))' appears twice in one object.")
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default: throw syntaxError("expected ',' or '}' in an object")
            }
        }
    }

    mutating func array(depth: Int) throws(WireJSONError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default: throw syntaxError("expected ',' or ']' in an array")
            }
        }
    }

    mutating func number() throws(WireJSONError) -> String {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if currentIsDigit {
            skipDigits()
        } else {
            throw syntaxError("a number needs digits")
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard currentIsDigit else { throw syntaxError("a decimal point needs digits after it") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard currentIsDigit else { throw syntaxError("an exponent needs digits") }
            skipDigits()
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    var currentIsDigit: Bool {
        guard let byte = current else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    mutating func skipDigits() {
        while currentIsDigit { index += 1 }
    }

    mutating func string() throws(WireJSONError) -> String {
        index += 1
        let start = index
        // Every byte of the string OR-ed together: below 0x80, it is ASCII and so valid UTF-8.
        var seen: UInt8 = 0
        // The common case: no escapes, so the bytes become the string directly.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                // As typed bytes, for the standard library's contiguous fast paths: from a raw
                // buffer it took its generic validation, looking up type metadata for each string.
                let text = slice.withMemoryRebound(to: UInt8.self) { utf8 in
                    seen < 0x80 ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self)
                }
                guard let text else { throw syntaxError("a string is not valid UTF-8") }
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw syntaxError("a control character must be escaped in a string") }
            seen |= byte
            index += 1
        }
        var buffer = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard let byte = current else { throw syntaxError("a string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: buffer, as: UTF8.self) else { throw syntaxError("a string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                try escape(into: &buffer)
            case 0..<0x20:
                throw syntaxError("a control character must be escaped in a string")
            default:
                buffer.append(byte)
                index += 1
            }
        }
    }

    mutating func escape(into buffer: inout [UInt8]) throws(WireJSONError) {
        guard let byte = current else { throw syntaxError("a string is not closed") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(byte)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var code = try hex4()
            if (0xD800..<0xDC00).contains(code) {
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw syntaxError("a high surrogate must be followed by a low one")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw syntaxError("a high surrogate must be followed by a low one") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(code) {
                throw syntaxError("a low surrogate without a high one")
            }
            guard let scalar = Unicode.Scalar(code) else { throw syntaxError("an escape that is not a Unicode scalar") }
            UTF8.encode(scalar) { buffer.append($0) }
        default:
            throw syntaxError("invalid escape '\\\(Unicode.Scalar(byte))'")
        }
    }

    mutating func hex4() throws(WireJSONError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw syntaxError("a \\u escape needs four hex digits") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw syntaxError("a \\u escape needs four hex digits")
            }
            code = code << 4 | UInt32(digit)
            index += 1
        }
        return code
    }
}
