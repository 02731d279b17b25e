import Foundation

/// The real `schoolsync-server` executable, started as a child process on 127.0.0.1 and port 0:
/// the server of the process and end-to-end tests and of the benchmark.
public final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` and `output` are set once in init and only read afterwards.
    public let process: ChildProcess
    public let port: Int

    /// The built `schoolsync-server`.
    public static var binary: URL {
        get throws { try Executables.url(of: "schoolsync-server") }
    }

    /// Starts the server on the database and waits for its start-up line.
    ///
    /// - Parameters:
    ///   - port: 0 (the default) for an ephemeral port; a given port to restart a server where its
    ///     clients (or a proxy) expect it.
    ///   - logLevel: the server's `--log-level`; its log goes nowhere, but a quieter server does less.
    ///   - arguments: more flags of `schoolsync-server serve`.
    public convenience init(database: String, port requestedPort: Int = 0, logLevel: String = "warning", arguments: [String] = []) async throws {
        try await self.init(store: ["--db", database], port: requestedPort, logLevel: logLevel, arguments: arguments)
    }

    /// Starts the server on the store `store` names (`--db FILE` or `--database-url URL`, as
    /// `StoreKind.serverArguments(named:in:)` gives them) and waits for its start-up line.
    public init(store: [String], port requestedPort: Int = 0, logLevel: String = "warning", arguments: [String] = []) async throws {
        process = try ChildProcess(
            try Self.binary,
            ["serve"] + store + ["--host", "127.0.0.1", "--port", "\(requestedPort)", "--log-level", logLevel] + arguments,
            captureError: false
        )
        guard let handle = process.standardOutput else { throw ProcessError("the server's output was not captured") }
        // Read on a dedicated thread, never a Swift task: a blocking read would hold one of the
        // cooperative pool's few threads.
        port = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var text = ""
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty {
                        continuation.resume(throwing: ProcessError("the server exited before listening: \(text)"))
                        return
                    }
                    text += String(decoding: chunk, as: UTF8.self)
                    if let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                        let port = Int(text[range].split(separator: ":")[1])
                    {
                        continuation.resume(returning: port)
                        return
                    }
                }
            }
        }
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Sends a signal and waits for the process to end; returns its exit status.
    @discardableResult
    public func stop(with signal: Int32) async -> Int32 {
        kill(process.processIdentifier, signal)
        return await process.exited()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

public struct ProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Finds the executables `swift build` put beside the test bundle.
public enum Executables {
    public static func url(of name: String) throws -> URL {
        if let directory = ProcessInfo.processInfo.environment["SCHOOLSYNC_BIN_DIR"] {
            return URL(fileURLWithPath: directory).appendingPathComponent(name)
        }
        var candidate = Bundle.main.bundleURL
        for _ in 0..<4 {
            let binary = candidate.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
            candidate.deleteLastPathComponent()
        }
        throw ProcessError("\(name) was not built beside \(Bundle.main.bundleURL.path); run swift build first")
    }
}
