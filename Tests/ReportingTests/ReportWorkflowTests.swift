import Foundation
import Reporting
import SyncCore
import Testing

/// DOMAIN-PROTOCOL.md §6.3: what each workflow move writes, and what stops it.
@Suite("Report workflow")
struct ReportWorkflowTests {
    let school = ReplicaID(high: 1, low: 1)
    let bureau = ReplicaID(high: 2, low: 2)
    let id = "qx-zhuoran/2025-S1/qixing-2024.goals.m1"

    func report(_ workflow: String?, narrative: String = "已完成选址") throws -> RecordState {
        var state = RecordState()
        var values: [String: Value] = ["narrative": .string(narrative), "status": .string("done")]
        if let workflow { values["workflow"] = .string(workflow) }
        try state.write(values, by: school)
        return state
    }

    @Test("a submission writes the workflow, the time in UTC and the author")
    func submit() throws {
        let time = Date(timeIntervalSince1970: 1_751_358_600)  // 2025-07-01T08:30:00Z
        for workflow in [nil, "draft", "returned", "submitted"] {
            let fields = try ReportWorkflow.submit(try report(workflow), reportID: id, author: "卓然 教务处 PC", at: time)
            #expect(fields == ["workflow": .string("submitted"), "submitted_at": .string("2025-07-01T08:30:00Z"), "author": .string("卓然 教务处 PC")])
        }
    }

    @Test("an approved report cannot be submitted until it is returned")
    func submitApproved() throws {
        let error = #expect(throws: ReportWorkflowError.self) {
            try ReportWorkflow.submit(try report("approved"), reportID: id, author: "a", at: Date())
        }
        #expect(error?.code == .wrongState && error?.workflow == "approved")
        #expect(error?.message == "report \(id) is approved; submitting needs it draft, returned or submitted")
    }

    @Test("an approval records the context the reviewer saw (invariant 8)")
    func approve() throws {
        let state = try report("submitted")
        let fields = try ReportWorkflow.approve(state, reportID: id, reviewer: "区教育局")
        #expect(fields["workflow"] == .string("approved") && fields["reviewer"] == .string("区教育局"))
        guard case .string(let approval)? = fields["approval"] else { throw WorkflowTestError("no approval") }
        #expect(RecordRules.approvedContext(approval) == state.context)
        #expect(approval == RecordRules.approvalJSON(for: state.context))
    }

    @Test("only a submitted report can be approved", arguments: [nil, "draft", "returned", "approved"])
    func approveNeedsSubmitted(workflow: String?) throws {
        let error = #expect(throws: ReportWorkflowError.self) { try ReportWorkflow.approve(try report(workflow), reportID: id, reviewer: "r") }
        #expect(error?.code == .wrongState)
        #expect(error?.message == "report \(id) is \(workflow ?? "not started"); approving needs it submitted")
    }

    @Test("a return writes the trimmed comment and the reviewer, from submitted or approved")
    func returnWithComment() throws {
        for workflow in ["submitted", "approved"] {
            let fields = try ReportWorkflow.return(try report(workflow), reportID: id, comment: "  请补充照片\n", reviewer: "区教育局")
            #expect(fields == ["workflow": .string("returned"), "review_comment": .string("请补充照片"), "reviewer": .string("区教育局")])
        }
        let draft = #expect(throws: ReportWorkflowError.self) {
            try ReportWorkflow.return(try report("draft"), reportID: id, comment: "c", reviewer: "r")
        }
        #expect(draft?.message == "report \(id) is draft; returning needs it approved or submitted")
    }

    @Test("a return needs a comment", arguments: ["", "   \n", String(repeating: "长", count: 2001), "a\u{0}b"])
    func returnNeedsComment(comment: String) throws {
        let error = #expect(throws: ReportWorkflowError.self) {
            try ReportWorkflow.return(try report("submitted"), reportID: id, comment: comment, reviewer: "r")
        }
        #expect(error?.code == .emptyComment)
    }

    @Test("no move is made on a missing, deleted or conflicted report")
    func missingDeletedConflicted() throws {
        let moves: [ReportWorkflow.Transition] = [.submit(author: "a"), .approve(reviewer: "r"), .return(comment: "c", reviewer: "r")]
        var deleted = try report("submitted")
        try deleted.delete(by: school)
        var other = RecordState()
        try other.write(["workflow": .string("submitted"), "narrative": .string("另一个版本")], by: bureau)
        let conflicted = try report("submitted").joined(with: other)
        #expect(conflicted.isConflicted)
        for move in moves {
            let missing = #expect(throws: ReportWorkflowError.self) { try ReportWorkflow.fields(for: move, of: nil, reportID: id, at: Date()) }
            #expect(missing?.code == .missing && missing?.message == "there is no report \(id)")
            let gone = #expect(throws: ReportWorkflowError.self) { try ReportWorkflow.fields(for: move, of: deleted, reportID: id, at: Date()) }
            #expect(gone?.code == .missing && gone?.message == "report \(id) was deleted")
            let contested = #expect(throws: ReportWorkflowError.self) { try ReportWorkflow.fields(for: move, of: conflicted, reportID: id, at: Date()) }
            #expect(contested?.code == .conflicted)
            #expect(contested?.message.contains("an administrator must resolve it first") == true)
        }
    }

    @Test("fields(for:) makes the same move as the named function")
    func transitionDispatch() throws {
        let state = try report("submitted")
        let time = Date(timeIntervalSince1970: 0)
        #expect(try ReportWorkflow.fields(for: .approve(reviewer: "r"), of: state, reportID: id, at: time) == ReportWorkflow.approve(state, reportID: id, reviewer: "r"))
        #expect(
            try ReportWorkflow.fields(for: .return(comment: "c", reviewer: "r"), of: state, reportID: id, at: time)
                == ReportWorkflow.return(state, reportID: id, comment: "c", reviewer: "r")
        )
        #expect(
            try ReportWorkflow.fields(for: .submit(author: "a"), of: state, reportID: id, at: time)
                == ReportWorkflow.submit(state, reportID: id, author: "a", at: time)
        )
    }
}

struct WorkflowTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
