/// The body of `GET /v1/school/replicas` (PROTOCOL.md §12): every replica a device of the caller's
/// own school has used, with the name of the device that owns it, sorted by replica id.
///
/// A value's dot carries only a replica id (PROTOCOL.md §2.3); this list lets a school's device
/// say who wrote each of the values of a field in conflict (§3.4), as the conflict detail does for
/// the bureau. For example:
/// ```json
/// {"replicas":[{"replica":"0000000000000000000000000000000a","name":"卓然学校 教务处 PC"}]}
/// ```
public struct SchoolReplicas: Sendable, Codable, Hashable {
    /// One replica and the device that writes under it.
    public struct Writer: Sendable, Codable, Hashable {
        /// The replica id, 32 lowercase hexadecimal digits, as in a dot (PROTOCOL.md §2.3).
        public var replica: String
        /// The name of the device that owns the replica, as it was enrolled, e.g. "卓然学校 教务处 PC".
        public var name: String

        /// Makes a writer.
        ///
        /// - Parameters:
        ///   - replica: the replica id's text.
        ///   - name: the owning device's name.
        public init(replica: String, name: String) {
            self.replica = replica
            self.name = name
        }
    }

    /// The school's replicas and their devices' names, sorted by replica id; at most 10,000.
    public var replicas: [Writer]

    /// Makes the body.
    ///
    /// - Parameter replicas: the writers, sorted by replica id.
    public init(replicas: [Writer]) {
        self.replicas = replicas
    }

    /// The most replicas one answer lists (PROTOCOL.md §12).
    public static let maxReplicas = 10_000
}
