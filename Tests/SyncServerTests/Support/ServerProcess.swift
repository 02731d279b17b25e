import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncCore
import Testing

/// The real `schoolsync-server` executable, started as a child process on 127.0.0.1 and port 0.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` and `output` are set once in init and only read afterwards.
    let process: Process
    let port: Int
    private let output: Pipe

    /// Where `swift build` put the executables: beside the test bundle.
    static var binary: URL {
        get throws {
            if let directory = ProcessInfo.processInfo.environment["SCHOOLSYNC_BIN_DIR"] {
                return URL(fileURLWithPath: directory).appendingPathComponent("schoolsync-server")
            }
            var candidate = Bundle.main.bundleURL
            for _ in 0..<4 {
                let binary = candidate.appendingPathComponent("schoolsync-server")
                if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
                candidate.deleteLastPathComponent()
            }
            throw ProcessError("schoolsync-server was not built beside \(Bundle.main.bundleURL.path); run swift build first")
        }
    }

    /// Starts the server on the database and waits for its start-up line.
    init(database: String, arguments: [String] = []) async throws {
        process = Process()
        process.executableURL = try Self.binary
        process.arguments = ["serve", "--db", database, "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"] + arguments
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = output.fileHandleForReading
        port = try await Task.detached {
            // Blocking reads on a detached task: the start-up line arrives once the port is bound.
            var text = ""
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { throw ProcessError("the server exited before listening: \(text)") }
                text += String(decoding: chunk, as: UTF8.self)
                if let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                    let port = Int(text[range].split(separator: ":")[1])
                {
                    return port
                }
            }
        }.value
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Sends a signal and waits for the process to end; returns its exit status.
    @discardableResult
    func stop(with signal: Int32) async -> Int32 {
        kill(process.processIdentifier, signal)
        let process = self.process
        return await Task.detached {
            process.waitUntilExit()
            return process.terminationStatus
        }.value
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

struct ProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A minimal protocol client over AsyncHTTPClient, for tests that talk to a real process.
struct HTTPSyncClient: Sendable {
    let http: HTTPClient
    let baseURL: String
    let token: String

    struct Failure: Error {
        let status: HTTPResponseStatus
        let body: String
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        var http = HTTPClientRequest(url: baseURL + "/v1/push")
        http.method = .POST
        http.headers.add(name: "Authorization", value: "Bearer \(token)")
        http.headers.add(name: "Content-Type", value: "application/json")
        http.body = .bytes(ByteBuffer(bytes: try CanonicalJSON.encode(request)))
        return try await send(http, as: PushResponse.self)
    }

    func pull(since cursor: Cursor?) async throws -> PullResponse {
        var http = HTTPClientRequest(url: baseURL + "/v1/pull?limit=1000" + (cursor.map { "&since=\($0)" } ?? ""))
        http.headers.add(name: "Authorization", value: "Bearer \(token)")
        return try await send(http, as: PullResponse.self)
    }

    private func send<T: Decodable>(_ request: HTTPClientRequest, as type: T.Type) async throws -> T {
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
        guard response.status == .ok else { throw Failure(status: response.status, body: String(buffer: body)) }
        return try CanonicalJSON.decode(type, from: Data(body.readableBytesView))
    }
}
