/// How two version vectors relate causally.
public enum CausalOrder: Sendable, Hashable {
    /// Both have seen exactly the same events.
    case equal
    /// The left side has seen a strict subset of the right side's events.
    case before
    /// The left side has seen a strict superset of the right side's events.
    case after
    /// Each side has seen events the other has not.
    case concurrent
}

/// A causal context: for each replica, the highest counter whose dots have all been seen.
///
/// States are always exchanged whole (DESIGN §4 invariant 2), so a context has no gaps: a
/// context that holds `r: 5` has seen every dot `(r, 1)` … `(r, 5)`.
///
/// For example:
/// ```swift
/// var seen = VersionVector()
/// seen.advance(replica)            // now covers (replica, 1)
/// seen.contains(Dot(replica: replica, counter: 1))   // true
/// ```
public struct VersionVector: Sendable, Hashable {
    /// The counters; replicas with counter 0 are never stored, so equal vectors are equal dictionaries.
    public private(set) var counters: [ReplicaID: UInt64]

    /// The empty context: nothing seen.
    public init() { counters = [:] }

    /// Makes a vector from counters, dropping zero entries.
    public init(_ counters: [ReplicaID: UInt64]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    /// The counter seen for `replica` (0 when none).
    public subscript(replica: ReplicaID) -> UInt64 {
        counters[replica] ?? 0
    }

    /// Whether this context has seen `dot`.
    public func contains(_ dot: Dot) -> Bool {
        dot.counter <= self[dot.replica]
    }

    /// Whether this context has seen everything `other` has.
    public func covers(_ other: VersionVector) -> Bool {
        other.counters.allSatisfy { $0.value <= self[$0.key] }
    }

    /// Whether nothing has been seen.
    public var isEmpty: Bool { counters.isEmpty }

    /// Mints the next dot of `replica` and records it as seen.
    @discardableResult
    public mutating func advance(_ replica: ReplicaID) throws(SyncCoreError) -> Dot {
        let current = self[replica]
        guard current < Self.maxCounter else {
            throw SyncCoreError(.invalidState, "replica \(replica) has used up its counter; make a new replica id")
        }
        counters[replica] = current + 1
        return Dot(replica: replica, counter: current + 1)
    }

    /// Raises every counter to at least the other vector's (the least upper bound).
    public mutating func merge(_ other: VersionVector) {
        counters.merge(other.counters, uniquingKeysWith: max)
    }

    /// The least upper bound of two vectors.
    public func merged(with other: VersionVector) -> VersionVector {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// Compares the events two contexts have seen.
    public func compare(_ other: VersionVector) -> CausalOrder {
        switch (other.covers(self), covers(other)) {
        case (true, true): .equal
        case (true, false): .before
        case (false, true): .after
        case (false, false): .concurrent
        }
    }

    /// The largest counter the protocol allows: 2^53 − 1, so that JavaScript clients read it exactly.
    public static let maxCounter: UInt64 = (1 << 53) - 1
}

extension VersionVector: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode([String: UInt64].self)
        var counters: [ReplicaID: UInt64] = [:]
        for (key, counter) in raw {
            let replica: ReplicaID
            do {
                replica = try ReplicaID(parsing: key)
            } catch {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "context key: \(error.message)")
            }
            guard counter > 0, counter <= Self.maxCounter else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "context counter for \(key) must be between 1 and 2^53-1"
                )
            }
            counters[replica] = counter
        }
        self.counters = counters
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: counters.map { ($0.key.description, $0.value) }))
    }
}

extension VersionVector: CustomStringConvertible {
    public var description: String {
        "[" + counters.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }
}
