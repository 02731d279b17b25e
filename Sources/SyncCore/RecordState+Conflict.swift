/// What is in conflict in a record, for display and for choosing a resolution.
public struct RecordConflict: Sendable, Hashable {
    /// Fields holding more than one distinct value, with every surviving write (its dot says who).
    public var fields: [String: [FieldRegister.Entry]]
    /// The deletes that stand beside surviving edits; empty unless this is an edit-vs-delete conflict.
    public var deletes: [Dot]

    /// Whether a delete stands beside surviving field values.
    public var isDeleteConflict: Bool { !deletes.isEmpty }
}

extension RecordState {
    /// The names of the fields holding more than one distinct value, sorted.
    public var conflictingFields: [String] {
        fields.filter { $0.value.isConflicted }.keys.sorted()
    }

    /// Whether a delete stands beside a surviving field value.
    public var isDeleteConflict: Bool { !deleted.isEmpty && !fields.isEmpty }

    /// Whether the record needs an administrator: a field with two distinct values, or edit vs delete.
    ///
    /// Concurrent deletes, and concurrent writes of the same value, are not conflicts.
    public var isConflicted: Bool {
        isDeleteConflict || fields.values.contains { $0.isConflicted }
    }

    /// The conflict, or `nil` when there is none.
    public var conflict: RecordConflict? {
        guard isConflicted else { return nil }
        var conflicted: [String: [FieldRegister.Entry]] = [:]
        for (name, register) in fields where register.isConflicted {
            conflicted[name] = register.entries
        }
        return RecordConflict(fields: conflicted, deletes: isDeleteConflict ? deleted : [])
    }
}

extension RecordConflict: Codable {
    enum CodingKeys: String, CodingKey {
        case fields
        case deletes
    }
}
