import Foundation
import Reporting
import ServiceLifecycle
import SyncCore

/// Where the server keeps records, the change log, receipts, principals and device sync state.
///
/// Every method is one transaction. Implementations must make each push's read-join-write atomic
/// against every other writer, including other processes on the same database (DESIGN §4
/// invariant 4), and must keep PROTOCOL.md §7.2's cursor guarantee. The interface speaks only in
/// protocol terms, so SQLite and PostgreSQL implementations fit it alike.
///
/// A store is a ServiceLifecycle `Service`, like Hummingbird's `PersistDriver`: it is ready (its
/// migrations applied) once made, and its `run()` holds it open until graceful shutdown, then
/// closes it, after the server and the services listed after it have stopped.
public protocol SyncStore: Service, EvidenceStore {
    /// The store's current epoch.
    var epoch: Epoch { get }

    /// Joins a push into the store (PROTOCOL.md §6.2), answering a replay or a stale replica instead when §6.3 says so.
    func push(_ request: PushRequest, by principal: Principal, rules: CollectionRules, at time: Date) async throws -> PushOutcome

    /// Current states of records changed after `seq` in the given scopes (`nil`: every scope).
    ///
    /// With a `replica`, its receipt is checked first (PROTOCOL.md §6.3), in the same snapshot, so
    /// a stale replica gets nothing; the states it pushed itself are left out (§7.2).
    func pull(after seq: UInt64, limit: Int, scopes: [Scope]?, replica: PullingReplica?) async throws -> PullOutcome

    /// The highest sequence number in the change log (0 when empty).
    func headSequence() async throws -> UInt64

    /// Throws unless the store answers now, for `GET /healthz`: a load balancer's check, which must
    /// not wait behind the requests queued for the store (the default reads the head).
    func checkHealth() async throws

    /// Notes that devices pulled or pushed, for `GET /v1/devices`, in one transaction, oldest first.
    func recordActivity(_ activities: [DeviceActivity]) async throws

    /// The principal a token hash belongs to, unless revoked.
    func principal(forTokenHash hash: Data) async throws -> Principal?

    /// Whether a principal exists and is not revoked, read from the store itself (no cache): a long
    /// poll asks before it answers, so nothing written after a revocation reaches the revoked.
    func isActive(principalID id: Int64) async throws -> Bool

    /// Creates a school that devices can be enrolled in.
    func createSchool(id: String, name: String, at time: Date) async throws -> SchoolInfo

    /// Lists schools.
    func schools() async throws -> [SchoolInfo]

    /// Creates a device or user and returns it with its token, which is never stored in clear.
    func createPrincipal(kind: Principal.Kind, name: String, schoolID: String?, at time: Date) async throws -> (Principal, token: String)

    /// Revokes a principal's token; returns whether it existed.
    func revokePrincipal(id: Int64, at time: Date) async throws -> Bool

    /// Devices and their last sync activity.
    func devices() async throws -> [DeviceInfo]

    /// Every replica a device of school `schoolID` owns (PROTOCOL.md §5 "Ownership"), revoked
    /// devices included, with the device's name, sorted by replica id (bytewise), at most
    /// ``SchoolReplicas/maxReplicas``: `GET /v1/school/replicas` (§12). Never another school's
    /// replicas, nor a user's server-side ones.
    func replicas(ofSchool schoolID: String) async throws -> [SchoolReplicas.Writer]

    /// The current states of every record in the given collections; with a `period`, the records
    /// of `periodCollections` only where their id names that period (`<school>/<period>/…`), so
    /// the bureau's summary of one term never reads every term's records.
    func records(in collections: [String], periodCollections: Set<String>, period: String?) async throws -> [SyncRecord]

    /// The current state of one record — deleted or in conflict as it may be — or `nil` when the
    /// store holds no such record; for a page that shows one record beside another (the report
    /// whose `proposal` the conflict page of one of its indicator values shows).
    func record(_ key: RecordKey) async throws -> SyncRecord?

    /// Opens a browser session for a principal; returns the session id (kept only as a hash).
    /// Sessions expired at `time` (the server's clock) are removed on the way.
    func createSession(for principal: Principal, csrf: String, expiresAt: Date, at time: Date) async throws -> String

    /// The principal and CSRF token of a live session, unless it expired or the principal was revoked.
    func session(forIDHash hash: Data, at time: Date) async throws -> (Principal, csrf: String)?

    /// Ends a session.
    func deleteSession(idHash hash: Data) async throws

    /// Open conflicts, in the order they arose, optionally for one scope or collection, or only
    /// those detected before a time (the old ones).
    func conflicts(scope: Scope?, collection: String?, detectedBefore: Date?, after: Int64, limit: Int) async throws -> [ConflictSummary]

    /// One conflicted record with its values side by side, or `nil` if it is not (or no longer) in conflict.
    func conflictDetail(_ key: RecordKey) async throws -> ConflictDetail?

    /// Resolves a conflict with a write at the principal's server-side replica, atomically with
    /// the check that nothing new arrived since the administrator looked.
    func resolve(_ key: RecordKey, _ request: ResolutionRequest, by principal: Principal, at time: Date) async throws -> ResolveOutcome

    /// Makes a workflow move on a report (approve, return, submit: ``ReportWorkflow``) with a write at
    /// the principal's server-side replica, in one transaction with the check that the report's
    /// context is still `expected` (what the reviewer was shown). The write passes the same rules as
    /// a pushed one and is logged and audited like any accepted change.
    func review(
        _ key: RecordKey,
        expecting expected: VersionVector,
        transition: ReportWorkflow.Transition,
        by principal: Principal,
        rules: CollectionRules,
        at time: Date
    ) async throws -> ReviewOutcome

    /// Every accepted change of a record, oldest first.
    func history(_ key: RecordKey, after seq: Int64, limit: Int) async throws -> HistoryPage

    /// How many records are in conflict now.
    func openConflictCount() async throws -> Int

    /// Calls `onChange` each time any process commits a change to the store, with the scopes it
    /// changed (`nil`: unknown or every scope, as for a revocation), until the calling task is
    /// cancelled, so long polls wake at once for a push another server took (PROTOCOL.md §7.3).
    /// A store whose processes cannot tell each other returns at once; long polls then look again
    /// every second.
    ///
    /// - Throws: only `CancellationError`; a lost connection is retried inside.
    func watchChanges(_ onChange: @escaping @Sendable (_ scopes: Set<Scope>?) async -> Void) async throws

    /// Whether ``watchChanges(_:)`` tells this process of every change and revocation other
    /// processes commit: then a held long poll waits for an announcement instead of reading the
    /// store again every second.
    var announcesChangesAcrossProcesses: Bool { get }

    /// The store's own error for a failure of its database driver that is not a fault of the
    /// server (a busy database), or `nil` to leave the error as it is. Each engine knows its driver's
    /// errors; the routes and their error middleware know only ``StoreError``.
    func storeError(for error: any Error) -> StoreError?
}

/// One page of a record's history (PROTOCOL.md §12): at most `limit` entries after a sequence
/// number, ending early after the entry that takes its views past 8 MiB.
public struct HistoryPage: Sendable {
    /// Entries, oldest first.
    public var entries: [AuditEntry]
    /// Whether entries after the last one wait.
    public var more: Bool
    /// Whether the record has any history at all (false: there is no such record).
    public var exists: Bool

    /// Makes a page of history.
    public init(entries: [AuditEntry], more: Bool, exists: Bool) {
        self.entries = entries
        self.more = more
        self.exists = exists
    }
}

extension SyncStore {
    /// Reads the head: a store whose reads do not queue behind its writes (SQLite's WAL readers).
    public func checkHealth() async throws {
        _ = try await headSequence()
    }

    /// The current states of every record in the given collections.
    public func records(in collections: [String]) async throws -> [SyncRecord] {
        try await records(in: collections, periodCollections: [], period: nil)
    }
}

/// What a push came to.
public enum PushOutcome: Sendable {
    /// Joined and committed with a new receipt; `changed` records got change-log entries.
    case accepted(PushResponse, changed: Int)
    /// The same batch was accepted before; here is its stored answer again.
    case replayed(PushResponse)
    /// The replica forgot an acknowledged push (PROTOCOL.md §6.3).
    case replicaStale(expected: PushReceipt?)
    /// The receipt belongs to another epoch.
    case epochChanged(current: Epoch)
    /// The replica id belongs to another principal (PROTOCOL.md §5 "Ownership").
    case replicaForeign
    /// A new push under the batch id of the last accepted one (PROTOCOL.md §6.2 step 3).
    case batchReused
}

/// A pulling replica and the last receipt it holds, to be checked before it reads.
public struct ReplicaReceipt: Sendable, Equatable {
    /// The replica that pulls (the pull's `replica` parameter, PROTOCOL.md §7.1).
    public var replica: ReplicaID
    /// The last receipt it holds (`receipt`); `nil` before its first push.
    public var receipt: PushReceipt?
    /// Who pulls: only the replica's owner may name it (PROTOCOL.md §5 "Ownership").
    public var principal: Principal

    /// Makes the receipt check of one pull.
    public init(replica: ReplicaID, receipt: PushReceipt?, principal: Principal) {
        self.replica = replica
        self.receipt = receipt
        self.principal = principal
    }
}

/// Who pulls, for the receipt check and for leaving out its own pushes (PROTOCOL.md §6.3, §7.2).
public enum PullingReplica: Sendable, Equatable {
    /// Check the receipt first, then leave out the replica's echoes.
    case verify(ReplicaReceipt)
    /// Checked earlier in this request (a long poll looking again): only leave out its echoes.
    /// Skipping echoes is safe only for a replica whose receipt checked out.
    case verified(ReplicaID)
}

/// The answer to a pull: a page, or the reason the replica may not read (PROTOCOL.md §6.3).
public enum PullOutcome: Sendable {
    /// The records to send.
    case page(PullPage)
    /// The replica forgot an acknowledged push; `expected` is the receipt the server holds for it (PROTOCOL.md §6.3).
    case replicaStale(ReplicaID, expected: PushReceipt?)
    /// The receipt belongs to another epoch; `current` is the store's (PROTOCOL.md §7.4).
    case epochChanged(current: Epoch)
    /// The replica id belongs to another principal (PROTOCOL.md §5 "Ownership").
    case replicaForeign(ReplicaID)
}

/// One page of changed records.
public struct PullPage: Sendable {
    /// Whole records, each once, in change-log order.
    public var records: [SyncRecord]
    /// The sequence number to resume after.
    public var next: UInt64
    /// Whether readable changes wait after `next`.
    public var more: Bool
    /// The highest sequence number in the log when the page was read.
    public var head: UInt64

    /// Makes a page.
    public init(records: [SyncRecord], next: UInt64, more: Bool, head: UInt64) {
        self.records = records
        self.next = next
        self.more = more
        self.head = head
    }
}

/// A device's push or pull, as the device list shows it.
public struct DeviceActivity: Sendable {
    /// A pull, with the `next` cursor it was answered, or a push, with its batch id.
    public enum Kind: Sendable {
        /// A pull, answered with this `next` cursor.
        case pull(Cursor)
        /// A push, with its batch id.
        case push(BatchID)
    }
    /// The device (or user, whose activity is not kept) that pulled or pushed.
    public var principal: Principal
    /// A pull or a push.
    public var kind: Kind
    /// The `client` a push named (e.g. `schoolsync/0.1.0`); `nil` for a pull.
    public var client: String?
    /// When the server handled it, by its own clock.
    public var time: Date

    /// Makes an activity.
    public init(principal: Principal, kind: Kind, client: String?, time: Date) {
        self.principal = principal
        self.kind = kind
        self.client = client
        self.time = time
    }
}

/// A school known to the server's enrolment.
public struct SchoolInfo: Sendable, Codable, Hashable {
    /// The school id, as in its scope `school:<id>` (PROTOCOL.md §5).
    public var id: String
    /// The school's name, 1–200 characters.
    public var name: String

    /// Makes a school's entry.
    package init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// A device and its last sync activity (`GET /v1/devices`).
public struct DeviceInfo: Sendable, Codable, Hashable {
    /// The store's id of the device principal.
    public var id: Int64
    /// The device's name, as given when it was enrolled.
    public var name: String
    /// The device's school id.
    public var school: String?
    /// The `next` cursor (`<epoch>.<seq>`) of the last pull answered; `nil` before the first.
    public var lastPullCursor: String?
    /// When the last pull was answered, by the server's clock; `nil` before the first.
    public var lastPullAt: Date?
    /// When the last push was answered, by the server's clock; `nil` before the first.
    public var lastPushAt: Date?
    /// The batch id of the last push; `nil` before the first.
    public var lastPushBatch: String?
    /// When the device last pulled or pushed, by the server's clock; `nil` before either.
    public var lastSeenAt: Date?
    /// The `client` the device's last push that named one gave, e.g. `schoolsync/0.1.0`.
    public var client: String?
    /// Whether the device's token was revoked.
    public var revoked: Bool

    /// Makes a device's entry.
    package init(
        id: Int64, name: String, school: String?, lastPullCursor: String?, lastPullAt: Date?, lastPushAt: Date?,
        lastPushBatch: String?, lastSeenAt: Date?, client: String?, revoked: Bool
    ) {
        self.id = id
        self.name = name
        self.school = school
        self.lastPullCursor = lastPullCursor
        self.lastPullAt = lastPullAt
        self.lastPushAt = lastPushAt
        self.lastPushBatch = lastPushBatch
        self.lastSeenAt = lastSeenAt
        self.client = client
        self.revoked = revoked
    }
}

extension SyncStore {
    /// No process tells another of its changes: long polls look again every second.
    public func watchChanges(_ onChange: @escaping @Sendable (_ scopes: Set<Scope>?) async -> Void) async throws {}

    /// No process tells another of its changes.
    public var announcesChangesAcrossProcesses: Bool { false }

    /// No driver error of this store needs translating.
    public func storeError(for error: any Error) -> StoreError? { nil }
}

/// A store could not do what was asked for a reason the caller should show (not a fault).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of refusal: the HTTP layer answers `alreadyExists` 409 `already_exists`, `notFound` 404
    /// `not_found`, `invalid` 400 `invalid_parameter`, `damaged` 500 `internal` and `busy` 503
    /// `unavailable` with `Retry-After` (PROTOCOL.md §8).
    public enum Code: String, Sendable {
        /// What it would create exists already (answered 409 `already_exists`).
        case alreadyExists
        /// What it names does not exist (answered 404 `not_found`).
        case notFound
        /// An argument breaks a rule, e.g. a name that is not 1–200 characters (answered 400 `invalid_parameter`).
        case invalid
        /// The database holds something no server wrote (a negative sequence, a state that does not
        /// decode): a fault of the file, answered 500 and logged, never a trap.
        case damaged
        /// Another writer held the database past the store's timeout: nothing was stored, and the
        /// same request may succeed in a moment (answered 503 `unavailable` with `Retry-After`).
        case busy
    }

    /// What kind of refusal it is.
    public var code: Code
    /// What happened and what to do, in words for the person who asked; the error answer's `message`
    /// (except for `damaged`, which is logged and answered with a generic one).
    public var message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
