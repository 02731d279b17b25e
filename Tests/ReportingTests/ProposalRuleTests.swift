import Reporting
import SyncCore
import Testing

/// DOMAIN-PROTOCOL.md §6.4 rule 12: a report's `proposal` is at most 2,000 characters (code points)
/// without U+0000, and the approval lock covers it like any other field.
@Suite("Record rules: a school's proposal")
struct ProposalRuleTests {
    let school = ReplicaID(high: 1, low: 1)
    let store = ReplicaID(high: 3, low: 3)
    let key = RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/qixing-2024.goals.m1")

    /// The rules' verdict on a school writing `proposal` on top of a stored report in `workflow`.
    func violation(proposal: Value, workflow: String = "draft") throws -> RuleViolation? {
        var stored = RecordState()
        try stored.write(["narrative": .string("两所幼儿园已开工"), "workflow": .string(workflow)], by: store)
        var state = stored
        try state.write(["proposal": proposal], by: school)
        let catalog: [RecordKey: RecordState] = [
            RecordKey(collection: "measures", id: "qixing-2024.goals.m1"): try Self.record(["title": .string("工作目标")], by: store),
            RecordKey(collection: "assignments", id: "qx-zhuoran/qixing-2024.goals.m1"): try Self.record(["note": .string("")], by: store),
        ]
        return RecordRules.violation(
            key: key,
            scope: try Scope.school("qx-zhuoran"),
            state: state,
            stored: stored,
            bySchool: true,
            lookup: { catalog[$0] }
        )
    }

    static func record(_ values: [String: Value], by replica: ReplicaID) throws -> RecordState {
        var state = RecordState()
        try state.write(values, by: replica)
        return state
    }

    /// Proposals to try, named so that a test's log shows the name, not 2,000 characters.
    enum Sample: String, CaseIterable, CustomTestStringConvertible {
        case withLineBreaks, longest, longestInCombiningMarks, empty
        case tooLong, tooLongInCombiningMarks, endingInNUL, onlyNUL

        var text: String {
            switch self {
            case .withLineBreaks: "建议采用 教务处 的数字：narrative=«两所幼儿园已开工»。\n备注：校长室的数字是三月的。"
            case .longest: String(repeating: "议", count: RecordRules.maxProposalLength)
            // 2,000 code points in 1,000 grapheme clusters: the count is of code points.
            case .longestInCombiningMarks: String(repeating: "e\u{301}", count: RecordRules.maxProposalLength / 2)
            case .empty: ""
            case .tooLong: String(repeating: "议", count: RecordRules.maxProposalLength + 1)
            // 1,001 grapheme clusters but 2,002 code points.
            case .tooLongInCombiningMarks: String(repeating: "e\u{301}", count: RecordRules.maxProposalLength / 2 + 1)
            case .endingInNUL: "采用教务处的数字\u{0}"
            case .onlyNUL: "\u{0}"
            }
        }

        var testDescription: String { rawValue }
    }

    @Test(
        "a proposal of up to 2,000 code points, line breaks included, is accepted",
        arguments: [Sample.withLineBreaks, .longest, .longestInCombiningMarks, .empty]
    )
    func accepted(sample: Sample) throws {
        #expect(RecordRules.isAcceptableProposal(sample.text))
        let violation = try violation(proposal: .string(sample.text))
        #expect(violation == nil, "\(violation?.message ?? "")")
    }

    @Test(
        "a proposal that is too long or holds U+0000 is refused as validation",
        arguments: [Sample.tooLong, .tooLongInCombiningMarks, .endingInNUL, .onlyNUL]
    )
    func refused(sample: Sample) throws {
        #expect(!RecordRules.isAcceptableProposal(sample.text))
        let violation = try #require(try violation(proposal: .string(sample.text)))
        #expect(violation.code == .validation)
        #expect(violation.message.hasPrefix("建议"))
        #expect(violation.message.contains("proposal is at most 2,000 characters"))
    }

    @Test("a proposal that is not text is refused by its column's kind; null clears it")
    func kinds() throws {
        #expect(try violation(proposal: .int(1))?.code == .validation)
        #expect(try violation(proposal: .null) == nil)
    }

    @Test("the approval lock covers a school's proposal")
    func locked() throws {
        #expect(try violation(proposal: .string("建议采用 校长室 的数字"), workflow: "approved")?.code == .reportLocked)
    }
}
