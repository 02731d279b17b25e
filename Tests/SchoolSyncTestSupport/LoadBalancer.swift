import Foundation

/// HAProxy in front of server processes on 127.0.0.1, started and stopped by
/// `Scripts/loadbalancer.sh`: round robin, a health check on `/healthz` that takes a dead server out
/// within a few hundred milliseconds, and a request that could not reach a server sent to another.
///
/// For example:
/// ```swift
/// let balancer = try await LoadBalancer.start(backends: [first.port, second.port], in: directory)
/// defer { balancer.stop() }
/// // clients use balancer.baseURL
/// ```
public final class LoadBalancer: Sendable {
    /// The directory of its configuration, pid file and admin socket (the caller's; left in place).
    public let directory: URL
    /// The loopback port it listens on.
    public let port: Int

    /// `http://127.0.0.1:<port>`, the address clients are given.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The script, found from this file's place in the repository.
    public static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/loadbalancer.sh")
    }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// Starts HAProxy over the servers on `backends` (named `s1`, `s2`, … in that order) on a free
    /// loopback port, its files in `directory`.
    /// - Parameters:
    ///   - maxConnections: the client connections HAProxy holds at once (its `maxconn`); more wait
    ///     to be accepted. The benchmark's simulated schools each keep one open.
    ///   - checkTimeout: how long a health check may take before it counts as failed (whole
    ///     milliseconds; the script's default, 1 s, when nil).
    /// - Throws: ``ProcessError`` with the script's output when it did not start.
    public static func start(backends: [Int], in directory: URL, maxConnections: Int = 512, checkTimeout: Duration? = nil) async throws -> LoadBalancer {
        var options = ["--maxconn", String(maxConnections)]
        if let checkTimeout {
            options += ["--check-timeout", String(checkTimeout.components.seconds * 1000 + checkTimeout.components.attoseconds / 1_000_000_000_000_000)]
        }
        let output = try await run(["start", directory.path] + options + backends.map(String.init))
        guard let range = output.range(of: #"SCHOOLSYNC_LB_URL=http://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = output[range].split(separator: ":").last.flatMap({ Int($0) })
        else { throw ProcessError("Scripts/loadbalancer.sh start printed no address: \(output)") }
        return LoadBalancer(directory: directory, port: port)
    }

    /// A backend server as HAProxy sees it now.
    public struct Server: Sendable, Equatable {
        /// `s1`, `s2`, … in the order of the backends given to ``start(backends:in:)``; `BACKEND` for the totals.
        public var name: String
        /// `UP`, `DOWN`, or HAProxy's transitional states (`UP 1/2` shows as `UP`).
        public var status: String
        /// Connections HAProxy made to it (`stot`; health checks not counted).
        public var sessions: Int
        /// Requests HAProxy tried again (`wretr`).
        public var retries: Int
        /// Requests HAProxy sent to another server than the one first chosen (`wredis`).
        public var redispatches: Int
        /// Responses that failed (`eresp`: e.g. the server closed the connection mid-answer).
        public var responseErrors: Int
        /// Answers with a 5xx status, HAProxy's own 502 and 503 included.
        public var http5xx: Int
        /// Times the health check took it from up to down (`chkdown`; for the backend: times no server was up).
        public var checkDowns: Int
        /// Seconds it has been down in all (`downtime`).
        public var downtimeSeconds: Int
    }

    /// The servers and the backend's totals, from HAProxy's admin socket.
    public func servers() async throws -> [Server] {
        try await Self.run(["status", directory.path]).split(separator: "\n").map { line in
            let words = line.split(separator: " ").map(String.init)
            var counters: [String: Int] = [:]
            for word in words.dropFirst(2) {
                let pair = word.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { counters[String(pair[0])] = Int(pair[1]) }
            }
            return Server(
                name: words.first ?? "",
                status: words.count > 1 ? words[1] : "",
                sessions: counters["sessions"] ?? 0,
                retries: counters["retries"] ?? 0,
                redispatches: counters["redispatches"] ?? 0,
                responseErrors: counters["response_errors"] ?? 0,
                http5xx: counters["http_5xx"] ?? 0,
                checkDowns: counters["check_downs"] ?? 0,
                downtimeSeconds: counters["downtime"] ?? 0
            )
        }
    }

    /// Waits until the servers' states satisfy `condition`, asking HAProxy every 50 ms.
    /// - Throws: ``ProcessError`` with the last states seen when `deadline` passes first.
    public func waitUntil(
        _ what: String,
        deadline: Duration = .seconds(10),
        _ condition: ([String: String]) -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        var seen: [String: String] = [:]
        while clock.now < end {
            seen = Dictionary(try await servers().map { ($0.name, $0.status) }) { first, _ in first }
            if condition(seen) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ProcessError("the load balancer did not see \(what) within \(deadline): \(seen)")
    }

    /// Stops HAProxy; safe to call twice.
    public func stop() async {
        _ = try? await Self.run(["stop", directory.path])
    }

    /// Runs the script to its end on a dedicated thread and returns what it printed.
    private static func run(_ arguments: [String]) async throws -> String {
        let script = script
        return try await withCheckedThrowingContinuation { continuation in
            // A dedicated thread: the script is waited for, which must not hold a cooperative thread.
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        let ended = DispatchSemaphore(value: 0)
                        let process = try ChildProcess(script, arguments) { _ in ended.signal() }
                        // The script leaves HAProxy running with none of its descriptors, so both
                        // pipes end when the script does.
                        let said = String(decoding: process.standardOutput?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
                        let complained = String(decoding: process.standardError?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
                        ended.wait()
                        guard process.terminationStatus == 0 else {
                            throw ProcessError("Scripts/loadbalancer.sh \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(complained)\(said)")
                        }
                        return said
                    })
            }
        }
    }
}
