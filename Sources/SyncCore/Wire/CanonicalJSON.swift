#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The protocol's JSON: UTF-8, object keys sorted, `/` not escaped, registers sorted by dot,
/// dates (in administration bodies) as ISO 8601.
///
/// Two equal values always encode to the same bytes, so conformance vectors and replicas can be
/// compared byte for byte.
public enum CanonicalJSON {
    /// Encodes a value canonically.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }

    /// Decodes a value; the wire types refuse unknown keys themselves.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: data)
    }
}
