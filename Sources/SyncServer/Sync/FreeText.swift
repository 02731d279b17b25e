import Foundation

/// Text people type that the store keeps — names of schools, devices and users, a resolution's
/// reason, a client's label — held to what every store can keep and every page can show.
///
/// PostgreSQL's `text` cannot hold U+0000, so a NUL would fail a write that SQLite takes: the rule is
/// checked before any store sees the text, and both stores refuse alike (PROTOCOL.md §6.1, §12).
package enum FreeText {
    /// Whether `text` holds a control character (Unicode's Cc: U+0000–U+001F, U+007F–U+009F),
    /// which a one-line name or label has no use for.
    package static func holdsControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
    }

    /// A resolution's reason as kept in the history: trimmed, 1–2000 characters, without U+0000
    /// (line breaks are welcome); `nil` when it breaks the rule.
    package static func reason(_ text: String) -> String? {
        let reason = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 2000, !reason.unicodeScalars.contains("\u{0}") else { return nil }
        return reason
    }
}
