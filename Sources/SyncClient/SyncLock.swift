import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lock that lets one sync at a time run on a replica file (PROTOCOL.md §6.1: a replica never
/// has two pushes in flight). Two syncs of one file would send pushes under one receipt; the
/// server refuses all but one as stale and every refusal makes the loser re-mint its replica.
///
/// It is an advisory `flock` on `<database>.sync-lock`, beside the database: the kernel releases
/// it when the process ends however it ends (a crash, SIGKILL, a power cut), so a stale lock
/// never blocks the next sync. The file holds the holder's process id, for the message.
final class SyncLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Takes the lock of the database at `databasePath`, trying again every 200 ms for up to `wait`.
    ///
    /// - Throws: ``SyncClientError/Code/busy`` when another sync still holds it after `wait`;
    ///   ``SyncClientError/Code/storage`` when the lock file cannot be opened.
    static func acquire(
        for databasePath: String,
        wait: Duration,
        sleep: @Sendable (Duration) async throws -> Void
    ) async throws -> SyncLock {
        // The same file however the database was named (a symlink, a relative path).
        let path = URL(fileURLWithPath: databasePath).resolvingSymlinksInPath().path + ".sync-lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SyncClientError(.storage, "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: wait)
        while true {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
                let pid = "\(getpid())\n"
                _ = ftruncate(descriptor, 0)
                _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
                return SyncLock(descriptor: descriptor)
            }
            let failure = errno
            guard failure == EWOULDBLOCK || failure == EINTR else {
                close(descriptor)
                throw SyncClientError(.storage, "cannot lock \(path): \(String(cString: strerror(failure)))")
            }
            guard clock.now < deadline else {
                close(descriptor)
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                throw SyncClientError(
                    .busy,
                    "another sync of \(databasePath) is running\(holder.map { $0.isEmpty ? "" : " (process \($0))" } ?? ""); it sends this device's changes too — let it finish, or wait for it with --wait SECONDS"
                )
            }
            do {
                try await sleep(.milliseconds(200))
            } catch {
                close(descriptor)
                throw error
            }
        }
    }

    /// Releases the lock (closing the descriptor releases it too).
    func release() {
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
