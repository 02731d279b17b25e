import SyncCore

/// Readable replica ids for hand-written cases; they sort A < B < C < E.
enum Replicas {
    static let a = ReplicaID(high: 0xaaaa_aaaa_aaaa_aaaa, low: 0xaaaa_aaaa_aaaa_aaaa)
    static let b = ReplicaID(high: 0xbbbb_bbbb_bbbb_bbbb, low: 0xbbbb_bbbb_bbbb_bbbb)
    static let c = ReplicaID(high: 0xcccc_cccc_cccc_cccc, low: 0xcccc_cccc_cccc_cccc)
    static let admin = ReplicaID(high: 0xeeee_eeee_eeee_eeee, low: 0xeeee_eeee_eeee_eeee)
}

extension RecordState {
    /// A report as a school first writes it.
    static func report(by replica: ReplicaID = Replicas.a) throws -> RecordState {
        var state = RecordState()
        try state.write(["status": .string("in_progress"), "enrolment": .int(412), "narrative": .string("初稿")], by: replica)
        return state
    }

    /// This state after a write, for building histories in one expression.
    func writing(_ values: [String: Value], by replica: ReplicaID) throws -> RecordState {
        var copy = self
        try copy.write(values, by: replica)
        return copy
    }

    /// This state after a delete.
    func deleting(by replica: ReplicaID) throws -> RecordState {
        var copy = self
        try copy.delete(by: replica)
        return copy
    }
}
