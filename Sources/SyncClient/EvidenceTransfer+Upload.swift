import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import NIOCore
import SyncCore
import Synchronization

extension EvidenceTransfer {
    /// Uploads the files this school's reports name that the server does not hold yet, one after
    /// another, for at most `timeLimit`; run it after the records have synced (PROTOCOL.md §13: the
    /// records first, the files after).
    ///
    /// Each file is a tus upload (§13.2) whose address is kept in the replica, so a cut upload
    /// resumes where the server stands, in this run (after a backoff) or the next: a creation tells
    /// whether the server already holds the file (nothing is sent) or holds it for another school
    /// (a proof of possession is sent instead of the bytes, §13.3); otherwise a HEAD gives the offset
    /// and one PATCH streams the rest from the replica. No byte the server holds is sent again.
    ///
    /// A file the server refuses (413, 415, or a SHA-256 mismatch twice) is held back with the
    /// server's reason and not tried again until it is added again; `status` lists it.
    ///
    /// - Parameter timeLimit: how long to spend; a file cut off by it continues on the next run. Zero uploads nothing.
    /// - Returns: what was uploaded, what still waits and what was held back. Server answers and lost
    ///   connections are reported there, never thrown: they must not fail the sync of the records.
    /// - Throws: ``SyncClientError/Code/storage`` when the replica cannot be read or written.
    public func uploadWaiting(timeLimit: Duration) async throws -> EvidenceUploadSummary {
        var summary = EvidenceUploadSummary()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeLimit)
        var files = try await replica.evidenceToUpload()
        guard !files.isEmpty else { return summary }
        guard timeLimit > .zero else {
            summary.waiting = files.count
            summary.stoppedBecause = "uploads were not asked for this time"
            return summary
        }
        // One uploader per database file, as one sync (PROTOCOL.md §6.1 keeps pushes apart the same way).
        let lock: SyncLock
        do {
            lock = try await SyncLock.acquire(for: replica.path, wait: .zero, sleep: sleep)
        } catch let error as SyncClientError where error.code == .busy {
            summary.waiting = files.count
            summary.stoppedBecause = "another sync of this database is running; it uploads the files"
            return summary
        }
        defer { lock.release() }
        while !files.isEmpty {
            let file = files.removeFirst()
            switch try await upload(file, until: deadline, clock: clock, summary: &summary) {
            case .uploaded(let proven):
                summary.uploaded += 1
                if proven { summary.proven += 1 }
                progress(.uploaded(name: file.name, size: file.size, proven: proven))
            case .heldBack(let reason):
                progress(.heldBack(name: file.name, reason: reason))
                var held = file
                held.heldBack = reason
                summary.heldBack.append(held)
            case .skipped(let reason):
                summary.waiting += 1
                summary.stoppedBecause = summary.stoppedBecause ?? reason
            case .stopped(let reason):
                summary.waiting += files.count + 1
                summary.stoppedBecause = reason
                return summary
            }
        }
        return summary
    }

    enum UploadOutcome {
        case uploaded(proven: Bool)
        case heldBack(String)
        /// The file waits for a later run; the others go on (the server holds too many open uploads).
        case skipped(String)
        /// The run ends here: the time is up, the server cannot be reached, or the token was refused.
        case stopped(String)
    }

    /// Uploads one file: the loop of §13.2, resuming from the server's offset after every failure.
    func upload(_ file: EvidenceFile, until deadline: ContinuousClock.Instant, clock: ContinuousClock, summary: inout EvidenceUploadSummary) async throws
        -> UploadOutcome
    {
        let sha = file.sha256
        var upload = try await replica.evidenceUploadURL(sha256: sha).url
        var offset: Int?  // the server's, when known
        var backoff = Backoff(retry: retry)
        while true {
            guard clock.now < deadline else { return .stopped("the upload time is up") }
            do {
                if upload == nil {
                    let created = try await transport.create(sha256: sha, size: file.size, name: file.name, type: file.type)
                    upload = created.location
                    try await replica.setEvidenceUploadURL(sha, created.location)
                    if created.offset >= file.size {
                        try await replica.markEvidenceUploaded(sha)  // the school has it already
                        return .uploaded(proven: false)
                    }
                    if let nonce = created.nonce, created.offset == 0, let key = Hex.decode(nonce), key.count == 32 {
                        if try await prove(file, upload: created.location, key: key) { return .uploaded(proven: true) }
                        offset = nil  // ask where the upload stands
                    } else {
                        offset = created.offset
                    }
                }
                guard let location = upload else { continue }
                if offset == nil {
                    let held = try await transport.offset(of: location)
                    if held >= file.size {
                        try await replica.markEvidenceUploaded(sha)
                        return .uploaded(proven: false)
                    }
                    offset = held
                }
                let start = offset ?? 0
                backoff.reached(start)
                progress(.uploading(name: file.name, bytes: start, of: file.size))
                let length = file.size - start
                let body = EvidenceChunks(replica: replica, sha256: sha, from: start, to: file.size) { handed in
                    progress(.uploading(name: file.name, bytes: start + handed, of: file.size))
                }
                // A cut PATCH leaves `offset` unknown: the next round asks with HEAD.
                offset = nil
                defer { summary.bytesSent += body.handed }
                let reached = try await transport.patch(location, at: start, length: length, body: .stream(body, length: .known(Int64(length))), within: deadline - clock.now)
                if reached >= file.size {
                    try await replica.markEvidenceUploaded(sha)
                    return .uploaded(proven: false)
                }
                offset = reached
            } catch let error as SyncClientError {
                switch try await handle(error, file: file, backoff: &backoff) {
                case .again(let forgetUpload):
                    offset = nil
                    if forgetUpload {
                        upload = nil
                        try await replica.setEvidenceUploadURL(sha, nil)
                    }
                case .outcome(let outcome):
                    return outcome
                }
            }
        }
    }

    enum Next {
        /// Try again: from a HEAD, or (`forgetUpload`) from a new creation.
        case again(forgetUpload: Bool)
        case outcome(UploadOutcome)
    }

    /// What a failed tus request means for the file (PROTOCOL.md §8, §13.2).
    private func handle(_ error: SyncClientError, file: EvidenceFile, backoff: inout Backoff) async throws -> Next {
        let code = error.body?.error
        switch error.status {
        case 409? where code == .uploadLimitReached:
            // Too many unfinished uploads of the school (§13.1): this one waits; open ones may still finish.
            return .outcome(.skipped("the server holds as many unfinished uploads of this school as it takes (\(error.body?.message ?? error.message))"))
        case 409?:
            // Upload-Offset was not the server's (another device continued it, or a cut PATCH's bytes
            // landed after all): ask where it stands. Counted, so a server that keeps answering 409 ends.
            guard backoff.failed(error) != nil else { return .outcome(.stopped(error.message)) }
            return .again(forgetUpload: false)
        case 404?, 410?:
            // Expired or gone: start a new upload (the creation says if the server has the file by now).
            guard backoff.failed(error) != nil else { return .outcome(.stopped(error.message)) }
            return .again(forgetUpload: true)
        case 422? where code == .evidenceHashMismatch || code == nil:
            progress(.hashMismatch(name: file.name, message: error.message))
            let mismatches = try await replica.noteEvidenceHashMismatch(file.sha256)
            if try await !replica.evidenceIsIntact(sha256: file.sha256) {
                try await replica.holdBackEvidence(file.sha256, reason: LocalReplica.damagedCopy)
                return .outcome(.heldBack(LocalReplica.damagedCopy))
            }
            guard mismatches < 2 else {
                let reason = "the server twice found the uploaded bytes of \(file.name) to differ from its SHA-256 (\(error.message)); add the file again to retry"
                try await replica.holdBackEvidence(file.sha256, reason: reason)
                return .outcome(.heldBack(reason))
            }
            return .again(forgetUpload: true)
        case 401?:
            return .outcome(.stopped(error.message))
        case 403?:
            // Only school devices upload (§13.2): nothing this device sends will change that.
            return .outcome(.stopped("the server does not take evidence files from this token (\(error.body?.message ?? "forbidden"))"))
        case 413?, 415?, 400?, 412?:
            let reason = "the server refused \(file.name): \(error.body?.message ?? error.message)"
            try await replica.holdBackEvidence(file.sha256, reason: reason)
            return .outcome(.heldBack(reason))
        default:
            guard error.isRetryable || error.status == TusProtocol.checksumMismatchStatus || error.code == .invalidResponse else {
                let reason = "the server refused \(file.name): \(error.message)"
                try await replica.holdBackEvidence(file.sha256, reason: reason)
                return .outcome(.heldBack(reason))
            }
            guard let delay = backoff.failed(error) else {
                return .outcome(.stopped("\(error.message) (\(backoff.failures) tries without progress)"))
            }
            progress(.retrying(name: file.name, attempt: backoff.failures, after: delay, reason: error.message))
            logger.debug("evidence upload retrying", metadata: ["evidence.sha256": "\(file.sha256)", "sync.error": "\(error.code)"])
            try await sleep(delay)
            return .again(forgetUpload: false)
        }
    }

    /// Sends the proof of possession (§13.3); false when the server wants the bytes after all.
    private func prove(_ file: EvidenceFile, upload: String, key: [UInt8]) async throws -> Bool {
        let proof = try await replica.evidenceHMAC(sha256: file.sha256, key: key)
        let refusal: SyncClientError?
        do {
            try await transport.prove(upload, proof: proof)
            refusal = nil
        } catch {
            refusal = error
        }
        if let refusal {
            // 422: the proof did not match (the bytes here may differ): send them. 409: the upload
            // holds bytes already (another device began it): continue them.
            guard refusal.status == 422 || refusal.status == 409 else { throw refusal }
            logger.debug("possession proof refused", metadata: ["evidence.sha256": "\(file.sha256)", "http.status": "\(refusal.status ?? 0)"])
            return false
        }
        try await replica.markEvidenceUploaded(file.sha256)
        return true
    }
}

/// The bytes of a file kept in a replica, from one offset to another, a chunk row at a time: the
/// body of a PATCH, read as the connection asks for it so a 25 MiB file is never all in memory.
struct EvidenceChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let replica: LocalReplica
    let sha256: String
    let from: Int
    let to: Int
    let onHanded: @Sendable (Int) -> Void
    private let counter = HandedCounter()

    init(replica: LocalReplica, sha256: String, from: Int, to: Int, onHanded: @escaping @Sendable (Int) -> Void) {
        self.replica = replica
        self.sha256 = sha256
        self.from = from
        self.to = to
        self.onHanded = onHanded
    }

    /// Bytes handed to the connection so far.
    var handed: Int { counter.value }

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: EvidenceChunks
        var offset: Int

        mutating func next() async throws -> ByteBuffer? {
            guard offset < chunks.to else { return nil }
            let data = try await chunks.replica.evidenceBytes(sha256: chunks.sha256, from: offset, maxBytes: chunks.to - offset)
            guard !data.isEmpty else {
                throw SyncClientError(.integrity, "the copy of \(chunks.sha256) in this database ends at byte \(offset), before its size; add the file again")
            }
            offset += data.count
            chunks.counter.add(data.count)
            chunks.onHanded(offset - chunks.from)
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self, offset: from) }
}

/// A count shared by a body's iterator and its owner.
final class HandedCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add(_ bytes: Int) { count.withLock { $0 += bytes } }
}
