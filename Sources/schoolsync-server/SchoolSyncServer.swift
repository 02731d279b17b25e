import ArgumentParser
import Foundation
import Logging
import SyncServer
import SyncServerPostgres
import SyncServerSQLite

@main
struct SchoolSyncServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolsync-server",
        abstract: "The SchoolSync central server: push/pull sync of school reports over HTTP.",
        discussion: """
            Start with an administrator, then enrol schools and their devices:

              schoolsync-server user add --db server.sqlite --name 区教育局管理员 --role admin
              schoolsync-server school add --db server.sqlite --id qx-zhuoran --name 卓然学校
              schoolsync-server device add --db server.sqlite --school qx-zhuoran --name "教务处 PC"
              schoolsync-server serve --db server.sqlite --port 8080

            Tokens are printed once and stored only as SHA-256 hashes.

            Several servers share one PostgreSQL database instead: give each the same
            --database-url postgres://USER@HOST:5432/DATABASE (or SCHOOLSYNC_DATABASE_URL).
            """,
        subcommands: [Serve.self, SchoolCommand.self, DeviceCommand.self, UserCommand.self, Backup.self, Restore.self, Migrate.self, EvidenceCommand.self]
    )
}

/// Options every subcommand shares: which store, an SQLite file (the default) or a PostgreSQL database.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The server's SQLite database file (created if missing).",
            discussion: "Default: $SCHOOLSYNC_DB, else schoolsync-server.sqlite. Not with --database-url."
        )
    )
    var db: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A PostgreSQL database to use instead of SQLite, for several servers on one database.",
            discussion: """
                postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-ca|verify-full] \
                (default sslmode prefer); the password may also come from $PGPASSWORD. Default: $SCHOOLSYNC_DATABASE_URL.
                """
        )
    )
    var databaseURL: String?

    @Option(name: .long, help: "The most connections to PostgreSQL this process opens, 2–1000 (default 10; one listens for other servers' changes).")
    var databasePoolSize: Int = 10

    @Option(
        name: .long,
        help: ArgumentHelp(
            "PostgreSQL: the most pushes stored in one transaction with one commit, 1–256 (default 32; 1 stores each push alone).",
            discussion: "Pushes that arrive while others are being stored share the next commit, unless they share a school or a replica."
        )
    )
    var pushGroupSize: Int = 32

    func validate() throws {
        if db != nil, databaseURL != nil {
            throw ValidationError("give either --db (an SQLite file) or --database-url (PostgreSQL), not both")
        }
        guard (2...1000).contains(databasePoolSize) else { throw ValidationError("--database-pool-size must be 2–1000") }
        guard (1...256).contains(pushGroupSize) else { throw ValidationError("--push-group-size must be 1–256") }
    }

    var path: String {
        db ?? ProcessInfo.processInfo.environment["SCHOOLSYNC_DB"] ?? "schoolsync-server.sqlite"
    }

    /// The PostgreSQL URL, from the flag or the environment; `nil` for the SQLite default.
    var resolvedURL: String? {
        guard db == nil else { return nil }
        return databaseURL ?? ProcessInfo.processInfo.environment["SCHOOLSYNC_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The database as the start-up line and messages name it (a URL without its password).
    var displayName: String {
        guard let url = resolvedURL else { return path }
        return (try? PostgresStore.Configuration(url: url).redactedURL) ?? "PostgreSQL"
    }

    /// The store the commands and the server speak to, by its protocol: this is the one place that
    /// names an engine.
    ///
    /// - Parameter resumingRestore: open a PostgreSQL database whose restore did not finish (the
    ///   restore command's own; anything else is refused such a database).
    func openStore(resumingRestore: Bool = false) async throws -> any SyncStore {
        guard let url = resolvedURL else { return try openSQLiteStore() }
        var configuration: PostgresStore.Configuration
        do {
            configuration = try PostgresStore.Configuration(url: url, poolSize: databasePoolSize)
            configuration.pushGroupSize = pushGroupSize
            configuration.resumingRestore = resumingRestore
        } catch {
            throw ValidationError("\(error)")  // the flag is wrong: usage help follows
        }
        do {
            return try await PostgresStore(configuration: configuration)
        } catch {
            // The flag is right but the database is away: the reason alone, and exit status 1.
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The SQLite store itself, for what only it can do (a file backup).
    func openSQLiteStore() throws -> SQLiteStore {
        if resolvedURL != nil {
            throw ValidationError("backup and restore copy an SQLite file; back a PostgreSQL database up with pg_dump (README, \"PostgreSQL\")")
        }
        do {
            return try SQLiteStore(path: path)
        } catch {
            throw ValidationError("cannot open the database at \(path): \(error)")
        }
    }
}

/// Runs a store call and turns the store's refusals into a one-line error and exit code 1.
func reportingStoreErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}
