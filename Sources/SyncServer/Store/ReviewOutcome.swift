import Reporting
import SyncCore

/// What a review of a report through ``SyncStore/review(_:expecting:transition:by:rules:at:)`` came to.
public enum ReviewOutcome: Sendable {
    /// The move was written; here is the record as stored now.
    case reviewed(SyncRecord)
    /// The record changed since the reviewer was shown it (its context is not the one expected);
    /// nothing was written. Here it is as it is now, to be shown again.
    case stale(SyncRecord)
    /// The workflow does not allow the move now (no such report, in conflict, a state that does not
    /// allow it, no comment); nothing was written.
    case refused(ReportWorkflowError)
    /// The domain rules refuse the write, as they would refuse it in a push; nothing was written.
    case rejected(RejectReason)
}
