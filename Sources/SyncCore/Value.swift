/// The value of one field: the only kinds a synced field may hold.
///
/// Nested structures travel as an opaque JSON ``string(_:)``. Values that only make sense together
/// (a ratio's numerator and denominator) must be one field (DESIGN §4 invariant 7).
///
/// On the wire every value is a one-key object naming its kind, so an integer never turns into a
/// floating-point number or back: `{"string":"…"}`, `{"int":42}`, `{"double":0.5}`, `{"bool":true}`,
/// `{"null":true}`.
public enum Value: Sendable, Hashable {
    case string(String)
    case int(Int64)
    /// A finite number; use ``Value/number(_:)`` to build one safely.
    case double(Double)
    case bool(Bool)
    case null

    /// Makes a `.double`, refusing NaN and infinities (JSON cannot carry them) and folding −0 into 0.
    public static func number(_ value: Double) throws(SyncCoreError) -> Value {
        guard value.isFinite else {
            throw SyncCoreError(.invalidValue, "\(value) is not a finite number")
        }
        return .double(value == 0 ? 0 : value)
    }

    /// Values are equal when they are the same kind and, for strings, the same UTF-8 bytes
    /// (PROTOCOL.md §2.2). Swift's `String ==` treats canonically equivalent texts as equal (an
    /// NFC "café" equals its NFD spelling); replicas that kept different bytes behind an "equal"
    /// value would differ silently, so equality here never normalises.
    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): a.utf8.elementsEqual(b.utf8)
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// Hashes what `==` compares: the kind and, for strings, the exact UTF-8 bytes.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .string(let text):
            hasher.combine(0 as UInt8)
            text.utf8.hashBytes(into: &hasher)
        case .int(let number):
            hasher.combine(1 as UInt8)
            hasher.combine(number)
        case .double(let number):
            hasher.combine(2 as UInt8)
            hasher.combine(number)
        case .bool(let flag):
            hasher.combine(3 as UInt8)
            hasher.combine(flag)
        case .null:
            hasher.combine(4 as UInt8)
        }
    }

    /// Checks that the value can be stored and sent.
    public func validate() throws(SyncCoreError) {
        switch self {
        case .double(let number) where !number.isFinite:
            throw SyncCoreError(.invalidValue, "\(number) is not a finite number")
        case .string(let text) where text.utf8.count > SyncLimits.maxStringBytes:
            throw SyncCoreError(.invalidValue, "a string of \(text.utf8.count) bytes exceeds the limit of \(SyncLimits.maxStringBytes)")
        default:
            return
        }
    }
}

extension Value: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case string
        case int
        case double
        case bool
        case null
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a value is an object with exactly one of the keys string, int, double, bool, null"
                )
            )
        }
        switch key {
        case .string: self = .string(try container.decode(String.self, forKey: key))
        case .int: self = .int(try container.decode(Int64.self, forKey: key))
        case .double:
            let number = try container.decode(Double.self, forKey: key)
            do {
                self = try .number(number)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: error.message)
            }
        case .bool: self = .bool(try container.decode(Bool.self, forKey: key))
        case .null:
            guard try container.decode(Bool.self, forKey: key) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "null is spelled {\"null\":true}")
            }
            self = .null
        }
        do {
            try validate()
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .string(let text): try container.encode(text, forKey: .string)
        case .int(let number): try container.encode(number, forKey: .int)
        case .double(let number): try container.encode(number, forKey: .double)
        case .bool(let flag): try container.encode(flag, forKey: .bool)
        case .null: try container.encode(true, forKey: .null)
        }
    }
}

extension Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): String(flag)
        case .null: "null"
        }
    }
}

extension Value {
    /// Reads text a person typed as a value of the same kind as `example` (a number stays a number,
    /// true/false a boolean); anything that does not read as that kind stays text.
    public init(typed text: String, like example: Value?) {
        switch example {
        case .int?: self = Int64(text).map(Value.int) ?? .string(text)
        case .double?: self = Double(text).flatMap { try? Value.number($0) } ?? .string(text)
        case .bool?: self = text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(text)
        default: self = .string(text)
        }
    }
}
