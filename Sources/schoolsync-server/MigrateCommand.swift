import ArgumentParser
import Foundation
import SyncServer
import SyncServerPostgres
import SyncServerSQLite

extension SchoolSyncServer {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a county from an SQLite database to PostgreSQL, with nothing for the schools to notice.",
            discussion: """
                Copies everything — records with their states, the change log's numbering, receipts, replica owners,
                principals with their token hashes, sessions, audit history, conflicts — and keeps the epoch, so devices
                go on syncing against the PostgreSQL servers with their cursors, receipts and tokens. Stop the servers
                on the SQLite file first (what they write during the copy would not be carried); the PostgreSQL database
                must hold no schools' data yet.

                Example:
                  schoolsync-server migrate --from server.sqlite --to postgres://schoolsync@db.example:5432/county
                """
        )

        @Option(help: "The SQLite database file to copy.") var from: String
        @Option(help: "The PostgreSQL database to fill: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…].") var to: String

        func validate() throws {
            guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("no SQLite database at \(from)") }
            _ = try PostgresStore.Configuration(url: to)
        }

        func run() async throws {
            let source: SQLiteStore
            do {
                source = try SQLiteStore(path: from)
            } catch {
                throw ValidationError("cannot open the database at \(from): \(error)")
            }
            let configuration = try PostgresStore.Configuration(url: to)
            let target: PostgresStore
            do {
                target = try await PostgresStore(configuration: configuration)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            // The snapshot is read into a spool first, so PostgreSQL's transaction never idles
            // while a large county is read (idle_in_transaction_session_timeout would end it).
            print("reading \(from)…")
            let spool = try await source.spoolTables()
            let head = spool.head
            var chunks = 0
            var tables: Set<String> = []
            do {
                try await reportingStoreErrors {
                    try await target.importTables { insert in
                        try await spool.forEachChunk { table, json in
                            if tables.insert(table).inserted { print("copying \(table)…") }
                            try await insert(table, json)
                            chunks += 1
                        }
                        return head
                    }
                }
            } catch let error where !(error is ExitCode) {
                // Nothing was kept (one transaction); PostgreSQL's own words say which row it refused.
                FileHandle.standardError.write(Data("error: the copy failed, nothing was kept in PostgreSQL: \(PostgresStore.explain(error))\n".utf8))
                throw ExitCode(1)
            }
            await target.close()
            print("copied \(from) (change log up to \(head)) in \(chunks) chunks of \(tables.count) tables into \(configuration.redactedURL); epoch \(source.epoch) kept")
        }
    }
}
