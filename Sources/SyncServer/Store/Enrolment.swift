import Foundation
import SyncCore

/// The store-independent rules of enrolment (PROTOCOL.md §5, §12): what makes a school, a device and
/// a user valid before any store writes them, so every engine refuses alike.
package enum Enrolment {
    /// A school's id and trimmed name.
    ///
    /// - Throws: `SyncCoreError` when `id` makes no valid `school:<id>` scope; ``StoreError`` `.invalid`
    ///   when the name is not 1–200 characters without control characters (``FreeText``).
    package static func school(id: String, name: String) throws -> SchoolInfo {
        _ = try Scope.school(id)
        return SchoolInfo(id: id, name: try self.name(name, of: "school"))
    }

    /// The trimmed name of a new principal, after checking that a device belongs to a school and a
    /// user to none.
    ///
    /// - Throws: ``StoreError`` `.invalid` when the name is not 1–200 characters or the school rule is broken.
    package static func principalName(kind: Principal.Kind, name: String, schoolID: String?) throws -> String {
        let name = try self.name(name, of: kind.rawValue)
        guard (kind == .device) == (schoolID != nil) else {
            throw StoreError(.invalid, kind == .device ? "a device belongs to a school: give its school id" : "only devices belong to a school")
        }
        return name
    }

    private static func name(_ name: String, of what: String) throws -> String {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200, !FreeText.holdsControlCharacter(name) else {
            throw StoreError(.invalid, "a \(what) needs a name of 1–200 characters without control characters (no line breaks, no NUL)")
        }
        return name
    }
}
