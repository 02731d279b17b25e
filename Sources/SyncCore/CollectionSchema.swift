/// What a collection's records look like in a replica's ordinary SQL tables: the fields that get
/// their own column, each with a type, and the kind of scope the collection lives in.
///
/// The sync model itself has no schema: a field that is not listed still syncs, it just has no
/// column (DESIGN §4 invariant 2). The schema only says how to show records to SQL.
public struct CollectionSchema: Sendable, Hashable {
    /// How a field's values map to a SQL column.
    public enum ColumnType: String, Sendable, Hashable {
        /// TEXT ← ``Value/string(_:)``.
        case text
        /// INTEGER ← ``Value/int(_:)``.
        case integer
        /// REAL ← ``Value/double(_:)`` (integers are accepted and stored as REAL).
        case real
        /// INTEGER 0/1 ← ``Value/bool(_:)``.
        case bool
        /// TEXT holding JSON ← ``Value/string(_:)``; values that belong together live here as one field.
        case json
    }

    /// A field with its own column.
    public struct Column: Sendable, Hashable {
        /// The field's name, which is also the column's.
        public var name: String
        /// How the field's values are stored in the column.
        public var type: ColumnType

        /// A column named `name` holding values of `type`.
        public init(_ name: String, _ type: ColumnType) {
            self.name = name
            self.type = type
        }
    }

    /// The collection's name, which is also its table's name.
    public var name: String
    /// Whether its records live in the catalog or in a school's scope.
    public var scopeKind: ScopeKind
    /// The columns, in table order (the record id is always the `id` column before them).
    public var columns: [Column]

    /// The kinds of scope a collection can live in.
    public enum ScopeKind: String, Sendable, Hashable {
        case catalog
        case school
    }

    /// Makes a schema; names must be valid field and collection names.
    public init(_ name: String, scope: ScopeKind, columns: [Column]) {
        self.name = name
        scopeKind = scope
        self.columns = columns
    }

    /// The column of a field, if it has one.
    public func column(_ field: String) -> Column? {
        columns.first { $0.name == field }
    }
}
