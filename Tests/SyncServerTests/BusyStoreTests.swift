import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import SyncServerSQLite
import Testing

/// A store that stays locked by another writer past its busy timeout answers 503 `unavailable`
/// with `Retry-After` and the protocol's JSON body, never a bare 500 (PROTOCOL.md §8).
struct BusyStoreTests {
    @Test func aWriteLockHeldByAnotherConnectionIs503WithRetryAfter() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-busy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Every connection is closed before the files go: SQLite keeps lock state per inode, and a
        // later test's file may get the same inode number.
        try await Self.expect503WhileLocked(path: directory.appendingPathComponent("server.sqlite").path)
    }

    static func expect503WhileLocked(path: String) async throws {
        let store = try SQLiteStore(path: path, busyTimeout: 0.2)
        _ = try await store.createSchool(id: "qx-zhuoran", name: "卓然学校", at: Date())
        let admin = try await store.createPrincipal(kind: .admin, name: "管理员", schoolID: nil, at: Date()).token
        let device = try await store.createPrincipal(kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran", at: Date()).token
        var configuration = SyncServerConfiguration()
        configuration.port = 0
        configuration.collections = .protocolOnly
        let app = makeSyncServer(configuration: configuration, store: store, logger: Logger(label: "test"))

        // Another process's writer: it holds the file's write lock until it rolls back, across
        // accesses (which GRDB allows only when asked to).
        var otherConfiguration = Configuration()
        otherConfiguration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: otherConfiguration)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        try await app.test(.router) { client in
            let school = try await client.send(.post, "/v1/admin/schools", token: admin, body: ByteBuffer(string: #"{"id":"qx-busy","name":"忙"}"#))
            let replica = ReplicaID(high: 0xb5, low: 1)
            let report = try Make.report("qx-zhuoran/2025-S1/m1", values: ["narrative": .string("忙")], by: replica)
            let push = try await client.sendPush(try Make.push([report], replica: replica), token: device)
            for response in [school, push] {
                #expect(response.status == .serviceUnavailable, "\(response.status): \(String(buffer: response.body))")
                let seconds = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                #expect(seconds >= 1)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let body = try response.error()
                #expect(body.error == .unavailable)
                #expect(body.details?["retryAfter"] == String(seconds))
            }

            // The lock released, the same requests go through: nothing of them was stored before.
            try await other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
            let again = try await client.send(.post, "/v1/admin/schools", token: admin, body: ByteBuffer(string: #"{"id":"qx-busy","name":"忙"}"#))
            #expect(again.status == .created)
            _ = try await client.push(try Make.push([report], replica: replica), token: device)
        }
        try other.close()
    }
}
