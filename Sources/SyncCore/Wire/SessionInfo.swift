/// The kinds of principal a token can belong to, and so what it may do (PROTOCOL.md §5).
public enum PrincipalKind: String, Sendable, Codable, CaseIterable {
    /// A school's device: reads the catalog and its school, writes its school.
    case device
    /// A bureau user: reads and writes everything, resolves catalog conflicts.
    case bureau
    /// An administrator: everything a bureau user may, and resolves schools' conflicts.
    case admin
}

/// The body of `GET /v1/session` (PROTOCOL.md §5): who the token belongs to, what it may read and
/// write, and the server's limits, which a client uses instead of restating them.
public struct SessionInfo: Sendable, Hashable, Codable {
    /// Who the token belongs to.
    public struct Principal: Sendable, Hashable, Codable {
        /// The kind as it travels: `device`, `bureau` or `admin` in version 1. Kept as text, so a
        /// server that adds a kind breaks no client (see ``knownKind``).
        public var kind: String
        /// A name a person recognises, e.g. "卓然学校 教务处 PC".
        public var name: String
        /// The device's school id; absent for users.
        public var school: String?

        /// The kind, when it is one this library knows.
        public var knownKind: PrincipalKind? { PrincipalKind(rawValue: kind) }

        /// Makes a principal description.
        public init(kind: PrincipalKind, name: String, school: String?) {
            self.kind = kind.rawValue
            self.name = name
            self.school = school
        }
    }

    /// The server's limits (PROTOCOL.md §10) a client must stay within.
    public struct Limits: Sendable, Hashable, Codable {
        /// Records per push, at most (413 `batch_too_large` past it).
        public var maxBatchRecords: Int
        /// Bytes per request body, at most, after inflating gzip (413 `body_too_large` past it).
        public var maxBodyBytes: Int
        /// Records per pull page and entries per administration page, at most.
        public var maxPullLimit: Int

        /// Makes a set of limits.
        public init(maxBatchRecords: Int, maxBodyBytes: Int, maxPullLimit: Int) {
            self.maxBatchRecords = maxBatchRecords
            self.maxBodyBytes = maxBodyBytes
            self.maxPullLimit = maxPullLimit
        }
    }

    /// The server store's current epoch.
    public var epoch: Epoch
    /// Who the token belongs to.
    public var principal: Principal
    /// The scopes the principal reads (`catalog`, `school:<id>`), or `["*"]` for all.
    public var readScopes: [String]
    /// The scopes the principal writes, or `["*"]` for all.
    public var writeScopes: [String]
    /// The server's limits.
    public var limits: Limits

    /// Makes a session body.
    public init(epoch: Epoch, principal: Principal, readScopes: [String], writeScopes: [String], limits: Limits) {
        self.epoch = epoch
        self.principal = principal
        self.readScopes = readScopes
        self.writeScopes = writeScopes
        self.limits = limits
    }
}
