import Foundation
import SyncCore

/// The domain's rules for records a server is asked to store. Pure: what is stored elsewhere is
/// read through `lookup`, inside the caller's transaction.
///
/// Only settled values are checked: a field in conflict waits for its resolution.
public enum RecordRules {
    /// Report statuses a school may choose.
    public static let statuses: Set = ["not_started", "in_progress", "done", "at_risk"]
    /// Workflow states; only the bureau moves a report to `returned` or `approved`.
    public static let workflows: Set = ["draft", "submitted", "returned", "approved"]
    /// Report fields that belong to the review, not to the school's content.
    static let reviewFields: Set = ["approval", "review_comment", "reviewer"]
    /// The longest `proposal` a report may hold, in Unicode code points (DOMAIN-PROTOCOL.md §6.2):
    /// a client checks it before saving, and the server refuses a longer one with `validation`.
    public static let maxProposalLength = 2000

    /// Why `state` may not be stored, or `nil`.
    ///
    /// The checks run in the order of DOMAIN-PROTOCOL.md §2.3 step 3 and step 7: ownership, then the
    /// column kinds, then the collection's rules (assignments §5.2, reports §6.4, indicator values
    /// §7.4); the first failure is returned. Collections without rules (the catalog) pass.
    ///
    /// - Parameters:
    ///   - key: the record's collection and id; school-owned ids start with their school.
    ///   - scope: the scope the push names for the record.
    ///   - state: the joined state the server would store (not the pushed state alone).
    ///   - stored: the server's state before this push (`nil` for a new record).
    ///   - bySchool: whether a school device is writing (the approval lock and workflow limits apply).
    ///   - lookup: the current state of another record.
    /// - Returns: the first rule broken, with its reject code (DOMAIN-PROTOCOL.md §9), or `nil`.
    /// - Throws: only what `lookup` throws.
    public static func violation(
        key: RecordKey,
        scope: Scope,
        state: RecordState,
        stored: RecordState?,
        bySchool: Bool,
        lookup: (RecordKey) throws -> RecordState?
    ) rethrows -> RuleViolation? {
        // Ownership first and for every write, deletes included: otherwise one school could plant a
        // tombstone under another school's id and lock it out of its own record for ever.
        if let violation = ownershipViolation(key: key, scope: scope) { return violation }
        if key.collection == "assignments", bySchool {
            return RuleViolation("assignments are made by the bureau, not by schools", code: .notAssigned)
        }
        if let violation = kindViolation(key: key, state: state) { return violation }
        return switch key.collection {
        case "reports": try reportViolation(key: key, scope: scope, state: state, stored: stored, bySchool: bySchool, lookup: lookup)
        case "indicator_values": try valueViolation(key: key, scope: scope, state: state, stored: stored, bySchool: bySchool, lookup: lookup)
        // PROTOCOL.md §6.4: a school writing an assignment is refused as `not_assigned`, the code
        // for "the bureau has not given this school that measure".
        case "assignments":
            bySchool
                ? RuleViolation("assignments are made by the bureau, not by schools", code: .notAssigned)
                : copiesViolation(key: key, state: state, copies: assignmentCopies(of: key.id))
        default: nil
        }
    }

    /// A settled value whose kind its column cannot hold (DOMAIN-PROTOCOL.md): a number where text
    /// is expected would skip every text rule below and vanish from the summary unseen, so the kind
    /// is checked first, for every domain collection. Fields the schema does not know pass as they
    /// are (an older server keeps a newer client's fields, DESIGN §4 invariant 2).
    public static func kindViolation(key: RecordKey, state: RecordState) -> RuleViolation? {
        guard let schema = DomainSchema.all.first(where: { $0.name == key.collection }), state.deleted.isEmpty else { return nil }
        for column in schema.columns {
            // Each settled value is checked, whatever else is in conflict.
            guard let value = state.fields[column.name]?.settledValue else { continue }
            let fits =
                switch (column.type, value) {
                case (_, .null): true
                case (.text, .string), (.json, .string): true
                case (.integer, .int): true
                case (.real, .int), (.real, .double): true
                case (.bool, .bool): true
                default: false
                }
            if !fits {
                return RuleViolation("\(column.name) of \(key.collection) holds \(value.kindName); DOMAIN-PROTOCOL.md gives it \(column.type.kindName)")
            }
        }
        return nil
    }

    /// Fields that repeat what the id (or the catalog) already says must say the same: the summary
    /// and the school's screens read the fields, the rules read the id, and the two must not tell
    /// different stories (DOMAIN-PROTOCOL.md §2.2).
    static func copiesViolation(key: RecordKey, state: RecordState, copies: [(field: String, expected: String)]) -> RuleViolation? {
        for (field, expected) in copies {
            if let value = text(state, field), !sameBytes(value, expected) {
                return RuleViolation("\(field) is \(value) but \(key.collection)/\(key.id) says \(expected)")
            }
        }
        return nil
    }

    /// What an assignment's id `<school>/<measure>` says, for its fields to repeat.
    static func assignmentCopies(of id: String) -> [(field: String, expected: String)] {
        let pieces = id.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2 else { return [] }
        return [("school_id", String(pieces[0])), ("measure_id", String(pieces[1]))]
    }

    /// Ids and the fields that repeat them compare by their exact UTF-8 bytes (PROTOCOL.md §2.2):
    /// Swift's `==` would take a KELVIN SIGN for the letter K, while every table compares bytes.
    static func sameBytes(_ a: String?, _ b: String?) -> Bool {
        guard var a, var b else { return a == nil && b == nil }
        guard a.utf8.count == b.utf8.count else { return false }
        // Compared as two buffers: the UTF-8 views' element-by-element walk was a tenth of the
        // server's CPU in a push of reports (bench profile), each record checking several ids.
        return a.withUTF8 { first in b.withUTF8 { second in first.elementsEqual(second) } }
    }

    /// The school-owned collections and the shape of their ids: each id starts with its school.
    public static let schoolOwned: [String: String] = [
        "reports": "<school>/<period>/<measure>",
        "indicator_values": "<school>/<period>/<indicator>",
        "assignments": "<school>/<measure>",
    ]

    /// PROTOCOL.md §5 "Ownership": in a school-owned collection the id's first segment names the
    /// school, and the record's scope must be that school's. The id decides, so no write — a
    /// delete, a bureau correction — can put a record where its id says it does not belong.
    public static func ownershipViolation(key: RecordKey, scope: Scope) -> RuleViolation? {
        guard let shape = schoolOwned[key.collection] else { return nil }
        let pieces = key.id.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else {
            return RuleViolation("\(key.collection) ids are \(shape), not \(key.id)")
        }
        guard sameBytes(scope.schoolID, String(pieces[0])) else {
            return RuleViolation(
                "\(key.collection)/\(key.id) belongs to school \(pieces[0]) (its id says so); it cannot live in \(scope)",
                code: .scopeMismatch
            )
        }
        return nil
    }

    /// `<school>/<period>/<item>`, where the item may itself contain slashes.
    static func parts(of id: String) -> (school: String, period: String, item: String)? {
        let pieces = id.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, !pieces[0].isEmpty, !pieces[2].isEmpty, isPeriod(String(pieces[1])) else { return nil }
        return (String(pieces[0]), String(pieces[1]), String(pieces[2]))
    }

    /// A term like `2025-S1` or a year like `2025`, in ASCII digits (a regex's `\d` would also take
    /// full-width and other scripts' digits, and compiling one per pushed record showed in profiles).
    public static func isPeriod(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 4 || bytes.count == 7, bytes.prefix(4).allSatisfy(isASCIIDigit) else { return false }
        return bytes.count == 4
            || (bytes[4] == UInt8(ascii: "-") && bytes[5] == UInt8(ascii: "S") && (bytes[6] == UInt8(ascii: "1") || bytes[6] == UInt8(ascii: "2")))
    }

    /// A SHA-256 digest as 64 lowercase hex digits.
    public static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { isASCIIDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    static func text(_ state: RecordState, _ field: String) -> String? {
        if case .string(let text)? = state.value(of: field) { return text }
        return nil
    }

    static func exists(_ state: RecordState?) -> Bool {
        guard let state else { return false }
        return !state.isEmpty && !state.isDeleted
    }

    private static func reportViolation(
        key: RecordKey,
        scope: Scope,
        state: RecordState,
        stored: RecordState?,
        bySchool: Bool,
        lookup: (RecordKey) throws -> RecordState?
    ) rethrows -> RuleViolation? {
        guard let parts = parts(of: key.id), sameBytes(parts.school, scope.schoolID) else {
            return RuleViolation("a report's id is <school>/<period>/<measure> of its own school (period like 2025-S1 or 2025), not \(key.id)")
        }
        // Before the delete shortcut below: deleting or emptying an approved report is an edit too.
        if bySchool {
            if let stored, let violation = lockViolation(report: stored, incoming: state, reportID: key.id) { return violation }
            if let violation = reviewViolation(incoming: state, stored: stored) { return violation }
        }
        guard state.hasCurrentValues || state.isConflicted else { return nil }  // deleted: nothing more to check
        if let violation = copiesViolation(key: key, state: state, copies: [("school_id", parts.school), ("period", parts.period), ("measure_id", parts.item)]) {
            return violation
        }
        guard exists(try lookup(RecordKey(collection: "measures", id: parts.item))) else {
            return RuleViolation(
                "there is no measure \(parts.item) in the catalog; sync to fetch it, then pick one from 'schoolsync measures'",
                code: .unknownMeasure
            )
        }
        guard exists(try lookup(RecordKey(collection: "assignments", id: "\(parts.school)/\(parts.item)"))) else {
            return RuleViolation(
                "measure \(parts.item) is not assigned to school \(parts.school); ask the bureau if it should be",
                code: .notAssigned
            )
        }
        if let status = text(state, "status"), !statuses.contains(status) {
            return RuleViolation("status must be one of \(statuses.sorted().joined(separator: ", ")), not \(status)")
        }
        if state.value(of: "status").map({ if case .string = $0 { false } else { $0 != .null } }) == true {
            return RuleViolation("status must be text")
        }
        let workflow = text(state, "workflow")
        if let workflow, !workflows.contains(workflow) {
            return RuleViolation("workflow must be one of \(workflows.sorted().joined(separator: ", ")), not \(workflow)")
        }
        let storedWorkflow = stored.flatMap { text($0, "workflow") }
        if bySchool, let workflow, workflow != storedWorkflow, workflow == "approved" || workflow == "returned" {
            return RuleViolation("only the bureau approves or returns a report; a school submits it")
        }
        if let evidence = text(state, "evidence"), !isEvidenceList(evidence) {
            return RuleViolation("evidence must be a list of {\"name\": …, \"sha256\": 64 hex digits, \"size\": bytes, \"type\": a §13.1 type}")
        }
        if let proposal = text(state, "proposal"), !isAcceptableProposal(proposal) {
            return RuleViolation("建议不能超过2000字，也不能含U+0000（proposal is at most 2,000 characters, without U+0000）")
        }
        return nil
    }

    /// Whether `text` may be a report's `proposal` (DOMAIN-PROTOCOL.md §6.4 rule 12): at most
    /// ``maxProposalLength`` Unicode code points — code points, not grapheme clusters, so every
    /// implementation counts alike whatever its Unicode version — and no U+0000.
    ///
    /// For example, a client checks a proposal before it saves it:
    ///
    /// ```swift
    /// guard RecordRules.isAcceptableProposal(text) else { throw … }
    /// ```
    public static func isAcceptableProposal(_ text: String) -> Bool {
        var count = 0
        for scalar in text.unicodeScalars {
            count += 1
            if count > maxProposalLength || scalar == "\u{0}" { return false }
        }
        return true
    }

    private static func valueViolation(
        key: RecordKey,
        scope: Scope,
        state: RecordState,
        stored: RecordState?,
        bySchool: Bool,
        lookup: (RecordKey) throws -> RecordState?
    ) rethrows -> RuleViolation? {
        guard let parts = parts(of: key.id), sameBytes(parts.school, scope.schoolID) else {
            return RuleViolation("an indicator value's id is <school>/<period>/<indicator> of its own school, not \(key.id)")
        }
        if !(state.hasCurrentValues || state.isConflicted) {
            // A delete: only the approval lock applies (a deleted value has nothing else to check).
            guard bySchool, let indicator = try lookup(RecordKey(collection: "indicators", id: parts.item)) else { return nil }
            let measure = text(indicator, "measure_id") ?? ""
            let reportID = "\(parts.school)/\(parts.period)/\(measure)"
            guard let report = try lookup(RecordKey(collection: "reports", id: reportID)) else { return nil }
            return lockViolation(report: report, incoming: state, reportID: reportID, stored: stored ?? RecordState())
        }
        guard let indicator = try lookup(RecordKey(collection: "indicators", id: parts.item)), exists(indicator) else {
            return RuleViolation("there is no indicator \(parts.item) in the catalog", code: .unknownIndicator)
        }
        let measure = text(indicator, "measure_id") ?? ""
        guard exists(try lookup(RecordKey(collection: "assignments", id: "\(parts.school)/\(measure)"))) else {
            return RuleViolation(
                "indicator \(parts.item) belongs to measure \(measure), which is not assigned to school \(parts.school)",
                code: .notAssigned
            )
        }
        let copies = [("school_id", parts.school), ("period", parts.period), ("indicator_id", parts.item), ("measure_id", measure)]
        if let violation = copiesViolation(key: key, state: state, copies: copies) { return violation }
        let kind = text(indicator, "value_kind").flatMap(IndicatorKind.init(rawValue:)) ?? .count
        if let value = text(state, "value"), case .failure(let violation) = IndicatorValue.parse(value, kind: kind) {
            return RuleViolation("\(parts.item) (\(text(indicator, "name") ?? "")): \(violation.message)")
        }
        if bySchool, let report = try lookup(RecordKey(collection: "reports", id: "\(parts.school)/\(parts.period)/\(measure)")),
            let violation = lockViolation(
                report: report,
                incoming: state,
                reportID: "\(parts.school)/\(parts.period)/\(measure)",
                stored: stored ?? RecordState()
            )
        {
            return violation
        }
        return nil
    }

    /// DESIGN §4 invariant 8: while a report is approved, a school changes nothing the bureau
    /// approved. `incoming` is the joined state a push would store; `stored` is what the server
    /// holds for the record being written (the report itself, or one of its indicator values —
    /// empty when the value is new). Any visible difference — a field's values, a field that
    /// disappears (a state that drops values without a delete), a delete — is a content edit the
    /// approval did not cover. A write that restores the stored values (a discard, invariant 5)
    /// changes nothing visible, so it passes.
    static func lockViolation(report: RecordState, incoming: RecordState, reportID: String, stored: RecordState? = nil) -> RuleViolation? {
        guard text(report, "workflow") == "approved" else { return nil }
        let before = stored ?? report
        guard changesContent(from: before, to: incoming) else { return nil }
        return RuleViolation(
            "the bureau approved report \(reportID); this edit arrived after the approval. Discard it (schoolsync report discard) or ask the bureau to return the report",
            code: .reportLocked
        )
    }

    /// Whether `after` shows anything other than `before`: deletion, or any field's set of values.
    static func changesContent(from before: RecordState, to after: RecordState, ignoring ignored: Set<String> = []) -> Bool {
        if before.isDeleted != after.isDeleted { return true }
        let names = Set(before.fields.keys).union(after.fields.keys).subtracting(ignored)
        return names.contains { values(before, $0) != values(after, $0) }
    }

    /// A field's values; an absent field reads as null, as a discard writes it (invariant 5).
    private static func values(_ state: RecordState, _ field: String) -> Set<Value> {
        let values = Set(state.fields[field]?.entries.map(\.value) ?? [])
        return values.isEmpty ? [.null] : values
    }

    /// The review fields (`approval`, `review_comment`, `reviewer`) are the bureau's: a school's
    /// push may carry them only as the server holds them.
    static func reviewViolation(incoming: RecordState, stored: RecordState?) -> RuleViolation? {
        let before = stored ?? RecordState()
        guard let field = reviewFields.sorted().first(where: { values(before, $0) != values(incoming, $0) }) else { return nil }
        return RuleViolation("\(field) is written by the bureau when it reviews a report, not by a school")
    }

    /// The context an approval recorded: `{"context": {<replica>: <counter>}}`.
    public static func approvedContext(_ text: String) -> VersionVector? {
        struct Approval: Decodable { let context: VersionVector }
        return try? JSONDecoder().decode(Approval.self, from: Data(text.utf8)).context
    }

    /// The JSON an approval stores: the context of the report the bureau looked at.
    public static func approvalJSON(for context: VersionVector) -> String {
        struct Approval: Encodable { let context: VersionVector }
        return (try? String(decoding: CanonicalJSON.encode(Approval(context: context)), as: UTF8.self)) ?? "{}"
    }

    /// Whether `text` is an evidence list (DOMAIN-PROTOCOL.md §6, PROTOCOL.md §13): a JSON array of
    /// objects, each with a non-empty string `name` and a `sha256` of 64 lowercase hex digits, and
    /// optionally `size` (a whole number of 1 … 25 MiB bytes) and `type` (one of §13.1's types);
    /// any other member must be a string.
    static func isEvidenceList(_ text: String) -> Bool {
        guard let items = try? JSONDecoder().decode([[String: EvidenceMember]].self, from: Data(text.utf8)) else { return false }
        return items.allSatisfy { item in
            guard case .text(let name)? = item["name"], !name.isEmpty, case .text(let hash)? = item["sha256"], isSHA256Hex(hash) else {
                return false
            }
            return item.allSatisfy { key, member in
                switch (key, member) {
                case ("size", .number(let size)): size >= 1 && size <= Double(EvidenceLimits.maxFileBytes) && size.rounded() == size
                case ("type", .text(let type)): EvidenceType(rawValue: type) != nil
                case ("size", _), ("type", _): false
                case (_, .text): true
                case (_, .number): false
                }
            }
        }
    }

    /// A member of an evidence item: text, or a number (only `size` may be one).
    private enum EvidenceMember: Decodable {
        case text(String)
        case number(Double)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .number(try container.decode(Double.self))
            }
        }
    }
}

extension Value {
    /// The value's kind as PROTOCOL.md §2.2 names it.
    var kindName: String {
        switch self {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a double"
        case .bool: "a bool"
        case .null: "null"
        }
    }
}

extension CollectionSchema.ColumnType {
    /// The value kinds a column of this type holds, as DOMAIN-PROTOCOL.md says them.
    var kindName: String {
        switch self {
        case .text: "a string"
        case .json: "a string holding JSON"
        case .integer: "an integer"
        case .real: "a number (int or double)"
        case .bool: "a bool"
        }
    }
}
