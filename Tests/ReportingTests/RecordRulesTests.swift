import Reporting
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
