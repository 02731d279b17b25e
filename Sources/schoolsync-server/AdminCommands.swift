import ArgumentParser
import Foundation
import SyncCore
import SyncServer

extension SchoolSyncServer {
    struct SchoolCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "school",
            abstract: "Manage schools directly in the database file.",
            subcommands: [Add.self, List.self]
        )

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a school that devices can be enrolled in.",
                discussion: "Example:\n  schoolsync-server school add --db server.sqlite --id qx-zhuoran --name 卓然学校"
            )
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The school's id: letters, digits, '-', '_' or '.' (it becomes the scope school:<id>).") var id: String
            @Option(help: "The school's name.") var name: String

            func run() async throws {
                let store = try await database.openStore()
                let school = try await reportingStoreErrors { try await store.createSchool(id: id, name: name, at: Date()) }
                print("created school \(school.id) (\(school.name))")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List schools.")
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                for school in try await database.openStore().schools() { print("\(school.id)\t\(school.name)") }
            }
        }
    }

    struct DeviceCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device",
            abstract: "Enrol school devices and list their sync state.",
            subcommands: [Add.self, List.self]
        )

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Enrol a device of a school and print its token (shown once).",
                discussion: "Example:\n  schoolsync-server device add --db server.sqlite --school qx-zhuoran --name \"教务处 PC\""
            )
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The school's id.") var school: String
            @Option(help: "A name people recognise, e.g. the room and computer.") var name: String

            func run() async throws {
                let store = try await database.openStore()
                let (device, token) = try await reportingStoreErrors {
                    try await store.createPrincipal(kind: .device, name: name, schoolID: school, at: Date())
                }
                print("enrolled device \(device.id) (\(device.name)) of school \(school)")
                print("token (shown once; give it to the school): \(token)")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List devices with their last pull, push and client.",
                discussion:
                    "A running server writes device activity once a second, so the newest second may be missing here; GET /v1/devices is always current."
            )
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                let formatter = ISO8601DateFormatter()
                for device in try await database.openStore().devices() {
                    let seen = device.lastSeenAt.map(formatter.string(from:)) ?? "never"
                    print("\(device.id)\t\(device.school ?? "-")\t\(device.name)\tlast seen \(seen)\(device.revoked ? "\trevoked" : "")")
                }
            }
        }
    }

    struct UserCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "user",
            abstract: "Create bureau and admin users.",
            subcommands: [Add.self]
        )

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a user and print its token (shown once).",
                discussion: "Example (bootstrap the first administrator):\n  schoolsync-server user add --db server.sqlite --name 管理员 --role admin"
            )
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The user's name.") var name: String
            @Option(help: "bureau (reads everything, writes the catalog and corrections) or admin (also enrols and resolves).")
            var role: String

            func validate() throws {
                guard role == "bureau" || role == "admin" else { throw ValidationError("--role must be 'bureau' or 'admin'") }
            }

            func run() async throws {
                let store = try await database.openStore()
                let kind: Principal.Kind = role == "admin" ? .admin : .bureau
                let (user, token) = try await reportingStoreErrors {
                    try await store.createPrincipal(kind: kind, name: name, schoolID: nil, at: Date())
                }
                print("created \(role) user \(user.id) (\(user.name))")
                print("token (shown once): \(token)")
            }
        }
    }
}
