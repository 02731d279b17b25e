import Foundation
import SchoolSyncTestSupport
import SyncServer
import SyncServerSQLite

/// The real `schoolsync-server`, built beside this executable, run as a child process on a free
/// loopback port with a fresh database, so its memory is measured apart from the clients'. The
/// process is SchoolSyncTestSupport's `ServerProcess`, the tests' own.
struct ServerUnderTest: Sendable {
    let server: ServerProcess
    let store: SQLiteStore

    init(directory: URL, prepare: (SQLiteStore) async throws -> Void) async throws {
        let databasePath = directory.appendingPathComponent("server.sqlite").path
        store = try SQLiteStore(path: databasePath)
        try await prepare(store)
        server = try await ServerProcess(database: databasePath, logLevel: "error", arguments: ["--max-batch-records", "500"])
    }

    var url: String { server.baseURL }

    /// The server's peak resident memory so far, in MB.
    var peakMemoryMB: Double { PeakMemory.megabytes(pid: server.process.processIdentifier) }

    /// CPU seconds (user + system) the server process has used so far.
    var cpuSeconds: Double { CPUTime.seconds(pid: server.process.processIdentifier) }

    func stop() {
        server.process.terminate()
        server.process.waitUntilExit()
    }
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
