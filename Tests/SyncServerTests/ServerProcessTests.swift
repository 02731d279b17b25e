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
    @Test(.timeLimit(.minutes(2)), arguments: StoreKind.allCases) func sigkillDuringPushesLosesNothingAcknowledged(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let store = try await kind.serverArguments(in: fixture.directory)
            let replica = ReplicaID(high: 0x5151, low: 0x1)
            var acknowledged: [SyncRecord] = []
            var receipt: PushReceipt?
            var inFlight: PushRequest?
            let first = try await ServerProcess(store: store)
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

            let second = try await ServerProcess(store: store)
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
            try await StoreTests.expectNoHoles(in: try await kind.openStore(in: fixture.directory), kind: kind)
        }
    }

    /// DESIGN §4 invariant 4 across real processes: two `schoolsync-server` processes on one store
    /// take concurrent pushes of the same records, each writer its own field, half through each
    /// server; every record ends with every writer's field.
    @Test(.timeLimit(.minutes(2)), arguments: StoreKind.allCases) func twoServerProcessesJoinConcurrentEditsOfTheSameRecords(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let store = try await kind.serverArguments(in: fixture.directory)
            let servers = [try await ServerProcess(store: store), try await ServerProcess(store: store)]
            let writers = (0..<8).map { ReplicaID(high: 0x2222, low: UInt64($0)) }
            try await HTTPClient.withHTTPClient { http in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, writer) in writers.enumerated() {
                        let client = HTTPSyncTransport(http: http, baseURL: servers[index % 2].baseURL, token: fixture.bureau)
                        group.addTask {
                            var receipt: PushReceipt?
                            var states: [Int: RecordState] = [:]
                            for round in 0..<6 {
                                // Every writer edits its own field of the same four plans, never having seen the others.
                                let records = try (0..<4).map { id in
                                    var state = states[id] ?? RecordState()
                                    try state.write(["w\(index)": .int(Int64(round))], by: writer)
                                    states[id] = state
                                    return SyncRecord(key: RecordKey(collection: "plans", id: "shared-\(id)"), scope: .catalog, state: state)
                                }
                                receipt = try await client.push(try Make.push(records, replica: writer, receipt: receipt)).receipt
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let reader = HTTPSyncTransport(http: http, baseURL: servers[0].baseURL, token: fixture.bureau)
                let page = try await reader.pull(PullRequest(since: nil, limit: 100, replica: nil, receipt: nil))
                #expect(page.records.count == 4)
                for record in page.records {
                    let values = try #require(record.state.currentValues)
                    #expect(values.count == writers.count, "\(record.key) lost a writer's field: \(values.keys.sorted())")
                    #expect(values.values.allSatisfy { $0 == .int(5) })
                }
            }
            for server in servers { await server.stop(with: SIGTERM) }
            try await StoreTests.expectNoHoles(in: fixture.store, kind: kind)
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: StoreKind.allCases) func sigtermShutsDownGracefully(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let server = try await ServerProcess(store: try await kind.serverArguments(in: fixture.directory))
            let status = await server.stop(with: SIGTERM)
            #expect(status == 0)
        }
    }

    @Test(
        .timeLimit(.minutes(1)),
        arguments: [
            (["serve", "--port", "70000"], "port must be between 0 and 65535"),
            (["serve", "--db", "x.sqlite", "--database-url", "postgres://u@127.0.0.1/d"], "not both"),
            (["serve", "--database-url", "mysql://u@127.0.0.1/d"], "must look like postgres://"),
            (["school", "add", "--database-url", "postgres://u@127.0.0.1/d?sslmode=sometimes", "--id", "x", "--name", "x"], "sslmode"),
            (["serve", "--database-url", "postgres://u@127.0.0.1/d", "--database-pool-size", "1"], "pool-size must be 2–1000"),
        ]
    ) func badFlagsExitWithAUsageError(arguments: [String], says: String) async throws {
        let result = try await RunningCommand.run("schoolsync-server", arguments)
        let text = result.stderr
        #expect(result.status == 64, "\(text)")
        #expect(text.contains(says), "\(text)")
    }

    /// A database that cannot be reached is a one-line error naming it (without its password), not a
    /// crash or a hang: nothing listens on a reserved port.
    @Test(.timeLimit(.minutes(1))) func anUnreachableDatabaseIsAClearError() async throws {
        let dead = try ReservedPort()
        let result = try await RunningCommand.run(
            "schoolsync-server",
            ["school", "add", "--database-url", "postgres://u:secret@127.0.0.1:\(dead.port)/d?sslmode=disable", "--id", "x", "--name", "x"]
        )
        let text = result.stderr
        #expect(result.status != 0)
        #expect(text.contains("127.0.0.1:\(dead.port)/d"), "\(text)")
        #expect(!text.contains("secret"), "\(text)")
    }
}
