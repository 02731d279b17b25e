import ArgumentParser
import Foundation
import SyncServer
import SyncServerSQLite

extension SchoolSyncServer {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the database to a backup file; safe while the server runs.",
            discussion: "Example: schoolsync-server backup --db server.sqlite --to backups/2025-07-15.sqlite"
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The backup file to write.") var to: String

        func run() async throws {
            try await reportingStoreErrors { try database.openSQLiteStore().backup(to: to) }
            print("backed up \(database.path) to \(to)")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup over the database (stop the server first) and start a new epoch.",
            discussion: """
                Every client notices the new epoch on its next sync: it pulls from the beginning and offers
                all its records again, so changes made after the backup come back from the schools.
                Example: schoolsync-server restore --from backups/2025-07-15.sqlite --db server.sqlite
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The backup file to restore.") var from: String

        func run() async throws {
            let epoch = try await reportingStoreErrors { try SQLiteStore.restore(from: from, to: database.path) }
            print("restored \(from) into \(database.path); new epoch \(epoch)")
        }
    }
}
