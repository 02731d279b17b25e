/// Where a record lives, and so who may read and write it.
///
/// `catalog` holds plans, measures, indicators and schools (every device reads it; bureau users
/// write it). `school:<id>` holds one school's assignments and reports.
public struct Scope: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The scope's text form, e.g. `catalog` or `school:qx-zhuoran`.
    public let rawValue: String

    /// The catalog scope.
    public static let catalog = Scope(uncheckedRawValue: "catalog")

    /// The scope of one school's own records.
    public static func school(_ schoolID: String) throws(SyncCoreError) -> Scope {
        try Scope(parsing: "school:" + schoolID)
    }

    /// Parses `catalog` or `school:<id>` where the id is 1–128 bytes of letters, digits, `-`, `_` or `.`.
    public init(parsing text: String) throws(SyncCoreError) {
        if text == "catalog" {
            self.init(uncheckedRawValue: text)
            return
        }
        let prefix = "school:"
        guard text.hasPrefix(prefix) else {
            throw SyncCoreError(.invalidName, "scope '\(text.prefix(80))' must be 'catalog' or 'school:<id>'")
        }
        let schoolID = text.dropFirst(prefix.count)
        let isValid =
            !schoolID.isEmpty && schoolID.utf8.count <= SyncLimits.maxIDBytes
            && schoolID.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".": true
                default: false
                }
            }
        guard isValid else {
            throw SyncCoreError(.invalidName, "school id in scope '\(text.prefix(80))' must be 1–128 characters of letters, digits, '-', '_' or '.'")
        }
        self.init(uncheckedRawValue: text)
    }

    private init(uncheckedRawValue: String) {
        rawValue = uncheckedRawValue
    }

    /// The school's id for a `school:` scope, `nil` for the catalog.
    public var schoolID: String? {
        rawValue.hasPrefix("school:") ? String(rawValue.dropFirst("school:".count)) : nil
    }

    public var description: String { rawValue }

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension Scope: TextCodable {}
