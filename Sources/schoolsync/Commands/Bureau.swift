import ArgumentParser
import Foundation
import GRDB
import Reporting
import SyncClient
import SyncCore

extension SchoolSync {
    struct Bureau: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For the education bureau: publish plans, schools, periods and assignments; review reports; see the summary.",
            discussion: """
                Run these on a replica enrolled with a bureau user's token. Example session:
                  schoolsync bureau import Catalog/plans.json
                  schoolsync bureau school add --id qx-zhuoran --name 卓然学校 --type 九年一贯制 --township 七星街道
                  schoolsync bureau period add --id 2025-S1 --due 2025-07-15
                  schoolsync bureau assign --measure qixing-2024.a6.m1 --all
                  schoolsync sync
                  schoolsync bureau approve --school qx-zhuoran --measure qixing-2024.a6.m1 --period 2025-S1
                  schoolsync bureau summary --period 2025-S1 --csv --output summary.csv
                """,
            subcommands: [Import.self, School.self, Period.self, Assign.self, Approve.self, Return.self, Summary.self]
        )
    }
}

extension SchoolSync.Bureau {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish the plans, measures and indicators of a catalog file (format: Catalog/README.md).",
            discussion: "Example: schoolsync bureau import Catalog/plans.json   (then: schoolsync sync)"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The catalog file.") var file: String

        func run() async throws {
            try await runCommand {
                let data: Data
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: file))
                } catch {
                    throw CLIError("cannot read \(file): \(error.localizedDescription)", exitCode: 65)
                }
                let document: CatalogDocument
                do throws(CatalogError) {
                    document = try CatalogImporter.load(data, file: file)
                } catch {
                    throw CLIError(error.description, exitCode: 65)
                }
                let records = CatalogImporter.records(of: document)
                let replica = try global.openReplica()
                try await CLIError.translating { try await replica.write(records.map { ($0.key, $0.values) }, scope: .catalog) }
                let counts = Dictionary(grouping: records, by: \.key.collection).mapValues(\.count)
                if global.json { return try printJSON(counts) }
                print(
                    "imported \(counts["plans"] ?? 0) plans, \(counts["measures"] ?? 0) measures, \(counts["indicators"] ?? 0) indicators; run 'schoolsync sync' to publish them"
                )
            }
        }
    }

    struct School: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe schools in the catalog.", subcommands: [Add.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add or update a school (its id must match the server's enrolment).",
                discussion: "Example: schoolsync bureau school add --id qx-zhuoran --name 卓然学校 --type 九年一贯制 --township 七星街道"
            )
            @OptionGroup var global: GlobalOptions
            @Option(help: "The school's id.") var id: String
            @Option(help: "The school's name.") var name: String
            @Option(help: "幼儿园, 小学, 初中, 九年一贯制, 特殊教育学校, 教学点, …") var type: String?
            @Option(help: "The township or street it belongs to (for the roll-up).") var township: String?
            @Flag(help: "A rural school.") var rural = false

            func run() async throws {
                try await runCommand {
                    let replica = try global.openReplica()
                    var values: [String: Value] = ["name": .string(name), "rural": .bool(rural)]
                    if let type { values["type"] = .string(type) }
                    if let township { values["township"] = .string(township) }
                    try await CLIError.translating { try await replica.write(RecordKey(collection: "schools", id: id), values, scope: .catalog) }
                    print("saved school \(id); run 'schoolsync sync' to publish it")
                }
            }
        }
    }

    struct Period: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reporting periods and their due dates.", subcommands: [Add.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add or update a reporting period; reports not submitted by its due date are late.",
                discussion: "Example: schoolsync bureau period add --id 2025-S1 --due 2025-07-15"
            )
            @OptionGroup var global: GlobalOptions
            @Option(help: "A term like 2025-S1 or a year like 2025.") var id: String
            @Option(help: "The due date, YYYY-MM-DD.") var due: String

            func validate() throws {
                guard RecordRules.isPeriod(id) else { throw ValidationError("--id must be a term like 2025-S1 or a year like 2025") }
                guard due.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil else { throw ValidationError("--due must be a date like 2025-07-15") }
            }

            func run() async throws {
                try await runCommand {
                    let replica = try global.openReplica()
                    let kind = id.contains("-S") ? "semester" : "year"
                    try await CLIError.translating {
                        try await replica.write(
                            RecordKey(collection: "periods", id: id),
                            ["kind": .string(kind), "due": .string(due)],
                            scope: .catalog
                        )
                    }
                    print("saved period \(id) (due \(due)); run 'schoolsync sync' to publish it")
                }
            }
        }
    }

    struct Assign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Assign measures to all schools, to a type of school, or to a list.",
            discussion:
                "Examples:\n  schoolsync bureau assign --measure qixing-2024.a6.m1 --type 幼儿园\n  schoolsync bureau assign --measure qixing-2024.a3.m2 --all"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "A measure id (repeatable).") var measure: [String]
        @Flag(help: "Every school in the catalog.") var all = false
        @Option(help: "Every school of this type.") var type: String?
        @Option(help: "A school id (repeatable).") var school: [String] = []

        func validate() throws {
            guard !measure.isEmpty else { throw ValidationError("name at least one --measure") }
            guard [all, type != nil, !school.isEmpty].filter({ $0 }).count == 1 else {
                throw ValidationError("choose exactly one of --all, --type, --school")
            }
        }

        func run() async throws {
            try await runCommand {
                let replica = try global.openReplica()
                let (known, schools) = try await replica.read { [all, type, school] db in
                    let known = try Set(String.fetchAll(db, sql: "SELECT id FROM measures"))
                    let schools: [String] =
                        if all { try String.fetchAll(db, sql: "SELECT id FROM schools ORDER BY id") } else if let type {
                            try String.fetchAll(db, sql: "SELECT id FROM schools WHERE type = ? ORDER BY id", arguments: [type])
                        } else { school }
                    return (known, schools)
                }
                if let unknown = measure.first(where: { !known.contains($0) }) {
                    throw CLIError("unknown measure \(unknown); import the catalog first (schoolsync bureau import)", exitCode: 65)
                }
                guard !schools.isEmpty else { throw CLIError("no school matches; add schools with 'schoolsync bureau school add'", exitCode: 65) }
                var changes: [(RecordKey, [String: Value])] = []
                for schoolID in schools {
                    for measureID in measure {
                        changes.append(
                            (
                                RecordKey(collection: "assignments", id: "\(schoolID)/\(measureID)"),
                                ["school_id": .string(schoolID), "measure_id": .string(measureID)]
                            )
                        )
                    }
                }
                try await CLIError.translating { try await replica.write(changes) }
                print("assigned \(measure.count) measure(s) to \(schools.count) school(s); run 'schoolsync sync' to publish")
            }
        }
    }

    /// The report a review command is about.
    struct ReportChoice: ParsableArguments {
        @Option(help: "The school's id.") var school: String
        @Option(help: "The measure's id.") var measure: String
        @Option(help: "The period, e.g. 2025-S1.") var period: String

        var key: RecordKey { RecordKey(collection: "reports", id: "\(school)/\(period)/\(measure)") }
    }

    /// Syncs, makes the review's move with ``ReportWorkflow`` (the same rules as the server's review
    /// pages: a settled report in a state that allows it), writes it, and syncs again.
    static func review(_ global: GlobalOptions, _ choice: ReportChoice, transition: @escaping @Sendable (String) -> ReportWorkflow.Transition) async throws {
        try await global.withEngine(quiet: true) { engine, replica in
            try await engine.sync()
            let record = try await replica.record(choice.key)
            let reviewer = try await replica.settings()?.deviceName ?? "bureau"
            let fields: [String: Value]
            do throws(ReportWorkflowError) {
                fields = try ReportWorkflow.fields(for: transition(reviewer), of: record?.state, reportID: choice.key.id, at: Date())
            } catch {
                switch error.code {
                case .missing: throw CLIError("no report \(choice.key.id) on the server", exitCode: 65)
                case .conflicted:
                    throw CLIError("report \(choice.key.id) is in conflict; an administrator must resolve it before review", exitCode: 65)
                case .wrongState, .emptyComment: throw CLIError(error.message, exitCode: 65)
                }
            }
            try await replica.write(choice.key, fields)
            try await engine.sync()
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a submitted report; later edits from the school are refused until it is returned.",
            discussion: "Example: schoolsync bureau approve --school qx-zhuoran --measure qixing-2024.a6.m1 --period 2025-S1"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var choice: ReportChoice

        func run() async throws {
            try await runCommand {
                // The approval records what it approved: the report's context as the bureau saw it.
                try await SchoolSync.Bureau.review(global, choice) { .approve(reviewer: $0) }
                print("approved \(choice.key.id)")
            }
        }
    }

    struct Return: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "return",
            abstract: "Return a submitted or approved report to the school with a comment; the school can edit and resubmit it.",
            discussion: "Example: schoolsync bureau return --school qx-zhuoran --measure qixing-2024.a6.m1 --period 2025-S1 --comment \"请补充照片\""
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var choice: ReportChoice
        @Option(help: "What the school should change.") var comment: String

        func run() async throws {
            try await runCommand {
                let comment = comment
                // An approved report may be returned too: that unlocks it for the school again.
                try await SchoolSync.Bureau.review(global, choice) { .return(comment: comment, reviewer: $0) }
                print("returned \(choice.key.id) to the school")
            }
        }
    }

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Indicators against targets and reporting progress for a period, from the server.",
            discussion: """
                Examples:
                  schoolsync bureau summary --period 2025-S1
                  schoolsync bureau summary --period 2025-S1 --csv --output 2025-S1.csv   (UTF-8 with BOM: opens in Excel)
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "A term like 2025-S1 or a year like 2025.") var period: String
        @Flag(help: "CSV (UTF-8 with BOM) instead of a table.") var csv = false
        @Option(help: "Write to this file instead of standard output.") var output: String?

        func validate() throws {
            guard RecordRules.isPeriod(period) else { throw ValidationError("--period must be a term like 2025-S1 or a year like 2025") }
        }

        func run() async throws {
            try await runCommand {
                let summary = try await global.withAdministration { try await $0.get("/v1/bureau/summary?period=\(period)", as: BureauSummary.self) }
                let text: String
                if global.json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    text = String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n"
                } else if csv {
                    text = SummaryFormat.csv(summary)
                } else {
                    text = SummaryFormat.table(summary) + "\n"
                }
                if let output {
                    do {
                        try Data(text.utf8).write(to: URL(fileURLWithPath: output))
                    } catch {
                        throw CLIError("cannot write \(output): \(error.localizedDescription)", exitCode: 1)
                    }
                    print("wrote \(output)")
                } else {
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
        }
    }
}
