/// The identity of a synced record: a collection and an id within it.
public struct RecordKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The collection, e.g. `reports`.
    public var collection: String
    /// The record's id within its collection.
    public var id: String

    /// Makes a key without checking it; call ``validate()`` on anything that came from outside.
    public init(collection: String, id: String) {
        self.collection = collection
        self.id = id
    }

    /// Checks the collection name (`[a-z][a-z0-9_]*`, at most 64) and the id (1–128 UTF-8 bytes, no control characters).
    public func validate() throws(SyncCoreError) {
        try Self.validateName(collection, kind: "collection", firstAllowsUpper: false)
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= SyncLimits.maxIDBytes,
            // Unicode's control characters (Cc) are exactly U+0000–U+001F and U+007F–U+009F; a
            // range test gives the same answer as a general-category lookup, without the lookup,
            // and every pushed and every pulled record's id passes through here.
            !id.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else {
            throw SyncCoreError(
                .invalidName,
                "record id '\(id.prefix(40))' in \(collection) must be 1–\(SyncLimits.maxIDBytes) bytes without control characters"
            )
        }
    }

    /// Checks a field name: `[A-Za-z_][A-Za-z0-9_]*`, at most 64 characters, so it can be a SQL column name.
    public static func validateFieldName(_ name: String) throws(SyncCoreError) {
        try validateName(name, kind: "field", firstAllowsUpper: true)
    }

    private static func validateName(_ name: String, kind: String, firstAllowsUpper: Bool) throws(SyncCoreError) {
        let scalars = Array(name.unicodeScalars)
        let isValid =
            !scalars.isEmpty && scalars.count <= SyncLimits.maxNameLength
            && scalars.enumerated().allSatisfy { index, scalar in
                switch scalar {
                case "a"..."z": true
                case "_": firstAllowsUpper || index > 0
                case "A"..."Z": firstAllowsUpper
                case "0"..."9": index > 0
                default: false
                }
            }
        guard isValid else {
            let pattern = firstAllowsUpper ? "[A-Za-z_][A-Za-z0-9_]*" : "[a-z][a-z0-9_]*"
            throw SyncCoreError(
                .invalidName,
                "\(kind) name '\(name.prefix(80))' must match \(pattern), at most \(SyncLimits.maxNameLength) characters"
            )
        }
    }

    /// Keys are equal when their collections and ids are the same UTF-8 bytes (PROTOCOL.md §2.2):
    /// SQLite, the server's tables and every other implementation tell an NFC id from its NFD
    /// spelling, so Swift's normalising `String ==` must not merge them here.
    public static func == (lhs: RecordKey, rhs: RecordKey) -> Bool {
        lhs.collection.utf8.elementsEqual(rhs.collection.utf8) && lhs.id.utf8.elementsEqual(rhs.id.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        collection.utf8.hashBytes(into: &hasher)
        hasher.combine(0xFF as UInt8)  // no UTF-8 text holds 0xFF: the collection ends here
        id.utf8.hashBytes(into: &hasher)
    }

    /// Orders keys by the bytes of collection, then id: the order of SQLite's `BINARY` collation,
    /// so a sorted batch and an `ORDER BY collection, id` agree.
    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        if !lhs.collection.utf8.elementsEqual(rhs.collection.utf8) {
            return lhs.collection.utf8.lexicographicallyPrecedes(rhs.collection.utf8)
        }
        return lhs.id.utf8.lexicographicallyPrecedes(rhs.id.utf8)
    }

    public var description: String { "\(collection)/\(id)" }
}

extension String.UTF8View {
    /// Feeds the exact bytes to a hasher, for types whose equality compares UTF-8 bytes.
    func hashBytes(into hasher: inout Hasher) {
        let done: Void? = withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil {
            for byte in self { hasher.combine(byte) }
        }
        hasher.combine(count)
    }
}
