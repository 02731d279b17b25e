import Logging
import SyncCore

/// Progress of evidence uploads and downloads, for a progress line.
public enum EvidenceProgress: Sendable, Equatable {
    /// Bytes of a file the server holds or was handed so far, out of its size.
    case uploading(name: String, bytes: Int, of: Int)
    /// A file is on the server for this school; `proven` when the school showed it holds the bytes
    /// instead of sending them (PROTOCOL.md §13.3).
    case uploaded(name: String, size: Int, proven: Bool)
    /// Bytes of a file received so far, out of its size.
    case downloading(name: String, bytes: Int, of: Int)
    /// A request failed and will be tried again after a delay, from where the server stands.
    case retrying(name: String, attempt: Int, after: Duration, reason: String)
    /// The server found the uploaded bytes to have another SHA-256 (422 `evidence_hash_mismatch`).
    case hashMismatch(name: String, message: String)
    /// A file will not be uploaded again until it is added again; the reason says why.
    case heldBack(name: String, reason: String)
}

/// What one ``EvidenceTransfer/uploadWaiting(timeLimit:)`` did.
public struct EvidenceUploadSummary: Sendable, Hashable, Codable {
    /// Files now on the server for this school (uploaded, found there, or proven).
    public var uploaded = 0
    /// Of those, files the school proved it holds instead of sending them (PROTOCOL.md §13.3).
    public var proven = 0
    /// Bytes of files handed to the connection (a cut PATCH counts what was handed before the cut).
    public var bytesSent = 0
    /// Files still to upload after this run: they continue on the next one.
    public var waiting = 0
    /// Files held back in this run, with why; `status` lists them until they are added again.
    public var heldBack: [EvidenceFile] = []
    /// Why the run stopped before every file was up (time up, no link, a refused token); `nil` when it did not.
    public var stoppedBecause: String?

    /// An empty summary.
    public init() {}
}

/// Moves evidence files between a replica and the server (PROTOCOL.md §13): resumable uploads of
/// the files the school's reports name, after the records (``uploadWaiting(timeLimit:)``), and
/// resumable downloads of a file into the replica (``download(sha256:name:)``).
///
/// For example:
/// ```swift
/// try await engine.sync()                                   // the records first
/// let transfer = EvidenceTransfer(replica: replica, transport: EvidenceTransport(http: http, baseURL: url, token: token))
/// let summary = try await transfer.uploadWaiting(timeLimit: .seconds(300))
/// if summary.waiting > 0 { print("\(summary.waiting) files still to upload") }
/// ```
public struct EvidenceTransfer: Sendable {
    /// The replica that keeps the files.
    public let replica: LocalReplica
    /// How the server is reached.
    public let transport: EvidenceTransport
    /// When a failed request is tried again: connection errors, timeouts, 5xx and 429, never another 4xx
    /// (PROTOCOL.md §8). Failures in a row count only while no byte moves: a transfer that gains bytes
    /// after each cut goes on until it is done or the time is up.
    public var retry: RetryPolicy
    /// Called with progress; the CLI prints it.
    public var progress: @Sendable (EvidenceProgress) -> Void
    /// Waits between retries; tests pass one that does not sleep.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// Where retries are logged (debug).
    public var logger: Logger

    /// Makes a transfer; nothing is sent until ``uploadWaiting(timeLimit:)`` or ``download(sha256:name:)``.
    public init(
        replica: LocalReplica,
        transport: EvidenceTransport,
        retry: RetryPolicy = RetryPolicy(),
        logger: Logger = Logger(label: "SyncClient.Evidence"),
        progress: @escaping @Sendable (EvidenceProgress) -> Void = { _ in },
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.replica = replica
        self.transport = transport
        self.retry = retry
        self.logger = logger
        self.progress = progress
        self.sleep = sleep
    }

    /// Counts failures in a row while no byte moves, and says how long to wait before the next try.
    struct Backoff {
        let retry: RetryPolicy
        private(set) var failures = 0
        private var best = -1
        private var generator = SystemRandomNumberGenerator()

        init(retry: RetryPolicy) { self.retry = retry }

        /// The server (or this replica) now holds `offset` bytes: progress clears the failures.
        mutating func reached(_ offset: Int) {
            if offset > best {
                best = offset
                failures = 0
            }
        }

        /// A failure; `nil` when the attempts are spent, else the delay before the next try.
        mutating func failed(_ error: SyncClientError) -> Duration? {
            failures += 1
            guard failures < retry.maxAttempts else { return nil }
            return retry.delay(beforeRetry: failures, retryAfter: error.retryAfter, using: &generator)
        }
    }
}
