/// The identity of one life of the server's store: minted when it is created and again by every
/// restore (DESIGN §4 invariant 9). Cursors and push receipts are only valid within their epoch.
public struct Epoch: Sendable, Hashable, CustomStringConvertible {
    private let bits: ReplicaID

    private init(bits: ReplicaID) { self.bits = bits }

    /// Mints a fresh epoch from the system's secure generator.
    public static func random() -> Epoch { Epoch(bits: .random()) }

    /// Mints an epoch from the given generator.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> Epoch {
        Epoch(bits: .random(using: &generator))
    }

    /// Parses the 32-lowercase-hex-digit form.
    public init(parsing text: String) throws(SyncCoreError) {
        do {
            bits = try ReplicaID(parsing: text)
        } catch {
            throw SyncCoreError(.invalidName, "'\(text.prefix(40))' is not an epoch (32 lowercase hexadecimal digits)")
        }
    }

    public var description: String { bits.description }
}

extension Epoch: TextCodable {}
