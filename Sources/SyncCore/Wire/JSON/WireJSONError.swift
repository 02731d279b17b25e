/// Why a hand-written wire decoder refused a document, and where. ``CanonicalJSON`` turns it into
/// the `DecodingError` Foundation would have thrown, so callers see one error type either way.
struct WireJSONError: Error {
    enum Kind {
        case syntax
        case typeMismatch(expected: Expected)
        case keyNotFound(String)
        case invalid
    }

    /// The JSON type a decoder wanted.
    enum Expected {
        case string, integer, number, bool, array, object
    }

    enum PathComponent {
        case key(String)
        case index(Int)
    }

    var kind: Kind
    var message: String
    /// Innermost first: each enclosing decoder appends its key on the way out.
    var reversedPath: [PathComponent] = []

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func mismatch(_ expected: Expected, found value: JSONValue) -> WireJSONError {
        WireJSONError(.typeMismatch(expected: expected), "Expected to decode \(expected) but found \(value.typeName) instead.")
    }

    static func invalid(_ message: String) -> WireJSONError {
        WireJSONError(.invalid, message)
    }

    var decodingError: DecodingError {
        let path: [any CodingKey] = reversedPath.reversed().map { component in
            switch component {
            case .key(let key): AnyCodingKey(stringValue: key)
            case .index(let index): IndexCodingKey(index: index)
            }
        }
        let context = DecodingError.Context(codingPath: path, debugDescription: message)
        switch kind {
        case .syntax: return .dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: message))
        case .typeMismatch(let expected):
            let type: Any.Type =
                switch expected {
                case .string: String.self
                case .integer: Int64.self
                case .number: Double.self
                case .bool: Bool.self
                case .array: [Any].self
                case .object: [String: Any].self
                }
            return .typeMismatch(type, context)
        case .keyNotFound(let key): return .keyNotFound(AnyCodingKey(stringValue: key), context)
        case .invalid: return .dataCorrupted(context)
        }
    }
}

/// An array position in a coding path.
struct IndexCodingKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}
