/// The protocol's fixed limits on records (PROTOCOL.md §"Limits").
///
/// Server-side batch and body limits are configuration; these are part of the data model, so
/// every replica enforces the same ones.
public enum SyncLimits {
    /// The longest string value, in UTF-8 bytes.
    public static let maxStringBytes = 64 * 1024
    /// The most fields one record may have.
    public static let maxFields = 64
    /// The longest field or collection name, in characters.
    public static let maxNameLength = 64
    /// The longest record id, in UTF-8 bytes.
    public static let maxIDBytes = 128
    /// The most concurrent entries one field register or delete register may hold.
    public static let maxRegisterEntries = 64
}

extension SyncLimits {
    /// The largest record state, in bytes of its canonical JSON (PROTOCOL.md §10). A server checks
    /// it on the joined result of every write, so concurrent pushes that are each small cannot
    /// together grow a record no device can push whole any more.
    public static let maxStateBytes = 1024 * 1024

    /// The most replicas one record's context may name (PROTOCOL.md §10), checked by a server on
    /// joined states like ``maxStateBytes``. A record is written by a school's few devices, the
    /// bureau's and administrators' server-side replicas and a new replica per re-mint: hundreds
    /// over many years at most, never tens of thousands.
    public static let maxContextReplicas = 1024
}

extension RecordState {
    /// The length in bytes of this state's canonical JSON, the measure of
    /// ``SyncLimits/maxStateBytes``.
    public var encodedSize: Int {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes.count
    }

    /// Whether the canonical JSON of this state could exceed `limit` bytes: an upper bound that
    /// costs no encoding, so the exact size is only computed for records near the limit.
    public func mayExceed(encodedBytes limit: Int) -> Bool {
        // Per dot at most 32 hex digits, a 16-digit counter and punctuation; a string's bytes
        // grow at most sixfold when escaped (\u00XX); field names are at most 64 characters.
        let perDot = 80
        var bound = 64 + context.counters.count * perDot + deleted.count * perDot
        for (name, register) in fields {
            bound += name.utf8.count + 8
            for entry in register.entries {
                bound += perDot + 32
                if case .string(let text) = entry.value { bound += 6 * text.utf8.count }
            }
            if bound > limit { return true }
        }
        return bound > limit
    }
}
