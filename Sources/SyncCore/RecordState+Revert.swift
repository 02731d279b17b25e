extension RecordState {
    /// Writes on top of this state, at `replica`, whatever makes its view show what `target` shows:
    /// the fields whose settled values differ (a field `target` lacks is written as `.null`), a
    /// delete if `target` is deleted or empty, a re-creation if this state is deleted.
    ///
    /// Fields in conflict on either side are left alone, and so is a record in edit-vs-delete
    /// conflict: a conflict is resolved, never overwritten.
    ///
    /// - Returns: the new dot, or `nil` when nothing differed.
    @discardableResult
    public mutating func rewrite(toShow target: RecordState, by replica: ReplicaID) throws(SyncCoreError) -> Dot? {
        if isDeleteConflict || target.isDeleteConflict { return nil }
        let targetIsLive = !target.isEmpty && !target.isDeleted
        guard targetIsLive else {
            return isEmpty || isDeleted || isConflicted ? nil : try delete(by: replica)
        }
        let contested = Set(conflictingFields).union(target.conflictingFields)
        var changes: [String: Value] = [:]
        for (name, register) in target.fields where !contested.contains(name) {
            guard let value = register.settledValue else { continue }
            if isDeleted || fields[name]?.settledValue != value { changes[name] = value }
        }
        for name in fields.keys where target.fields[name] == nil && !contested.contains(name) && fields[name]?.settledValue != .null {
            changes[name] = .null
        }
        guard !changes.isEmpty || isDeleted else { return nil }
        return try write(changes, by: replica)
    }

    /// Discards local edits by writing back what `previous` showed: a new write, never a rollback
    /// of the counter or the context (DESIGN §4 invariant 5).
    ///
    /// `previous` is the last state the server is known to hold.
    ///
    /// - Returns: the dot of the new write, or `nil` when nothing differed.
    /// - Throws: ``SyncCoreError/Code/conflicted`` if either state is in conflict: a conflict is
    ///   resolved, not discarded.
    @discardableResult
    public mutating func revert(to previous: RecordState, by replica: ReplicaID) throws(SyncCoreError) -> Dot? {
        guard !isConflicted, !previous.isConflicted else {
            throw SyncCoreError(.conflicted, "a record in conflict cannot be discarded; resolve the conflict instead")
        }
        return try rewrite(toShow: previous, by: replica)
    }

    /// This replica's view rebuilt on top of `base` under a new replica id: what a client does after
    /// `replica_stale` (PROTOCOL.md §6.3), so its unacknowledged edits carry the context the user saw
    /// and none of the forgotten dots.
    ///
    /// A delete of a record the base does not hold (the server's copy of it was never seen
    /// acknowledged) is still a delete: a delete marker under the new id. It cannot cover the
    /// forgotten dots, so where the server holds the record the two meet as an edit-vs-delete
    /// conflict for an administrator — the delete is kept, never dropped.
    public func rebased(onto base: RecordState, by replica: ReplicaID) throws(SyncCoreError) -> RecordState {
        var rebuilt = base
        if isDeleted, base.isEmpty {
            try rebuilt.applyDelete(by: replica)
            return rebuilt
        }
        try rebuilt.rewrite(toShow: self, by: replica)
        return rebuilt
    }
}
