import Foundation
import Reporting
import SyncClient
import SyncCore

/// A school's reports over its local replica: what is due, one report as a form shows it, and the
/// edits a school makes — save, submit, propose — with the domain's rules applied before anything
/// is written (DOMAIN-PROTOCOL.md §6–§7, through ``Reporting``).
///
/// The one write path of a school's front ends: `schoolsync report …` and the workbench
/// (`schoolsync ui`) both call it, so a rule checked here holds for both. Works offline: it only
/// reads and writes the replica; ``SyncEngine`` sends what it wrote.
///
/// For example:
///
/// ```swift
/// let book = ReportBook(replica: try LocalReplica(path: "school.sqlite", schemas: DomainSchema.all))
/// var edit = ReportEdit(measure: "qixing-2024/m6.1", period: "2025-S1")
/// edit.values["qixing-2024/i1"] = .ratio(numerator: "1126", denominator: "1000")
/// try await book.save(edit)
/// ```
public struct ReportBook: Sendable {
    /// The school device's replica.
    public let replica: LocalReplica
    /// Today, as the device's clock says; due dates compare with it (display only, nothing synced depends on it).
    public var clock: @Sendable () -> Date

    /// A book over `replica`; `clock` is the device's clock.
    public init(replica: LocalReplica, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.replica = replica
        self.clock = clock
    }

    /// Who this device writes as: its school and its name.
    public struct Enrolment: Sendable, Hashable {
        /// The school's id, e.g. `qx-zhuoran`.
        public var school: String
        /// The device's name as the server gave it at enrolment (written as a report's `author`).
        public var device: String
        /// This replica's id, to tell this device's values from others' in a conflict.
        public var replica: ReplicaID
    }

    /// The device's school and name.
    ///
    /// - Throws: ``ReportBookError/Code/notEnrolled`` when the replica is not a school device's.
    public func enrolment() async throws -> Enrolment {
        guard let settings = try await replica.settings(), let school = settings.schoolID else {
            throw ReportBookError(.notEnrolled, "这台电脑还没有登记为学校设备；请先运行 schoolsync init（\(replica.path) is not enrolled as a school device; run 'schoolsync init' with a device token）")
        }
        return Enrolment(school: school, device: settings.deviceName, replica: settings.replica)
    }

    /// The report's key: `reports` / `<school>/<period>/<measure>` (DOMAIN-PROTOCOL.md §6.1).
    public static func reportKey(school: String, period: String, measure: String) -> RecordKey {
        RecordKey(collection: "reports", id: "\(school)/\(period)/\(measure)")
    }

    /// An indicator value's key: `indicator_values` / `<school>/<period>/<indicator>` (DOMAIN-PROTOCOL.md §7.1).
    public static func valueKey(school: String, period: String, indicator: String) -> RecordKey {
        RecordKey(collection: "indicator_values", id: "\(school)/\(period)/\(indicator)")
    }

    /// Today as `YYYY-MM-DD` in UTC+8 (China Standard Time: the bureau's due dates are its days).
    public func today() -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day], from: clock())
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }
}

/// Why a school's edit or read could not be made, with what to do — Chinese first, as the
/// workbench shows it; the CLI prints it as it is.
public struct ReportBookError: Error, Sendable, CustomStringConvertible {
    /// What kind of refusal it is.
    public enum Code: String, Sendable, Hashable {
        /// The replica is not a school device's.
        case notEnrolled
        /// No such measure, or not this school's (sync first).
        case unknownMeasure
        /// No such indicator, or it belongs to another measure.
        case unknownIndicator
        /// Values break the domain's rules; ``ReportBookError/problems`` says which.
        case invalid
        /// The report or one of its values changed since the form was opened (another device's
        /// values arrived, another program edited the table): nothing was written.
        case changedMeanwhile
        /// The report is approved (DESIGN §4 invariant 8): the bureau must return it first.
        case locked
        /// A field to change is in conflict: an administrator settles it first.
        case conflicted
        /// The workflow does not allow the move now (``ReportWorkflowError``).
        case workflow
        /// There is no report yet.
        case missing
        /// The sync data of the report or of one of its values on this device cannot be read
        /// (another program changed it): nothing was written; discarding the local changes takes
        /// the server's copy again.
        case damaged
    }

    /// What kind of refusal it is.
    public var code: Code
    /// What is wrong and what to do.
    public var message: String
    /// For ``Code/invalid``: the field (`status`, `narrative`, `proposal`, or an indicator id) → what is wrong with it.
    public var problems: [String: String]

    /// Makes an error.
    public init(_ code: Code, _ message: String, problems: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.problems = problems
    }

    public var description: String { message }
}
