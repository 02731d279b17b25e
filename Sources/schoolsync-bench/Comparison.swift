import Foundation

/// What one configuration's push scenario measured, for the comparison's "what bounds each".
struct PushSummary: Codable, Sendable {
    var setup: ServerSetup
    var records: Int
    var requests: Int
    var seconds: Double
    var baselineSeconds: Double
    var cpu: CPUUse
    var waits: WaitProfile?
}

/// What one configuration's many-schools scenario measured.
struct SchoolsSummary: Codable, Sendable {
    var setup: ServerSetup
    var schools: Int
    /// From the start of the closed loop to the last answer.
    var seconds: Double
    var requests: Int
    var pushes: Int
    var errors: Int
    var missing: Int
    var p50: Double
    var p95: Double
    var p99: Double
    var serverPushMillis: Double
    var serverPullMillis: Double
    var cpu: CPUUse
    var waits: WaitProfile?
    /// HAProxy's view, behind the load balancer: times its health check took a server out, seconds
    /// with no server up, and requests it answered 5xx itself.
    var balancer: BalancerHealth?
}

struct BalancerHealth: Codable, Sendable {
    var serverDowns: Int
    var noServerUpSeconds: Int
    var ownErrors: Int
}

/// The comparison of configurations: the table of the measurements marked `compared`, one column per
/// configuration, and a paragraph per configuration on what bounds it, made from the numbers.
struct Comparison: Codable, Sendable {
    var setups: [ServerSetup] = []
    var schoolSeconds = 0
    var pushes: [PushSummary] = []
    var schools: [SchoolsSummary] = []
    /// Single-row UPDATEs one connection commits per second on the benchmark's PostgreSQL.
    var serialCommitsPerSecond: Double?
    var postgres: BenchPostgres.Settings?
    /// Whether the PostgreSQL cluster's processes were found, so that their CPU is counted.
    var postgresCPUCounted = false
    var cores = ProcessInfo.processInfo.activeProcessorCount

    /// The comparison table, rows in the order first measured.
    func table(_ results: [Measurement]) -> [String] {
        let compared = results.filter { $0.compared == true && $0.server != nil }
        guard !compared.isEmpty else { return [] }
        // Rows grouped by scenario (the name's part before its colon), in the order first measured.
        var groups: [String] = []
        var rowsOf: [String: [String]] = [:]
        var units: [String: String] = [:]
        var values: [String: [String: Measurement]] = [:]
        for measurement in compared {
            let group = String(measurement.name.prefix { $0 != ":" })
            if rowsOf[group] == nil { groups.append(group) }
            if values[measurement.name] == nil { rowsOf[group, default: []].append(measurement.name) }
            units[measurement.name] = measurement.unit
            values[measurement.name, default: [:]][measurement.server ?? ""] = measurement
        }
        let rows = groups.flatMap { rowsOf[$0] ?? [] }
        var lines = [
            "| measurement | unit | " + setups.map(\.rawValue).joined(separator: " | ") + " |",
            "|---|---|" + setups.map { _ in "---:|" }.joined(),
        ]
        for row in rows {
            let cells = setups.map { setup -> String in
                guard let measurement = values[row]?[setup.rawValue] else { return "–" }
                let text = Self.format(measurement.value)
                return measurement.met == false ? "**\(text)**" : text
            }
            lines.append("| \(row) | \(units[row] ?? "") | " + cells.joined(separator: " | ") + " |")
        }
        return lines
    }

    static func format(_ value: Double) -> String {
        switch abs(value) {
        case 0: "0"
        case 1_000...: String(format: "%.0f", value)
        case 10...: String(format: "%.1f", value)
        default: String(format: "%.2f", value)
        }
    }

    /// One paragraph per configuration, from the numbers.
    func bounds() -> [String] {
        setups.map { setup in
            var sentences: [String] = []
            if let push = pushes.first(where: { $0.setup == setup }) { sentences.append(pushBound(push)) }
            for run in schools.filter({ $0.setup == setup }) { sentences.append(schoolsBound(run)) }
            return "- **\(setup)**: " + sentences.joined(separator: " ")
        }
    }

    private func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
    private func percent(_ share: Double) -> String { String(format: "%.0f%%", share * 100) }
    private func cores(_ value: Double) -> String { String(format: "%.2f", value) }

    private func pushBound(_ push: PushSummary) -> String {
        let requests = Double(push.requests)
        let wall = push.seconds / requests
        var parts = ["server \(ms(push.cpu.servers / requests))"]
        if let database = push.cpu.database { parts.append("PostgreSQL \(ms(database / requests))") }
        if let balancer = push.cpu.balancer { parts.append("HAProxy \(ms(balancer / requests))") }
        parts.append("client \(ms(push.cpu.clients / requests))")
        let busy = push.cpu.total / push.seconds
        var text =
            "Push, one client (\(push.records) records, \(String(format: "%.1f", push.seconds / push.baselineSeconds))× the raw-SQLite floor): "
            + "a 500-record request every \(ms(wall)), of which CPU: \(parts.joined(separator: ", ")) — \(percent(busy)) of the wall time."
        if busy >= 0.85 {
            text +=
                " Bound: the CPU of the processes taking turns (the client sends its next batch only after the answer, so they do not overlap much)."
        } else if let waits = push.waits {
            let between = waits.mean(doing: "between statements")
            let wal = waits.mean(doing: "writing or flushing WAL")
            let running = waits.mean(doing: "running")
            text +=
                " A PostgreSQL connection was in the push's transaction \(percent(waits.inTransaction)) of the time: \(percent(between)) between statements "
                + "(waiting for the server process: its computing, or the round trip to it), \(percent(running)) running statements, \(percent(wal)) writing or flushing WAL."
                + " Bound: one client, the server and PostgreSQL taking turns, one statement at a time; no process computes \(percent(max(0, 1 - busy))) of the wall time (round trips and the commit's flush)."
        } else {
            text += " Bound: the turns of one client and the server; \(percent(1 - busy)) of the wall time is waiting (the commit's fsync and the round trips)."
        }
        return text
    }

    private func schoolsBound(_ run: SchoolsSummary) -> String {
        let used = run.cpu
        let busy = used.total / run.seconds
        var parts = ["servers \(cores(used.servers / run.seconds))"]
        if let database = used.database { parts.append("PostgreSQL \(cores(database / run.seconds))") }
        if let balancer = used.balancer { parts.append("HAProxy \(cores(balancer / run.seconds))") }
        parts.append("simulated schools \(cores(used.clients / run.seconds))")
        let pushesPerSecond = Double(run.pushes) / run.seconds
        var text =
            "\(run.schools) schools: \(String(format: "%.0f", Double(run.requests) / run.seconds)) requests/s (\(String(format: "%.0f", pushesPerSecond)) pushes/s), "
            + "p99 \(String(format: "%.0f", run.p99)) ms, \(run.errors) errors, \(run.missing) acknowledged writes missing; "
            + "\(cores(busy)) of \(self.cores) cores busy (\(parts.joined(separator: ", ")))."
        var bounds: [String] = []
        if busy >= 0.85 * Double(self.cores) {
            bounds.append(
                "the \(self.cores) cores, shared by the servers, \(run.setup.usesPostgres ? "PostgreSQL, " : "")\(run.setup.checkTimeout != nil ? "HAProxy, " : "")and the simulated schools"
            )
        }
        if let balancer = run.balancer, balancer.ownErrors > 0 || balancer.serverDowns > 0 {
            text +=
                " HAProxy's health check took a server out \(balancer.serverDowns) times, no server was up for \(balancer.noServerUpSeconds) s, and HAProxy answered \(balancer.ownErrors) requests 503 itself."
            bounds.append(
                "HAProxy's health check: GET /healthz (on a database connection of its own, not the pool's) still waits past the check's \(run.setup.checkTimeout?.components.seconds ?? 0) s timeout in a server process whose cores are saturated, and HAProxy takes a busy but healthy server out"
            )
        }
        if let waits = run.waits {
            let held = waits.holding
            let holdMillis = pushesPerSecond > 0 ? held / pushesPerSecond * 1000 : 0
            let pool = 10 * run.setup.serverCount
            let holders = waits.mean(what: WaitSampler.holding)
            func share(_ doing: String) -> String { percent(holders > 0 ? waits.mean(what: WaitSampler.holding, doing: doing) / holders : 0) }
            text +=
                " log_head held \(percent(held)) of the time, \(String(format: "%.1f", holdMillis)) ms per push from its sequence numbers through its commit;"
                + " while held, the holder was between statements (waiting for its server process) \(share("between statements")), running statements \(share("running")),"
                + " flushing WAL \(share("writing or flushing WAL"));"
                + " \(String(format: "%.1f", waits.mean(what: WaitSampler.waitingForLogHead))) pushes waiting for log_head on average"
                + " and \(String(format: "%.2f", waits.mean(what: WaitSampler.handOff))) at its hand-off (woken by a commit, queueing again in PostgreSQL's lock manager);"
                + " \(String(format: "%.1f", waits.inTransaction)) of the \(pool) pooled connections in a transaction, "
                + "\(String(format: "%.2f", waits.mean(what: WaitSampler.deviceList))) of them writing the device list."
            if let floor = serialCommitsPerSecond {
                text += " One connection alone commits \(String(format: "%.0f", floor)) single-row UPDATEs/s on this cluster (\(ms(1 / floor)) each)."
            }
            if held >= 0.6 {
                bounds.append(
                    "the commit order\(held >= 0.9 ? " (saturated)" : ""): one transaction at a time (a push, or a group of pushes) holds log_head's row lock from its sequence numbers through its commit"
                )
            }
            if waits.inTransaction >= 0.8 * Double(pool) {
                bounds.append(
                    "the connection pools (\(pool) connections): requests wait in the server for a connection, while \(String(format: "%.1f", waits.mean(what: WaitSampler.waitingForLogHead))) of the \(String(format: "%.1f", waits.inTransaction)) in use are pushes parked on log_head"
                )
            }
        } else if bounds.isEmpty {
            bounds.append(
                "the single SQLite writer: pushes take turns at it and share commits (mean time in the server: push \(String(format: "%.0f", run.serverPushMillis)) ms, pull \(String(format: "%.0f", run.serverPullMillis)) ms)"
            )
        }
        if bounds.isEmpty {
            bounds.append(
                "no single resource is saturated; latency is queueing in a closed loop (mean time in the server: push \(String(format: "%.0f", run.serverPushMillis)) ms, pull \(String(format: "%.0f", run.serverPullMillis)) ms)"
            )
        }
        return text + " Bound: " + bounds.joined(separator: "; and ") + "."
    }
}
