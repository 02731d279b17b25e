import Foundation
import Logging
import PostgresNIO
import SyncCore
import SyncServer

extension PostgresStore {
    /// Runs `body` in a READ COMMITTED write transaction on one pooled connection: committed when it
    /// returns, rolled back when it throws (the error is rethrown as it was, unwrapped). The level is
    /// named, not left to the database's default: under REPEATABLE READ a transaction's snapshot
    /// would predate the locks it waits for, and its reads would be stale.
    func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction("BEGIN ISOLATION LEVEL READ COMMITTED", body)
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

    /// Takes the transaction-level advisory locks of replicas and of the scopes a push, a group of
    /// pushes or a resolution writes into, in one statement and one order (the replicas' lock
    /// numbers ascending, then the scopes'), so two transactions never wait for each other in a
    /// circle. Held until commit: the records read after it stay as read until this transaction
    /// writes them (invariant 4), because every writer of a record holds the lock of the record's
    /// scope (ids decide scopes, PROTOCOL.md §5; a record never changes scope, ``apply(_:_:)``
    /// makes sure). A statement of its own: under READ COMMITTED a statement reads the snapshot
    /// it started with, so the reads must start after the locks are held.
    ///
    /// Scopes, not records: a push of 500 records takes one or two locks, not 500 (PostgreSQL's
    /// lock table is shared and small), and a device can only take its own school's (the caller
    /// passes the scopes its principal may write). Two devices of one school push one after the
    /// other; schools never wait for each other.
    static func lock(replicas: [ReplicaID], scopes: Set<Scope>, _ connection: PostgresConnection, _ logger: Logger) async throws {
        guard !replicas.isEmpty || !scopes.isEmpty else { return }
        let replicaNames = replicas.map(\.description)
        let scopeNames = scopes.map(\.rawValue)
        for try await _ in try await connection.execute(Prepared.Locks(replicas: replicaNames, scopes: scopeNames), logger: logger) {}
    }

    /// Tries the locks of a group's pushes (``lock(replicas:scopes:_:_:)``'s, in its order) without
    /// waiting for any: a push whose lock another transaction holds is not stored in this group.
    /// The locks a group took stay held until it ends, whether or not their push is stored.
    ///
    /// - Returns: for each push, whether all its locks are held now.
    static func tryLocks(_ claims: [Set<PushGroups.Claim>], _ connection: PostgresConnection, _ logger: Logger) async throws -> [Bool] {
        let replicas = Set(claims.flatMap { $0.replicas.map(\.description) })
        let scopes = Set(claims.flatMap { $0.scopes.map(\.rawValue) })
        var taken: Set<String> = []
        for try await (namespace, name, got) in try await connection.query(
            """
            SELECT ns, name, pg_try_advisory_xact_lock(ns, h) FROM (
                SELECT 1 AS ns, r AS name, hashtext(r) AS h FROM unnest(\(Array(replicas))::text[]) AS r
                UNION
                SELECT 2, s, hashtext(s) FROM unnest(\(Array(scopes))::text[]) AS s
                ORDER BY 1, 3
            ) AS ordered
            """,
            logger: logger
        ).decode((Int32, String, Bool).self) where got {
            taken.insert("\(namespace):\(name)")
        }
        return claims.map { claims in
            claims.replicas.allSatisfy { taken.contains("1:\($0.description)") } && claims.scopes.allSatisfy { taken.contains("2:\($0.rawValue)") }
        }
    }

    /// Takes the lock of a server-side user's replica row, so two resolutions by one user in a new
    /// epoch mint one replica, not two.
    static func lock(principal: Principal, _ connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(3, hashtext(\(String(principal.id))))", logger: logger)
    }

}

extension PostgresStore {
    /// PostgreSQL's answers that are no fault of the server, as the routes know them: waits past
    /// the lock timeout, deadlocks, serialisation failures, statement and idle timeouts, a database
    /// that is away, out of lock memory or full of connections → `.busy` (503 `unavailable` with `Retry-After`); text PostgreSQL cannot hold
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
        case "55P03", "40001", "40P01", "53200", "53300", "57014", "57P01", "57P03", "25P03", "08000", "08003", "08006":
            return StoreError(.busy, "PostgreSQL answered \(Self.explain(error))")
        case "22021", "22P05":
            return StoreError(.invalid, "the text holds a character the database cannot store (a NUL character)")
        default:
            return nil
        }
    }
}
