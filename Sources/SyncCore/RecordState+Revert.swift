extension RecordState {
    /// Discards local edits by writing back what `previous` showed: a new write, never a rollback
    /// of the counter or the context (DESIGN §4 invariant 5).
    ///
    /// `previous` is the last state the server acknowledged. Fields whose settled value differs
    /// are written back (a field that did not exist then is written as `.null`); a record that was
    /// deleted or absent then is deleted; a record deleted since is re-created with every field.
    ///
    /// - Returns: the dot of the new write, or `nil` when nothing differed.
    /// - Throws: ``SyncCoreError/Code/conflicted`` if either state is in conflict: a conflict is
    ///   resolved, not discarded.
    @discardableResult
    public mutating func revert(to previous: RecordState, by replica: ReplicaID) throws(SyncCoreError) -> Dot? {
        guard !isConflicted, !previous.isConflicted else {
            throw SyncCoreError(.conflicted, "a record in conflict cannot be discarded; resolve the conflict instead")
        }
        let wasLive = !previous.isEmpty && !previous.isDeleted
        guard wasLive else {
            return isEmpty || isDeleted ? nil : try delete(by: replica)
        }
        let before = previous.currentValues ?? [:]
        let now = currentValues ?? [:]
        var changes: [String: Value] = [:]
        for (name, value) in before where now[name] != value || isDeleted {
            changes[name] = value
        }
        for name in now.keys where before[name] == nil {
            changes[name] = .null
        }
        guard !changes.isEmpty || isDeleted else { return nil }
        return try write(changes, by: replica)
    }
}
