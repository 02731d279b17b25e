/// A multi-value register: the concurrent writes of one field that no write has yet replaced.
///
/// Entries are kept sorted by dot with no dot twice, so two equal registers are equal arrays and
/// encode to the same bytes.
public struct FieldRegister: Sendable, Hashable {
    /// One surviving write: the dot that wrote it and the value written.
    public struct Entry: Sendable, Hashable {
        /// The write's identity: the replica that wrote it and that replica's counter.
        public var dot: Dot
        /// The value it wrote (``Value/null`` for a cleared field).
        public var value: Value

        /// An entry for the write `dot` of `value`.
        public init(dot: Dot, value: Value) {
            self.dot = dot
            self.value = value
        }
    }

    /// The surviving writes, sorted by dot.
    public private(set) var entries: [Entry]

    /// A register holding exactly one write.
    public init(dot: Dot, value: Value) {
        entries = [Entry(dot: dot, value: value)]
    }

    /// Makes a register from entries in any order; refuses a dot given twice.
    public init(entries: [Entry]) throws(SyncCoreError) {
        let sorted = entries.sorted { $0.dot < $1.dot }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.dot == next.dot {
            throw SyncCoreError(.invalidState, "dot \(next.dot) appears twice in one field register")
        }
        self.entries = sorted
    }

    init(sortedUnique entries: [Entry]) {
        self.entries = entries
    }

    /// The distinct values, in dot order; more than one means the field is in conflict.
    public var distinctValues: [Value] {
        // Most registers hold one write: no set of values to hash them into.
        if entries.count == 1 { return [entries[0].value] }
        var seen: Set<Value> = []
        return entries.compactMap { seen.insert($0.value).inserted ? $0.value : nil }
    }

    /// Whether the register holds more than one distinct value.
    public var isConflicted: Bool {
        guard let first = entries.first?.value else { return false }
        // Not the first against itself: values compare by their bytes, and most registers hold one entry.
        return entries.dropFirst().contains { $0.value != first }
    }

    /// The value when there is exactly one distinct value.
    public var settledValue: Value? {
        isConflicted ? nil : entries.first?.value
    }

    /// The dots of the surviving writes.
    public var dots: [Dot] { entries.map(\.dot) }
}

extension FieldRegister.Entry: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case replica
        case counter
        case value
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let dotContainer = try decoder.container(keyedBy: Dot.CodingKeys.self)
        dot = Dot(
            replica: try dotContainer.decode(ReplicaID.self, forKey: .replica),
            counter: try dotContainer.decode(UInt64.self, forKey: .counter)
        )
        guard dot.counter > 0, dot.counter <= VersionVector.maxCounter else {
            throw DecodingError.dataCorruptedError(
                forKey: .counter,
                in: container,
                debugDescription: "a dot's counter must be between 1 and 2^53-1"
            )
        }
        value = try container.decode(Value.self, forKey: .value)
    }

    public func encode(to encoder: any Encoder) throws {
        try dot.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(value, forKey: .value)
    }
}
