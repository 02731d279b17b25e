import Foundation
import Logging
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// Runs `body` in a READ COMMITTED write transaction on one pooled connection: committed when it
    /// returns, rolled back when it throws (the error is rethrown as it was, unwrapped).
    func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction("BEGIN", body)
    }

    /// Runs `body` in a read-only REPEATABLE READ transaction: every statement sees one snapshot,
    /// so a pull's head and records agree (PROTOCOL.md §7.2).
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", body)
    }

    private func transaction<T: Sendable>(_ begin: PostgresQuery, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query(begin, logger: logger)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                // A failed rollback leaves a broken connection, which the pool drops; the body's
                // error is what the caller must see.
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            try await connection.query("COMMIT", logger: logger)
            return value
        }
    }

    /// Takes the transaction-level advisory locks of a replica and of records, in one order (the
    /// replica, then the records' lock numbers ascending), so that two transactions never wait for
    /// each other in a circle. Held until commit: the reads that follow stay true (invariant 4).
    /// Lock numbers are 32-bit hashes under a namespace per kind; two keys that share one only
    /// wait for each other.
    static func lock(replica: ReplicaID?, records keys: [RecordKey], _ connection: PostgresConnection, _ logger: Logger) async throws {
        if let replica {
            try await connection.query("SELECT pg_advisory_xact_lock(1, hashtext(\(replica.description)))", logger: logger)
        }
        guard !keys.isEmpty else { return }
        let names = keys.map(lockName)
        try await connection.query(
            """
            SELECT pg_advisory_xact_lock(2, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(\(names)::text[]) AS k ORDER BY h) AS ordered
            """,
            logger: logger
        )
    }

    /// A record's name for its lock: collection and id, which holds no control character, apart.
    static func lockName(_ key: RecordKey) -> String { "\(key.collection)\u{1}\(key.id)" }
}

extension PostgresStore {
    /// PostgreSQL's answers that are no fault of the server, as the routes know them: waits past
    /// the lock timeout, deadlocks, serialisation failures, a database that is away or full of
    /// connections → `.busy` (503 `unavailable` with `Retry-After`); text PostgreSQL cannot hold
    /// (a NUL character) → `.invalid` (400).
    public func storeError(for error: any Error) -> StoreError? {
        guard let error = error as? PSQLError else { return nil }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .poolClosed, .clientClosedConnection:
            return StoreError(.busy, "the database cannot be reached: \(Self.explain(error))")
        default:
            break
        }
        guard let state = error.serverInfo?[.sqlState] else { return nil }
        switch state {
        case "55P03", "40001", "40P01", "53300", "57P01", "57P03", "08000", "08003", "08006":
            return StoreError(.busy, "PostgreSQL answered \(Self.explain(error))")
        case "22021", "22P05":
            return StoreError(.invalid, "the text holds a character the database cannot store (a NUL character)")
        default:
            return nil
        }
    }
}
