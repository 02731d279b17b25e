import ArgumentParser
import Foundation
import GRDB
import Reporting
import SchoolReports
import SyncClient
import SyncCore

/// Which report a command is about.
struct ReportSelection: ParsableArguments {
    @Option(help: "The measure's id, as 'schoolsync measures' lists it.")
    var measure: String

    @Option(help: "The period: a term like 2025-S1 or 2025-S2, or a year like 2025.")
    var period: String

    func validate() throws {
        guard RecordRules.isPeriod(period) else {
            throw ValidationError("--period must be a term like 2025-S1 or a year like 2025, not '\(period)'")
        }
    }

    func key(school: String) -> RecordKey { RecordKey(collection: "reports", id: "\(school)/\(period)/\(measure)") }
}

extension SchoolSync {
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show, fill in, submit or discard this school's report on a measure for a period.",
            subcommands: [Show.self, Set.self, Submit.self, Discard.self]
        )
    }
}

extension SchoolSync.Report {
    static let statuses = ["not_started", "in_progress", "done", "at_risk"]

    /// The device's school, or a usage error.
    static func school(of replica: LocalReplica, path: String) async throws -> (school: String, device: String) {
        guard let settings = try await replica.settings(), let school = settings.schoolID else {
            throw CLIError("\(path) is not enrolled as a school device; run 'schoolsync init' with a device token", exitCode: 64)
        }
        return (school, settings.deviceName)
    }

    static func requireMeasure(_ measure: String, in replica: LocalReplica) async throws {
        let known = try await replica.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM measures WHERE id = ?", arguments: [measure]) ?? false }
        guard known else {
            throw CLIError("unknown measure '\(measure)'; run 'schoolsync sync' to fetch the catalog, then 'schoolsync measures'", exitCode: 65)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a report, its indicator values, and whether it waits to be sent or was rejected.",
            discussion: "Example: schoolsync report show --measure qixing-2024/m2.1 --period 2025-S1"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var report: ReportSelection

        struct Output: Encodable {
            let id: String
            let fields: [String: String]
            let conflicts: [String: [String]]
            let values: [String: String]
            let pendingUpload: Bool
            let rejected: String?
        }

        func run() async throws {
            try await runCommand {
                let replica = try global.openReplica()
                let (school, _) = try await SchoolSync.Report.school(of: replica, path: global.path)
                let key = report.key(school: school)
                guard let record = try await CLIError.translating({ try await replica.record(key) }), !record.state.isDeleted else {
                    throw CLIError("no report yet for \(report.measure) in \(report.period); start one with 'schoolsync report set'", exitCode: 65)
                }
                let prefix = "\(school)/\(report.period)/"
                let values = try await replica.read { db in
                    try Row.fetchAll(
                        db,
                        // CAST: display only, whatever another program stored (`row["column"]` traps on another type).
                        sql: "SELECT CAST(indicator_id AS TEXT) AS indicator_id, CAST(value AS TEXT) AS value FROM indicator_values WHERE id LIKE ? || '%' AND measure_id = ?",
                        arguments: [prefix, report.measure]
                    )
                    .map { ($0["indicator_id"] as String? ?? "?", $0["value"] as String? ?? "(in conflict)") }
                }
                let conflict = record.state.conflict
                let output = Output(
                    id: key.id,
                    fields: record.state.fields.compactMapValues { $0.settledValue.map(\.description) },
                    conflicts: conflict?.fields.mapValues { $0.map(\.value.description) } ?? [:],
                    values: Dictionary(values, uniquingKeysWith: { first, _ in first }),
                    pendingUpload: record.hasLocalChanges,
                    rejected: record.rejection.map { "\($0.code): \($0.message)" }
                )
                if global.json { return try printJSON(output) }
                print("report \(key.id)")
                for (field, value) in output.fields.sorted(by: { $0.key < $1.key }) { print("  \(field): \(value)") }
                for (field, options) in output.conflicts.sorted(by: { $0.key < $1.key }) {
                    print("  \(field): IN CONFLICT — " + options.map { "«\($0)»" }.joined(separator: " vs "))
                }
                for (indicator, value) in output.values.sorted(by: { $0.key < $1.key }) { print("  indicator \(indicator): \(value)") }
                print(output.pendingUpload ? "  (changes not yet on the server)" : "  (in step with the server)")
                if let rejected = output.rejected { print("  REJECTED by the server — \(rejected)") }
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill in a report: its status, narrative, evidence and indicator values.",
            discussion: """
                Only what you name changes; works offline. Examples:
                  schoolsync report set --measure qixing-2024/m2.1 --period 2025-S1 --status in_progress --narrative "已完成选址"
                  schoolsync report set --measure qixing-2024/m7.1 --period 2025 --ratio qixing-2024/i1=1126/1000
                  schoolsync report set --measure qixing-2024/m2.1 --period 2025-S1 --value qixing-2024/i5=2 --evidence 照片.jpg
                  schoolsync report set --measure qixing-2024/m2.1 --period 2025-S1 --remove-evidence 照片.jpg
                Evidence files (JPEG, PNG, PDF, Word, Excel, PowerPoint; at most 25 MiB each) are copied into the
                database, so moving the original later loses nothing; 'schoolsync sync' uploads them after the records.
                """
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var report: ReportSelection

        @Option(help: "not_started, in_progress, done or at_risk.") var status: String?
        @Option(help: "What was done, in the school's words.") var narrative: String?
        @Option(help: "INDICATOR=NUMBER or INDICATOR=true|false (repeatable).") var value: [String] = []
        @Option(help: "INDICATOR=NUMERATOR/DENOMINATOR for rates (repeatable); above 100% is allowed.") var ratio: [String] = []
        @Option(
            help: ArgumentHelp(
                "A file to attach as evidence: its PATH (repeatable).",
                discussion: "NAME=SHA256 names a file already on the server instead, when no file has that path."
            )
        )
        var evidence: [String] = []
        @Option(help: "Remove the evidence item with this NAME or SHA-256 from the report (repeatable).") var removeEvidence: [String] = []

        func validate() throws {
            if let status, !SchoolSync.Report.statuses.contains(status) {
                throw ValidationError("--status must be one of \(SchoolSync.Report.statuses.joined(separator: ", "))")
            }
            _ = try indicatorInputs()
            _ = try evidenceArguments()
            guard status != nil || narrative != nil || !value.isEmpty || !ratio.isEmpty || !evidence.isEmpty || !removeEvidence.isEmpty else {
                throw ValidationError("name at least one of --status, --narrative, --value, --ratio, --evidence, --remove-evidence")
            }
        }

        /// Indicator id → what was typed: `--value` numbers or true/false, `--ratio` NUMERATOR/DENOMINATOR.
        /// Their rules are Reporting's (``IndicatorInput``), checked against the indicator's kind when saved.
        func indicatorInputs() throws -> [(String, IndicatorInput)] {
            var result: [(String, IndicatorInput)] = []
            for item in value {
                let (indicator, text) = try split(item, "--value")
                if text == "true" || text == "false" {
                    result.append((indicator, .flag(text == "true")))
                } else if IndicatorInput.canonicalNumber(text) != nil {
                    result.append((indicator, .number(text)))
                } else {
                    throw ValidationError("--value \(item): the value must be a number, true or false")
                }
            }
            for item in ratio {
                let (indicator, text) = try split(item, "--ratio")
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, IndicatorInput.canonicalNumber(String(parts[0])) != nil, IndicatorInput.canonicalNumber(String(parts[1])) != nil else {
                    throw ValidationError("--ratio \(item): write NUMERATOR/DENOMINATOR, e.g. 1126/1000")
                }
                result.append((indicator, .ratio(numerator: String(parts[0]), denominator: String(parts[1]))))
            }
            return result
        }

        /// One `--evidence`: a file to copy in, or a file already on the server named by its digest.
        enum EvidenceArgument {
            case file(URL)
            case named(EvidenceItem)
        }

        /// Each `--evidence`: a PATH when a file is there, else NAME=SHA256.
        func evidenceArguments() throws -> [EvidenceArgument] {
            try evidence.map { item in
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: item, isDirectory: &isDirectory), !isDirectory.boolValue {
                    return .file(URL(fileURLWithPath: item))
                }
                guard let equals = item.lastIndex(of: "="), equals != item.startIndex else {
                    throw ValidationError("--evidence \(item): there is no file at that path (give the path of a photo, PDF or Office document)")
                }
                let name = String(item[..<equals])
                let hash = String(item[item.index(after: equals)...])
                guard RecordRules.isSHA256Hex(hash) else {
                    throw ValidationError("--evidence \(item): there is no file at that path, and NAME=SHA256 needs the SHA-256 as 64 hex digits")
                }
                return .named(EvidenceItem(name: name, sha256: hash.lowercased()))
            }
        }

        private func split(_ item: String, _ option: String) throws -> (String, String) {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex, item.index(after: equals) != item.endIndex else {
                throw ValidationError("\(option) \(item): write NAME=VALUE")
            }
            return (String(item[..<equals]), String(item[item.index(after: equals)...]))
        }

        func run() async throws {
            try await runCommand {
                let book = ReportBook(replica: try global.openReplica())
                var edit = ReportEdit(measure: report.measure, period: report.period)
                edit.status = status
                edit.narrative = narrative
                for (indicator, input) in try indicatorInputs() { edit.values[indicator] = input }
                // Every file is read and checked before anything is written: a refused file leaves no trace.
                for argument in try evidenceArguments() {
                    switch argument {
                    case .file(let url): edit.addEvidence.append(try await CLIError.translating { try CapturedEvidence(contentsOf: url) })
                    case .named(let item): edit.addEvidenceItems.append(item)
                    }
                }
                edit.removeEvidence = removeEvidence
                let outcome = try await CLIError.translating { try await book.save(edit) }
                if global.json { return try printJSON(["report": outcome.report.id, "saved": "true"]) }
                for file in edit.addEvidence {
                    print("kept \(file.item.name) (\(file.item.type ?? ""), \(file.bytes.count) bytes, sha256 \(file.item.sha256)) in the database")
                }
                print(
                    outcome.recordsWritten == 0 && edit.addEvidence.isEmpty
                        ? "\(outcome.report.id) already holds these values; nothing to save"
                        : "saved \(outcome.report.id) locally; run 'schoolsync sync' to send it")
            }
        }
    }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark a report as submitted to the bureau (sent with the next sync).",
            discussion: "Example: schoolsync report submit --measure qixing-2024/m2.1 --period 2025-S1"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var report: ReportSelection

        func run() async throws {
            try await runCommand {
                let book = ReportBook(replica: try global.openReplica())
                let key = ReportBook.reportKey(school: try await CLIError.translating { try await book.enrolment() }.school, period: report.period, measure: report.measure)
                try await CLIError.translating { try await book.submit(measure: report.measure, period: report.period) }
                if global.json { return try printJSON(["report": key.id, "workflow": "submitted"]) }
                print("marked \(key.id) as submitted; run 'schoolsync sync' to send it")
            }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Throw away this device's unsent or rejected changes to a report, going back to what the server has.",
            discussion: "Example: schoolsync report discard --measure qixing-2024/m2.1 --period 2025-S1"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var report: ReportSelection

        func run() async throws {
            try await runCommand {
                let replica = try global.openReplica()
                let (school, _) = try await SchoolSync.Report.school(of: replica, path: global.path)
                let key = report.key(school: school)
                try await CLIError.translating { try await replica.discard(key) }
                if global.json { return try printJSON(["report": key.id, "discarded": "true"]) }
                print("discarded local changes to \(key.id); the next sync sends the restored values")
            }
        }
    }
}
