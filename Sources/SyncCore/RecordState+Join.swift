extension RecordState {
    /// Merges another replica's state into this one: the only way states combine.
    ///
    /// A value survives if the other side holds the same dot or has not seen it; contexts take
    /// their least upper bound. The join is commutative, associative and idempotent, so replayed,
    /// reordered or duplicated messages can never change the outcome.
    ///
    /// - Throws: ``SyncCoreError/Code/integrity`` if one dot carries two different values, or
    ///   deletes on one side and writes on the other. The join never picks one of them.
    public mutating func join(_ other: RecordState) throws(SyncCoreError) {
        self = try joined(with: other)
    }

    /// The join of this state and another; see ``join(_:)``.
    public func joined(with other: RecordState) throws(SyncCoreError) -> RecordState {
        if self == other { return self }
        if !deleted.isEmpty || !other.deleted.isEmpty {
            try Self.checkDeletesAgainstWrites(deleted, other.fields)
            try Self.checkDeletesAgainstWrites(other.deleted, fields)
        }
        var mergedFields: [String: FieldRegister] = [:]
        mergedFields.reserveCapacity(Swift.max(fields.count, other.fields.count))
        for (name, register) in fields {
            let entries = try Self.join(register.entries, context, other.fields[name]?.entries ?? [], other.context, field: name)
            if !entries.isEmpty { mergedFields[name] = FieldRegister(sortedUnique: entries) }
        }
        for (name, register) in other.fields where fields[name] == nil {
            let entries = try Self.join([], context, register.entries, other.context, field: name)
            if !entries.isEmpty { mergedFields[name] = FieldRegister(sortedUnique: entries) }
        }
        let mergedDeleted = Self.joinDots(deleted, context, other.deleted, other.context)
        return RecordState(uncheckedContext: context.merged(with: other.context), fields: mergedFields, deleted: mergedDeleted)
    }

    /// Merges two sorted registers by the survival rule, walking both once.
    private static func join(
        _ left: [FieldRegister.Entry],
        _ leftContext: VersionVector,
        _ right: [FieldRegister.Entry],
        _ rightContext: VersionVector,
        field: String
    ) throws(SyncCoreError) -> [FieldRegister.Entry] {
        var merged: [FieldRegister.Entry] = []
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if j == right.count || (i < left.count && left[i].dot < right[j].dot) {
                if !rightContext.contains(left[i].dot) { merged.append(left[i]) }
                i += 1
            } else if i == left.count || right[j].dot < left[i].dot {
                if !leftContext.contains(right[j].dot) { merged.append(right[j]) }
                j += 1
            } else {
                guard left[i].value == right[j].value else {
                    throw SyncCoreError(
                        .integrity,
                        "dot \(left[i].dot) carries two different values in field '\(field)': the replica reused a dot (restored or copied database)"
                    )
                }
                merged.append(left[i])
                i += 1
                j += 1
            }
        }
        return merged
    }

    private static func joinDots(_ left: [Dot], _ leftContext: VersionVector, _ right: [Dot], _ rightContext: VersionVector) -> [Dot] {
        var merged: [Dot] = []
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if j == right.count || (i < left.count && left[i] < right[j]) {
                if !rightContext.contains(left[i]) { merged.append(left[i]) }
                i += 1
            } else if i == left.count || right[j] < left[i] {
                if !leftContext.contains(right[j]) { merged.append(right[j]) }
                j += 1
            } else {
                merged.append(left[i])
                i += 1
                j += 1
            }
        }
        return merged
    }

    private static func checkDeletesAgainstWrites(_ deletes: [Dot], _ fields: [String: FieldRegister]) throws(SyncCoreError) {
        guard !deletes.isEmpty else { return }
        let deleteSet = Set(deletes)
        for (name, register) in fields {
            for entry in register.entries where deleteSet.contains(entry.dot) {
                throw SyncCoreError(
                    .integrity,
                    "dot \(entry.dot) deletes the record on one side and writes field '\(name)' on the other: the replica reused a dot"
                )
            }
        }
    }
}
