import Foundation
import Logging
import SchoolSyncTestSupport
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

    /// A cancelled run (a failing sibling service, a time limit) leaves the pool open: handlers may
    /// still be using it, and it closes when the store is released.
    @Test func aCancelledRunLeavesTheStoreOpen() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lifecycle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("s.sqlite").path)
        let running = Task { try await store.run() }
        running.cancel()
        try await running.value
        #expect(try await store.schools().isEmpty)
    }

    /// Each in-process application gets a store of its own, so the fixture's store outlives them.
    @Test func theFixturesStoreOutlivesItsApplications() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { _ in }
            try await fixture.withRouter { _ in }
            #expect(Set(try await fixture.store.schools().map(\.id)) == [Fixture.schoolA, Fixture.schoolB])
        }
    }
}
