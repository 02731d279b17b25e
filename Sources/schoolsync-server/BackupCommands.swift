import ArgumentParser
import Foundation
import SyncCore
import SyncServer
import SyncServerPostgres
import SyncServerSQLite

extension SchoolSyncServer {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the database to a backup file; safe while the server runs.",
            discussion: """
                SQLite: SQLite's online backup into a new database file. PostgreSQL: pg_dump's custom format (pg_dump
                from PATH or /usr/lib/postgresql/<version>/bin, of the server's version or newer).
                Examples:
                  schoolsync-server backup --db server.sqlite --to backups/2025-07-15.sqlite
                  schoolsync-server backup --database-url postgres://schoolsync@db/county --to backups/2025-07-15.dump
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The backup file to write.") var to: String

        func run() async throws {
            if let url = database.resolvedURL {
                _ = try PostgresStore.Configuration(url: url)
                // A restore's own mark is never part of a backup (PostgresStore.beginRestore).
                try PostgresTools.run("pg_dump", ["--format=custom", "--exclude-table=\(PostgresStore.restorePendingTable)", "--file=\(to)"], database: url)
            } else {
                try await reportingStoreErrors { try database.openSQLiteStore().backup(to: to) }
            }
            print("backed up \(database.displayName) to \(to)")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup over the database (stop every server first) and start a new epoch.",
            discussion: """
                Every client notices the new epoch on its next sync: it pulls from the beginning and offers
                all its records again, so changes made after the backup come back from the schools. Who owns
                which replica id is kept from before the restore.
                Examples:
                  schoolsync-server restore --from backups/2025-07-15.sqlite --db server.sqlite
                  schoolsync-server restore --from backups/2025-07-15.dump --database-url postgres://schoolsync@db/county
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The backup file to restore.") var from: String

        func run() async throws {
            guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("no backup at \(from)") }
            let epoch: Epoch
            if let url = database.resolvedURL {
                // Marked begun first, the owners of now kept outside what the backup replaces: cut
                // off anywhere after this, the database refuses to be served until a restore finishes.
                guard let store = try await database.openStore(resumingRestore: true) as? PostgresStore else { throw ExitCode(1) }
                try await reportingStoreErrors { try await store.beginRestore() }
                await store.close()
                try PostgresTools.run("pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction", from], database: url)
                guard let restored = try await database.openStore(resumingRestore: true) as? PostgresStore else { throw ExitCode(1) }
                epoch = try await reportingStoreErrors { try await restored.finishRestore() }
                await restored.close()
            } else {
                epoch = try await reportingStoreErrors { try SQLiteStore.restore(from: from, to: database.path) }
            }
            print("restored \(from) into \(database.displayName); new epoch \(epoch)")
        }
    }
}

/// PostgreSQL's own client tools, for what they do best (a consistent dump, its restore).
enum PostgresTools {
    /// Runs `name` (from PATH, else the newest /usr/lib/postgresql/<version>/bin) on the database
    /// `url` names and fails with its own message when it fails. The password goes to the tool in
    /// `PGPASSWORD`, never on its command line, where every local user could read it.
    static func run(_ name: String, _ arguments: [String], database url: String) throws {
        var components = URLComponents(string: url)
        let password = components?.password
        components?.password = nil
        let process = Process()
        process.executableURL = try locate(name)
        process.arguments = arguments + ["--dbname=\(components?.string ?? url)"]
        if let password {
            process.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { $1 }
        }
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            FileHandle.standardError.write(Data("error: \(name) failed (exit \(process.terminationStatus)): \(said)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func locate(_ name: String) throws -> URL {
        var directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let debian = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debian)) ?? []).compactMap(Int.init).sorted(by: >)
        directories += versions.map { "\(debian)/\($0)/bin" }
        for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return URL(fileURLWithPath: "\(directory)/\(name)")
        }
        throw ValidationError("\(name) was not found on PATH nor under \(debian): install PostgreSQL's client tools (Debian: postgresql-client)")
    }
}
