import Foundation
import SchoolSyncTestSupport
import Synchronization

/// The server configurations the same scenarios run on, in one run: the axis of the comparison.
enum ServerSetup: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    /// One `schoolsync-server` on a fresh SQLite file (the embedded store).
    case sqlite
    /// One `schoolsync-server` on a fresh PostgreSQL database.
    case postgres
    /// The same with group commit off (`--push-group-size 1`): every push in a transaction of its
    /// own, the baseline that measures what grouping pushes does.
    case postgresUngrouped = "postgres, group 1"
    /// Two `schoolsync-server` processes on one fresh PostgreSQL database, behind HAProxy (round robin)
    /// as `Scripts/loadbalancer.sh` configures it.
    case postgresPair = "postgres×2"
    /// The same, with HAProxy's health check given 10 s instead of 1 s: not in the default run; it
    /// shows what the pair does when a busy server is not taken out.
    case postgresPairPatientCheck = "postgres×2, check 10 s"

    /// What a run measures unless `--servers` says otherwise: the four of the comparison.
    static let comparison: [ServerSetup] = [.sqlite, .postgresUngrouped, .postgres, .postgresPair]

    var description: String { rawValue }

    /// Reads `--servers`: `sqlite`, `postgres`, `postgres-group1`, `postgres2` (or `postgres×2`), `postgres2-check10`.
    init?(argument: String) {
        switch argument.lowercased() {
        case "sqlite": self = .sqlite
        case "postgres", "postgresql": self = .postgres
        case "postgres-group1": self = .postgresUngrouped
        case "postgres×2", "postgres2", "postgres-x2", "postgresx2", "postgres*2": self = .postgresPair
        case "postgres2-check10": self = .postgresPairPatientCheck
        default: return nil
        }
    }

    /// The name in file names: no `×`.
    var slug: String {
        switch self {
        case .sqlite, .postgres: rawValue
        case .postgresUngrouped: "postgres-group1"
        case .postgresPair: "postgres2"
        case .postgresPairPatientCheck: "postgres2-check10"
        }
    }

    var usesPostgres: Bool { self != .sqlite }
    /// The servers' own flags of this setup.
    var serverArguments: [String] { self == .postgresUngrouped ? ["--push-group-size", "1"] : [] }
    var serverCount: Int { self == .postgresPair || self == .postgresPairPatientCheck ? 2 : 1 }
    /// HAProxy's health-check timeout when the setup has a load balancer.
    var checkTimeout: Duration? {
        switch self {
        case .sqlite, .postgres, .postgresUngrouped: nil
        case .postgresPair: .seconds(1)
        case .postgresPairPatientCheck: .seconds(10)
        }
    }
}

/// The PostgreSQL server of the PostgreSQL configurations: the cluster `$SCHOOLSYNC_TEST_POSTGRES_URL`
/// names (a superuser's URL, as `Scripts/postgres.sh` prints it), else a cluster of the benchmark's
/// own (``PostgresCluster``) started with fsync on, so a commit waits for the disk as SQLite's do.
/// Each scenario gets a fresh database, dropped at its end.
final class BenchPostgres: Sendable {
    /// The cluster this process started; nil when it was given one.
    let cluster: PostgresCluster?
    private let admin: URLComponents
    /// What Benchmarks.md says of it: version, fsync, synchronous_commit, who started it.
    let settings: Settings
    /// The postmaster's process id when the cluster runs on this machine (read from a backend's
    /// parent in /proc): its processes' CPU time is counted; nil when it cannot be found.
    let postmaster: Int32?
    private let made = Mutex(0)

    struct Settings: Codable, Sendable {
        var version: String
        var fsync: String
        var synchronousCommit: String
        var sharedBuffers: String
        var origin: String
    }

    private init(cluster: PostgresCluster?, admin: URLComponents, settings: Settings, postmaster: Int32?) {
        self.cluster = cluster
        self.admin = admin
        self.settings = settings
        self.postmaster = postmaster
    }

    static func start() async throws -> BenchPostgres {
        var cluster: PostgresCluster?
        let text: String
        let origin: String
        if let given = ProcessInfo.processInfo.environment["SCHOOLSYNC_TEST_POSTGRES_URL"], !given.isEmpty {
            text = given
            origin = "the cluster $SCHOOLSYNC_TEST_POSTGRES_URL names"
        } else {
            let started = try await PostgresCluster.start(fsync: true)
            cluster = started
            text = started.url
            origin = "a cluster the benchmark started (PostgresCluster, initdb defaults but fsync=on, max_connections=500)"
        }
        do {
            guard let admin = URLComponents(string: text), admin.host != nil, admin.user != nil else {
                throw BenchError("SCHOOLSYNC_TEST_POSTGRES_URL is not a postgres:// URL: \(text)")
            }
            let session = try await PostgresSession.connect(text)
            func show(_ name: String) async throws -> String { try await session.texts("SHOW \(name)").first ?? "?" }
            let settings: Settings
            let postmaster: Int32?
            do {
                settings = Settings(
                    version: try await show("server_version"),
                    fsync: try await show("fsync"),
                    synchronousCommit: try await show("synchronous_commit"),
                    sharedBuffers: try await show("shared_buffers"),
                    origin: origin
                )
                // The backend's parent, read while the backend lives: it ends with the session.
                let backend = try await session.integers("SELECT pg_backend_pid()").first.map { Int32($0) }
                postmaster = backend.flatMap { ProcessCPU.parent(of: $0) }.flatMap { ProcessCPU.name(of: $0) == "postgres" ? $0 : nil }
            } catch {
                await session.close()
                throw error
            }
            await session.close()
            return BenchPostgres(cluster: cluster, admin: admin, settings: settings, postmaster: postmaster)
        } catch {
            cluster?.stop()
            throw error
        }
    }

    /// Makes a fresh database and returns its name and URL.
    func makeDatabase() async throws -> (name: String, url: String) {
        let number = made.withLock {
            $0 += 1
            return $0
        }
        let name = "schoolsync_bench_\(getpid())_\(number)"
        try await withAdmin { try await $0.execute("CREATE DATABASE \(name)") }
        return (name, url(of: name))
    }

    /// Drops a database `makeDatabase` made, closing whatever still holds it.
    func dropDatabase(_ name: String) async {
        try? await withAdmin { try await $0.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    func url(of database: String) -> String {
        var url = admin
        url.path = "/\(database)"
        url.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
        return url.string ?? ""
    }

    /// The cluster's server log, where it can be read: the bench's own cluster's, or the one
    /// `Scripts/postgres.sh` names in `$SCHOOLSYNC_TEST_POSTGRES_DIR`.
    var logFile: URL? {
        if let cluster { return cluster.directory.appendingPathComponent("server.log") }
        guard let directory = ProcessInfo.processInfo.environment["SCHOOLSYNC_TEST_POSTGRES_DIR"], !directory.isEmpty else { return nil }
        return URL(fileURLWithPath: directory).appendingPathComponent("server.log")
    }

    /// How long the log is now, to read what a scenario adds to it.
    func logLength() -> UInt64? {
        guard let path = logFile?.path, let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return (attributes[.size] as? NSNumber)?.uint64Value
    }

    /// The ERROR lines the log gained after `offset`, counted by message (its first 60 characters)
    /// and the first words of the statement it names.
    func loggedErrors(since offset: UInt64) -> [String: Int] {
        guard let file = logFile.flatMap({ try? FileHandle(forReadingFrom: $0) }) else { return [:] }
        defer { try? file.close() }
        guard (try? file.seek(toOffset: offset)) != nil, let data = try? file.readToEnd() else { return [:] }
        var errors: [String: Int] = [:]
        var pending: String?
        func count() {
            if let pending { errors[pending, default: 0] += 1 }
            pending = nil
        }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if let range = line.range(of: "ERROR:  ") {
                count()
                pending = String(line[range.upperBound...].prefix(60))
            } else if let range = line.range(of: "STATEMENT:  "), let message = pending {
                let words = line[range.upperBound...].split(separator: " ").prefix(3).joined(separator: " ")
                pending = "\(message) (in \(words) …)"
                count()
            }
        }
        count()
        return errors
    }

    /// CPU seconds of the cluster's processes so far (the postmaster, its background workers and
    /// every backend, those that ended included); nil when the cluster is not on this machine.
    var cpuSeconds: Double? { postmaster.map(ProcessCPU.treeSeconds(root:)) }

    /// The rate at which one connection commits single-row UPDATEs, one after the other: what a
    /// change log ordered by one row's lock could reach at most if nothing else took time.
    func serialCommitsPerSecond(for duration: Duration) async throws -> Double {
        let database = try await makeDatabase()
        let session = try await PostgresSession.connect(database.url)
        let clock = ContinuousClock()
        var commits = 0
        var elapsed = Duration.zero
        do {
            try await session.execute("CREATE TABLE head (seq bigint NOT NULL)")
            try await session.execute("INSERT INTO head VALUES (0)")
            let start = clock.now
            while clock.now - start < duration {
                try await session.execute("UPDATE head SET seq = seq + 1")
                commits += 1
            }
            elapsed = clock.now - start
        } catch {
            await session.close()
            await dropDatabase(database.name)
            throw error
        }
        await session.close()
        await dropDatabase(database.name)
        return Double(commits) / elapsed.seconds
    }

    func stop() { cluster?.stop() }

    private func withAdmin(_ body: (PostgresSession) async throws -> Void) async throws {
        let session = try await PostgresSession.connect(admin.string ?? "")
        do {
            try await body(session)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
    }
}

/// CPU time of processes from /proc/<pid>/stat.
enum ProcessCPU {
    /// After the parenthesised command name: state, ppid, … utime, stime, cutime, cstime (fields 3–17).
    private static func fields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: end)...].split(separator: " ")
        return fields.count > 14 ? fields : nil
    }

    private static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func parent(of pid: Int32) -> Int32? { fields(pid).flatMap { Int32($0[1]) } }

    static func name(of pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// User and system time of `root`, of the children it has reaped, and of its living children.
    static func treeSeconds(root: Int32) -> Double {
        guard let own = fields(root) else { return 0 }
        var ticks = own[11...14].compactMap { Double($0) }.reduce(0, +)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != root, let child = fields(pid), Int32(child[1]) == root else { continue }
            ticks += child[11...14].compactMap { Double($0) }.reduce(0, +)
        }
        return ticks / Self.ticks
    }
}

/// What the store's PostgreSQL connections are doing, sampled from `pg_stat_activity` every few
/// milliseconds on a connection of its own: the mean number of connections in each state.
///
/// A state is what, doing and statement. What, from the connection's last statement: a push
/// holding log_head's row lock (it took its sequence numbers and has not finished committing: the
/// statement with `UPDATE log_head` through its COMMIT), a push waiting for that lock, a push at
/// its hand-off (woken when the holder committed, in PostgreSQL's lock manager), the device
/// list's once-a-second write (`device_sync`), or anything else (pulls, a push's locks and reads
/// before log_head, token checks). Doing: running a statement, between statements (the
/// transaction waits for the server process: its computing, or the round trip), writing or
/// flushing WAL, or waiting for a lock. Statement: the first words of the statement running, or
/// of the last one when between statements.
final class WaitSampler: Sendable {
    private let profile = Mutex(WaitProfile(samples: 0, heldSamples: 0, counts: [:], samplerSeconds: 0))
    private let task = Mutex<Task<Void, Never>?>(nil)

    static let holding = "push holding log_head"
    static let waitingForLogHead = "push waiting for log_head"
    /// A push in `UPDATE log_head` waiting for one of PostgreSQL's internal locks (LWLock
    /// LockManager): when the holder commits, every waiter wakes and queues again, and the next
    /// holder is among them.
    static let handOff = "push at the log_head hand-off"
    static let deviceList = "device list write"
    static let other = "other (pulls, a push before log_head)"

    static let query = """
        SELECT CASE
                 WHEN query LIKE '%device_sync%' THEN '\(deviceList)'
                 WHEN wait_event_type = 'Lock' AND query LIKE '%UPDATE log_head%' THEN '\(waitingForLogHead)'
                 WHEN wait_event_type = 'LWLock' AND state = 'active' AND query LIKE '%UPDATE log_head%' THEN '\(handOff)'
                 WHEN backend_xid IS NOT NULL AND (query LIKE '%UPDATE log_head%' OR query LIKE 'WITH stored%'
                      OR query LIKE 'INSERT INTO audit%' OR query = 'COMMIT') THEN '\(holding)'
                 ELSE '\(other)'
               END || '|' ||
               CASE
                 WHEN state LIKE 'idle in transaction%' THEN 'between statements, after'
                 WHEN wait_event_type = 'Lock' THEN 'waiting for a lock (' || wait_event || ') in'
                 WHEN wait_event LIKE 'WAL%' THEN 'writing or flushing WAL in'
                 WHEN wait_event_type IS NULL THEN 'running'
                 ELSE wait_event_type || ' ' || wait_event || ' in'
               END || '|' ||
               left(array_to_string((regexp_split_to_array(btrim(query), '\\s+'))[1:3], ' '), 40)
        FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'schoolsync-server' AND state <> 'idle' AND pid <> pg_backend_pid()
        """

    /// Starts sampling the database at `url` every `interval`.
    init(url: String, every interval: Duration = .milliseconds(10)) {
        let sampling = Task { [self] in
            guard let session = try? await PostgresSession.connect(url) else { return }
            let backend = (try? await session.integers("SELECT pg_backend_pid()"))?.first.map { Int32($0) }
            while !Task.isCancelled {
                guard let states = try? await session.texts(Self.query) else { break }
                profile.withLock { profile in
                    profile.samples += 1
                    if states.contains(where: { $0.hasPrefix(Self.holding + "|") }) { profile.heldSamples += 1 }
                    for state in states { profile.counts[state, default: 0] += 1 }
                }
                try? await Task.sleep(for: interval)
            }
            // Its own backend's CPU, which the cluster's total includes, to be taken out of it.
            let used = backend.map { CPUTime.seconds(pid: $0) } ?? 0
            profile.withLock { $0.samplerSeconds = used }
            await session.close()
        }
        task.withLock { $0 = sampling }
    }

    /// Stops sampling and returns the profile.
    func finish() async -> WaitProfile {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
        return profile.withLock { $0 }
    }
}

/// The mean number of connections in each state over the samples.
struct WaitProfile: Codable, Sendable {
    var samples: Int
    /// Samples in which a push held log_head's row lock.
    var heldSamples: Int
    /// Connections seen in each state, keyed "what|doing|statement".
    var counts: [String: Int]
    /// CPU seconds the sampling connection's own backend used.
    var samplerSeconds: Double

    /// The mean connections whose state matches: `what` and `doing` compared whole, `doing` by its first words.
    func mean(what: String? = nil, doing: String? = nil) -> Double {
        guard samples > 0 else { return 0 }
        let total = counts.filter { key, _ in
            let parts = key.split(separator: "|", omittingEmptySubsequences: false)
            return (what == nil || parts.first.map(String.init) == what) && (doing == nil || (parts.count > 1 && parts[1].hasPrefix(doing ?? "")))
        }.values.reduce(0, +)
        return Double(total) / Double(samples)
    }

    /// Mean connections in a transaction (any state).
    var inTransaction: Double { mean() }

    /// The share of the time a push held log_head's row lock (one holder at a time).
    var holding: Double { samples > 0 ? Double(heldSamples) / Double(samples) : 0 }

    /// How the connections in `what` divide between doings and statements, largest first, as
    /// "0.41 between statements, after INSERT INTO audit; 0.20 running COMMIT".
    func breakdown(of what: String, limit: Int = 8) -> String {
        var means: [String: Double] = [:]
        for (key, count) in counts {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0] == what else { continue }
            means["\(parts[1]) \(parts[2])", default: 0] += Double(count) / Double(max(1, samples))
        }
        let top = means.filter { $0.value >= 0.005 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(limit)
        guard !top.isEmpty else { return "none sampled" }
        return top.map { String(format: "%.2f %@", $0.value, $0.key) }.joined(separator: "; ")
    }

    /// Mean connections by what and doing, largest first, as "1.23 push waiting for log_head, waiting for a lock (transactionid)".
    var summary: String {
        var means: [String: Double] = [:]
        for (key, count) in counts {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            let doing = parts[1].hasSuffix(" in") ? String(parts[1].dropLast(3)) : parts[1].hasSuffix(", after") ? String(parts[1].dropLast(7)) : parts[1]
            means["\(parts[0]), \(doing)", default: 0] += Double(count) / Double(max(1, samples))
        }
        return means.filter { $0.value >= 0.005 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { String(format: "%.2f %@", $0.value, $0.key) }
            .joined(separator: "; ")
    }
}
