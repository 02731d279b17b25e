import Foundation
import Logging
import ServiceLifecycle
import SyncCore
import SyncServer
import Testing

/// Device activity is batched in memory; these tests pin what reaches the store and when.
struct DeviceActivityLogTests {
    static func withStore<T>(_ body: (SQLiteStore, Principal, Principal) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-activity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("server.sqlite").path)
        let now = Date()
        _ = try await store.createSchool(id: "qx-zhuoran", name: "卓然学校", at: now)
        let device = try await store.createPrincipal(kind: .device, name: "卓然 PC", schoolID: "qx-zhuoran", at: now).0
        let bureau = try await store.createPrincipal(kind: .bureau, name: "区教育局", schoolID: nil, at: now).0
        return try await body(store, device, bureau)
    }

    @Test func keepsTheLatestPullAndPushOfEachDeviceAndTheClientThatPushed() async throws {
        try await Self.withStore { store, device, bureau in
            let log = DeviceActivityLog(store: store, logger: Logger(label: "test"))
            let epoch = store.epoch
            let start = Date(timeIntervalSince1970: 1_790_000_000)
            await log.record(DeviceActivity(principal: device, kind: .pull(Cursor(epoch: epoch, seq: 3)), client: nil, time: start))
            await log.record(DeviceActivity(principal: device, kind: .push(try BatchID(parsing: "b1")), client: "schoolsync/0.2", time: start + 1))
            await log.record(DeviceActivity(principal: device, kind: .pull(Cursor(epoch: epoch, seq: 9)), client: nil, time: start + 2))
            await log.record(DeviceActivity(principal: bureau, kind: .pull(Cursor(epoch: epoch, seq: 9)), client: nil, time: start + 3))
            #expect(try await store.devices().first?.lastPullCursor == nil, "nothing is written before a flush")
            await log.flush()
            let info = try #require(try await store.devices().first { $0.id == device.id })
            #expect(info.lastPullCursor == Cursor(epoch: epoch, seq: 9).description)
            #expect(info.lastPushBatch == "b1")
            #expect(info.client == "schoolsync/0.2")
            #expect(info.lastSeenAt == start + 2)
            #expect(try await store.devices().count == 1, "only devices are listed")
        }
    }

    @Test func writesWhatIsPendingWhenTheServerShutsDown() async throws {
        try await Self.withStore { store, device, _ in
            let log = DeviceActivityLog(store: store, logger: Logger(label: "test"))
            let group = ServiceGroup(configuration: .init(services: [log], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            await log.record(DeviceActivity(principal: device, kind: .pull(Cursor(epoch: store.epoch, seq: 5)), client: nil, time: Date()))
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await store.devices().first?.lastPullCursor == Cursor(epoch: store.epoch, seq: 5).description)
        }
    }
}
