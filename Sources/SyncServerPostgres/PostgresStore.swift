import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import SyncCore
import SyncServer

/// The store for several server processes on one PostgreSQL database, through postgres-nio's
/// `PostgresClient` (a pool of connections).
///
/// The guarantees are the embedded store's (PROTOCOL.md §6–§7, DESIGN §4), kept across processes:
/// - **Atomic join of each record (invariant 4):** a push or a resolution takes transaction-level
///   advisory locks on its replica and on the scopes it writes (in one sorted order, so two pushes
///   never deadlock; a record never changes scope) before it reads its records, and holds them
///   until it commits. Pushes that share no replica and no scope may share one transaction and
///   commit (``PushGroups``).
/// - **The cursor guarantee (§7.2, "Server obligations"):** change-log sequence numbers are taken
///   from the single `log_head` row as the last step of a writing transaction. Its row lock is held
///   until commit, so writers commit in sequence order, and `log_head` names the highest committed
///   number. A pull reads `log_head` and the records in one snapshot (REPEATABLE READ): every number
///   up to that head is committed and visible, and no number below it can commit later. A
///   `bigserial` would not do: its numbers are taken before commit, in any order.
/// - **Long polls across processes:** each writing transaction sends `NOTIFY schoolsync_changes`;
///   every server listens and wakes its long polls at once (``watchChanges(_:)``).
///
/// The store is ready once made (migrations applied under an advisory lock, so N servers starting
/// together do not race). It owns the client's run task, which ends when ``run()`` sees graceful
/// shutdown or the store is released.
public final class PostgresStore: SyncStore {
    /// The store's epoch (PROTOCOL.md §7.4): read from the database, or minted by the first server
    /// that migrated it.
    public let epoch: Epoch
    let client: PostgresClient
    let logger: Logger
    let configuration: Configuration
    /// Pushes waiting for, or stored in, a group commit.
    let pushGroups: PushGroups
    /// One connection of its own for ``checkHealth()``.
    let healthClient: PostgresClient
    private let runner: Task<Void, Never>

    /// Connects to the database `configuration` names, applies pending migrations and reads the epoch.
    ///
    /// - Throws: ``PostgresStoreError`` when the database cannot be reached or migrated (with
    ///   PostgreSQL's message), `SyncCoreError` when it holds an epoch that does not parse.
    public init(configuration: Configuration, logger: Logger = Logger(label: "SchoolSync.PostgresStore")) async throws {
        self.configuration = configuration
        self.logger = logger
        // Ungrouped, every push has a transaction of its own, as many at once as the pool holds.
        pushGroups = PushGroups(
            maxPushes: configuration.pushGroupSize,
            maxGroups: configuration.pushGroupSize == 1 ? configuration.poolSize : configuration.pushGroupsAtOnce
        )
        // The pool's notes (each connection made or failed, a lease before its run started) are not
        // the server's news: a failure reaches the caller as an error.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: background)
        self.client = client
        var healthConfiguration = configuration.clientConfiguration
        healthConfiguration.options.minimumConnections = 0
        healthConfiguration.options.maximumConnections = 1
        let healthClient = PostgresClient(configuration: healthConfiguration, backgroundLogger: background)
        self.healthClient = healthClient
        // The clients serve connections only while their run() runs; the store is usable (by the
        // admin commands, by tests, by the server before its service group starts) once made.
        runner = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await healthClient.run() }
            }
        }
        do {
            try await Self.probe(configuration, logger: logger)
            try await Self.migrate(client, logger: logger)
            epoch = try await Self.readEpoch(client, logger: logger)
            if !configuration.resumingRestore, try await Self.restoreIsPending(client, logger: logger) {
                throw PostgresStoreError(
                    "a restore of this database was begun and did not finish, so it may hold a backup under the old epoch: run `schoolsync-server restore --from BACKUP --database-url …` again (who owned which replica id before it is kept)"
                )
            }
        } catch {
            runner.cancel()
            throw PostgresStoreError(describing: error, while: "opening the database at \(configuration.redactedURL)")
        }
    }

    deinit { runner.cancel() }

    /// Opens and closes one connection, so that a wrong address, user or database fails now with
    /// PostgreSQL's own reason. Without TLS only when the URL allows it (`disable`, `allow`, `prefer`).
    /// A database whose encoding is not UTF-8 is refused: it could not hold the schools' Chinese text.
    static func probe(_ configuration: Configuration, logger: Logger) async throws {
        var connectionConfiguration = configuration.probe.configuration
        if let tls = configuration.probe.tls {
            let context = try NIOSSLContext(configuration: tls)
            connectionConfiguration.tls = configuration.probe.required ? .require(context) : .prefer(context)
        }
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.next(),
            configuration: connectionConfiguration,
            id: 0,
            logger: logger
        ).get()
        var encoding = "UTF8"
        for try await name in try await connection.query("SHOW server_encoding", logger: logger).decode(String.self) { encoding = name }
        try await connection.close()
        guard encoding == "UTF8" else {
            throw PostgresStoreError("the database's encoding is \(encoding), not UTF8: create it with ENCODING 'UTF8' (e.g. createdb -E UTF8 -T template0)")
        }
    }

    /// Holds the connections open until graceful shutdown, then closes them: the server and the
    /// activity log, which stop before it, have written their last. A cancelled run leaves them
    /// open, since handlers may still be using them; they close when the store is released.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        await close()
    }

    /// Closes every connection of the pool and waits until they are closed; the store cannot be
    /// used afterwards (its calls throw). For programs that own the store outside a service group
    /// (the admin commands, tests).
    public func close() async {
        runner.cancel()
        await runner.value
    }

    /// Reads the head and checks the epoch on a connection of its own, outside the pool every
    /// request queues for: a load balancer's health check (HAProxy's: 1 s) must learn whether the
    /// database answers, not how long this server's queue is, or it takes a busy server out.
    ///
    /// - Throws: ``StoreError`` `.busy` when the database's epoch changed; postgres-nio's `PSQLError`.
    public func checkHealth() async throws {
        try await healthClient.withConnection { connection in
            _ = try await self.head(connection)
        }
    }

    /// The highest committed change-log sequence number (0 when empty).
    public func headSequence() async throws -> UInt64 {
        try await read { connection in try await self.head(connection) }
    }

    /// How many records are in conflict now.
    public func openConflictCount() async throws -> Int {
        try await read { connection in
            let rows = try await connection.query("SELECT count(*) FROM conflicts", logger: self.logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }

    /// The log's head, read with the database's epoch, which must still be the one this process
    /// read when it opened the store (``checkEpoch(_:)``).
    func head(_ connection: PostgresConnection) async throws -> UInt64 {
        for try await (seq, stored) in try await connection.execute(Prepared.Head(), logger: logger) {
            try checkEpoch(stored)
            return try Self.sequence(seq)
        }
        throw StoreError(.damaged, "the table log_head has no row; restore the database from a backup")
    }

    /// A server keeps the epoch it read at start. If the database was restored or replaced under it
    /// (a restore, a migrate, a failover to a copy), serving on would mix two lives of the log under
    /// one epoch and devices could skip changes for ever; it answers 503 until it is restarted.
    func checkEpoch(_ stored: String?) throws {
        guard stored != epoch.description else { return }
        logger.error(
            "the database's epoch changed under this server; restart it",
            metadata: ["store.epoch": "\(stored ?? "none")", "server.epoch": "\(epoch)"]
        )
        throw StoreError(
            .busy,
            "the database's epoch is \(stored ?? "missing"), not \(epoch), which this server read when it started: it was restored or replaced; restart the server"
        )
    }

    /// A sequence number read from a table another program may have written: a negative one is
    /// damage, reported as such instead of trapping in a conversion.
    static func sequence(_ value: Int64) throws -> UInt64 {
        guard let sequence = UInt64(exactly: value) else {
            throw StoreError(.damaged, "the database holds a negative sequence number (\(value)); restore it from a backup")
        }
        return sequence
    }
}

extension PostgresStore {
    /// Every server hears every commit and revocation: long polls wait for them, not for a timer.
    public var announcesChangesAcrossProcesses: Bool { true }

    /// Listens on `schoolsync_changes`, which every writing transaction notifies at commit with the
    /// scopes it wrote (a revocation with none: every scope), and calls `onChange` for each
    /// notification, until the task is cancelled. The listening connection
    /// is one of the pool's; when it is lost, listening starts again on another after a second.
    ///
    /// - Throws: `CancellationError` when the task is cancelled.
    public func watchChanges(_ onChange: @escaping @Sendable (_ scopes: Set<Scope>?) async -> Void) async throws {
        while true {
            try Task.checkCancellation()
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.changeChannel) { notifications in
                        // Changes committed while no one listened are read by the long poll's own
                        // look; one wake-up now makes sure of it.
                        await onChange(nil)
                        for try await notification in notifications { await onChange(Self.scopes(inNotice: notification.payload)) }
                    }
                }
            } catch {
                try Task.checkCancellation()
                logger.warning("listening for other servers' changes failed; listening again in a second", metadata: ["sync.error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
