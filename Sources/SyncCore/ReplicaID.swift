/// The identity of one writer: a client database or one server-side user in one epoch.
///
/// A ReplicaID is 128 random bits, printed as 32 lowercase hexadecimal digits. Every dot a
/// replica mints carries its id, so two replicas never mint the same dot.
///
/// For example:
/// ```swift
/// let id = ReplicaID.random()
/// let same = try ReplicaID(parsing: id.description)
/// ```
public struct ReplicaID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The high 64 bits.
    public let high: UInt64
    /// The low 64 bits.
    public let low: UInt64

    /// Makes an id from its two halves; used by tests and decoders.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Makes a fresh random id from the system's secure generator.
    public static func random() -> ReplicaID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// Makes a random id from the given generator (seeded generators make tests repeatable).
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> ReplicaID {
        ReplicaID(high: generator.next(), low: generator.next())
    }

    /// Parses the 32-hex-digit form; upper-case digits are refused so that one id has one spelling.
    public init(parsing text: String) throws(SyncCoreError) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 32, let high = Self.hexValue(utf8[0..<16]), let low = Self.hexValue(utf8[16..<32]) else {
            throw SyncCoreError(.invalidName, "'\(text.prefix(40))' is not a replica id (32 lowercase hexadecimal digits)")
        }
        self.init(high: high, low: low)
    }

    /// 32 lowercase hex digits, written straight into the string's storage: ids are printed for
    /// every dot of every state on the wire.
    public var description: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<32 {
                let half = index < 16 ? high : low
                buffer[index] = digits.utf8Start[Int((half >> UInt64(60 - 4 * (index % 16))) & 0xF)]
            }
            return 32
        }
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    private static func hexValue(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

extension ReplicaID: TextCodable {}
