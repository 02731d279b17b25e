/// One event: the `counter`-th write or delete minted by `replica`.
///
/// Dots are minted exactly once (DESIGN §4 invariant 1); counters start at 1.
public struct Dot: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The replica that minted this dot.
    public var replica: ReplicaID
    /// The replica's counter at the time; never 0.
    public var counter: UInt64

    /// Makes a dot.
    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }

    public var description: String { "\(replica):\(counter)" }
}

extension Dot: Codable {
    // Spelled out: the wire format is fixed by PROTOCOL.md, not by Swift property names.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case replica
        case counter
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        replica = try container.decode(ReplicaID.self, forKey: .replica)
        counter = try container.decode(UInt64.self, forKey: .counter)
        guard counter > 0, counter <= VersionVector.maxCounter else {
            throw DecodingError.dataCorruptedError(forKey: .counter, in: container, debugDescription: "a dot's counter must be between 1 and 2^53-1")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(replica, forKey: .replica)
        try container.encode(counter, forKey: .counter)
    }
}
