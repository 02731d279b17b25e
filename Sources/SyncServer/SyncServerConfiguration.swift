import Foundation

/// Everything the server can be told, with the defaults PROTOCOL.md §10 states.
///
/// The executable fills it from flags and environment variables; tests build it in code. The
/// library never reads the environment itself.
public struct SyncServerConfiguration: Sendable {
    /// The address to listen on; loopback by default, so nothing is exposed by accident.
    public var host = "127.0.0.1"
    /// The port; 0 picks a free one (the start-up line and `onServerRunning` say which).
    public var port = 8080
    /// The most records one push may carry (413 `batch_too_large` above).
    public var maxBatchRecords = 500
    /// The largest decoded request body in bytes (413 `body_too_large` above).
    public var maxBodyBytes = 8 * 1024 * 1024
    /// The most records one pull page may hold.
    public var maxPullLimit = 1000
    /// The page size when a pull names none.
    public var defaultPullLimit = 200
    /// The longest long-poll `wait`, in seconds.
    public var maxWaitSeconds = 60
    /// How often a waiting long poll looks at the store again without being woken: the bound on how
    /// late it sees a change nothing announced (another process on a shared SQLite file) and a
    /// revocation (PROTOCOL.md §5 promises one second). Changes this process or, on PostgreSQL,
    /// another server commits wake it at once.
    public var longPollRecheck: Duration = .seconds(1)
    /// The same for a store that announces every process's changes and revocations (PostgreSQL,
    /// ``SyncStore/announcesChangesAcrossProcesses``): a waiting poll is woken by them and looks
    /// again unwoken only this seldom, in case its server stopped hearing them without noticing
    /// (a connection to the database dropped silently).
    public var announcedLongPollRecheck: Duration = .seconds(15)
    /// Failed sign-ins and failed bearer-token checks one client address may make per minute
    /// before it gets 429 `too_many_requests` with `Retry-After` (PROTOCOL.md §5); 0 turns the
    /// limit off. Tokens already known valid are never held back.
    public var failedAuthPerMinute = 30
    /// Seconds a connection may sit idle (no request being read or answered) before the server
    /// closes it.
    public var idleTimeoutSeconds: Int64 = 30
    /// Which collections exist and which kind of scope each lives in.
    public var collections = CollectionRules.schoolSync

    /// The server's wall clock: the time of every push, audit entry, resolution, device activity
    /// and page session, and the bureau summary's "today" (which reports are late). Causality
    /// never reads it (PROTOCOL.md §3 orders edits by version vectors); tests set it to a fixed
    /// date to see it in the answers.
    public var clock: @Sendable () -> Date = Date.init

    /// How long an evidence file may stay named by no report before it is removed, in seconds
    /// (PROTOCOL.md §13.5; 7 days by default).
    public var evidenceGraceSeconds: TimeInterval = 7 * 24 * 3600
    /// How often the server looks for evidence to remove (PROTOCOL.md §13.5).
    public var evidenceCollectionInterval: Duration = .seconds(3600)

    /// The defaults.
    public init() {}
}
