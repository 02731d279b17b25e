/// How an administrator settles a conflicted record.
public enum Resolution: Sendable, Hashable {
    /// Write these values; every conflicting field must be named. In an edit-vs-delete conflict this
    /// keeps the record: the caller passes its full content (DESIGN §4 invariant 6).
    case write([String: Value])
    /// Delete the record.
    case delete
}

extension RecordState {
    /// Writes fields at `replica`: one new dot replaces every value the writer has seen in them.
    ///
    /// The dot is `context[replica] + 1`. A write empties the deleted register, so writing to a
    /// deleted record re-creates it; a write of no fields is legal.
    ///
    /// - Throws: ``SyncCoreError/Code/conflicted`` if a written field holds concurrent values or the
    ///   record is in edit-vs-delete conflict: settling those is ``resolve(_:by:seen:)``'s job.
    @discardableResult
    public mutating func write(_ values: [String: Value], by replica: ReplicaID) throws(SyncCoreError) -> Dot {
        if isDeleteConflict {
            throw SyncCoreError(
                .conflicted,
                "the record was deleted on one replica and edited on another; an administrator must resolve it before it can be edited"
            )
        }
        let conflicting = values.keys.filter { fields[$0]?.isConflicted == true }.sorted()
        guard conflicting.isEmpty else {
            throw SyncCoreError(
                .conflicted,
                "field(s) \(conflicting.joined(separator: ", ")) hold concurrent values; resolve the conflict instead of editing"
            )
        }
        return try applyWrite(values, by: replica)
    }

    /// Deletes the record at `replica`: the delete register becomes this one dot and all values go.
    ///
    /// - Throws: ``SyncCoreError/Code/conflicted`` while the record is in conflict, since a delete
    ///   would silently settle it.
    @discardableResult
    public mutating func delete(by replica: ReplicaID) throws(SyncCoreError) -> Dot {
        guard !isConflicted else {
            throw SyncCoreError(.conflicted, "the record is in conflict; resolve it (possibly by deleting) instead")
        }
        return try applyDelete(by: replica)
    }

    /// Settles a conflict with a write (or delete) at `replica` whose context covers every
    /// conflicting dot, so it wins everywhere after sync.
    ///
    /// - Parameters:
    ///   - resolution: the values to keep (every conflicting field named), or a delete.
    ///   - replica: the resolver's replica, which mints the resolution's dot.
    ///   - seen: the context the resolver was shown. If the record has since gained
    ///     conflicting values or deletes outside it, the resolution is refused as stale so nobody
    ///     settles values they never saw (PROTOCOL.md §3.5).
    /// - Returns: the dot of the resolving write.
    /// - Throws: ``SyncCoreError/Code/notInConflict``, ``SyncCoreError/Code/staleResolution`` or
    ///   ``SyncCoreError/Code/unresolvedFields``; a ``SyncCoreError`` from the write itself.
    @discardableResult
    public mutating func resolve(_ resolution: Resolution, by replica: ReplicaID, seen: VersionVector? = nil) throws(SyncCoreError) -> Dot {
        guard isConflicted else {
            throw SyncCoreError(.notInConflict, "the record is not in conflict; edit it instead")
        }
        // What the resolution replaces must all have been shown: the contested dots, and the dots
        // of any other field it names (PROTOCOL.md §3.5) — a settled value that arrived after the
        // conflict was shown is never overwritten unseen. Checked before anything else.
        var replaced = contestedDots
        if case .write(let values) = resolution {
            for name in values.keys { replaced.formUnion(fields[name]?.dots ?? []) }
        }
        if let seen, let unseen = replaced.sorted().first(where: { !seen.contains($0) }) {
            throw SyncCoreError(
                .staleResolution,
                "the record changed since it was shown (new value \(unseen)); look at it again and resolve what is there now"
            )
        }
        switch resolution {
        case .delete:
            return try applyDelete(by: replica)
        case .write(let values):
            let missing = conflictingFields.filter { values[$0] == nil }
            guard missing.isEmpty else {
                throw SyncCoreError(.unresolvedFields, "choose a value for every conflicting field; missing: \(missing.joined(separator: ", "))")
            }
            return try applyWrite(values, by: replica)
        }
    }

    /// The dots a resolution settles: every value in a conflicting field, and in an edit-vs-delete
    /// conflict every surviving value and delete.
    private var contestedDots: Set<Dot> {
        if isDeleteConflict { return dots }
        var dots: Set<Dot> = []
        for name in conflictingFields {
            dots.formUnion(fields[name]?.dots ?? [])
        }
        return dots
    }

    private mutating func applyWrite(_ values: [String: Value], by replica: ReplicaID) throws(SyncCoreError) -> Dot {
        for (name, value) in values {
            try RecordKey.validateFieldName(name)
            try value.validate()
        }
        let fieldCount = fields.count + values.keys.filter { fields[$0] == nil }.count
        guard fieldCount <= SyncLimits.maxFields else {
            throw SyncCoreError(.invalidState, "a record may have at most \(SyncLimits.maxFields) fields")
        }
        var newContext = context
        let dot = try newContext.advance(replica)
        context = newContext
        for (name, value) in values {
            fields[name] = FieldRegister(dot: dot, value: value)
        }
        deleted = []
        return dot
    }

    mutating func applyDelete(by replica: ReplicaID) throws(SyncCoreError) -> Dot {
        var newContext = context
        let dot = try newContext.advance(replica)
        context = newContext
        fields = [:]
        deleted = [dot]
        return dot
    }
}
