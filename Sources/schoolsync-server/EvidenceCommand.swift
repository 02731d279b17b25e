import ArgumentParser
import Foundation
import Logging
import SyncServer

extension SchoolSyncServer {
    struct EvidenceCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "evidence",
            abstract: "Evidence files the schools uploaded (PROTOCOL.md §13).",
            subcommands: [Collect.self]
        )

        struct Collect: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "gc",
                abstract: "Remove evidence files no report names any more, once past the grace period, and expired uploads.",
                discussion: """
                    A running server does this every hour by itself; this runs one pass now and says what it removed.
                    A file uploaded but not yet named by a report counts from its upload.
                    Examples:
                      schoolsync-server evidence gc --db server.sqlite
                      schoolsync-server evidence gc --database-url postgres://schoolsync@db/county --grace-days 30
                    """
            )
            @OptionGroup var database: DatabaseOptions
            @Option(help: "Days a file may stay named by no report before it is removed.") var graceDays: Int = 7

            func validate() throws {
                guard (0...3650).contains(graceDays) else { throw ValidationError("--grace-days must be 0–3650") }
            }

            func run() async throws {
                let pass = try await reportingStoreErrors {
                    let store = try await database.openStore()
                    let collector = EvidenceCollector(store: store, grace: TimeInterval(graceDays) * 86_400, logger: Logger(label: "schoolsync-server"))
                    return try await collector.collect()
                }
                for hash in pass.removedFiles { print("removed \(hash)") }
                print(
                    "removed \(pass.removedFiles.count) unreferenced file(s) and \(pass.removedUploads) expired upload(s); "
                        + "\(pass.waiting) unreferenced file(s) are still inside the \(graceDays)-day grace period"
                )
            }
        }
    }
}
