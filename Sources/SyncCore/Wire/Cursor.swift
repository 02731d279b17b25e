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

    /// The largest sequence number a change log can reach: stores keep it as a signed 64-bit
    /// integer (PROTOCOL.md §7.1), so a cursor past it names no position of any log.
    public static let maxSequence = UInt64(Int64.max)

    /// Parses `<epoch>.<seq>`.
    ///
    /// - Throws: ``SyncCoreError/Code/invalidName`` when the text is not of that form,
    ///   ``SyncCoreError/Code/outOfRange`` when `seq` exceeds ``maxSequence``.
    public init(parsing text: String) throws(SyncCoreError) {
        let (epoch, seq) = try Self.parts(of: text, naming: "cursor", "as returned by a pull")
        guard seq <= Self.maxSequence else {
            throw SyncCoreError(.outOfRange, "cursor '\(text.prefix(80))' counts past 2^63 − 1, the end of any change log")
        }
        self.init(epoch: epoch, seq: seq)
    }

    /// Splits `<epoch>.<n>`, where `n` is 1–20 ASCII digits that fit an unsigned 64-bit integer
    /// (no sign, no spaces, no leading zero: the text form is canonical, so one position has one
    /// spelling).
    static func parts(of text: String, naming what: String, _ hint: String) throws(SyncCoreError) -> (Epoch, UInt64) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...20).contains(parts[1].utf8.count),
            parts[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            parts[1].utf8.count == 1 || parts[1].utf8.first != UInt8(ascii: "0"),
            let number = UInt64(parts[1])
        else {
            throw SyncCoreError(.invalidName, "\(what) '\(text.prefix(80))' must be '<epoch>.<number>' \(hint)")
        }
        return (try Epoch(parsing: String(parts[0])), number)
    }

    public var description: String { "\(epoch).\(seq)" }
}

extension Cursor: TextCodable {}
