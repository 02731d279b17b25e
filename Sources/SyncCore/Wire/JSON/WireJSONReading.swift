/// A wire type with a hand-written JSON form next to its `Codable` one. ``CanonicalJSON`` uses
/// this form: the same bytes and the same refusals (tests compare both on random and malformed
/// documents), without Foundation's per-value boxing, which profiles showed dominating a push.
protocol WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError)
    func write(to writer: inout JSONWriter)
}

/// The members of one JSON object, read key by key; errors below a key name it in their path.
struct JSONObjectReader {
    /// In document order, no key twice (the parser refuses a repeated key).
    let members: [(key: String, value: JSONValue)]

    /// Reads an object; with `allowedKeys`, refuses any other key as the `Codable` types do.
    init(_ value: JSONValue, allowedKeys: [String]? = nil) throws(WireJSONError) {
        guard case .object(let members) = value else { throw .mismatch(.object, found: value) }
        if let allowedKeys, members.contains(where: { !allowedKeys.contains($0.key) }),
            let unknown = members.map(\.key).sorted().first(where: { !allowedKeys.contains($0) })
        {
            var error = WireJSONError.invalid("unknown key '\(unknown)'; allowed: \(allowedKeys.sorted().joined(separator: ", "))")
            error.reversedPath.append(.key(unknown))
            throw error
        }
        self.members = members
    }

    /// The member named `key`, found by scanning: a reader looks up a handful of fixed keys, so
    /// reading an object costs at most that handful of passes over it, however many members it has.
    func member(_ key: String) -> JSONValue? {
        members.first { $0.key == key }?.value
    }

    func required<T>(_ key: String, _ read: (JSONValue) throws(WireJSONError) -> T) throws(WireJSONError) -> T {
        guard let value = member(key) else {
            throw WireJSONError(.keyNotFound(key), "No value associated with key \"\(key)\".")
        }
        return try Self.at(key) { () throws(WireJSONError) in try read(value) }
    }

    /// A required string member.
    func string(_ key: String) throws(WireJSONError) -> String {
        try required(key) { value throws(WireJSONError) in try value.string() }
    }

    /// A required member in a `TextCodable` type's string form.
    func text<T: TextCodable>(_ key: String, as type: T.Type) throws(WireJSONError) -> T {
        try required(key) { value throws(WireJSONError) in try value.text(type) }
    }

    /// An absent key and an explicit `null` both read as `nil`, as `decodeIfPresent` does.
    func optional<T>(_ key: String, _ read: (JSONValue) throws(WireJSONError) -> T) throws(WireJSONError) -> T? {
        guard let value = member(key), value != .null else { return nil }
        return try Self.at(key) { () throws(WireJSONError) in try read(value) }
    }

    /// Runs `body`, adding `key` to the path of any error it throws.
    static func at<T>(_ key: String, _ body: () throws(WireJSONError) -> T) throws(WireJSONError) -> T {
        do {
            return try body()
        } catch {
            var error = error
            error.reversedPath.append(.key(key))
            throw error
        }
    }
}

extension JSONValue {
    func string() throws(WireJSONError) -> String {
        guard case .string(let text) = self else { throw .mismatch(.string, found: self) }
        return text
    }

    func bool() throws(WireJSONError) -> Bool {
        guard case .bool(let flag) = self else { throw .mismatch(.bool, found: self) }
        return flag
    }

    /// An integer; like Foundation, `1.0` and `1e2` read as integers, `1.5` does not. Stricter
    /// than Foundation, a number is refused rather than changed: an integer literal outside the
    /// type's range, or a fraction or exponent form beyond 2^53, where doubles stop being exact
    /// (`9007199254740993.0` would silently become …992; PROTOCOL.md §2.2).
    func int64() throws(WireJSONError) -> Int64 {
        guard case .number(let text) = self else { throw .mismatch(.integer, found: self) }
        if let number = Int64(text) { return number }
        guard let digits = Self.integerDigits(text), let exact = Int64(digits) else {
            throw .invalid("Number \(text.prefix(40)) is not representable as Int64.")
        }
        return exact
    }

    func uint64() throws(WireJSONError) -> UInt64 {
        guard case .number(let text) = self else { throw .mismatch(.integer, found: self) }
        if let number = UInt64(text) { return number }
        guard let digits = Self.integerDigits(text), let exact = UInt64(digits) else {
            throw .invalid("Number \(text.prefix(40)) is not representable as UInt64.")
        }
        return exact
    }

    /// The plain integer literal that a JSON number written with a fraction or an exponent
    /// stands for exactly (`-1.20e1` → `-12`), or nil when it is not a whole number. Worked on the
    /// digits, not through a double, which would round `9007199254740993.0` to …992. Exponents
    /// are bounded, so `1e999999999` costs nothing.
    static func integerDigits(_ text: String) -> String? {
        var bytes = Substring(text).utf8[...]
        var sign = ""
        if bytes.first == UInt8(ascii: "-") {
            sign = "-"
            bytes = bytes.dropFirst()
        }
        let mantissaEnd = bytes.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? bytes.endIndex
        var exponent = 0
        if mantissaEnd != bytes.endIndex {
            guard let parsed = Int(Substring(bytes[bytes.index(after: mantissaEnd)...])), abs(parsed) <= 400 else { return nil }
            exponent = parsed
        }
        let mantissa = bytes[..<mantissaEnd]
        let parts = mantissa.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts.first.map(Array.init) ?? []
        let fraction = parts.count > 1 ? Array(parts[1]) : []
        guard (whole + fraction).allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), !whole.isEmpty else { return nil }
        var digits = whole + fraction
        let shift = exponent - fraction.count
        if shift >= 0 {
            digits += Array(repeating: UInt8(ascii: "0"), count: shift)
        } else {
            guard digits.suffix(-shift).allSatisfy({ $0 == UInt8(ascii: "0") }) else { return nil }
            digits.removeLast(min(-shift, digits.count))
        }
        let trimmed = digits.drop { $0 == UInt8(ascii: "0") }
        return trimmed.isEmpty ? "0" : sign + String(decoding: trimmed, as: UTF8.self)
    }

    func double() throws(WireJSONError) -> Double {
        guard case .number(let text) = self else { throw .mismatch(.number, found: self) }
        guard let number = Double(text), number.isFinite else { throw .invalid("Number \(text) is not representable as Double.") }
        return number
    }

    /// The elements, each read by `read`; an error names the element's index.
    func elements<T>(_ read: (JSONValue) throws(WireJSONError) -> T) throws(WireJSONError) -> [T] {
        guard case .array(let values) = self else { throw .mismatch(.array, found: self) }
        var result: [T] = []
        result.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            do {
                result.append(try read(value))
            } catch {
                var error = error
                error.reversedPath.append(.index(index))
                throw error
            }
        }
        return result
    }

    /// A `TextCodable` value from its string.
    func text<T: TextCodable>(_: T.Type) throws(WireJSONError) -> T {
        let text = try string()
        do {
            return try T(parsing: text)
        } catch {
            throw .invalid(error.message)
        }
    }
}
