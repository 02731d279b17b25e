import ArgumentParser
import AsyncHTTPClient
import Foundation
import GRDB
import Logging
import Reporting
import SchoolReports
import SyncClient
import SyncCore
import Synchronization

@main
struct SchoolSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolsync",
        abstract: "Offline-first sync of school reports with the education bureau.",
        discussion: """
            A school device keeps its reports in a local SQLite file and syncs whenever a link exists.

              schoolsync init --server http://bureau.example:8080 --token ss_… --db school.sqlite
              schoolsync sync
              schoolsync measures
              schoolsync report set --measure qixing-2024/m1.1 --period 2025-S1 --status in_progress --narrative "…"
              schoolsync report submit --measure qixing-2024/m1.1 --period 2025-S1
              schoolsync status

            Exit codes: 0 done; 2 synced, but records were rejected or are in conflict, or the server
            refused an evidence file (see status);
            64 bad usage; 65 an edit was refused; 66 the server does not hold what was asked for (an
            evidence file not uploaded yet); 69 server unreachable or failing (changes are kept
            locally); 70 the server's data contradicts this database; 74 the disk is full or failing
            (nothing saved is lost; free space and run it again); 75 another sync of this database is
            running (see --wait); 77 the token was refused; 1 anything else.
            """,
        subcommands: [
            Init.self, Pull.self, Push.self, SyncCommand.self, Status.self, UI.self, Measures.self, Report.self, Evidence.self, Conflicts.self, Bureau.self, Admin.self,
        ]
    )
}

/// Options shared by every command.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The school's database file.", discussion: "Default: $SCHOOLSYNC_DB, else school.sqlite."))
    var db: String?

    @Flag(help: "Print the result as JSON (for scripts).")
    var json = false

    @Option(help: "Seconds to wait for each server answer.")
    var timeout: Int = 30

    @Option(help: "How many times a failed request is tried in all (network errors and server faults only).")
    var attempts: Int = 5

    @Option(help: "Records per push, at most (the server's maxBatchRecords from /v1/session caps it).")
    var batchSize: Int = 200

    @Option(help: "Records per pull page, at most (the server's maxPullLimit from /v1/session caps it).")
    var pageSize: Int = 500

    @Option(help: ArgumentHelp("Seconds to wait for another sync of this database to finish.", discussion: "Default 0: exit 75 at once."))
    var wait: Int = 0

    @Option(
        help: ArgumentHelp(
            "How much the library logs on standard error: trace, debug, info, notice, warning, error or critical.",
            discussion: "Each line carries the replica id and, for requests, the X-Request-ID the server logs too."))
    var logLevel: String = "warning"

    var path: String { db ?? ProcessInfo.processInfo.environment["SCHOOLSYNC_DB"] ?? "school.sqlite" }

    /// A logger on standard error at `--log-level`, tagged with the replica id (standard output stays
    /// clean for --json).
    func logger(_ label: String, replica: ReplicaID?) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        if let replica { logger[metadataKey: "sync.replica"] = .string(replica.description) }
        return logger
    }

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard attempts > 0 else { throw ValidationError("--attempts must be positive") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard pageSize > 0 else { throw ValidationError("--page-size must be positive") }
        guard (0...86_400).contains(wait) else { throw ValidationError("--wait must be from 0 to 86400 seconds") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func openReplica() throws -> LocalReplica {
        do {
            return try LocalReplica(path: path, schemas: DomainSchema.all)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR {
            throw CLIError("cannot open the database at \(path): the disk is full or failing (\(error.message ?? "")); free some space and run the command again", exitCode: 74)
        } catch {
            throw CLIError("cannot open the database at \(path): \(error)", exitCode: 1)
        }
    }

    /// Opens the replica, checks it is enrolled, and runs `body` with an engine on a scoped HTTP client.
    func withEngine<T>(quiet: Bool, _ body: (SyncEngine, LocalReplica) async throws -> T) async throws -> T {
        try await withEngine(quiet: quiet) { engine, replica, _ in try await body(engine, replica) }
    }

    /// Opens the replica, checks it is enrolled, and runs `body` with an engine and an evidence
    /// transfer (PROTOCOL.md §13) on one scoped HTTP client.
    func withEngine<T>(quiet: Bool, _ body: (SyncEngine, LocalReplica, EvidenceTransfer) async throws -> T) async throws -> T {
        let (replica, settings) = try await openEnrolled()
        let printer = ProgressPrinter(enabled: !quiet && !json)
        return try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
            let transfer = EvidenceTransfer(
                replica: replica,
                transport: EvidenceTransport(
                    http: http,
                    baseURL: settings.serverURL,
                    token: settings.token,
                    timeout: .seconds(timeout),
                    logger: logger("schoolsync.evidence", replica: settings.replica)
                ),
                retry: RetryPolicy(maxAttempts: attempts),
                logger: logger("schoolsync.evidence", replica: settings.replica),
                progress: { printer.show($0) }
            )
            let transport = HTTPSyncTransport(
                http: http,
                baseURL: settings.serverURL,
                token: settings.token,
                timeout: .seconds(timeout),
                logger: logger("schoolsync.http", replica: settings.replica)
            )
            var engine = SyncEngine(
                replica: replica,
                transport: transport,
                retry: RetryPolicy(maxAttempts: attempts),
                batchSize: batchSize,
                pageSize: pageSize,
                logger: logger("schoolsync.sync", replica: settings.replica),
                progress: { printer.show($0) }
            )
            engine.lockWait = .seconds(wait)
            return try await CLIError.translating { try await body(engine, replica, transfer) }
        }
    }
}

extension GlobalOptions {
    /// Opens the replica and reads what `init` recorded; exit 64 when it was never enrolled.
    func openEnrolled() async throws -> (LocalReplica, LocalReplica.Settings) {
        let replica = try openReplica()
        guard let settings = try await CLIError.translating({ try await replica.settings() }) else {
            throw CLIError("\(path) is not enrolled yet; run 'schoolsync init --server URL --token TOKEN --db \(path)' first", exitCode: 64)
        }
        return (replica, settings)
    }

    /// Runs `body` with an administration client for the server and token this database was
    /// enrolled with: bureau and admin commands need no sync, only the same server and token.
    func withAdministration<T>(_ body: (AdministrationClient) async throws -> T) async throws -> T {
        let (_, settings) = try await openEnrolled()
        return try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
            let client = AdministrationClient(
                http: http,
                baseURL: settings.serverURL,
                token: settings.token,
                timeout: .seconds(timeout),
                logger: logger("schoolsync.admin", replica: nil)
            )
            return try await CLIError.translating { try await body(client) }
        }
    }
}

/// A failure with the exit code the help text documents.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32

    init(_ description: String, exitCode: Int32) {
        self.description = description
        self.exitCode = exitCode
    }

    /// Runs `body`, turning library errors into a one-line message and a documented exit code.
    static func translating<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SyncClientError {
            throw CLIError(error)
        } catch let error as ReportBookError {
            throw CLIError(error.message, exitCode: error.code == .notEnrolled ? 64 : 65)
        }
    }

    /// The documented exit code of a library error (see the help text).
    init(_ error: SyncClientError) {
        let code: Int32 =
            switch error.code {
            case .unreachable, .server: 69
            case .unauthorized, .forbidden: 77
            case .refused: 65
            case .usage: 64
            case .integrity, .invalidResponse: 70
            case .notFound: 66
            case .storage: 74
            case .busy: 75
            default: 1
            }
        self.init(error.message, exitCode: code)
    }
}

/// Writes progress to standard error, one line per step, so standard output stays clean for --json.
final class ProgressPrinter: Sendable {
    let enabled: Bool
    /// The last tenth of a file shown, by file name: a long upload prints a line per 10%, not per chunk.
    private let shownTenths = Mutex<[String: Int]>([:])

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: EvidenceProgress) {
        guard enabled else { return }
        let line: String
        switch progress {
        case .uploading(let name, let bytes, let total), .downloading(let name, let bytes, let total):
            let verb = if case .uploading = progress { "uploading" } else { "downloading" }
            // In Double and clamped: a total the server declared may be near Int.max, where `bytes * 10` traps.
            let tenth = total > 0 ? Int(min(10, max(0, Double(bytes) / Double(total) * 10))) : 10
            let isNew = shownTenths.withLock { shown in
                defer { shown[verb + name] = tenth }
                return shown[verb + name] != tenth
            }
            guard isNew else { return }
            // Uploads count bytes handed to the link; the server confirms them with the next answer.
            let done = if case .uploading = progress { "sent" } else { "received" }
            line = "\(verb) \(name): \(Self.size(bytes)) of \(Self.size(total)) \(done) (\(tenth * 10)%)"
        case .uploaded(let name, let size, let proven):
            line = proven ? "\(name) was already on the server from another school; proved this school has it (\(Self.size(size)) not sent)" : "uploaded \(name) (\(Self.size(size)))"
        case .retrying(let name, let attempt, let delay, let reason):
            line = "\(name): retry \(attempt) in \(delay.formatted(.units(allowed: [.seconds, .milliseconds]))): \(reason)"
        case .hashMismatch(let name, let message):
            line = "\(name): the server found the uploaded bytes different from the file (\(message)); starting it again from the first byte"
        case .heldBack(let name, let reason):
            line = "\(name) held back: \(reason)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) bytes" }
        if bytes < 1024 * 1024 { return "\(bytes / 1024) KiB" }
        let tenths = bytes / (1024 * 1024) * 10 + bytes % (1024 * 1024) * 10 / (1024 * 1024)  // `bytes * 10` traps near Int.max
        return "\(tenths / 10).\(tenths % 10) MiB"
    }

    func show(_ progress: SyncProgress) {
        guard enabled else { return }
        let line: String =
            switch progress {
            case .pulled(let records): "pulled \(records) records"
            case .pushed(let records, let total): "pushed \(records)/\(total) records"
            case .retrying(let attempt, let delay, let reason):
                "retry \(attempt) in \(delay.formatted(.units(allowed: [.seconds, .milliseconds]))): \(reason)"
            case .reminted(let replica): "this database had forgotten a push (restored or copied); continuing as new replica \(replica)"
            case .epochReset: "the server's database was restored; pulling everything again and re-sending local records"
            }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Prints a value as pretty JSON (sorted keys, Chinese text as is).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Runs a command body and exits with its documented code on failure.
func runCommand(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(error.exitCode)
    } catch let error as SyncClientError {
        // A library call made outside `CLIError.translating` still gets its documented code (a full disk is 74 everywhere).
        let translated = CLIError(error)
        FileHandle.standardError.write(Data("error: \(translated.description)\n".utf8))
        throw ExitCode(translated.exitCode)
    }
}
