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
