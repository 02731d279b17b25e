import Foundation
import Logging
import ServiceLifecycle
import SyncCore

/// Removes evidence no report needs (PROTOCOL.md §13.5): files that no value of any report's
/// `evidence` field names once they stayed so for the grace period, and uploads past their
/// `Upload-Expires`. The server runs it every hour as a service; `schoolsync-server evidence gc`
/// runs it once.
public struct EvidenceCollector: Service {
    /// What one pass removed.
    public struct Pass: Sendable, Equatable {
        /// The SHA-256 of each file removed, sorted.
        public var removedFiles: [String]
        /// How many expired uploads were removed.
        public var removedUploads: Int
        /// How many files stay unreferenced but inside their grace period.
        public var waiting: Int
    }

    let store: any SyncStore
    /// How long a file may stay unreferenced before it is removed.
    let grace: TimeInterval
    /// How long the service waits between passes.
    let interval: Duration
    let clock: @Sendable () -> Date
    let logger: Logger

    /// Makes a collector over `store`; `grace` in seconds (PROTOCOL.md §13.5: 7 days by default).
    public init(
        store: any SyncStore,
        grace: TimeInterval,
        interval: Duration = .seconds(3600),
        clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger
    ) {
        self.store = store
        self.grace = grace
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// One pass at the clock's time: marks files referenced or not, removes those unreferenced for
    /// longer than the grace period and the expired uploads.
    ///
    /// - Throws: the store's errors; nothing is half removed (each step is one transaction).
    public func collect() async throws -> Pass {
        let now = clock()
        let referenced = try await Self.referencedHashes(in: store.records(in: ["reports"]))
        var changed: [EvidenceFileMark] = []
        var expired: [String] = []
        var waiting = 0
        for mark in try await store.evidenceFileMarks() {
            if referenced.contains(mark.sha256) {
                if mark.unreferencedSince != nil { changed.append(EvidenceFileMark(sha256: mark.sha256, unreferencedSince: nil)) }
            } else if let since = mark.unreferencedSince {
                if now.timeIntervalSince(since) >= grace { expired.append(mark.sha256) } else { waiting += 1 }
            } else {
                changed.append(EvidenceFileMark(sha256: mark.sha256, unreferencedSince: now))
                waiting += 1
            }
        }
        if !changed.isEmpty { try await store.markEvidence(changed) }
        if !expired.isEmpty { try await store.deleteEvidenceFiles(expired) }
        let uploads = try await store.deleteExpiredEvidenceUploads(before: now)
        return Pass(removedFiles: expired.sorted(), removedUploads: uploads, waiting: waiting)
    }

    /// Runs a pass every ``interval`` until graceful shutdown; a failed pass is logged and tried
    /// again at the next interval.
    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                let pass = try await collect()
                if !pass.removedFiles.isEmpty || pass.removedUploads > 0 {
                    logger.info(
                        "removed unreferenced evidence",
                        metadata: ["evidence.files": "\(pass.removedFiles.count)", "evidence.uploads": "\(pass.removedUploads)"]
                    )
                }
            } catch {
                logger.warning("evidence collection failed; trying again later", metadata: ["error": "\(String(reflecting: error))"])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// Every SHA-256 named by any value, settled or conflicting, of any report's `evidence`.
    static func referencedHashes(in records: [SyncRecord]) -> Set<String> {
        var hashes: Set<String> = []
        for record in records {
            guard let register = record.state.fields["evidence"] else { continue }
            for entry in register.entries {
                guard case .string(let text) = entry.value,
                    let items = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [Any]
                else { continue }
                for case let item as [String: Any] in items {
                    if let hash = item["sha256"] as? String, EvidenceItem.isSHA256(hash) { hashes.insert(hash) }
                }
            }
        }
        return hashes
    }
}
