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
        if let wire = value as? any WireJSONCodable {
            var writer = JSONWriter()
            wire.write(to: &writer)
            if let number = writer.nonFinite {
                throw EncodingError.invalidValue(
                    number,
                    .init(codingPath: [], debugDescription: "\(number) is not a finite number; JSON cannot carry it")
                )
            }
            return Data(writer.bytes)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }

    /// Decodes a value; the wire types refuse unknown keys themselves.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        if let wire = type as? any WireJSONCodable.Type {
            do throws(WireJSONError) {
                let parsed = data.withUnsafeBytes { bytes in Result { () throws(WireJSONError) in try JSONValue.parse(bytes) } }
                if let decoded = try wire.init(wireJSON: try parsed.get()) as? T { return decoded }
            } catch {
                throw error.decodingError
            }
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: data)
    }
}
