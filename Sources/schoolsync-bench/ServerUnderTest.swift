import Foundation
import Logging
import SchoolSyncTestSupport
import SyncServer
import SyncServerPostgres
import SyncServerSQLite

/// The real `schoolsync-server`, built beside this executable, run as child processes on free
/// loopback ports with a fresh database, so their memory and CPU are measured apart from the
/// clients'. The processes are SchoolSyncTestSupport's `ServerProcess`, the tests' own; for
/// ``ServerSetup/postgresPair`` the clients reach the two through `LoadBalancer` (HAProxy).
///
/// `store` is a handle on the same database in the benchmark process: it prepares the data before
/// the servers start and reads it back at the end.
final class ServerUnderTest: Sendable {
    let setup: ServerSetup
    let servers: [ServerProcess]
    let balancer: LoadBalancer?
    let store: any SyncStore
    private let postgres: BenchPostgres?
    /// The PostgreSQL database (name and URL), when the setup has one.
    let database: (name: String, url: String)?

    /// Runs `body` with the servers of `setup` on a fresh database that `prepare` filled first, and
    /// stops them afterwards, whether `body` threw or not.
    ///
    /// - Parameter connections: how many client connections the load balancer must hold at once.
    static func with<T>(
        _ setup: ServerSetup,
        directory: URL,
        postgres: BenchPostgres?,
        connections: Int = 512,
        prepare: (any SyncStore) async throws -> Void,
        _ body: (ServerUnderTest) async throws -> T
    ) async throws -> T {
        let server = try await ServerUnderTest(setup, directory: directory, postgres: postgres, connections: connections, prepare: prepare)
        let result: T
        do {
            result = try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        return result
    }

    private init(
        _ setup: ServerSetup,
        directory: URL,
        postgres: BenchPostgres?,
        connections: Int,
        prepare: (any SyncStore) async throws -> Void
    ) async throws {
        self.setup = setup
        self.postgres = postgres
        let arguments = ["--max-batch-records", "500"] + setup.serverArguments
        switch setup {
        case .sqlite:
            let databasePath = directory.appendingPathComponent("server.sqlite").path
            let store = try SQLiteStore(path: databasePath)
            try await prepare(store)
            self.store = store
            database = nil
            servers = [try await ServerProcess(database: databasePath, logLevel: "error", arguments: arguments)]
            balancer = nil
        case .postgres, .postgresUngrouped, .postgresPair, .postgresPairPatientCheck:
            guard let postgres else { throw BenchError("\(setup) needs PostgreSQL") }
            let database = try await postgres.makeDatabase()
            let store: PostgresStore
            do {
                var logger = Logger(label: "schoolsync-bench")
                logger.logLevel = .error
                store = try await PostgresStore(configuration: .init(url: database.url, poolSize: 4), logger: logger)
            } catch {
                await postgres.dropDatabase(database.name)
                throw error
            }
            var started: [ServerProcess] = []
            var balancer: LoadBalancer?
            do {
                try await prepare(store)
                for _ in 0..<setup.serverCount {
                    started.append(try await ServerProcess(store: ["--database-url", database.url], logLevel: "error", arguments: arguments))
                }
                if let checkTimeout = setup.checkTimeout {
                    // A short directory: HAProxy's admin socket path may be at most 97 bytes.
                    balancer = try await LoadBalancer.start(
                        backends: started.map(\.port),
                        in: URL(fileURLWithPath: "/tmp/schoolsync-lb-\(UUID().uuidString.prefix(8))"),
                        maxConnections: connections + 64,
                        checkTimeout: checkTimeout
                    )
                }
            } catch {
                for server in started { await server.stop(with: SIGTERM) }
                await store.close()
                await postgres.dropDatabase(database.name)
                throw error
            }
            self.database = database
            self.store = store
            self.balancer = balancer
            servers = started
        }
    }

    /// Where clients connect: the load balancer, else the one server.
    var url: String { balancer?.baseURL ?? servers[0].baseURL }

    /// The servers' peak resident memory so far, in MB, summed over the servers.
    var peakMemoryMB: Double { servers.map { PeakMemory.megabytes(pid: $0.process.processIdentifier) }.reduce(0, +) }

    /// CPU seconds used so far by each side.
    func cpu() -> CPUUse {
        CPUUse(
            servers: servers.map { CPUTime.seconds(pid: $0.process.processIdentifier) }.reduce(0, +),
            database: setup.usesPostgres ? postgres?.cpuSeconds : nil,
            balancer: balancer.flatMap { balancer in
                (try? String(contentsOf: balancer.directory.appendingPathComponent("haproxy.pid"), encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                    .map { CPUTime.seconds(pid: $0) }
            },
            clients: CPUTime.seconds()
        )
    }

    /// Where the PostgreSQL log ends now; nil on SQLite or when it cannot be read.
    func logMark() -> UInt64? { database == nil ? nil : postgres?.logLength() }

    /// PostgreSQL's ERROR lines since `mark`, by message.
    func loggedErrors(since mark: UInt64) -> [String: Int] { postgres?.loggedErrors(since: mark) ?? [:] }

    /// Samples what the PostgreSQL connections do until ``WaitSampler/finish()``; nil on SQLite.
    func sampleWaits() -> WaitSampler? { database.map { WaitSampler(url: $0.url) } }

    private func stop() async {
        if let balancer {
            await balancer.stop()
            try? FileManager.default.removeItem(at: balancer.directory)
        }
        for server in servers { await server.stop(with: SIGTERM) }
        if let store = store as? PostgresStore { await store.close() }
        if let database, let postgres { await postgres.dropDatabase(database.name) }
    }
}

/// CPU seconds (user + system) used by each side, or what they used between two readings.
struct CPUUse: Codable, Sendable {
    /// The `schoolsync-server` processes, summed.
    var servers: Double
    /// The PostgreSQL cluster's processes; nil on SQLite or when they cannot be read.
    var database: Double?
    /// HAProxy; nil without a load balancer.
    var balancer: Double?
    /// The benchmark process: the simulated clients.
    var clients: Double

    static func - (after: CPUUse, before: CPUUse) -> CPUUse {
        CPUUse(
            servers: after.servers - before.servers,
            database: after.database.flatMap { a in before.database.map { a - $0 } },
            balancer: after.balancer.flatMap { a in before.balancer.map { a - $0 } },
            clients: after.clients - before.clients
        )
    }

    /// Everything that serves the clients: servers, database and load balancer.
    var serverSide: Double { servers + (database ?? 0) + (balancer ?? 0) }
    var total: Double { serverSide + clients }
}

/// Peak resident set size (VmHWM) from /proc.
enum PeakMemory {
    static func megabytes(pid: Int32? = nil) -> Double {
        let path = "/proc/\(pid.map(String.init) ?? "self")/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }
}

/// CPU time from /proc/<pid>/stat, to split a measured wall time between server and client.
enum CPUTime {
    static func seconds(pid: Int32? = nil) -> Double {
        let path = "/proc/\(pid.map(String.init) ?? "self")/stat"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let end = text.lastIndex(of: ")") else { return 0 }
        // After the parenthesised command name: state is field 3, utime and stime are fields 14 and 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// The open-file limit: a thousand schools need a thousand sockets on each side of loopback.
enum FileLimit {
    static func raise(atLeast needed: Int) throws {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        guard limit.rlim_cur < rlim_t(needed) else { return }
        guard limit.rlim_max >= rlim_t(needed) else {
            throw BenchError("\(needed) open files are needed but the hard limit is \(limit.rlim_max); raise it (ulimit -Hn) and run again")
        }
        limit.rlim_cur = rlim_t(needed)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw BenchError("could not raise the open-file limit to \(needed)")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
