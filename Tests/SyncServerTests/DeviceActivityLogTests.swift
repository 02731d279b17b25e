import Foundation
import Logging
import SchoolSyncTestSupport
import ServiceLifecycle
import SyncCore
import SyncServer
import Testing

/// Device activity is batched in memory; these tests pin what reaches the store and when.
struct DeviceActivityLogTests {
    /// A store of `kind` with a device and the bureau.
    static func withStore<T>(_ kind: StoreKind, _ body: (any SyncStore, Principal, Principal) async throws -> T) async throws -> T {
        try await Fixture.with(store: kind) { fixture in
            try await body(fixture.store, try await fixture.principal(fixture.deviceA), try await fixture.principal(fixture.bureau))
        }
    }

    @Test(arguments: StoreKind.allCases) func keepsTheLatestPullAndPushOfEachDeviceAndTheClientThatPushed(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, device, bureau in
            let log = DeviceActivityLog(store: store, logger: Logger(label: "test"))
            let epoch = store.epoch
            let start = Date(timeIntervalSince1970: 1_790_000_000)
            await log.record(DeviceActivity(principal: device, kind: .pull(Cursor(epoch: epoch, seq: 3)), client: nil, time: start))
            await log.record(DeviceActivity(principal: device, kind: .push(try BatchID(parsing: "b1")), client: "schoolsync/0.2", time: start + 1))
            await log.record(DeviceActivity(principal: device, kind: .pull(Cursor(epoch: epoch, seq: 9)), client: nil, time: start + 2))
            await log.record(DeviceActivity(principal: bureau, kind: .pull(Cursor(epoch: epoch, seq: 9)), client: nil, time: start + 3))
            #expect(try await store.devices().allSatisfy { $0.lastPullCursor == nil }, "nothing is written before a flush")
            await log.flush()
            let info = try #require(try await store.devices().first { $0.id == device.id })
            #expect(info.lastPullCursor == Cursor(epoch: epoch, seq: 9).description)
            #expect(info.lastPushBatch == "b1")
            #expect(info.client == "schoolsync/0.2")
            #expect(info.lastSeenAt == start + 2)
            #expect(try await !store.devices().contains { $0.id == bureau.id }, "only devices are listed")
        }
    }

    @Test(arguments: StoreKind.allCases) func writesWhatIsPendingWhenTheServerShutsDown(kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, device, _ in
            let log = DeviceActivityLog(store: store, logger: Logger(label: "test"))
            let group = ServiceGroup(configuration: .init(services: [log], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            await log.record(DeviceActivity(principal: device, kind: .pull(Cursor(epoch: store.epoch, seq: 5)), client: nil, time: Date()))
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await store.devices().first { $0.id == device.id }?.lastPullCursor == Cursor(epoch: store.epoch, seq: 5).description)
        }
    }
}
