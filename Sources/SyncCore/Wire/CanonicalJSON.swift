#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The protocol's JSON: UTF-8, object keys sorted, `/` not escaped, registers sorted by dot.
///
/// Two equal values always encode to the same bytes, so conformance vectors and replicas can be
/// compared byte for byte.
public enum CanonicalJSON {
    /// Encodes a value canonically.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Decodes a value; the wire types refuse unknown keys themselves.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }
}
