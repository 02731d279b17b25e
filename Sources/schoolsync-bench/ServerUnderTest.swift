import Foundation
import SyncServer

/// The real `schoolsync-server`, built beside this executable, run as a child process on a free
/// loopback port with a fresh database, so its memory is measured apart from the clients'.
final class ServerUnderTest: @unchecked Sendable {
    // @unchecked: every property is set in init and only read afterwards.
    let process: Process
    let url: String
    let store: SQLiteStore
    let databasePath: String

    init(directory: URL, prepare: (SQLiteStore) async throws -> Void) async throws {
        databasePath = directory.appendingPathComponent("server.sqlite").path
        store = try SQLiteStore(path: databasePath)
        try await prepare(store)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("schoolsync-server")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw BenchError("build schoolsync-server first (swift build -c release): not found at \(binary.path)")
        }
        process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--db", databasePath, "--port", "0", "--log-level", "error", "--max-batch-records", "500"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = output.fileHandleForReading
        url = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var text = ""
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty {
                        continuation.resume(throwing: BenchError("the server exited before listening"))
                        return
                    }
                    text += String(decoding: chunk, as: UTF8.self)
                    if let range = text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                        continuation.resume(returning: String(text[range]))
                        return
                    }
                }
            }
        }
    }

    /// The server's peak resident memory so far, in MB.
    var peakMemoryMB: Double { PeakMemory.megabytes(pid: process.processIdentifier) }

    func stop() {
        process.terminate()
        process.waitUntilExit()
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

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
