import Foundation
import Synchronization

/// A child process started with `posix_spawn` and waited for with `waitpid` on a thread of its own.
///
/// Foundation's `Process.run()` crashed the test process in CI several times (a bad pointer in
/// `memcpy` inside it, swift-corelibs-foundation's over-read while closing descriptors, fixed
/// upstream after Swift 6.3.1), also with one start at a time. This does what the tests need of
/// it and nothing more: standard input from `/dev/null`, standard output and error to pipes the
/// parent reads (or to `/dev/null`), every other descriptor of the test process closed in the child.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: the descriptors are set once in init; the status is behind `state`.
    public let processIdentifier: pid_t
    /// The read end of the child's standard output, when it was captured.
    public let standardOutput: FileHandle?
    /// The read end of the child's standard error, when it was captured.
    public let standardError: FileHandle?
    private let state = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: the whole environment of the child (the test process's by default).
    ///   - captureOutput, captureError: pipe the stream to the parent; otherwise `/dev/null`.
    ///   - onExit: called once, with the exit status, on the waiting thread.
    public init(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        captureOutput: Bool = true,
        captureError: Bool = true,
        onExit: @escaping @Sendable (Int32) -> Void = { _ in }
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var readEnds: [Int32?] = [nil, nil]
        var writeEnds: [Int32] = []
        for (index, (captured, target)) in [(captureOutput, Int32(1)), (captureError, Int32(2))].enumerated() {
            if captured {
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw ProcessError("cannot make a pipe (errno \(errno))") }
                readEnds[index] = fds[0]
                writeEnds.append(fds[1])
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            }
        }
        guard let closeFrom = Self.closeFrom else {
            throw ProcessError("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)")
        }
        _ = closeFrom(&actions, 3)
        let argv = [executable.path] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in cEnvironment { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable.path, &actions, nil, &cArguments, &cEnvironment)
        for fd in writeEnds { close(fd) }
        guard spawned == 0 else {
            for fd in readEnds.compactMap({ $0 }) { close(fd) }
            throw ProcessError("cannot start \(executable.path) (error \(spawned))")
        }
        processIdentifier = pid
        standardOutput = readEnds[0].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        standardError = readEnds[1].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        let child = pid
        Thread.detachNewThread { [self] in
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            // WIFEXITED ? WEXITSTATUS : the signal's number, as Foundation's terminationStatus says.
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
            let waiters = self.state.withLock { state in
                state.status = code
                defer { state.waiters = [] }
                return state.waiters
            }
            onExit(code)
            for waiter in waiters { waiter.resume(returning: code) }
        }
    }

    /// Whether the child has not been seen to end yet.
    public var isRunning: Bool { state.withLock { $0.status == nil } }

    /// The exit status, or the number of the signal that ended it; 0 while it runs.
    public var terminationStatus: Int32 { state.withLock { $0.status ?? 0 } }

    /// Sends SIGTERM.
    public func terminate() { kill(processIdentifier, SIGTERM) }

    /// Waits for the end without holding a thread.
    @discardableResult
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = state.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift does not
    /// import (it is behind `_GNU_SOURCE`), looked up by name.
    static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
}
