import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import SyncServer
import Testing

/// The real HTTP server on 127.0.0.1 with an ephemeral port.
struct LiveServerTests {
    /// Writers push while readers pull continuously, through the client library's transport; every
    /// reader ends up with every record and the state the server holds — no reader ever skips a
    /// change below its cursor.
    @Test(arguments: StoreKind.allCases) func concurrentReadersNeverMissAChange(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withLiveServer { url in
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    try await Self.writeWhileReading(
                        writing: HTTPSyncTransport(http: http, baseURL: url, token: fixture.deviceA),
                        reading: HTTPSyncTransport(http: http, baseURL: url, token: fixture.deviceA2)
                    )
                }
            }
        }
    }

    /// Four writers push batches of one school while three readers long-poll the same school.
    static func writeWhileReading(writing: HTTPSyncTransport, reading: HTTPSyncTransport) async throws {
        let writers = 4
        let batches = 10
        let perBatch = 5
        try await withThrowingTaskGroup(of: [String: RecordState].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let replica = ReplicaID(high: 0xabc, low: UInt64(writer))
                    var receipt: PushReceipt?
                    for batch in 0..<batches {
                        let records = try (0..<perBatch).map { index in
                            try Make.report("w\(writer)-b\(batch)-r\(index)", values: ["n": .int(Int64(index))], by: replica)
                        }
                        receipt = try await writing.push(try Make.push(records, replica: replica, receipt: receipt)).receipt
                    }
                    return [:]
                }
            }
            for _ in 0..<3 {
                group.addTask {
                    var seen: [String: RecordState] = [:]
                    var since: Cursor?
                    // Keep pulling until everything has arrived; a missed change would never come.
                    while seen.count < writers * batches * perBatch {
                        let page = try await reading.pull(PullRequest(since: since, limit: 7, wait: since == nil ? 0 : 5, replica: nil, receipt: nil))
                        for record in page.records { seen[record.key.id] = record.state }
                        since = page.next
                    }
                    return seen
                }
            }
            var results: [[String: RecordState]] = []
            for try await result in group where !result.isEmpty { results.append(result) }
            #expect(results.count == 3)
            for seen in results { #expect(seen.count == writers * batches * perBatch) }
        }
    }

    @Test(arguments: StoreKind.allCases) func healthAndSessionOverRealSockets(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.application().test(.live) { client in
                #expect(client.port.map { $0 > 0 } == true)
                let health = try await client.send(.get, "/healthz", token: nil)
                let session = try await client.send(.get, "/v1/session", token: fixture.deviceB)
                #expect(health.status == .ok)
                #expect(session.status == .ok)
            }
        }
    }
}
