import Foundation
import Logging
import ServiceLifecycle
import SyncServer
import Testing

@testable import SyncServerSQLite

/// The store is a ServiceLifecycle service: ready (migrated) once made, open while the group runs,
/// closed after graceful shutdown.
struct StoreLifecycleTests {
    @Test func theStoreClosesAfterGracefulShutdown() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lifecycle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("s.sqlite").path)
        _ = try await store.createSchool(id: "qx-zhuoran", name: "卓然学校", at: Date())
        let group = ServiceGroup(services: [store], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(try await store.schools().map(\.id) == ["qx-zhuoran"], "open while the group runs")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await #expect(throws: (any Error).self, "closed after shutdown") { try await store.schools() }
    }
}
