/// Why one record of a push was not stored: the `reason.code` of a `rejected` result
/// (PROTOCOL.md §6.4), or of a record a client holds back itself (§11).
///
/// A struct with static members like ``ErrorCode``, so a code added by a newer server decodes as
/// itself and breaks no client.
public struct RejectCode: WireCode {
    /// The code as it travels, e.g. `scope_denied`.
    public let rawValue: String

    /// Wraps a code read from the wire or a database; any string is kept as it is.
    public init(rawValue: String) { self.rawValue = rawValue }

    // MARK: Sent by a server (§6.4)

    /// The record's scope is not writable by the principal.
    public static let scopeDenied = RejectCode(rawValue: "scope_denied")
    /// The server stores the record under another scope, or the id names another school (§5 "Ownership").
    public static let scopeMismatch = RejectCode(rawValue: "scope_mismatch")
    /// The server does not know the collection.
    public static let unknownCollection = RejectCode(rawValue: "unknown_collection")
    /// The collection does not live in that kind of scope.
    public static let wrongScopeKind = RejectCode(rawValue: "wrong_scope_kind")
    /// Joining would give one dot two values (§3.3).
    public static let integrity = RejectCode(rawValue: "integrity")
    /// The joined state would break a limit of §10.
    public static let tooLarge = RejectCode(rawValue: "too_large")
    /// The content breaks a domain rule (DOMAIN-PROTOCOL.md); the message names the field and rule.
    public static let validation = RejectCode(rawValue: "validation")
    /// A report names a measure the catalog does not hold.
    public static let unknownMeasure = RejectCode(rawValue: "unknown_measure")
    /// An indicator value names an indicator the catalog does not hold.
    public static let unknownIndicator = RejectCode(rawValue: "unknown_indicator")
    /// The measure is not assigned to the school, or a school wrote an assignment.
    public static let notAssigned = RejectCode(rawValue: "not_assigned")
    /// The report is approved and a school's write would change it.
    public static let reportLocked = RejectCode(rawValue: "report_locked")

    /// Every code a server of version 1 sends, in PROTOCOL.md §6.4's order.
    public static let allDefined: [RejectCode] = [
        .scopeDenied, .scopeMismatch, .unknownCollection, .wrongScopeKind, .integrity, .tooLarge, .validation,
        .unknownMeasure, .unknownIndicator, .notAssigned, .reportLocked,
    ]

    // MARK: Held back by a client (§11)

    /// A local row that cannot become a record (an id with a control character, a value outside §2.2, no school).
    public static let invalidRow = RejectCode(rawValue: "invalid_row")
    /// A record whose wire form breaks §2–§3, found before sending or refused whole by the server (400 `invalid_json`).
    public static let invalidRecord = RejectCode(rawValue: "invalid_record")
    /// A record whose sync data in the local database cannot be read.
    public static let damaged = RejectCode(rawValue: "damaged")

    /// The codes a client gives records it holds back itself (§11); never sent by a server.
    public static let allLocal: [RejectCode] = [.invalidRow, .invalidRecord, .damaged]

    // MARK: Given by a client to a server's refusal that named no reject code (§11)

    /// The server refused a whole push (400 `invalid_json`) and halving the batch found this record:
    /// held back under the server's code, and lifted like a server's rejection (after an epoch
    /// reset, a new token or a server change of the record), since a server may accept it later.
    public static let refusedWhole = RejectCode(rawValue: ErrorCode.invalidJSON.rawValue)
    /// The server answered `rejected` without a reason (a server fault); lifted like any rejection.
    public static let unspecified = RejectCode(rawValue: "rejected")

    /// The codes a client gives a server's refusal; lifted as the server's own are.
    public static let allForServerRefusals: [RejectCode] = [.refusedWhole, .unspecified]

    /// Whether the client, not a server, gave this reason.
    public var isLocal: Bool { Self.allLocal.contains(self) }
}
