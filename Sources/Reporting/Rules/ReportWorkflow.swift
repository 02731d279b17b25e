import Foundation
import SyncCore

/// The moves of a report's workflow (DOMAIN-PROTOCOL.md §6.3): a school submits, the bureau
/// approves or returns with a comment. Pure: each takes the report's current state and answers the
/// fields of the one write that makes the move, or why it may not be made now.
///
/// The CLI (`schoolsync report submit`, `schoolsync bureau approve|return`) and the server's review
/// pages make the same moves through these functions.
///
/// For example:
///
/// ```swift
/// let fields = try ReportWorkflow.approve(record.state, reportID: key.id, reviewer: "七星区教育局")
/// try await replica.write(key, fields)
/// ```
public enum ReportWorkflow {
    /// A move, with who makes it: what a server-side review is asked to apply.
    public enum Transition: Sendable, Hashable {
        /// The school submits the report to the bureau.
        case submit(author: String)
        /// The bureau approves a submitted report; later school edits are refused until it is returned.
        case approve(reviewer: String)
        /// The bureau returns a submitted or approved report to the school with a comment.
        case `return`(comment: String, reviewer: String)
    }

    /// The longest review comment, in characters (the same bound as a resolution's reason).
    public static let maxCommentLength = 2000

    /// The fields of the write that makes `transition` on `state` (`nil`: no such report).
    ///
    /// - Parameters:
    ///   - transition: the move: submit, approve or return.
    ///   - state: the report as it stands, or `nil` when there is none.
    ///   - reportID: the report's id, `<school>/<period>/<measure>`, for the error's message.
    ///   - time: when the move is made; only a submission records it (`submitted_at`).
    /// - Throws: ``ReportWorkflowError`` naming what stands in the way.
    public static func fields(
        for transition: Transition,
        of state: RecordState?,
        reportID: String,
        at time: Date
    ) throws(ReportWorkflowError) -> [String: Value] {
        switch transition {
        case .submit(let author): try submit(state, reportID: reportID, author: author, at: time)
        case .approve(let reviewer): try approve(state, reportID: reportID, reviewer: reviewer)
        case .return(let comment, let reviewer): try self.return(state, reportID: reportID, comment: comment, reviewer: reviewer)
        }
    }

    /// The school submits: `workflow` `submitted`, `submitted_at` (ISO 8601, UTC) and `author`.
    ///
    /// A report may be submitted while it is a draft, returned, or submitted already (submitting
    /// again is harmless); an approved report is locked until the bureau returns it.
    public static func submit(_ state: RecordState?, reportID: String, author: String, at time: Date) throws(ReportWorkflowError) -> [String: Value] {
        try require(state, reportID: reportID, in: [nil, "draft", "returned", "submitted"], for: "submitting")
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return ["workflow": .string("submitted"), "submitted_at": .string(formatter.string(from: time)), "author": .string(author)]
    }

    /// The bureau approves a settled, submitted report: `workflow` `approved`, `reviewer`, and
    /// `approval`, the context it approved — the report's context as the reviewer saw it (DESIGN
    /// §4 invariant 8), so the approval lock knows what it covers.
    public static func approve(_ state: RecordState?, reportID: String, reviewer: String) throws(ReportWorkflowError) -> [String: Value] {
        let state = try require(state, reportID: reportID, in: ["submitted"], for: "approving")
        return [
            "workflow": .string("approved"), "approval": .string(RecordRules.approvalJSON(for: state.context)), "reviewer": .string(reviewer),
        ]
    }

    /// The bureau returns a submitted or approved report (which unlocks it) with a comment for the
    /// school: `workflow` `returned`, `review_comment` (trimmed) and `reviewer`.
    public static func `return`(
        _ state: RecordState?,
        reportID: String,
        comment: String,
        reviewer: String
    ) throws(ReportWorkflowError) -> [String: Value] {
        try require(state, reportID: reportID, in: ["submitted", "approved"], for: "returning")
        let comment = comment.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !comment.isEmpty, comment.count <= maxCommentLength, !comment.unicodeScalars.contains("\u{0}") else {
            throw ReportWorkflowError(
                .emptyComment,
                "returning report \(reportID) needs a comment of 1–\(maxCommentLength) characters saying what the school should change"
            )
        }
        return ["workflow": .string("returned"), "review_comment": .string(comment), "reviewer": .string(reviewer)]
    }

    /// The report's settled workflow (`nil` when it has none), once it exists, is not deleted and is
    /// not in conflict; throws unless that workflow is one of `allowed`.
    @discardableResult
    private static func require(
        _ state: RecordState?,
        reportID: String,
        in allowed: Set<String?>,
        for move: String
    ) throws(ReportWorkflowError) -> RecordState {
        guard let state, !state.isEmpty else { throw ReportWorkflowError(.missing, "there is no report \(reportID)") }
        guard !state.isDeleted else { throw ReportWorkflowError(.missing, "report \(reportID) was deleted") }
        guard !state.isConflicted else {
            throw ReportWorkflowError(.conflicted, "report \(reportID) is in conflict; an administrator must resolve it first")
        }
        let workflow: String? = if case .string(let text)? = state.value(of: "workflow") { text } else { nil }
        guard allowed.contains(workflow) else {
            let names = allowed.compactMap { $0 }.sorted()
            let needed = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "") : names.joined()
            throw ReportWorkflowError(.wrongState, "report \(reportID) is \(workflow ?? "not started"); \(move) needs it \(needed)", workflow: workflow)
        }
        return state
    }
}

/// Why a workflow move may not be made now: a ``Code`` and a message naming the report, its state
/// and what the move needs.
public struct ReportWorkflowError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What stands in the way.
    public enum Code: String, Sendable, Hashable {
        /// There is no such report, or it was deleted.
        case missing
        /// The report is in conflict: an administrator must resolve it first.
        case conflicted
        /// The report's workflow does not allow the move (``ReportWorkflowError/workflow`` says which it is).
        case wrongState
        /// A return without a usable comment (blank, or longer than ``ReportWorkflow/maxCommentLength``).
        case emptyComment
    }

    /// What stands in the way.
    public var code: Code
    /// What is wrong and what the move needs, naming the report.
    public var message: String
    /// For ``Code/wrongState``: the report's workflow (`nil` when it has none).
    public var workflow: String?

    /// Makes an error.
    public init(_ code: Code, _ message: String, workflow: String? = nil) {
        self.code = code
        self.message = message
        self.workflow = workflow
    }

    public var description: String { message }
}
