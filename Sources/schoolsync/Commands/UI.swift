import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import SchoolReports
import SyncClient
import Workbench

extension SchoolSync {
    struct UI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ui",
            abstract: "Open the school's workbench: report forms in the browser, over this database, offline too.",
            discussion: """
                Serves pages on 127.0.0.1 only and prints the link to open (it signs this browser in; it is
                valid while this command runs). Works with no network: saving keeps reports here, the sync
                button sends them when a link exists. Stop it with Ctrl-C.
                Example: schoolsync ui --db school.sqlite
                """
        )
        @OptionGroup var global: GlobalOptions

        @Option(help: "The port on 127.0.0.1 (0: any free port).") var port: Int = 0

        @Option(help: "Seconds the sync button spends uploading evidence files after the records.") var uploadTime: Int = 120

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
            guard (0...86_400).contains(uploadTime) else { throw ValidationError("--upload-time must be from 0 to 86400 seconds") }
        }

        func run() async throws {
            try await runCommand {
                let (replica, settings) = try await global.openEnrolled()
                guard settings.schoolID != nil else {
                    throw CLIError("\(global.path) is enrolled with a token that has no school; the workbench is for school devices", exitCode: 64)
                }
                let logger = global.logger("schoolsync.ui", replica: settings.replica)
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let workbench = try Workbench(
                        book: ReportBook(replica: replica),
                        logger: logger,
                        sync: Workbench.httpSync(
                            replica: replica, http: http, uploadTime: .seconds(uploadTime), timeout: .seconds(global.timeout), attempts: global.attempts,
                            logger: logger)
                    )
                    let app = workbench.application(port: port) { bound in
                        // Written straight to the file descriptor: a script waiting for the link reads it at once.
                        let line = "学校工作台已启动。请在浏览器中打开 / open in a browser:\n  \(workbench.launchURL(port: bound))\n按 Ctrl-C 停止 / Ctrl-C stops it.\n"
                        FileHandle.standardOutput.write(Data(line.utf8))
                    }
                    try await app.runService()
                }
            }
        }
    }
}
