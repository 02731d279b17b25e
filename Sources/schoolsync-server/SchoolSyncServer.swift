import ArgumentParser
import Foundation
import Logging
import SyncServer
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
            """,
        subcommands: [Serve.self, SchoolCommand.self, DeviceCommand.self, UserCommand.self, Backup.self, Restore.self]
    )
}

/// Options every subcommand shares: the database file.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The server's SQLite database file (created if missing).",
            discussion: "Default: $SCHOOLSYNC_DB, else schoolsync-server.sqlite."
        )
    )
    var db: String?

    var path: String {
        db ?? ProcessInfo.processInfo.environment["SCHOOLSYNC_DB"] ?? "schoolsync-server.sqlite"
    }

    /// The store the commands and the server speak to, by its protocol: this is the one place that
    /// names an engine.
    func openStore() throws -> any SyncStore {
        try openSQLiteStore()
    }

    /// The SQLite store itself, for what only it can do (a file backup).
    func openSQLiteStore() throws -> SQLiteStore {
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
