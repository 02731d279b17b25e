/// A record as it travels: its key, its scope and its whole state (never only changed fields).
///
/// On the wire it is one flat object:
/// `{"collection":…,"id":…,"scope":…,"context":{…},"fields":{…},"deleted":[…]}`.
public struct SyncRecord: Sendable, Hashable {
    /// The record's collection and id.
    public var key: RecordKey
    /// The scope the record lives in; fixed when the record is first stored.
    public var scope: Scope
    /// The record's whole state.
    public var state: RecordState

    /// Makes a record.
    public init(key: RecordKey, scope: Scope, state: RecordState) {
        self.key = key
        self.scope = scope
        self.state = state
    }
}

extension SyncRecord: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case collection
        case id
        case scope
        case context
        case fields
        case deleted
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = RecordKey(
            collection: try container.decode(String.self, forKey: .collection),
            id: try container.decode(String.self, forKey: .id)
        )
        do {
            try key.validate()
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: error.message)
        }
        scope = try container.decode(Scope.self, forKey: .scope)
        state = try RecordState(decodingFrom: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key.collection, forKey: .collection)
        try container.encode(key.id, forKey: .id)
        try container.encode(scope, forKey: .scope)
        try state.encode(to: encoder)
    }
}
