/// A position in the server's change log: `<epoch>.<seq>`.
///
/// Clients treat it as opaque: they store the `next` cursor of each pull page and send it back as
/// `since`. A reader that has seen `seq = n` never later misses a change with `seq ≤ n`.
public struct Cursor: Sendable, Hashable, CustomStringConvertible {
    /// The store life this cursor belongs to.
    public var epoch: Epoch
    /// The last change-log sequence number the reader has seen.
    public var seq: UInt64

    /// Makes a cursor.
    public init(epoch: Epoch, seq: UInt64) {
        self.epoch = epoch
        self.seq = seq
    }

    /// Parses `<epoch>.<seq>`.
    public init(parsing text: String) throws(SyncCoreError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let seq = UInt64(parts[1]), parts[1].allSatisfy(\.isASCII) else {
            throw SyncCoreError(.invalidName, "cursor '\(text.prefix(80))' must be '<epoch>.<seq>' as returned by a pull")
        }
        self.init(epoch: try Epoch(parsing: String(parts[0])), seq: seq)
    }

    public var description: String { "\(epoch).\(seq)" }
}

extension Cursor: TextCodable {}
