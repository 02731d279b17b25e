/// A value whose wire form is one JSON string: it parses itself and prints its `description`.
///
/// ReplicaID, Epoch, Cursor, PushReceipt, BatchID and Scope all travel this way, so decoding
/// refuses a malformed one with the type's own message.
public protocol TextCodable: Codable, CustomStringConvertible {
    /// Parses the text form, throwing a message that says what the form must be.
    init(parsing text: String) throws(SyncCoreError)
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
