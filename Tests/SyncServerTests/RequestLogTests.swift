import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Synchronization
import Testing

/// Routine successes log at debug, not info (swift-log's guidance for libraries); refusals keep
/// their level. Every line carries the request id, the principal, its school and the replica.
struct RequestLogTests {
    /// Keeps every line a logger writes, with the logger's metadata merged in.
    final class Recorder: Sendable {
        struct Entry: Sendable {
            let level: Logger.Level
            let message: String
            let metadata: Logger.Metadata
        }

        private let entries = Mutex<[Entry]>([])
        var all: [Entry] { entries.withLock { $0 } }
        func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

        var logger: Logger { Logger(label: "test") { _ in Handler(recorder: self) } }

        struct Handler: LogHandler {
            let recorder: Recorder
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(
                level: Logger.Level,
                message: Logger.Message,
                metadata explicit: Logger.Metadata?,
                source: String,
                file: String,
                function: String,
                line: UInt
            ) {
                recorder.append(Entry(level: level, message: message.description, metadata: metadata.merging(explicit ?? [:]) { $1 }))
            }
        }
    }

    @Test func anAcceptedPushLogsAtDebugWithRequestPrincipalSchoolAndReplica() async throws {
        try await Fixture.with { fixture in
            let recorder = Recorder()
            let app = makeSyncServer(configuration: fixture.configuration, store: fixture.store, logger: recorder.logger, metrics: fixture.metrics)
            let device = try await fixture.principal(fixture.deviceA)
            try await app.test(.router) { client in
                let replica = ReplicaID(high: 0x10, low: 1)
                let report = try Make.report("qx-zhuoran/2025-S1/m1", values: ["narrative": .string("日志")], by: replica)
                let pushed = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA,
                    body: try Make.body(try Make.push([report], replica: replica)),
                    headers: [.init("X-Request-ID")!: "log-test-1"]
                )
                #expect(pushed.status == .ok)
                // Another device pushing under that replica id is refused, and says so at warning.
                let foreign = try await client.sendPush(try Make.push([report], replica: replica), token: fixture.deviceA2)
                #expect(foreign.status == .forbidden)
            }
            let accepted = try #require(recorder.all.first { $0.message == "push accepted" })
            #expect(accepted.level == .debug)
            #expect(accepted.metadata["sync.request_id"] == "log-test-1")
            #expect(accepted.metadata["sync.principal"] == .string("device:\(device.id)"))
            #expect(accepted.metadata["sync.school"] == .string(Fixture.schoolA))
            #expect(accepted.metadata["sync.replica"] == .string(ReplicaID(high: 0x10, low: 1).description))
            let refused = try #require(recorder.all.first { $0.message == "push under another principal's replica id refused" })
            #expect(refused.level == .warning)
            #expect(refused.metadata["sync.replica"] != nil)
            #expect(!recorder.all.contains { $0.level == .info && $0.message.hasPrefix("push") }, "no routine success at info")
        }
    }
}
