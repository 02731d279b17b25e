extension FieldRegister: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let entries = try container.decode([Entry].self)
        do {
            try self.init(entries: entries)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(entries)
    }
}

extension RecordState: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case context
        case fields
        case deleted
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        try self.init(decodingFrom: decoder)
    }

    /// Decodes the three state keys from a container that may hold others (a ``SyncRecord``).
    init(decodingFrom decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let context = try container.decode(VersionVector.self, forKey: .context)
        let fields = try container.decode([String: FieldRegister].self, forKey: .fields)
        let deleted = try container.decode([Dot].self, forKey: .deleted)
        do {
            try self.init(context: context, fields: fields, deleted: deleted)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(context, forKey: .context)
        try container.encode(fields, forKey: .fields)
        try container.encode(deleted, forKey: .deleted)
    }
}
