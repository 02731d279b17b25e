import Reporting
import SyncCore
import Testing

@Suite("Record rules: identifiers")
struct RecordRulesTests {
    @Test(
        "a period is a year or a term, in ASCII digits only",
        arguments: [
            ("2025", true), ("2025-S1", true), ("2025-S2", true),
            ("2025-S3", false), ("2025-S", false), ("202", false), ("20251", false), ("2025-s1", false),
            ("２０２５", false), ("٢٠٢٥", false), ("2025-S1 ", false), ("", false),
        ]
    )
    func period(text: String, valid: Bool) {
        #expect(RecordRules.isPeriod(text) == valid)
    }

    /// PROTOCOL.md §2.2: ids compare by their UTF-8 bytes. A KELVIN SIGN is the letter K to Swift's
    /// `==` (canonically equivalent) but not to any table, so a report id whose school segment
    /// starts with one cannot live in the scope of the school spelt with a K.
    @Test(
        "a school-owned id's school must be the scope's, byte for byte",
        arguments: [
            ("Kx/2025/m1", "Kx", true), ("\u{212A}x/2025/m1", "Kx", false),
            ("ab/2025/m1", "ac", false), ("ab/2025/m1", "abc", false), ("abc/2025/m1", "ab", false), ("qx-zhuoran/2025/m1", "qx-zhuoran", true),
        ]
    )
    func ownership(id: String, school: String, belongs: Bool) throws {
        let violation = RecordRules.ownershipViolation(key: RecordKey(collection: "reports", id: id), scope: try Scope.school(school))
        #expect((violation == nil) == belongs, "\(violation?.message ?? "no violation")")
        if !belongs { #expect(violation?.code == .scopeMismatch) }
    }

    @Test("an evidence digest is 64 lowercase hex digits")
    func digest() {
        let good = String(repeating: "0123456789abcdef", count: 4)
        #expect(RecordRules.isSHA256Hex(good))
        #expect(!RecordRules.isSHA256Hex(good.uppercased()))
        #expect(!RecordRules.isSHA256Hex(String(good.dropLast())))
        #expect(!RecordRules.isSHA256Hex(good + "0"))
        #expect(!RecordRules.isSHA256Hex(String(good.dropLast()) + "g"))
        #expect(!RecordRules.isSHA256Hex(String(good.dropLast()) + "٣"))
    }
}
