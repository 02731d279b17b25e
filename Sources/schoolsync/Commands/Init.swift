import ArgumentParser
import AsyncHTTPClient
import Foundation
import SyncClient
import SyncCore

extension SchoolSync {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol this device: check the token with the server and set up the local database.",
            discussion: """
                The bureau gives each device a token (schoolsync-server device add …). Example:
                  schoolsync init --server http://192.0.2.10:8080 --token ss_3f… --db school.sqlite
                Running it again with a new token or server keeps every local record.
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "The server's address, e.g. http://192.0.2.10:8080.")
        var server: String

        @Option(help: "This device's token (or set SCHOOLSYNC_TOKEN).")
        var token: String?

        func validate() throws {
            guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw ValidationError("--server must be an http:// or https:// address, e.g. http://192.0.2.10:8080")
            }
            guard resolvedToken?.isEmpty == false else { throw ValidationError("give the device token with --token or SCHOOLSYNC_TOKEN") }
        }

        var resolvedToken: String? { token ?? ProcessInfo.processInfo.environment["SCHOOLSYNC_TOKEN"] }

        func run() async throws {
            try await runCommand {
                let replica = try global.openReplica()
                let token = resolvedToken ?? ""
                let session = try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    try await CLIError.translating {
                        try await HTTPSyncTransport(http: http, baseURL: server, token: token, timeout: .seconds(global.timeout)).session()
                    }
                }
                try await replica.enrol(serverURL: server, token: token, session: session)
                let settings = try await replica.settings()
                if global.json {
                    try printJSON([
                        "server": server, "device": session.principal.name, "school": session.principal.school ?? "",
                        "replica": settings?.replica.description ?? "",
                    ])
                } else {
                    print(
                        "enrolled \(global.path) as \"\(session.principal.name)\"\(session.principal.school.map { " of school \($0)" } ?? "") on \(server)"
                    )
                    print("next: schoolsync sync --db \(global.path)")
                }
            }
        }
    }
}
