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
                    Flags win over environment variables: SCHOOLSYNC_DB, SCHOOLSYNC_HOST, SCHOOLSYNC_PORT, SCHOOLSYNC_LOG_LEVEL.
                    Port 0 picks a free port; the start-up line says which.

                  Example:
                    schoolsync-server serve --db server.sqlite --host 127.0.0.1 --port 8080
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

        @Option(help: "trace, debug, info, notice, warning, error or critical (default info).")
        var logLevel: String?

        func validate() throws {
            let environment = ProcessInfo.processInfo.environment
            if port == nil, let text = environment["SCHOOLSYNC_PORT"], Int(text) == nil {
                throw ValidationError("SCHOOLSYNC_PORT must be a number, not '\(text)'")
            }
            if let port = resolvedPort, !(0...65535).contains(port) {
                throw ValidationError("the port must be between 0 and 65535")
            }
            guard maxBatchRecords > 0, maxBodyBytes >= 1024 else {
                throw ValidationError("--max-batch-records must be positive and --max-body-bytes at least 1024")
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
            let store = try database.openStore()
            let path = database.path
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
