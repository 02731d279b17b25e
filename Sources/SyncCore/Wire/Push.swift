/// A client-chosen id that makes a push idempotent: 1–64 characters of `A-Z a-z 0-9 - _`.
public struct BatchID: Sendable, Hashable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// Validates a batch id.
    public init(parsing text: String) throws(SyncCoreError) {
        let isValid =
            (1...64).contains(text.utf8.count)
            && text.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", "_": true
                default: false
                }
            }
        guard isValid else {
            throw SyncCoreError(.invalidName, "batch id '\(text.prefix(80))' must be 1–64 characters of letters, digits, '-' or '_'")
        }
        rawValue = text
    }

    /// A fresh random batch id (32 hex digits).
    public static func random() -> BatchID {
        BatchID(unchecked: ReplicaID.random().description)
    }

    /// A random batch id from the given generator.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> BatchID {
        BatchID(unchecked: ReplicaID.random(using: &generator).description)
    }

    private init(unchecked: String) { rawValue = unchecked }

    public var description: String { rawValue }
}

extension BatchID: TextCodable {}

/// What the server hands a replica after each accepted push: `<epoch>.<sequence>`.
///
/// The replica sends the last receipt it holds with every push and pull, so the server can tell a
/// replica that forgot an acknowledged push (a restored or copied database) from one that did not
/// (DESIGN §4 invariant 1).
public struct PushReceipt: Sendable, Hashable, CustomStringConvertible {
    /// The store life that issued the receipt.
    public var epoch: Epoch
    /// How many pushes of this replica the server has accepted in this epoch.
    public var sequence: UInt64

    /// Makes a receipt.
    public init(epoch: Epoch, sequence: UInt64) {
        self.epoch = epoch
        self.sequence = sequence
    }

    /// Parses `<epoch>.<sequence>`. Any unsigned 64-bit sequence parses: one the server never
    /// issued is simply not the replica's receipt (PROTOCOL.md §6.3 answers it `replica_stale`).
    ///
    /// - Throws: ``SyncCoreError/Code/invalidName`` when the text is not of that form.
    public init(parsing text: String) throws(SyncCoreError) {
        let (epoch, sequence) = try Cursor.parts(of: text, naming: "push receipt", "as returned by a push")
        self.init(epoch: epoch, sequence: sequence)
    }

    public var description: String { "\(epoch).\(sequence)" }
}

extension PushReceipt: TextCodable {}

/// `POST /v1/push`: the whole states of a replica's dirty records.
public struct PushRequest: Sendable, Hashable {
    /// The idempotency id; a retry of the same push reuses it.
    public var batch: BatchID
    /// The pushing replica.
    public var replica: ReplicaID
    /// The last receipt this replica holds for the server's current epoch; `nil` before its first push.
    public var receipt: PushReceipt?
    /// The client's name and version, for the server's device list (e.g. `schoolsync/0.1.0`).
    public var client: String?
    /// The records, each whole.
    public var records: [SyncRecord]

    /// Makes a push request.
    public init(batch: BatchID, replica: ReplicaID, receipt: PushReceipt?, client: String? = nil, records: [SyncRecord]) {
        self.batch = batch
        self.replica = replica
        self.receipt = receipt
        self.client = client
        self.records = records
    }
}

extension PushRequest: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case batch
        case replica
        case receipt
        case client
        case records
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        batch = try container.decode(BatchID.self, forKey: .batch)
        replica = try container.decode(ReplicaID.self, forKey: .replica)
        receipt = try container.decodeIfPresent(PushReceipt.self, forKey: .receipt)
        client = try container.decodeIfPresent(String.self, forKey: .client)
        records = try container.decode([SyncRecord].self, forKey: .records)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batch, forKey: .batch)
        try container.encode(replica, forKey: .replica)
        try container.encodeIfPresent(receipt, forKey: .receipt)
        try container.encodeIfPresent(client, forKey: .client)
        try container.encode(records, forKey: .records)
    }
}

/// What happened to one pushed record.
public enum PushStatus: String, Sendable, Hashable, Codable {
    /// The join changed the stored state.
    case applied
    /// The server already held everything the record carried.
    case unchanged
    /// Applied, and the record is now in conflict; both values are kept.
    case conflict
    /// Not stored; ``PushResult/reason`` says why. The client keeps it and shows it.
    case rejected
}

/// Why the server refused a record.
public struct RejectReason: Sendable, Hashable, Codable {
    /// A stable code of PROTOCOL.md §6.4 (or §11 for a client's own hold-backs).
    public var code: RejectCode
    /// What is wrong and what to do, for the person at the school.
    public var message: String

    /// Makes a reason.
    public init(code: RejectCode, message: String) {
        self.code = code
        self.message = message
    }
}

/// The server's answer for one pushed record.
public struct PushResult: Sendable, Hashable, Codable {
    /// The record's collection.
    public var collection: String
    /// The record's id.
    public var id: String
    /// What happened.
    public var status: PushStatus
    /// For `conflict`: the fields that now hold concurrent values, sorted.
    public var conflictFields: [String]?
    /// For `conflict`: whether a delete stands beside surviving edits.
    public var deleteConflict: Bool?
    /// For `rejected`: why.
    public var reason: RejectReason?

    enum CodingKeys: String, CodingKey {
        case collection
        case id
        case status
        case conflictFields
        case deleteConflict
        case reason
    }

    /// Makes a result.
    public init(
        key: RecordKey,
        status: PushStatus,
        conflictFields: [String]? = nil,
        deleteConflict: Bool? = nil,
        reason: RejectReason? = nil
    ) {
        collection = key.collection
        id = key.id
        self.status = status
        self.conflictFields = conflictFields
        self.deleteConflict = deleteConflict
        self.reason = reason
    }

    /// The record this result is about.
    public var key: RecordKey { RecordKey(collection: collection, id: id) }
}

/// The answer to `POST /v1/push`: one result per pushed record, in request order.
public struct PushResponse: Sendable, Hashable, Codable {
    /// The batch this answers.
    public var batch: BatchID
    /// The receipt to send with the next push.
    public var receipt: PushReceipt
    /// One result per record, in the order they were pushed.
    public var results: [PushResult]

    enum CodingKeys: String, CodingKey {
        case batch
        case receipt
        case results
    }

    /// Makes a response.
    public init(batch: BatchID, receipt: PushReceipt, results: [PushResult]) {
        self.batch = batch
        self.receipt = receipt
        self.results = results
    }
}
