import ArgumentParser
import Foundation
import Reporting
import SyncClient
import SyncCore

extension SchoolSync {
    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For administrators: see conflicts side by side, resolve them, read a record's history.",
            discussion: """
                Run on a replica enrolled with an admin token. Example:
                  schoolsync admin conflicts
                  schoolsync admin show --collection reports --id qx-zhuoran/2025-S1/qixing-2024.goals.m1
                  schoolsync admin resolve --collection reports --id qx-zhuoran/2025-S1/qixing-2024.goals.m1 --pick 3f0c… --reason "以教务处填报为准"
                  schoolsync admin history --collection reports --id qx-zhuoran/2025-S1/qixing-2024.goals.m1
                """,
            subcommands: [List.self, Show.self, Resolve.self, History.self]
        )
    }
}

extension SchoolSync.Admin {
    struct RecordChoice: ParsableArguments {
        @Option(help: "The record's collection, e.g. reports.") var collection: String
        @Option(help: "The record's id.") var id: String

        /// The record named; the client percent-encodes its id as one path segment (PROTOCOL.md §12).
        var key: RecordKey { RecordKey(collection: collection, id: id) }
    }

    /// Runs `body` with an administration client for the server and token this database was enrolled with.
    static func withServer<T>(_ global: GlobalOptions, _ body: (AdministrationClient) async throws -> T) async throws -> T {
        try await global.withAdministration(body)
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conflicts",
            abstract: "List open conflicts on the server.",
            discussion: "Example: schoolsync admin conflicts --school qx-zhuoran"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this school's records.") var school: String?
        @Option(help: "Only this collection.") var collection: String?

        func run() async throws {
            try await runCommand {
                let conflicts = try await SchoolSync.Admin.withServer(global) { try await $0.conflicts(school: school, collection: collection) }
                if global.json { return try printJSON(conflicts) }
                if conflicts.isEmpty { print("no open conflicts") }
                for conflict in conflicts {
                    print(
                        "\(conflict.collection)  \(conflict.id)  \(conflict.deleteConflict ? "deleted vs edited" : conflict.fields.joined(separator: ", "))  (\(conflict.scope))"
                    )
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a conflicted record: every value with who wrote it, and the settled fields.",
            discussion: "Example: schoolsync admin show --collection reports --id qx-zhuoran/2025-S1/qixing-2024.goals.m1"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var record: RecordChoice

        func run() async throws {
            try await runCommand {
                let detail = try await SchoolSync.Admin.withServer(global) { try await $0.conflict(record.key) }
                if global.json { return try printJSON(detail) }
                print("\(detail.collection)/\(detail.id) (\(detail.scope))")
                if !detail.deletedBy.isEmpty { print("  DELETED by \(detail.deletedBy.joined(separator: ", ")) while others edited it") }
                for (field, candidates) in detail.conflicts.sorted(by: { $0.key < $1.key }) {
                    print("  \(field):")
                    for candidate in candidates { print("    «\(candidate.value)»  — \(candidate.writer) (replica \(candidate.replica))") }
                }
                for (field, value) in detail.settled.sorted(by: { $0.key < $1.key }) { print("  \(field): \(value)") }
                print("  seen: \(String(decoding: try CanonicalJSON.encode(detail.context), as: UTF8.self))  (pass as --seen to admin resolve)")
                if let last = detail.lastContent {
                    print(
                        "  last content before the delete: " + last.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                    )
                }
            }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Settle a conflict: pick one writer's values, give values, keep a deleted record, or delete it.",
            discussion: """
                Examples:
                  schoolsync admin resolve --collection reports --id ID --pick REPLICA --reason "以教务处为准"
                  schoolsync admin resolve --collection reports --id ID --value narrative=东园主体完工 --reason "合并两校区说明"
                  schoolsync admin resolve --collection reports --id ID --keep --reason "误删"
                  schoolsync admin resolve --collection reports --id ID --delete --reason "重复填报"
                Refused (exit 65) if new values arrived since the conflict was shown: look again with 'admin show'.
                Pass the context 'admin show' printed as --seen, so values that arrive between looking and
                resolving are never settled unseen (without --seen, what the server holds when this runs is settled).
                """
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var record: RecordChoice
        @Option(help: "Take every conflicting field's value from this replica (its id, or a prefix of it).") var pick: String?
        @Option(help: "FIELD=VALUE for a conflicting field (repeatable); numbers and true/false keep their type.") var value: [String] = []
        @Flag(help: "Keep a record that was deleted on one device and edited on another, with its last content.") var keep = false
        @Flag(help: "Delete the record.") var delete = false
        @Option(help: "Why; kept in the record's history.") var reason: String
        @Option(help: "The context 'admin show' printed (JSON): refuse if anything arrived since.") var seen: String?

        func validate() throws {
            guard [pick != nil || !value.isEmpty, keep, delete].filter({ $0 }).count == 1 else {
                throw ValidationError("choose one of --pick/--value, --keep or --delete")
            }
        }

        func run() async throws {
            try await runCommand {
                let resolved = try await SchoolSync.Admin.withServer(global) { client in
                    try await client.resolve(record.key, try makeRequest(try await client.conflict(record.key)))
                }
                if global.json { return try printJSON(["resolved": "\(resolved.key)"]) }
                print("resolved \(resolved.key); every device receives it on its next sync")
            }
        }

        func makeRequest(_ detail: ConflictDetail) throws -> ResolutionRequest {
            var shown = detail.context
            if let seen {
                do {
                    shown = try CanonicalJSON.decode(VersionVector.self, from: Data(seen.utf8))
                } catch {
                    throw CLIError("--seen \(seen.prefix(80)): give the context 'admin show' printed, e.g. {\"aaaa…\":3}", exitCode: 64)
                }
            }
            if delete { return ResolutionRequest(seen: shown, values: nil, delete: true, reason: reason) }
            var values: [String: Value] = [:]
            if keep {
                values = detail.lastContent ?? [:]
                values.merge(detail.settled) { _, settled in settled }
            }
            if let pick {
                for (field, candidates) in detail.conflicts {
                    guard let chosen = candidates.first(where: { $0.replica.hasPrefix(pick) }) else {
                        throw CLIError("replica \(pick) wrote no value of \(field); see 'schoolsync admin show'", exitCode: 64)
                    }
                    values[field] = chosen.value
                }
            }
            for item in value {
                guard let equals = item.firstIndex(of: "=") else { throw CLIError("--value \(item): write FIELD=VALUE", exitCode: 64) }
                let field = String(item[..<equals])
                let text = String(item[item.index(after: equals)...])
                values[field] = Value(typed: text, like: detail.conflicts[field]?.first?.value ?? detail.settled[field])
            }
            return ResolutionRequest(seen: shown, values: values, delete: nil, reason: reason)
        }

    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every accepted change of a record: who, which replica, when, before and after, and why.",
            discussion: "Example: schoolsync admin history --collection reports --id qx-zhuoran/2025-S1/qixing-2024.goals.m1"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var record: RecordChoice

        func run() async throws {
            try await runCommand {
                let history = try await SchoolSync.Admin.withServer(global) { try await $0.history(record.key) }
                if global.json { return try printJSON(history) }
                let formatter = ISO8601DateFormatter()
                for entry in history {
                    let fields = entry.after.fields.sorted { $0.key < $1.key }.map {
                        "\($0.key)=" + $0.value.map(\.description).joined(separator: " | ")
                    }
                    print(
                        "#\(entry.seq) \(formatter.string(from: entry.at)) \(entry.kind.rawValue) by \(entry.principal ?? "?")\(entry.reason.map { " — \($0)" } ?? "")"
                    )
                    print("    \(entry.after.deleted ? "[deleted] " : "")\(fields.joined(separator: ", "))")
                }
            }
        }
    }
}
