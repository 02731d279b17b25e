import ArgumentParser
import AsyncHTTPClient
import Foundation
import Reporting
import SyncClient
import SyncCore
import SyncServer

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolsync-bench",
        abstract: "Measure SchoolSync on this machine: real server processes on loopback, real clients, a raw-SQLite baseline.",
        discussion: """
            The push and many-schools scenarios run on each server configuration in one run: one server on
            SQLite, one on PostgreSQL with group commit off and one with it on (the default), and two on one
            PostgreSQL database behind HAProxy. PostgreSQL is the
            cluster $SCHOOLSYNC_TEST_POSTGRES_URL names, else one the benchmark starts (fsync on).
            Run in release mode:
              swift build -c release && .build/release/schoolsync-bench --markdown Benchmarks.md --json bench.json
            --quick is the small run CI makes to prove the benchmark works on every configuration; it asserts no speed.
            """
    )

    @Flag(help: "Small sizes, finishing in about a minute.") var quick = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Option(help: "Write Benchmarks.md (the results, the machine, what bounds each number) to this file.") var markdown: String?
    @Option(help: "Run only these parts, comma-separated: push, schools, merge, field, evidence (for profiling one of them).")
    var only: String?
    @Option(
        help:
            "The server configurations, comma-separated: sqlite, postgres-group1 (group commit off: --push-group-size 1), postgres, postgres2 (two behind HAProxy), postgres2-check10 (the same, HAProxy's health check given 10 s). Default: the first four."
    )
    var servers: String?

    func validate() throws {
        if let unknown = parts.subtracting(Self.allParts).first {
            throw ValidationError("unknown part '\(unknown)' in --only; choose from \(Self.allParts.sorted().joined(separator: ", "))")
        }
        if (only != nil || servers != nil) && markdown != nil {
            throw ValidationError("--markdown writes the whole run; leave out --only and --servers")
        }
        if let servers, let unknown = servers.split(separator: ",").first(where: { ServerSetup(argument: $0.trimmingCharacters(in: .whitespaces)) == nil }) {
            throw ValidationError("unknown server configuration '\(unknown)' in --servers; choose from sqlite, postgres, postgres2, postgres2-check10")
        }
    }

    static let allParts: Set<String> = ["push", "schools", "merge", "field", "evidence"]
    var parts: Set<String> {
        guard let only else { return Self.allParts }
        return Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    var setups: [ServerSetup] {
        guard let servers else { return ServerSetup.comparison }
        let chosen = Set(servers.split(separator: ",").compactMap { ServerSetup(argument: $0.trimmingCharacters(in: .whitespaces)) })
        return ServerSetup.allCases.filter(chosen.contains)
    }

    func run() async throws {
        let sizes =
            quick
            ? Sizes(
                pushes: [2_000], schoolPull: 500, bureauExtra: 3_000, schools: [30], schoolSeconds: 2, merges: 20_000, fieldReports: 10,
                fieldWeeks: 3, evidenceBytes: 256 * 1024)
            : Sizes(
                pushes: [10_000, 100_000], schoolPull: 500, bureauExtra: 50_000, schools: [1_000, 5_000], schoolSeconds: 15, merges: 300_000,
                fieldReports: 40, fieldWeeks: 20, evidenceBytes: 5 * 1024 * 1024
            )
        var results: [Measurement] = []
        func report(_ measurement: Measurement) {
            results.append(measurement)
            let target = measurement.target.map { "  target \($0) \(measurement.met == true ? "✓" : measurement.met == false ? "✗" : "")" } ?? ""
            let name = measurement.server.map { "[\($0)] " + measurement.name } ?? measurement.name
            print(String(format: "%-72@ %12.2f %-10@%@", name as NSString, measurement.value, measurement.unit as NSString, target))
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let started = ContinuousClock.now
        print("SchoolSync benchmark (\(quick ? "quick" : "full")) on \(Machine.description); servers: \(setups.map(\.rawValue).joined(separator: ", "))")

        var comparison = Comparison(setups: setups, schoolSeconds: sizes.schoolSeconds)
        let needsPostgres = setups.contains(where: \.usesPostgres) && !parts.isDisjoint(with: ["push", "schools"])
        let postgres = needsPostgres ? try await BenchPostgres.start() : nil
        do {
            if let postgres {
                comparison.postgres = postgres.settings
                comparison.postgresCPUCounted = postgres.postmaster != nil
                if postgres.postmaster == nil { print("PostgreSQL's processes are not on this machine, or not found: their CPU is left out") }
                print(
                    "PostgreSQL \(postgres.settings.version): \(postgres.settings.origin); fsync=\(postgres.settings.fsync), synchronous_commit=\(postgres.settings.synchronousCommit)"
                )
                let floor = try await postgres.serialCommitsPerSecond(for: quick ? .milliseconds(300) : .seconds(2))
                comparison.serialCommitsPerSecond = floor
                report(
                    Measurement(
                        name: "PostgreSQL floor: single-row UPDATE commits, one connection",
                        value: floor,
                        unit: "commits/s",
                        target: nil,
                        met: nil,
                        note:
                            "autocommit, one after the other (fsync=\(postgres.settings.fsync)): the most commits a change log ordered by one row's lock could make if nothing else took time"
                    )
                )
            }
            try await run(sizes: sizes, root: root, postgres: postgres, comparison: &comparison, report: report)
        } catch {
            postgres?.stop()
            throw error
        }
        postgres?.stop()
        report(
            Measurement(
                name: "peak RSS, benchmark client process",
                value: PeakMemory.megabytes(),
                unit: "MB",
                target: nil,
                met: nil,
                note: "all simulated clients and replicas of the run in one process"
            )
        )
        let elapsed = (ContinuousClock.now - started).seconds
        print(String(format: "finished in %.0f s", elapsed))

        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(Results(machine: Machine.description, quick: quick, seconds: elapsed, comparison: comparison, measurements: results))
                .write(to: URL(fileURLWithPath: json))
        }
        if let markdown {
            try Data(Machine.markdown(results, comparison: comparison, quick: quick, seconds: elapsed).utf8).write(to: URL(fileURLWithPath: markdown))
            print("wrote \(markdown)")
        }
    }

    private func run(sizes: Sizes, root: URL, postgres: BenchPostgres?, comparison: inout Comparison, report: (Measurement) -> Void) async throws {
        try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
            for setup in setups where parts.contains("push") {
                // The larger pushes and the bureau-wide pull on SQLite only; the first size everywhere.
                let counts = setup == .sqlite ? sizes.pushes : Array(sizes.pushes.prefix(1))
                for count in counts {
                    let summary = try await Scenario.pushAndPull(
                        setup: setup,
                        count: count,
                        bureau: setup == .sqlite && count == sizes.pushes.last,
                        compared: count == sizes.pushes.first,
                        sizes: sizes,
                        directory: root.appendingPathComponent("push-\(setup.slug)-\(count)"),
                        postgres: postgres,
                        http: http,
                        report: report
                    )
                    if count == sizes.pushes.first { comparison.pushes.append(summary) }
                }
            }
            if parts.contains("field") {
                try await FieldScenario.run(reports: sizes.fieldReports, weeks: sizes.fieldWeeks, directory: root.appendingPathComponent("field"), http: http, report: report)
            }
            if parts.contains("evidence") {
                try await EvidenceScenario.run(fileBytes: sizes.evidenceBytes, directory: root.appendingPathComponent("evidence"), http: http, report: report)
            }
        }
        for setup in setups where parts.contains("schools") {
            for schools in sizes.schools {
                comparison.schools.append(
                    try await Scenario.manySchools(
                        setup: setup,
                        count: schools,
                        seconds: sizes.schoolSeconds,
                        directory: root.appendingPathComponent("schools-\(setup.slug)-\(schools)"),
                        postgres: postgres,
                        report: report
                    )
                )
            }
        }
        for replicas in [2, 5, 20] where parts.contains("merge") {
            let rate = try MergeCost.joinsPerSecond(replicas: replicas, iterations: sizes.merges / replicas)
            report(
                Measurement(
                    name: "merge: joins/s, \(replicas) replicas in the context",
                    value: rate,
                    unit: "joins/s",
                    target: nil,
                    met: nil,
                    note: "one concurrent edit on each side; pure SyncCore, one core"
                )
            )
        }
    }
}

struct Sizes {
    var pushes: [Int]
    var schoolPull: Int
    var bureauExtra: Int
    var schools: [Int]
    var schoolSeconds: Int
    var merges: Int
    /// Reports in the field row's weekly sync, and how many weeks are synced.
    var fieldReports: Int
    var fieldWeeks: Int
    /// The photo of the evidence row: 5 MiB (256 KiB with --quick), over 64 kbit/s with cuts.
    var evidenceBytes: Int
}

struct Results: Codable {
    var machine: String
    var quick: Bool
    var seconds: Double
    var comparison: Comparison
    var measurements: [Measurement]
}

enum Machine {
    static var description: String {
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB"
    }

    static func markdown(_ results: [Measurement], comparison: Comparison, quick: Bool, seconds: Double) -> String {
        let postgres = comparison.postgres.map {
            "PostgreSQL \($0.version), \($0.origin): **fsync=\($0.fsync)**, synchronous_commit=\($0.synchronousCommit), shared_buffers=\($0.sharedBuffers)"
        }
        var lines = [
            "# SchoolSync benchmarks", "",
            "Written by `swift build -c release && .build/release/schoolsync-bench\(quick ? " --quick" : "") --markdown Benchmarks.md`; do not edit by hand.",
            "",
            "- Machine: \(Machine.description); the servers, PostgreSQL, HAProxy and the simulated clients all share it.",
            "- Date: \(ISO8601DateFormatter().string(from: Date())); the whole run took \(String(format: "%.0f", seconds)) s.",
            "- Servers: the real `schoolsync-server` processes on 127.0.0.1, each scenario on a fresh store; clients in the benchmark process over HTTP with gzip. "
                + "`sqlite`: one server on an SQLite file. `postgres`: one server on a PostgreSQL database (`--database-pool-size` 10 and `--push-group-size` 32, the defaults: pushes that arrive together share a transaction and its commit). "
                + "`postgres, group 1`: the same with `--push-group-size 1`, each push in a transaction of its own: the baseline of group commit. "
                + "`postgres×2`: two servers on one database (10 connections each) behind HAProxy as `Scripts/loadbalancer.sh` configures it "
                + "(round robin; a health check GET /healthz every 200 ms with a 1 s timeout takes a server out after 2 failures). "
                + "`--servers postgres2-check10` runs the pair with a 10 s check timeout as well (not in this table).",
            "- Durability: every commit waits for the disk — SQLite `synchronous = FULL` on both sides, pushes that arrive together sharing one commit"
                + (postgres.map { "; \($0)" } ?? "") + ".",
            "- CPU: user + system time from /proc/<pid>/stat before and after each scenario, of the server processes (summed), "
                + (comparison.postgresCPUCounted
                    ? "of the PostgreSQL cluster's processes (the postmaster, its workers and every backend, ended ones included through the postmaster's reaped-children time; the benchmark's own sampling connection taken out), "
                    : "(PostgreSQL's processes were not found on this machine: their CPU is left out), ")
                + "of HAProxy and of the benchmark process (the simulated clients).",
            "- PostgreSQL's connections: `pg_stat_activity` sampled every 10 ms during each PostgreSQL scenario, each connection classed by its last statement "
                + "(a push holding log_head's row lock, from its `UPDATE log_head` through its COMMIT; a push waiting for it; the device list's write; the rest) "
                + "and by what it does (running, between statements — waiting for the server process —, flushing WAL, waiting for a lock).",
            "- Fixed seeds: every simulated school's replica and batch ids come from a generator seeded with its number; the field row's cuts from seed 7.",
            "- Profile one part: `perf record -g -- .build/release/schoolsync-bench --quick --only push --servers postgres` (or `schools`, `merge`; `sqlite`, `postgres2`).",
            "",
        ]
        let table = comparison.table(results)
        if !table.isEmpty {
            lines += [
                "## Every configuration, the same scenarios", "",
                "Each column ran in this run, one after the other, on this machine. The many-schools rows are a closed loop with no pause: "
                    + "after every school has connected, each pulls, edits its weekly report and pushes, again and again, for \(comparison.schoolSeconds) s on every configuration "
                    + "and at every size, so at 5,000 schools each school does about a fifth of the work it does at 1,000 (the work per school is scaled down; the load is the same closed loop). "
                    + "CPU per request is that side's CPU time over the run divided by the requests answered. **Bold**: misses the issue's target.",
                "",
            ]
            lines += table
            lines += ["", "### What bounds each (written from the numbers above)", ""]
            lines += comparison.bounds()
            lines.append("")
        }
        lines += [
            "## All measurements", "",
            "| measurement | server | value | unit | target | met | what bounds it (\"profiled\": read off perf profiles of this code; otherwise expected) |",
            "|---|---|---:|---|---|---|---|",
        ]
        for result in results {
            let met = result.met.map { $0 ? "yes" : "**no**" } ?? ""
            lines.append(
                "| \(result.name) | \(result.server ?? "") | \(String(format: "%.2f", result.value)) | \(result.unit) | \(result.target ?? "") | \(met) | \(result.note) |"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
