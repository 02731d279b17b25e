/// A stable code that travels as a bare JSON string: ``ErrorCode`` and ``RejectCode``.
///
/// Any string decodes (a newer peer may send a code this library does not know) and encodes back
/// unchanged; the known codes are the conforming type's static members.
public protocol WireCode: RawRepresentable<String>, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Wraps a code as it travels.
    init(rawValue: String)
}

extension WireCode {
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}
