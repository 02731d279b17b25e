/// An error raised by the sync engine's pure logic.
///
/// Like `FileSystemError` in swift-nio, it is a struct of a stable ``Code`` and a message
/// that says what went wrong and what to do, so new codes never break callers.
public struct SyncCoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code; its `name` is what the wire and the logs show.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `integrity`.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// One dot carries two different values: a replica minted a dot twice (DESIGN §4 invariant 1).
        public static let integrity = Code("integrity")
        /// A plain write touched a conflicted field or a record in edit-vs-delete conflict.
        public static let conflicted = Code("conflicted")
        /// `resolve` was called on a record that is not in conflict.
        public static let notInConflict = Code("not_in_conflict")
        /// A resolution left a conflicting field without a chosen value.
        public static let unresolvedFields = Code("unresolved_fields")
        /// The record gained values the resolver had not seen.
        public static let staleResolution = Code("stale_resolution")
        /// A state violates the model's structure (a dot not covered by its context, a duplicate dot…).
        public static let invalidState = Code("invalid_state")
        /// A collection, id, field name, scope or replica id is not well formed.
        public static let invalidName = Code("invalid_name")
        /// A value cannot be represented (a non-finite number, a string over the size limit).
        public static let invalidValue = Code("invalid_value")
        /// A well-formed number outside the range the protocol allows (a cursor past 2^63 − 1).
        public static let outOfRange = Code("out_of_range")

        public var description: String { name }
    }

    /// What kind of error this is.
    public var code: Code
    /// What happened and what to do about it, naming the record or field concerned.
    public var message: String

    /// Makes an error with a code and a message for the user.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}
