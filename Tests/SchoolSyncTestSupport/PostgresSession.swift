import Foundation
import Logging
import PostgresNIO

/// A connection of the test's own to a PostgreSQL database, beside the servers': to hold a lock in
/// an open transaction while other processes run into it, and to see who waits (`pg_stat_activity`).
///
/// For example, to hold every writing transaction of a store at its commit:
/// ```swift
/// let session = try await PostgresSession.connect(url)
/// try await session.execute("BEGIN")
/// try await session.execute("SELECT seq FROM log_head FOR UPDATE")
/// // … the servers' pushes wait …
/// try await session.execute("ROLLBACK")
/// await session.close()
/// ```
public final class PostgresSession: Sendable {
    private let connection: PostgresConnection
    private let logger = Logger(label: "SchoolSync.PostgresSession")

    private init(connection: PostgresConnection) { self.connection = connection }

    /// Connects to the database of `url` (`postgres://user@host:port/database`, no TLS: the tests'
    /// cluster is on loopback).
    public static func connect(_ url: String) async throws -> PostgresSession {
        guard let components = URLComponents(string: url), let host = components.host, let user = components.user else {
            throw FixtureError("not a postgres:// URL: \(url)")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let configuration = PostgresConnection.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user,
            password: components.password,
            database: database.isEmpty ? "postgres" : database,
            tls: .disable
        )
        return PostgresSession(connection: try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "SchoolSync.PostgresSession")))
    }

    /// Runs one statement (of the test's own text) and drops its rows.
    public func execute(_ sql: String) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    /// Runs one statement whose rows are one integer column; NULLs are left out.
    public func integers(_ sql: String) async throws -> [Int] {
        var values: [Int] = []
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int?.self) {
            if let value { values.append(value) }
        }
        return values
    }

    /// Runs one statement whose rows are one text column; NULLs are left out.
    public func texts(_ sql: String) async throws -> [String] {
        var values: [String] = []
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String?.self) {
            if let value { values.append(value) }
        }
        return values
    }

    /// The client ports of the connections to this session's database that wait for a lock (a row
    /// lock or an advisory lock another transaction holds).
    public func clientPortsWaitingForLocks() async throws -> Set<Int> {
        Set(try await integers("SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
    }

    /// Closes the connection; an open transaction is rolled back and its locks released.
    public func close() async {
        try? await connection.close()
    }
}

extension ServerProcess {
    /// The local ports of the process's TCP connections (Linux's `/proc`), e.g. to tell its
    /// connections to PostgreSQL (`pg_stat_activity.client_port`) from another server's.
    public func localTCPPorts() -> Set<Int> {
        let pid = process.processIdentifier
        let descriptors = "/proc/\(pid)/fd"
        var sockets = Set<String>()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(descriptors)/\(entry)"), target.hasPrefix("socket:[") else { continue }
            sockets.insert(String(target.dropFirst("socket:[".count).dropLast()))
        }
        var ports = Set<Int>()
        for table in ["tcp", "tcp6"] {
            // Read to the end: procfs files claim size 0, and String(contentsOfFile:) stops after one page.
            guard let file = FileHandle(forReadingAtPath: "/proc/\(pid)/net/\(table)") else { continue }
            let text = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
            try? file.close()
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, sockets.contains(String(fields[9])), let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) else {
                    continue
                }
                ports.insert(port)
            }
        }
        return ports
    }
}
