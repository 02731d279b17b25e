/// A wire type with a hand-written JSON form next to its `Codable` one. ``CanonicalJSON`` uses
/// this form: the same bytes and the same refusals (tests compare both on random and malformed
/// documents), without Foundation's per-value boxing, which profiles showed dominating a push.
protocol WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError)
    func write(to writer: inout JSONWriter)
}

/// The members of one JSON object, read key by key; errors below a key name it in their path.
struct JSONObjectReader {
    let members: [String: JSONValue]

    /// Reads an object; with `allowedKeys`, refuses any other key as the `Codable` types do.
    init(_ value: JSONValue, allowedKeys: [String]? = nil) throws(WireJSONError) {
        guard case .object(let members) = value else { throw .mismatch(.object, found: value) }
        if let allowedKeys, members.keys.contains(where: { !allowedKeys.contains($0) }),
            let unknown = members.keys.sorted().first(where: { !allowedKeys.contains($0) })
        {
            var error = WireJSONError.invalid("unknown key '\(unknown)'; allowed: \(allowedKeys.sorted().joined(separator: ", "))")
            error.reversedPath.append(.key(unknown))
            throw error
        }
        self.members = members
    }

    func required<T>(_ key: String, _ read: (JSONValue) throws(WireJSONError) -> T) throws(WireJSONError) -> T {
        guard let value = members[key] else {
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
        guard let value = members[key], value != .null else { return nil }
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

    /// An integer; like Foundation, `1.0` and `1e2` read as integers, `1.5` does not.
    func int64() throws(WireJSONError) -> Int64 {
        guard case .number(let text) = self else { throw .mismatch(.integer, found: self) }
        if let number = Int64(text) { return number }
        guard let number = Double(text), number.isFinite, let exact = Int64(exactly: number) else {
            throw .invalid("Number \(text) is not representable as Int64.")
        }
        return exact
    }

    func uint64() throws(WireJSONError) -> UInt64 {
        guard case .number(let text) = self else { throw .mismatch(.integer, found: self) }
        if let number = UInt64(text) { return number }
        guard let number = Double(text), number.isFinite, let exact = UInt64(exactly: number) else {
            throw .invalid("Number \(text) is not representable as UInt64.")
        }
        return exact
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
