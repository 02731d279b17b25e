/// The whole synced state of one record: a causal context plus, per field, a multi-value
/// register of the concurrent writes nobody has yet replaced, and a register of deletes.
///
/// This is the only thing replicas exchange (DESIGN §4): states are sent whole, merged only by
/// ``join(_:)``, and changed only by ``write(_:by:)``, ``delete(by:)`` and ``resolve(_:by:seen:)``.
///
/// For example:
/// ```swift
/// var onLaptop = RecordState()
/// try onLaptop.write(["enrolment": .int(412)], by: laptop)
/// var onDesktop = onLaptop
/// try onLaptop.write(["enrolment": .int(415)], by: laptop)
/// try onDesktop.write(["narrative": .string("新建2所公办幼儿园")], by: desktop)
/// let merged = try onLaptop.joined(with: onDesktop)   // both edits, no conflict
/// ```
public struct RecordState: Sendable, Hashable {
    /// Every event this state has seen; every dot it holds is inside it.
    public internal(set) var context: VersionVector
    /// The field registers; a field with no surviving write is absent.
    public internal(set) var fields: [String: FieldRegister]
    /// The surviving deletes, sorted; empty unless the record was deleted.
    public internal(set) var deleted: [Dot]

    /// The state of a record nobody has written: nothing seen, nothing held.
    public init() {
        context = VersionVector()
        fields = [:]
        deleted = []
    }

    /// Rebuilds a state from its parts (a decoder, a database row), checking the model's rules:
    /// every dot inside the context, no dot twice in a register, no dot both deleting and writing,
    /// names and values well formed, and the size limits of ``SyncLimits``.
    public init(context: VersionVector, fields: [String: FieldRegister], deleted: [Dot]) throws(SyncCoreError) {
        let sortedDeleted = deleted.sorted()
        for (previous, next) in zip(sortedDeleted, sortedDeleted.dropFirst()) where previous == next {
            throw SyncCoreError(.invalidState, "dot \(next) appears twice in the deleted register")
        }
        guard fields.count <= SyncLimits.maxFields else {
            throw SyncCoreError(.invalidState, "a record has \(fields.count) fields; the limit is \(SyncLimits.maxFields)")
        }
        guard sortedDeleted.count <= SyncLimits.maxRegisterEntries else {
            throw SyncCoreError(
                .invalidState,
                "the deleted register holds \(sortedDeleted.count) dots; the limit is \(SyncLimits.maxRegisterEntries)"
            )
        }
        let deletedSet = Set(sortedDeleted)
        for dot in sortedDeleted where !context.contains(dot) {
            throw SyncCoreError(.invalidState, "deleted dot \(dot) is not covered by the record's context")
        }
        for (name, register) in fields {
            try RecordKey.validateFieldName(name)
            guard !register.entries.isEmpty else {
                throw SyncCoreError(.invalidState, "field '\(name)' has an empty register; omit the field instead")
            }
            guard register.entries.count <= SyncLimits.maxRegisterEntries else {
                throw SyncCoreError(
                    .invalidState,
                    "field '\(name)' holds \(register.entries.count) concurrent values; the limit is \(SyncLimits.maxRegisterEntries)"
                )
            }
            for entry in register.entries {
                guard context.contains(entry.dot) else {
                    throw SyncCoreError(.invalidState, "field '\(name)': dot \(entry.dot) is not covered by the record's context")
                }
                guard !deletedSet.contains(entry.dot) else {
                    throw SyncCoreError(.integrity, "dot \(entry.dot) both deletes the record and writes field '\(name)'")
                }
                try entry.value.validate()
            }
        }
        self.context = context
        self.fields = fields
        self.deleted = sortedDeleted
    }

    /// Whether nothing has ever been written or deleted here.
    public var isEmpty: Bool { context.isEmpty }

    /// Whether the record is deleted and no concurrent edit survived the delete.
    public var isDeleted: Bool { !deleted.isEmpty && fields.isEmpty }

    /// The settled value of every field, or `nil` while the record is deleted or in conflict.
    ///
    /// Nothing may show a conflicted record as if one value were settled (DESIGN §4 invariant 3).
    public var currentValues: [String: Value]? {
        guard deleted.isEmpty else { return nil }
        var values: [String: Value] = [:]
        for (name, register) in fields {
            guard let value = register.settledValue else { return nil }
            values[name] = value
        }
        return values
    }

    /// Whether ``currentValues`` is not `nil` (no delete, no field in conflict), without building it.
    public var hasCurrentValues: Bool {
        deleted.isEmpty && fields.values.allSatisfy { !$0.isConflicted }
    }

    /// The settled value of one field, or `nil` if it is absent, conflicted or the record is deleted.
    public func value(of field: String) -> Value? {
        guard deleted.isEmpty else { return nil }
        return fields[field]?.settledValue
    }

    /// Every dot this state holds, in fields and deletes.
    public var dots: Set<Dot> {
        var dots = Set(deleted)
        for register in fields.values {
            dots.formUnion(register.dots)
        }
        return dots
    }

    /// Builds a state directly; callers guarantee the rules `init(context:fields:deleted:)` checks.
    init(uncheckedContext context: VersionVector, fields: [String: FieldRegister], deleted: [Dot]) {
        self.context = context
        self.fields = fields
        self.deleted = deleted
    }
}
