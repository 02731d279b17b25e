import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SyncServer

extension SchoolSyncServer {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the server until SIGINT or SIGTERM.",
            discussion: """
                    Flags win over environment variables: SCHOOLSYNC_DB, SCHOOLSYNC_DATABASE_URL, SCHOOLSYNC_HOST, SCHOOLSYNC_PORT,
                    SCHOOLSYNC_LOG_LEVEL. With --database-url, any number of servers may serve one PostgreSQL database.
                    Port 0 picks a free port; the start-up line says which.

                  Example:
                    schoolsync-server serve --db server.sqlite --host 127.0.0.1 --port 8080
                    schoolsync-server serve --database-url postgres://schoolsync@db.example:5432/schoolsync --port 8080
                """
        )

        @OptionGroup var database: DatabaseOptions

        @Option(help: "The address to listen on (default 127.0.0.1; use 0.0.0.0 to serve the network).")
        var host: String?

        @Option(help: "The port to listen on (default 8080; 0 picks a free one).")
        var port: Int?

        @Option(help: "The most records one push may carry.")
        var maxBatchRecords: Int = 500

        @Option(help: "The largest decoded request body, in bytes.")
        var maxBodyBytes: Int = 8 * 1024 * 1024

        @Option(help: "Failed sign-ins and token checks one client address may make per minute before it must wait (429); 0 turns the limit off.")
        var failedAuthPerMinute: Int = 30

        @Option(help: "trace, debug, info, notice, warning, error or critical (default info).")
        var logLevel: String?

        @Option(help: "Days an evidence file may stay named by no report before it is removed.")
        var evidenceGraceDays: Int = 7

        func validate() throws {
            let environment = ProcessInfo.processInfo.environment
            if port == nil, let text = environment["SCHOOLSYNC_PORT"], Int(text) == nil {
                throw ValidationError("SCHOOLSYNC_PORT must be a number, not '\(text)'")
            }
            if let port = resolvedPort, !(0...65535).contains(port) {
                throw ValidationError("the port must be between 0 and 65535")
            }
            guard (1...100_000).contains(maxBatchRecords), (1024...1 << 30).contains(maxBodyBytes) else {
                throw ValidationError("--max-batch-records must be 1–100000 and --max-body-bytes 1024–1073741824")
            }
            guard (0...3650).contains(evidenceGraceDays) else { throw ValidationError("--evidence-grace-days must be 0–3650") }
            guard (0...1_000_000).contains(failedAuthPerMinute) else {
                throw ValidationError("--failed-auth-per-minute must be 0 (no limit) to 1000000")
            }
            if let level = logLevel ?? environment["SCHOOLSYNC_LOG_LEVEL"], Logger.Level(rawValue: level) == nil {
                throw ValidationError("unknown log level '\(level)'")
            }
        }

        private var resolvedPort: Int? {
            port ?? ProcessInfo.processInfo.environment["SCHOOLSYNC_PORT"].flatMap(Int.init)
        }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let level = (logLevel ?? environment["SCHOOLSYNC_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "schoolsync-server")
            var configuration = SyncServerConfiguration()
            configuration.host = host ?? environment["SCHOOLSYNC_HOST"] ?? "127.0.0.1"
            configuration.port = resolvedPort ?? 8080
            configuration.maxBatchRecords = maxBatchRecords
            configuration.maxBodyBytes = maxBodyBytes
            configuration.failedAuthPerMinute = failedAuthPerMinute
            configuration.evidenceGraceSeconds = TimeInterval(evidenceGraceDays) * 86_400
            let store = try await database.openStore()
            let path = database.displayName
            let host = configuration.host
            let app = makeSyncServer(configuration: configuration, store: store, logger: logger) { port in
                // Tests and scripts read this line to learn the port: write it unbuffered.
                let line = "SchoolSync server listening on http://\(host):\(port) (database \(path), epoch \(store.epoch))\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
            try await app.runService()
        }
    }
}
