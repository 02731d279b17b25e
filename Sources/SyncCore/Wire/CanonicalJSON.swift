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
            try refuseNonFinite(writer)
            return Data(writer.bytes)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }

    /// Encodes a push request canonically, and with it each record's state: `states[i]` is
    /// `encode(request.records[i].state)`, copied out of the request's own bytes (a record holds its
    /// state's members as the state writes them), so a client that keeps the states it sent as
    /// text does not write each a second time.
    public static func encodeWithStates(_ request: PushRequest) throws -> (request: Data, states: [Data]) {
        var writer = JSONWriter(capacity: 1024)
        var members: [Range<Int>] = []
        members.reserveCapacity(request.records.count)
        request.write(to: &writer, stateMembers: &members)
        try refuseNonFinite(writer)
        let states = members.map { range in
            var state = Data(capacity: range.count + 2)
            state.append(UInt8(ascii: "{"))
            state.append(contentsOf: writer.bytes[range])
            state.append(UInt8(ascii: "}"))
            return state
        }
        return (Data(writer.bytes), states)
    }

    private static func refuseNonFinite(_ writer: JSONWriter) throws {
        if let number = writer.nonFinite {
            throw EncodingError.invalidValue(
                number,
                .init(codingPath: [], debugDescription: "\(number) is not a finite number; JSON cannot carry it")
            )
        }
    }

    /// The keys of a JSON object, read as strictly as the wire types are (no duplicate keys, no
    /// trailing commas, nesting of at most 64), or nil when the document is not an object. Lets
    /// bodies decoded through Foundation be held to the same rules (PROTOCOL.md §8 `invalid_json`).
    ///
    /// - Throws: `DecodingError.dataCorrupted` naming what is wrong.
    public static func strictObjectKeys(in data: Data) throws -> [String]? {
        do throws(WireJSONError) {
            let parsed = data.withUnsafeBytes { bytes in Result { () throws(WireJSONError) in try JSONValue.parse(bytes) } }
            guard case .object(let members) = try parsed.get() else { return nil }
            return members.map(\.key)
        } catch {
            throw error.decodingError
        }
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
