import ArgumentParser
import Foundation
import SyncClient
import SyncCore

extension SchoolSync {
    struct Evidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List this school's evidence files, or fetch one from the server.",
            discussion: """
                Files are attached with 'schoolsync report set --evidence PATH' and uploaded by 'schoolsync sync'.
                  schoolsync evidence list
                  schoolsync evidence get --sha256 9f86d0… --output 照片.jpg
                """,
            subcommands: [List.self, Get.self]
        )
    }
}

extension SchoolSync.Evidence {
    /// One line of `evidence list`.
    struct Listed: Encodable {
        let name: String
        let sha256: String
        let size: Int?
        let type: String?
        let reports: [String]
        /// `uploaded`, `waiting`, `held back`, or `unknown` for a file this device does not keep.
        let upload: String
        let heldBack: String?
        let here: Bool
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The evidence files this school's reports name: size, type, whether uploaded, whether kept on this device.",
            discussion: "Example: schoolsync evidence list --json"
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runCommand {
                let replica = try global.openReplica()
                let (references, files) = try await CLIError.translating {
                    (try await replica.evidenceReferences(), try await replica.evidenceFiles())
                }
                let kept = Dictionary(files.map { ($0.sha256, $0) }, uniquingKeysWith: { first, _ in first })
                var order: [String] = []
                var byFile: [String: (item: EvidenceItem, reports: [String])] = [:]
                for reference in references {
                    let key = reference.item.sha256 + "\u{0}" + reference.item.name
                    if byFile[key] == nil { order.append(key) }
                    byFile[key, default: (reference.item, [])].reports.append(reference.report)
                }
                var listed = order.compactMap { key -> Listed? in
                    guard let (item, reports) = byFile[key] else { return nil }
                    let file = kept[item.sha256]
                    return Listed(
                        name: item.name,
                        sha256: item.sha256,
                        size: item.size ?? file?.size,
                        type: item.type ?? file?.type,
                        reports: reports,
                        upload: Self.upload(file),
                        heldBack: file?.heldBack,
                        here: file?.isComplete ?? false
                    )
                }
                let named = Set(references.map(\.item.sha256))
                for file in files where !named.contains(file.sha256) {
                    listed.append(
                        Listed(
                            name: file.name, sha256: file.sha256, size: file.size, type: file.type, reports: [], upload: Self.upload(file),
                            heldBack: file.heldBack, here: file.isComplete
                        )
                    )
                }
                if global.json { return try printJSON(listed) }
                if listed.isEmpty { print("no evidence files; attach one with 'schoolsync report set … --evidence PATH'") }
                for item in listed {
                    let size = item.size.map(ProgressPrinter.size) ?? "size unknown"
                    let here = item.here ? "kept here" : "not on this device ('schoolsync evidence get --sha256 \(item.sha256)')"
                    print("\(item.name)  \(size)  \(item.type ?? "type unknown")  \(item.upload)  \(here)")
                    print("  sha256 \(item.sha256)")
                    print(item.reports.isEmpty ? "  named by no report" : "  in " + item.reports.joined(separator: ", "))
                    if let reason = item.heldBack { print("  held back: \(reason)") }
                }
            }
        }

        static func upload(_ file: EvidenceFile?) -> String {
            guard let file else { return "unknown" }
            if file.heldBack != nil { return "held back" }
            if file.isUploaded { return "uploaded" }
            return file.isComplete ? "waiting to upload" : "downloading"
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch an evidence file of this school from the server and save it.",
            discussion: """
                The bytes are kept in the database as they arrive, so a cut download goes on where it stopped when run
                again, and checked against the SHA-256 before the file is written.
                Example: schoolsync evidence get --sha256 9f86d0… --output 选址批复.pdf
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The file's SHA-256 (64 hex digits), as 'schoolsync evidence list' or a report shows it.") var sha256: String
        @Option(help: "Where to save it. Default: the file's name, in the current folder.") var output: String?
        @Flag(help: "Replace a file already at the output path.") var force = false

        func validate() throws {
            guard EvidenceItem.isSHA256(sha256.lowercased()) else { throw ValidationError("--sha256 must be 64 hex digits, not '\(sha256)'") }
        }

        func run() async throws {
            try await runCommand {
                let sha = sha256.lowercased()
                let replica = try global.openReplica()
                let references = try await CLIError.translating { try await replica.evidenceReferences() }
                let localName = try await CLIError.translating { try await replica.evidenceFile(sha256: sha)?.name }
                let name = references.first { $0.item.sha256 == sha }?.item.name ?? localName ?? sha
                let destination = URL(fileURLWithPath: output ?? EvidenceItem(name: name, sha256: sha).safeFileName)
                if !force, FileManager.default.fileExists(atPath: destination.path) {
                    throw CLIError("\(destination.path) already exists; give --force to replace it, or --output another path", exitCode: 64)
                }
                let file = try await global.withEngine(quiet: global.json) { _, replica, transfer in
                    try await transfer.download(sha256: sha, name: name)
                }
                guard let bytes = try await CLIError.translating({ try await replica.evidenceBytes(sha256: sha) }) else {
                    throw CLIError("the file was fetched but is not whole in the database; run the command again", exitCode: 1)
                }
                do {
                    try bytes.write(to: destination, options: force ? [.atomic] : [.withoutOverwriting])
                } catch {
                    throw CLIError("cannot write \(destination.path): \(error.localizedDescription)", exitCode: 74)
                }
                if global.json { return try printJSON(["sha256": sha, "output": destination.path, "size": "\(file.size)", "type": file.type]) }
                print("saved \(file.name) (\(file.type), \(ProgressPrinter.size(file.size)), sha256 checked) to \(destination.path)")
            }
        }

    }
}
