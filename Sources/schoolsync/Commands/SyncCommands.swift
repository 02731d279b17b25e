import ArgumentParser
import Foundation
import SyncClient

/// The JSON a sync command prints with --json.
struct SyncCommandOutput: Encodable {
    let pulled: Int
    let changed: Int
    let pushed: Int
    let applied: Int
    let conflicts: Int
    let rejected: Int
    /// Evidence files now on the server, still to upload, and held back (PROTOCOL.md §13).
    let evidenceUploaded: Int
    let evidenceWaiting: Int
    let evidenceHeldBack: Int

    init(_ report: SyncSummary, evidence: EvidenceUploadSummary, status: ReplicaStatus) {
        pulled = report.pulled.received
        changed = report.pulled.changed
        pushed = report.pushed.sent
        applied = report.pushed.applied
        conflicts = report.pushed.conflicts + report.pulled.conflicts
        rejected = report.pushed.rejected
        evidenceUploaded = evidence.uploaded
        evidenceWaiting = status.evidenceWaiting.count
        evidenceHeldBack = status.evidenceHeldBack.count
    }
}

/// Options of the commands that upload evidence files after the records.
struct UploadOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Seconds to spend uploading evidence files after the records (0: none this time).",
            discussion: "A file not finished in time continues where it stopped on the next sync."
        )
    )
    var uploadTime: Int = 300

    func validate() throws {
        guard (0...86_400).contains(uploadTime) else { throw ValidationError("--upload-time must be from 0 to 86400 seconds") }
    }
}

/// Runs pull, push or sync and reports the outcome; exit 2 when something needs a person. With
/// `uploadTime`, evidence files follow the records (PROTOCOL.md §13); their uploads never change
/// the outcome of the records' sync, only what is reported.
func runSync(_ global: GlobalOptions, quiet: Bool, uploadTime: Int? = nil, _ operation: @escaping (SyncEngine) async throws -> SyncSummary) async throws {
    try await runCommand {
        let (report, evidence, status) = try await global.withEngine(quiet: quiet) { engine, replica, transfer in
            let report = try await operation(engine)
            var evidence = EvidenceUploadSummary()
            if let uploadTime { evidence = try await transfer.uploadWaiting(timeLimit: .seconds(uploadTime)) }
            return (report, evidence, try await replica.status())
        }
        if global.json {
            try printJSON(SyncCommandOutput(report, evidence: evidence, status: status))
        } else {
            print(
                "pulled \(report.pulled.received) records (\(report.pulled.changed) changed), pushed \(report.pushed.sent) (\(report.pushed.applied) applied, \(report.pushed.conflicts) in conflict, \(report.pushed.rejected) rejected)"
            )
            if evidence.uploaded > 0 {
                print("uploaded \(evidence.uploaded) evidence file\(evidence.uploaded == 1 ? "" : "s")")
            }
            if uploadTime != nil, !status.evidenceWaiting.isEmpty {
                let count = status.evidenceWaiting.count
                let why = evidence.stoppedBecause.map { " (\($0))" } ?? ""
                print("\(count) file\(count == 1 ? "" : "s") still to upload; \(count == 1 ? "it continues" : "they continue") on the next sync\(why)")
            }
            for file in status.evidenceHeldBack { print("evidence \(file.name) held back: \(file.heldBack ?? "")") }
            if !status.rejected.isEmpty { print("\(status.rejected.count) records were rejected by the server; see 'schoolsync status'") }
            if !status.conflicts.isEmpty { print("\(status.conflicts.count) records are in conflict; see 'schoolsync conflicts'") }
        }
        if !status.rejected.isEmpty || !status.conflicts.isEmpty || !status.evidenceHeldBack.isEmpty { throw ExitCode(2) }
    }
}

extension SchoolSync {
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch what changed on the server since the last pull.",
            discussion: "Example: schoolsync pull --db school.sqlite"
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "No progress lines.") var quiet = false

        func run() async throws { try await runSync(global, quiet: quiet) { try await $0.pull() } }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send this device's changes to the server, then the evidence files its reports name.",
            discussion: "Example: schoolsync push --db school.sqlite"
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "No progress lines.") var quiet = false

        @OptionGroup var upload: UploadOptions

        func run() async throws { try await runSync(global, quiet: quiet, uploadTime: upload.uploadTime) { try await $0.push() } }
    }

    struct SyncCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Pull, push, pull, then upload evidence files: the usual way to sync.",
            discussion: "Example: schoolsync sync --db school.sqlite\nSafe to run at any time and to interrupt: nothing is lost or sent twice."
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "No progress lines.") var quiet = false

        @OptionGroup var upload: UploadOptions

        func run() async throws { try await runSync(global, quiet: quiet, uploadTime: upload.uploadTime) { try await $0.sync() } }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What is pending, rejected or in conflict, and how the last sync went.",
            discussion: "Example: schoolsync status --db school.sqlite --json"
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runCommand {
                let status = try await CLIError.translating { try await global.openReplica().status() }
                if global.json { return try printJSON(status) }
                print("server:        \(status.server ?? "not enrolled — run schoolsync init")")
                print("device:        \(status.device ?? "-")\(status.school.map { " (school \($0))" } ?? "")")
                print("reachable:     \(status.serverReachable.map { $0 ? "yes" : "no — changes are kept locally" } ?? "not tried yet")")
                print("last sync:     \(status.lastSyncAt ?? "never")")
                if let error = status.lastError { print("last error:    \(error)") }
                print("cursor:        \(status.cursor ?? "none (next pull starts from the beginning)")")
                print("pending:       \(status.pending) records with changes not yet on the server")
                if let push = status.unansweredPush { print("unanswered:    push \(push)") }
                print("rejected:      \(status.rejected.count)")
                for item in status.rejected { print("  \(item.collection)/\(item.id): \(item.code) — \(item.message)") }
                print("conflicts:     \(status.conflicts.count)")
                for item in status.conflicts {
                    print(
                        "  \(item.collection)/\(item.id): \(item.deleteConflict ? "deleted vs edited" : item.fields.keys.sorted().joined(separator: ", "))"
                    )
                }
                print("evidence:      \(status.evidenceWaiting.count) files waiting to upload (the next sync continues them)")
                for file in status.evidenceWaiting { print("  \(file.name) (\(ProgressPrinter.size(file.size)), sha256 \(file.sha256))") }
                if !status.evidenceHeldBack.isEmpty {
                    print("held back:     \(status.evidenceHeldBack.count) evidence files")
                    for file in status.evidenceHeldBack { print("  \(file.name): \(file.heldBack ?? "")") }
                }
            }
        }
    }

    struct Conflicts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List records in conflict with every value side by side.",
            discussion: """
                An administrator resolves conflicts on the server; the resolution arrives with the next sync.
                Example: schoolsync conflicts --db school.sqlite --json
                """
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runCommand {
                let conflicts = try await CLIError.translating { try await global.openReplica().conflicts() }
                if global.json { return try printJSON(conflicts) }
                if conflicts.isEmpty { print("no conflicts") }
                for conflict in conflicts {
                    print("\(conflict.collection)/\(conflict.id)\(conflict.deleteConflict ? " (deleted on one device, edited on another)" : "")")
                    for (field, values) in conflict.fields.sorted(by: { $0.key < $1.key }) {
                        print("  \(field): " + values.map { "«\($0)»" }.joined(separator: "  vs  "))
                    }
                }
            }
        }
    }
}
