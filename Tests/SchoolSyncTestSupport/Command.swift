import Foundation

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// A built executable run as a child process, with its output read as it comes.
public final class RunningCommand: @unchecked Sendable {
    // @unchecked: `process` is set up in init and only read afterwards; the buffers are behind `lock`.
    public let process: ChildProcess
    private let output = OutputBuffer()
    private let errLines: AsyncStream<String>
    private let outLines: AsyncStream<String>
    private let ended: AsyncStream<Void>

    /// Starts `name` (one of this package's executables) with `arguments`.
    public init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        errLines = lines
        let (outLines, outContinuation) = AsyncStream.makeStream(of: String.self)
        self.outLines = outLines
        let (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
        self.ended = ended
        process = try ChildProcess(
            try Executables.url(of: name),
            arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
        ) { _ in
            endedContinuation.yield()
            endedContinuation.finish()
        }
        // Reads on dedicated threads: blocking reads inside Swift tasks would starve the small
        // cooperative pool of a 2-core machine and stall the test itself.
        let output = self.output
        if let stdout = process.standardOutput { output.follow(stdout, toErr: false, lines: outContinuation) }
        if let stderr = process.standardError { output.follow(stderr, toErr: true, lines: continuation) }
    }

    /// Waits until the command writes a line to standard error that contains `text`; false if it ended first.
    public func waitForErrorLine(containing text: String) async -> Bool {
        for await line in errLines where line.contains(text) { return true }
        return false
    }

    /// Waits until the command writes a line to standard output that contains `text` and returns
    /// it; nil if it ended first. Lines are read once: each call continues after the last line read.
    public func waitForOutputLine(containing text: String) async -> String? {
        for await line in outLines where line.contains(text) { return line }
        return nil
    }

    /// Sends a signal.
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end and for its output to be read.
    public func wait() async -> CommandResult {
        for await _ in ended {}
        await output.drained()
        return output.result(status: process.terminationStatus)
    }

    /// Runs a command to its end.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        try await RunningCommand(name, arguments, environment: environment).wait()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Both output streams of a child process, filled by reader threads.
private final class OutputBuffer: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Reads `handle` to its end on its own thread, splitting lines for `lines` if given.
    func follow(_ handle: FileHandle, toErr: Bool, lines: AsyncStream<String>.Continuation?) {
        lock.withLock { open += 1 }
        Thread.detachNewThread {
            var pending = ""
            while case let chunk = handle.availableData, !chunk.isEmpty {
                self.append(chunk, toErr: toErr)
                guard let lines else { continue }
                pending += String(decoding: chunk, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    lines.yield(String(pending[..<newline]))
                    pending = String(pending[pending.index(after: newline)...])
                }
            }
            lines?.finish()
            let woken = self.lock.withLock {
                self.open -= 1
                defer { if self.open == 0 { self.waiters = [] } }
                return self.open == 0 ? self.waiters : []
            }
            for waiter in woken { waiter.resume() }
        }
    }

    /// Returns once every followed handle reached its end.
    func drained() async {
        await withCheckedContinuation { continuation in
            let done = lock.withLock {
                if open == 0 { return true }
                waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    func append(_ chunk: Data, toErr: Bool) {
        lock.withLock {
            if toErr { err.append(chunk) } else { out.append(chunk) }
        }
    }

    func result(status: Int32) -> CommandResult {
        lock.withLock {
            CommandResult(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
        }
    }
}
