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
        abstract: "Measure SchoolSync on this machine: a real server process on loopback, real clients, a raw-SQLite baseline.",
        discussion: """
            Run in release mode:
              swift run -c release schoolsync-bench --markdown Benchmarks.md --json bench.json
            --quick is the small run CI makes to prove the benchmark works; it asserts no speed.
            """
    )

    @Flag(help: "Small sizes, finishing in well under a minute.") var quick = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Option(help: "Write Benchmarks.md (the results, the machine, what bounds each number) to this file.") var markdown: String?
    @Option(help: "Run only these parts, comma-separated: push, schools, merge, field (for profiling one of them).")
    var only: String?

    func validate() throws {
        if let unknown = parts.subtracting(Self.allParts).first {
            throw ValidationError("unknown part '\(unknown)' in --only; choose from \(Self.allParts.sorted().joined(separator: ", "))")
        }
        if only != nil && markdown != nil {
            throw ValidationError("--markdown writes the whole run; leave out --only")
        }
    }

    static let allParts: Set<String> = ["push", "schools", "merge", "field"]
    var parts: Set<String> {
        guard let only else { return Self.allParts }
        return Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    func run() async throws {
        let sizes =
            quick
            ? Sizes(pushes: [2_000], schoolPull: 500, bureauExtra: 3_000, schools: [50], schoolSeconds: 3, merges: 20_000, fieldReports: 10,
                fieldWeeks: 3)
            : Sizes(
                pushes: [10_000, 100_000], schoolPull: 500, bureauExtra: 50_000, schools: [200, 1_000], schoolSeconds: 15, merges: 300_000,
                fieldReports: 40, fieldWeeks: 20
            )
        var results: [Measurement] = []
        func report(_ measurement: Measurement) {
            results.append(measurement)
            let target = measurement.target.map { "  target \($0) \(measurement.met == true ? "✓" : measurement.met == false ? "✗" : "")" } ?? ""
            print(String(format: "%-58@ %12.2f %-10@%@", measurement.name as NSString, measurement.value, measurement.unit as NSString, target))
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        print("SchoolSync benchmark (\(quick ? "quick" : "full")) on \(Machine.description)")

        try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
            for count in sizes.pushes where parts.contains("push") {
                try await Scenario.pushAndPull(
                    count: count,
                    sizes: sizes,
                    directory: root.appendingPathComponent("push-\(count)"),
                    http: http,
                    report: report
                )
            }
            if parts.contains("field") {
                try await FieldScenario.run(reports: sizes.fieldReports, weeks: sizes.fieldWeeks, directory: root.appendingPathComponent("field"), http: http, report: report)
            }
            for schools in sizes.schools where parts.contains("schools") {
                try await Scenario.manySchools(
                    count: schools,
                    seconds: sizes.schoolSeconds,
                    directory: root.appendingPathComponent("schools-\(schools)"),
                    report: report
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

        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(Results(machine: Machine.description, quick: quick, measurements: results)).write(to: URL(fileURLWithPath: json))
        }
        if let markdown {
            try Data(Machine.markdown(results, quick: quick).utf8).write(to: URL(fileURLWithPath: markdown))
            print("wrote \(markdown)")
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
}

struct Results: Codable {
    var machine: String
    var quick: Bool
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

    static func markdown(_ results: [Measurement], quick: Bool) -> String {
        var lines = [
            "# SchoolSync benchmarks", "",
            "Written by `swift run -c release schoolsync-bench\(quick ? " --quick" : "") --markdown Benchmarks.md`; do not edit by hand.", "",
            "- Machine: \(Machine.description)",
            "- Date: \(ISO8601DateFormatter().string(from: Date()))",
            "- Server: the real `schoolsync-server` process on 127.0.0.1 with a fresh SQLite store; clients in the benchmark process over HTTP with gzip.",
            "- Durability: every commit waits for the disk (SQLite `synchronous = FULL`) on both sides; pushes that arrive together share one commit.",
            "- Profile one part: `perf record -g -- .build/release/schoolsync-bench --quick --only push` (or `schools`, `merge`).",
            "",
            "| measurement | value | unit | target | met | what bounds it (\"profiled\": read off perf profiles of this code; otherwise expected) |",
            "|---|---:|---|---|---|---|",
        ]
        for result in results {
            let met = result.met.map { $0 ? "yes" : "**no**" } ?? ""
            lines.append(
                "| \(result.name) | \(String(format: "%.2f", result.value)) | \(result.unit) | \(result.target ?? "") | \(met) | \(result.note) |"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
