import Foundation
import Synchronization

/// Starts child processes one at a time. Foundation's `Process.run()` crashed the test process
/// twice in CI (a bad pointer in `memcpy` inside it) while parallel tests started commands at
/// once; whether it is a race is not known, and starting them one after the other costs nothing
/// measurable (each start takes milliseconds).
enum Spawning {
    private static let lock = Mutex(())

    /// Runs `process` (Foundation's `Process.run()`) while no other test starts one.
    static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
