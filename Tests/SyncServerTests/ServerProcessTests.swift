import AsyncHTTPClient
import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import Testing

@testable import SyncServer
@testable import SyncServerSQLite

/// The `schoolsync-server` executable as a separate process: crash safety and graceful shutdown.
@Suite(.serialized)
struct ServerProcessTests {
    /// SIGKILL the server in the middle of a stream of pushes, restart it on the same file, and
    /// prove that every acknowledged record is there and the change log has no holes. The push that
    /// was in flight is retried with its batch id and receipt: it is either replayed or applied.
    @Test(.timeLimit(.minutes(2))) func sigkillDuringPushesLosesNothingAcknowledged() async throws {
        try await Fixture.with { fixture in
            let replica = ReplicaID(high: 0x5151, low: 0x1)
            var acknowledged: [SyncRecord] = []
            var receipt: PushReceipt?
            var inFlight: PushRequest?
            let first = try await ServerProcess(database: fixture.databasePath)
            try await HTTPClient.withHTTPClient { http in
                // The bureau publishes catalog records: they need no other record to be valid.
                let client = HTTPSyncTransport(http: http, baseURL: first.baseURL, token: fixture.bureau)
                // Acknowledged pushes before the crash.
                for batch in 0..<8 {
                    let records = try (0..<25).map {
                        try Make.plan("b\(batch)-r\($0)", values: ["n": .int(Int64($0)), "batch": .int(Int64(batch))], by: replica)
                    }
                    let request = try Make.push(records, replica: replica, receipt: receipt)
                    receipt = try await client.push(request).receipt
                    acknowledged += records
                }
                // A stream of pushes that the kill interrupts once five of them were acknowledged.
                let startReceipt = receipt
                let (progress, progressContinuation) = AsyncStream.makeStream(of: Int.self)
                let stream = Task { [client] in
                    defer { progressContinuation.finish() }
                    var pending: [PushRequest] = []
                    var streamReceipt = startReceipt
                    var streamAcknowledged: [SyncRecord] = []
                    for batch in 8..<200 {
                        let records = try (0..<25).map { try Make.plan("b\(batch)-r\($0)", values: ["n": .int(Int64($0))], by: replica) }
                        let request = try Make.push(records, replica: replica, receipt: streamReceipt)
                        pending = [request]
                        guard let response = try? await client.push(request) else { break }
                        streamReceipt = response.receipt
                        streamAcknowledged += records
                        pending = []
                        progressContinuation.yield(streamAcknowledged.count / 25)
                    }
                    return (streamAcknowledged, pending.first)
                }
                for await acknowledgedBatches in progress where acknowledgedBatches >= 5 { break }
                let status = await first.stop(with: SIGKILL)
                #expect(status == SIGKILL || status != 0)
                let (more, interrupted) = try await stream.value
                #expect(more.count >= 5 * 25)
                #expect(more.count < 192 * 25, "the kill came after the stream had ended")
                acknowledged += more
                inFlight = interrupted
            }

            let second = try await ServerProcess(database: fixture.databasePath)
            try await HTTPClient.withHTTPClient { http in
                let client = HTTPSyncTransport(http: http, baseURL: second.baseURL, token: fixture.bureau)
                if let inFlight {
                    // The retry of the interrupted push: whether or not it committed, it succeeds now.
                    let response = try await client.push(inFlight)
                    #expect(response.results.allSatisfy { $0.status == .applied || $0.status == .unchanged })
                    acknowledged += inFlight.records
                }
                var stored: [String: RecordState] = [:]
                var cursor: SyncCore.Cursor?
                while true {
                    let page = try await client.pull(PullRequest(since: cursor, limit: 1000, replica: nil, receipt: nil))
                    for record in page.records { stored[record.key.id] = record.state }
                    cursor = page.next
                    if !page.more { break }
                }
                for record in acknowledged {
                    let state = try #require(stored[record.key.id], "acknowledged \(record.key) is missing after the crash")
                    #expect(try state.joined(with: record.state) == state, "\(record.key) lost part of its acknowledged state")
                }
            }
            await second.stop(with: SIGTERM)
            try await StoreTests.expectNoHoles(in: try SQLiteStore(path: fixture.databasePath), kind: .sqlite)
        }
    }

    @Test(.timeLimit(.minutes(1))) func sigtermShutsDownGracefully() async throws {
        try await Fixture.with { fixture in
            let server = try await ServerProcess(database: fixture.databasePath)
            let status = await server.stop(with: SIGTERM)
            #expect(status == 0)
        }
    }

    @Test(.timeLimit(.minutes(1))) func badFlagsExitWithAUsageError() async throws {
        let process = Process()
        process.executableURL = try ServerProcess.binary
        process.arguments = ["serve", "--port", "70000"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 64)
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("port must be between 0 and 65535"))
    }
}
