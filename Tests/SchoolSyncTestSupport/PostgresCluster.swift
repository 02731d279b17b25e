import Foundation

/// A PostgreSQL cluster of the test's own: `initdb` into a temporary directory, a free loopback
/// port, trust authentication for `postgres`, and `pg_ctl` to start and stop it. When the tests run
/// as root (CI does), the server runs as the `postgres` user, since PostgreSQL refuses root.
///
/// The binaries come from `$SCHOOLSYNC_PG_BIN`, else the newest `/usr/lib/postgresql/<n>/bin`
/// (Debian's layout), else `PATH`.
///
/// For example:
/// ```swift
/// let cluster = try await PostgresCluster.start()
/// defer { cluster.stop() }
/// // connect to cluster.url
/// ```
public final class PostgresCluster: Sendable {
    /// The cluster's directory (data, socket and log); removed by ``stop()``.
    public let directory: URL
    /// The loopback port it listens on.
    public let port: Int
    let binaries: URL
    let runAs: String?

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    private init(directory: URL, port: Int, binaries: URL, runAs: String?) {
        self.directory = directory
        self.port = port
        self.binaries = binaries
        self.runAs = runAs
    }

    /// Makes and starts a fresh cluster; waits until it accepts connections.
    /// - Parameters:
    ///   - firstPort: the port to try first (tests of the harness itself); a free one when nil.
    ///   - fsync: whether commits wait for the disk. Off for the tests (their data is thrown away, and
    ///     a test waits for no disk); on for the benchmark, whose commits must cost what they cost.
    /// - Throws: ``PostgresClusterError`` naming the step that failed, with its output and the server's log.
    public static func start(firstPort: Int? = nil, fsync: Bool = false) async throws -> PostgresCluster {
        let binaries = try binaryDirectory()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let runAs = getuid() == 0 ? "postgres" : nil
        if let runAs {
            guard let user = getpwnam(runAs) else { throw PostgresClusterError("running as root, and there is no '\(runAs)' user to run PostgreSQL as") }
            guard chown(directory.path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                throw PostgresClusterError("cannot give \(directory.path) to '\(runAs)' (errno \(errno))")
            }
        }
        let data = directory.appendingPathComponent("data").path
        let log = directory.appendingPathComponent("server.log")
        try await PostgresCluster(directory: directory, port: 0, binaries: binaries, runAs: runAs)
            .run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        // A port found free can be taken before the server binds it (another test's listener, or the
        // local end of a loopback connection): the server then exits at once, and a new port is tried.
        var attempt = 1
        var port = firstPort
        while true {
            let cluster = PostgresCluster(directory: directory, port: try port ?? freeLoopbackPort(), binaries: binaries, runAs: runAs)
            port = nil
            try? FileManager.default.removeItem(at: log)
            do {
                try await cluster.run(
                    "pg_ctl",
                    [
                        "-D", data, "-l", log.path, "-w", "-t", "60",
                        "-o",
                        "-p \(cluster.port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=\(fsync ? "on" : "off") -c max_connections=500",
                        "start",
                    ]
                )
                return cluster
            } catch {
                let serverLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                let portTaken = serverLog.contains("could not bind") || serverLog.contains("could not create any TCP/IP sockets")
                guard portTaken, attempt < 5 else {
                    try? FileManager.default.removeItem(at: directory)
                    throw PostgresClusterError("\(error)\nserver log:\n\(serverLog.suffix(2000))")
                }
                attempt += 1
            }
        }
    }

    /// Stops the server at once and removes its files; safe to call twice.
    public func stop() {
        let data = directory.appendingPathComponent("data").path
        _ = try? Self.runBlocking(tool(named: "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], runAs: runAs)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs one of the cluster's tools (e.g. `psql`) against it and returns its standard output.
    /// - Throws: ``PostgresClusterError`` when it exits with a failure.
    @discardableResult
    public func run(_ name: String, _ arguments: [String]) async throws -> String {
        let tool = tool(named: name)
        let runAs = self.runAs
        return try await withCheckedThrowingContinuation { continuation in
            // A dedicated thread: the tool is waited for, which must not hold a cooperative thread.
            Thread.detachNewThread {
                continuation.resume(with: Result { try Self.runBlocking(tool, arguments, runAs: runAs) })
            }
        }
    }

    /// Runs a PostgreSQL client tool (`pg_dump`, `psql`) as the current user and returns its standard output.
    /// - Throws: ``PostgresClusterError`` when it exits with a failure.
    public static func runTool(_ name: String, _ arguments: [String]) async throws -> String {
        let tool = try binaryDirectory().appendingPathComponent(name)
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try runBlocking(tool, arguments, runAs: nil) }) }
        }
    }

    private func tool(named name: String) -> URL { binaries.appendingPathComponent(name) }

    /// Runs the tool and waits for it with posix_spawn and waitpid. Foundation's `Process` cannot be
    /// used: it learns of the end of a child through a descriptor the child inherits, and the server
    /// that `pg_ctl start` leaves running inherits it too, so the end is never seen.
    private static func runBlocking(_ tool: URL, _ arguments: [String], runAs: String?) throws -> String {
        // As another user, from `/` (`env -C`): `postgres` may not enter the directory the tests run in
        // (CI's is root's), and the tools warn on stderr when they cannot.
        let command = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--", "/usr/bin/env", "-C", "/", tool.path] } ?? [tool.path]
        let argv = command + arguments
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-pg-tool-\(UUID().uuidString).log")
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-pg-tool-\(UUID().uuidString).err")
        defer {
            try? FileManager.default.removeItem(at: log)
            try? FileManager.default.removeItem(at: errors)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errors.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing else of the test process may reach the child: the server `pg_ctl start` leaves
        // running would hold every socket open at that moment (a test's half-closed connection
        // would never see its end), for the rest of the run.
        guard let closeFrom = ChildProcess.closeFrom else { throw PostgresClusterError("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)") }
        _ = closeFrom(&actions, 3)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw PostgresClusterError("cannot start \(argv[0]) (error \(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw PostgresClusterError("cannot wait for \(tool.lastPathComponent) (errno \(errno))") }
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let said = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        // WIFEXITED and WEXITSTATUS, which Swift does not import: exited normally with status 0.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw PostgresClusterError("\(tool.lastPathComponent) \(arguments.joined(separator: " ")) failed (wait status \(status)): \((text + said).suffix(2000))")
        }
        return text
    }

    static func binaryDirectory() throws -> URL {
        if let configured = ProcessInfo.processInfo.environment["SCHOOLSYNC_PG_BIN"] {
            return URL(fileURLWithPath: configured)
        }
        let debian = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debian.path)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = debian.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let bin = URL(fileURLWithPath: String(directory))
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        throw PostgresClusterError("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql, or set SCHOOLSYNC_PG_BIN")
    }

    /// A port nobody listens on now: reserved, then released for the server to bind.
    static func freeLoopbackPort() throws -> Int {
        try ReservedPort().port
    }
}

/// A step of starting or stopping a ``PostgresCluster`` failed; the message has the tool's output.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
