import Foundation
import PostgresNIO
import SchoolSyncTestSupport
import SyncCore
import Synchronization
import Testing

@testable import SyncServer
@testable import SyncServerPostgres

/// Group commit on PostgreSQL (``PushGroups``): pushes that arrive while a group is being stored go
/// into the next group together, unless they share a replica or a school with a push before them.
struct PushGroupTests {
    private struct Stored: Error { let group: Int }

    /// Stands in for the store: notes each group's pushes by client name, holds the first group until
    /// `release` yields, and answers each push with the number of its group (thrown as ``Stored``).
    private final class Recorder: Sendable {
        let groups: PushGroups
        let seen = Mutex<[[String]]>([])
        let release: AsyncStream<Void>
        let releaseContinuation: AsyncStream<Void>.Continuation

        init(maxGroups: Int) {
            groups = PushGroups(maxPushes: 8, maxGroups: maxGroups)
            (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        }

        var groupsRun: Int { seen.withLock { $0.count } }

        /// Sends a push of `replica` claiming `school`; the task answers its group's number.
        func push(_ name: String, replica: UInt64, school: String) throws -> Task<Int, Never> {
            let request = PushRequest(batch: BatchID.random(), replica: ReplicaID(high: 7, low: replica), receipt: nil, client: name, records: [])
            let claims: Set<PushGroups.Claim> = [.replica(request.replica), .scope(try Scope.school(school))]
            let run: PushGroups.RunGroup = { [self] jobs in
                let index = seen.withLock { seen in
                    seen.append(jobs.map { $0.request.client ?? "" })
                    return seen.count
                }
                if index == 1 { for await _ in release { break } }
                return jobs.map { _ in .failure(Stored(group: index)) }
            }
            return Task { [groups] in
                do {
                    _ = try await groups.push(request, by: PushGroupTests.principal, rules: .protocolOnly, at: Date(), claims: claims, runGroup: run)
                    return 0
                } catch let stored as Stored {
                    return stored.group
                } catch {
                    return -1
                }
            }
        }

        func releaseFirstGroup() {
            releaseContinuation.yield()
            releaseContinuation.finish()
        }
    }

    /// A queue of pushes is cut into groups in arrival order: a push never shares a group with one of
    /// the same replica or scope, and never overtakes an earlier push it shares one with.
    @Test(.timeLimit(.minutes(1))) func groupsTakePushesInOrderWithoutSharedClaims() async throws {
        let recorder = Recorder(maxGroups: 1)
        // (name, replica, school)
        let pushes: [(String, UInt64, String)] = [
            ("first", 1, "s1"), ("same-school", 2, "s1"), ("other", 3, "s2"), ("same-replica-later", 2, "s3"), ("fifth", 5, "s5"),
        ]
        var tasks: [Task<Int, Never>] = []
        for (index, (name, replica, school)) in pushes.enumerated() {
            tasks.append(try recorder.push(name, replica: replica, school: school))
            // One at a time, so they queue in this order; the first one's group runs meanwhile.
            if index == 0 {
                try await Self.waitUntil("the first group runs") { recorder.groupsRun == 1 }
            } else {
                try await Self.waitUntil("push \(index) waits") { recorder.groups.waiting == index }
            }
        }
        recorder.releaseFirstGroup()
        var groupOf: [Int] = []
        for task in tasks { groupOf.append(await task.value) }
        #expect(groupOf == [1, 2, 2, 3, 2], "the second push of replica 2 waits for the first, and nothing overtakes it")
        #expect(recorder.seen.withLock { $0 } == [["first"], ["same-school", "other", "fifth"], ["same-replica-later"]])
    }

    /// With two groups at once, the second never takes a push that shares a claim with the group
    /// still running: it would only wait in PostgreSQL for that group's lock.
    @Test(.timeLimit(.minutes(1))) func aSecondGroupLeavesPushesThatClashWithTheRunningOne() async throws {
        let recorder = Recorder(maxGroups: 2)
        let first = try recorder.push("first", replica: 1, school: "s1")
        try await Self.waitUntil("the first group runs") { recorder.groupsRun == 1 }
        let clashing = try recorder.push("clashing", replica: 2, school: "s1")
        try await Self.waitUntil("the clashing push waits") { recorder.groups.waiting == 1 }
        let free = try recorder.push("free", replica: 3, school: "s2")
        // The free push goes into a second group while the first still runs; the clashing one waits.
        #expect(await free.value == 2)
        #expect(recorder.groups.waiting == 1)
        recorder.releaseFirstGroup()
        #expect(await first.value == 1)
        #expect(await clashing.value == 3)
    }

    /// Pushes of several schools that arrive while a group holds log_head are stored in the next
    /// group: one statement takes all their sequence numbers, and each push keeps its own outcome —
    /// one from a replica another device owns is refused alone, the others are accepted and pulled.
    @Test(.timeLimit(.minutes(1))) func pushesArrivingTogetherShareOneCommitAndKeepTheirOwnOutcomes() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
            let taken = Mutex<[ClosedRange<Int64>]>([])
            var configuration = try PostgresStore.Configuration(url: try await fixture.kind.databaseURL(in: fixture.directory), poolSize: 4)
            configuration.pushGroupsAtOnce = 1
            configuration.afterSequencesTaken = { range in
                let first = taken.withLock { taken in
                    taken.append(range)
                    return taken.count == 1
                }
                if first { for await _ in release { break } }
            }
            let store = try await PostgresStore(configuration: configuration)
            defer { Task { await store.close() } }
            let now = Date()
            var schools: [(school: String, principal: Principal)] = []
            for index in 1...3 {
                let school = "qx-group-\(index)"
                _ = try await store.createSchool(id: school, name: "学校 \(index)", at: now)
                let token = try await store.createPrincipal(kind: .device, name: "PC \(index)", schoolID: school, at: now).token
                schools.append((school, try await fixture.principal(token)))
            }
            let deviceA = try await fixture.principal(fixture.deviceA)
            let deviceB = try await fixture.principal(fixture.deviceB)

            let ownedByA = ReplicaID(high: 0x6a, low: 1)
            let first = Task {
                try await store.push(
                    try Make.push([try Make.report("first", values: ["n": .int(1)], by: ownedByA)], replica: ownedByA),
                    by: deviceA, rules: .protocolOnly, at: now
                )
            }
            try await PostgresStoreTests.waitUntil("the first group holds log_head") { taken.withLock { $0.count } == 1 }
            var later: [Task<PushOutcome, any Error>] = []
            for (index, (school, principal)) in schools.enumerated() {
                let replica = ReplicaID(high: 0x6b, low: UInt64(index))
                let records = try (0..<2).map { try Make.report("r\(index)-\($0)", school: school, values: ["n": .int(Int64($0))], by: replica) }
                later.append(Task { try await store.push(try Make.push(records, replica: replica), by: principal, rules: .protocolOnly, at: now) })
            }
            // School B's device sends under a replica id device A owns: refused, alone.
            later.append(
                Task {
                    try await store.push(
                        try Make.push([try Make.report("foreign", school: Fixture.schoolB, values: ["n": .int(9)], by: ownedByA)], replica: ownedByA),
                        by: deviceB, rules: .protocolOnly, at: now
                    )
                }
            )
            try await PostgresStoreTests.waitUntil("four pushes wait for the next group") { store.pushGroups.waiting == 4 }
            releaseContinuation.yield()
            releaseContinuation.finish()

            guard case .accepted(_, let changed) = try await first.value else {
                Issue.record("the first push is accepted")
                return
            }
            #expect(changed == 1)
            for task in later.prefix(3) {
                guard case .accepted(_, let changed) = try await task.value else {
                    Issue.record("every school's push is accepted")
                    continue
                }
                #expect(changed == 2)
            }
            guard case .replicaForeign = try await later[3].value else {
                Issue.record("a push under another device's replica id is refused")
                return
            }
            #expect(taken.withLock { $0 } == [1...1, 2...7], "one statement numbered the whole second group")
            guard case .page(let page) = try await store.pull(after: 0, limit: 100, scopes: nil, replica: nil) else {
                Issue.record("a pull without a replica is never refused")
                return
            }
            #expect(page.records.map(\.key.id).sorted() == ["first", "r0-0", "r0-1", "r1-0", "r1-1", "r2-0", "r2-1"])
            #expect(page.next == 7)
            try await StoreTests.expectNoHoles(in: store, kind: .postgres)
        }
    }

    /// A store whose first group is held at its sequence numbers until `release` yields, so the
    /// pushes sent meanwhile queue for one next group; one group at a time.
    static func heldStore(_ fixture: Fixture) async throws -> (PostgresStore, release: AsyncStream<Void>.Continuation, groups: GroupCount) {
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        let groups = GroupCount()
        var configuration = try PostgresStore.Configuration(url: try await fixture.kind.databaseURL(in: fixture.directory), poolSize: 4)
        configuration.pushGroupsAtOnce = 1
        configuration.afterSequencesTaken = { _ in
            let first = groups.count.withLock { count in
                count += 1
                return count == 1
            }
            if first { for await _ in release { break } }
        }
        return (try await PostgresStore(configuration: configuration), releaseContinuation, groups)
    }

    /// How many groups took their sequence numbers.
    final class GroupCount: Sendable {
        let count = Mutex(0)
    }

    /// A group only tries its locks: a push whose school another transaction holds (another server
    /// joining it, a resolution) leaves the group and waits alone, and the other schools' pushes of
    /// the group are stored meanwhile.
    @Test(.timeLimit(.minutes(1))) func aPushWhoseLockIsHeldElsewhereWaitsAloneAndHoldsUpNoOtherSchool() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let (store, release, groups) = try await Self.heldStore(fixture)
            defer { Task { await store.close() } }
            let now = Date()
            _ = try await store.createSchool(id: "qx-third", name: "第三学校", at: now)
            let third = try await fixture.principal(try await store.createPrincipal(kind: .device, name: "PC 3", schoolID: "qx-third", at: now).token)
            let deviceA = try await fixture.principal(fixture.deviceA)
            let deviceB = try await fixture.principal(fixture.deviceB)
            // Another transaction holds school B's lock, as another server joining its records would.
            let holder = try await PostgresSession.connect(try await fixture.kind.databaseURL(in: fixture.directory))
            do {
                try await Self.storeAroundAHeldLock(holder, store: store, release: release, groups: groups, devices: (deviceA, deviceB, third))
            } catch {
                await holder.close()
                throw error
            }
            await holder.close()
        }
    }

    private static func storeAroundAHeldLock(
        _ holder: PostgresSession,
        store: PostgresStore,
        release: AsyncStream<Void>.Continuation,
        groups: GroupCount,
        devices: (a: Principal, b: Principal, third: Principal)
    ) async throws {
        let now = Date()
        try await holder.execute("BEGIN")
        try await holder.execute("SELECT pg_advisory_xact_lock(2, hashtext('\(try Scope.school(Fixture.schoolB).rawValue)'))")
        let writerA = ReplicaID(high: 0x7a, low: 1)
        let first = Task {
            try await store.push(try Make.push([try Make.report("a", values: ["n": .int(1)], by: writerA)], replica: writerA), by: devices.a, rules: .protocolOnly, at: now)
        }
        try await PostgresStoreTests.waitUntil("the first group holds log_head") { groups.count.withLock { $0 } == 1 }
        let writerB = ReplicaID(high: 0x7b, low: 1)
        let pushB = Task {
            try await store.push(
                try Make.push([try Make.report("b", school: Fixture.schoolB, values: ["n": .int(1)], by: writerB)], replica: writerB), by: devices.b,
                rules: .protocolOnly, at: now)
        }
        let writerC = ReplicaID(high: 0x7c, low: 1)
        let pushC = Task {
            try await store.push(
                try Make.push([try Make.report("c", school: "qx-third", values: ["n": .int(1)], by: writerC)], replica: writerC), by: devices.third,
                rules: .protocolOnly, at: now)
        }
        try await PostgresStoreTests.waitUntil("two pushes wait for the next group") { store.pushGroups.waiting == 2 }
        release.yield()
        release.finish()
        _ = try await first.value
        guard case .accepted(_, let changed) = try await pushC.value else {
            Issue.record("the third school's push is stored while school B's lock is held elsewhere")
            return
        }
        #expect(changed == 1)
        // School B's push waits alone for its lock, and is stored once it is free.
        try await PostgresStoreTests.waitUntil("school B's push waits for its lock alone") {
            try await PostgresStoreTests.count(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", in: store) == 1
        }
        try await holder.execute("ROLLBACK")
        guard case .accepted(let response, let changedB) = try await pushB.value else {
            Issue.record("school B's push is stored once its lock is free")
            return
        }
        #expect(changedB == 1, "\(response.results)")
    }

    /// Where ids do not decide scopes (the protocol's own rules), two schools may name one record;
    /// their pushes never share a group (one statement cannot write a record twice): the first is
    /// stored, the second is refused that record, and neither fails.
    @Test(.timeLimit(.minutes(1))) func twoSchoolsNamingOneRecordNeverShareAGroup() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let (store, release, groups) = try await Self.heldStore(fixture)
            defer { Task { await store.close() } }
            let deviceA = try await fixture.principal(fixture.deviceA)
            let deviceB = try await fixture.principal(fixture.deviceB)
            let writer0 = ReplicaID(high: 0x80, low: 1)
            let first = Task {
                try await store.push(try Make.push([try Make.report("zero", values: ["n": .int(0)], by: writer0)], replica: writer0), by: deviceA, rules: .protocolOnly, at: Date())
            }
            try await PostgresStoreTests.waitUntil("the first group holds log_head") { groups.count.withLock { $0 } == 1 }
            var shared: [Task<PushOutcome, any Error>] = []
            for (index, (device, school)) in [(deviceA, Fixture.schoolA), (deviceB, Fixture.schoolB)].enumerated() {
                let writer = ReplicaID(high: 0x81, low: UInt64(index))
                let record = try Make.report("shared", school: school, values: ["n": .int(Int64(index))], by: writer)
                shared.append(Task { try await store.push(try Make.push([record], replica: writer), by: device, rules: .protocolOnly, at: Date()) })
                try await PostgresStoreTests.waitUntil("push \(index) waits") { store.pushGroups.waiting == index + 1 }
            }
            release.yield()
            release.finish()
            _ = try await first.value
            var statuses: [[PushStatus]] = []
            for task in shared {
                guard case .accepted(let response, _) = try await task.value else {
                    Issue.record("each push is answered")
                    return
                }
                statuses.append(response.results.map(\.status))
            }
            #expect(statuses.filter { $0 == [.applied] }.count == 1, "one school's write is stored: \(statuses)")
            #expect(statuses.filter { $0 == [.rejected] }.count == 1, "the other's is refused: \(statuses)")
        }
    }

    /// A stored row that does not read (another program wrote it) fails only the push that reads
    /// it: a record of another school named in a batch is refused unread, and the rest is stored.
    @Test(.timeLimit(.minutes(1))) func aDamagedRowOfAnotherSchoolFailsNoPushThatNamesIt() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let deviceA = try await fixture.principal(fixture.deviceA)
            let deviceB = try await fixture.principal(fixture.deviceB)
            let writerB = ReplicaID(high: 0x90, low: 2)
            _ = try await fixture.store.push(
                try Make.push([try Make.report("theirs", school: Fixture.schoolB, values: ["n": .int(1)], by: writerB)], replica: writerB), by: deviceB,
                rules: .protocolOnly, at: Date())
            let store = try #require(fixture.store as? PostgresStore)
            try await store.client.query("UPDATE records SET state = 'not json' WHERE id = 'theirs'")
            let writerA = ReplicaID(high: 0x90, low: 1)
            let records = [
                try Make.report("mine", values: ["n": .int(2)], by: writerA),
                try Make.report("theirs", school: Fixture.schoolB, values: ["n": .int(3)], by: writerA),
            ]
            guard case .accepted(let response, let changed) = try await store.push(try Make.push(records, replica: writerA), by: deviceA, rules: .protocolOnly, at: Date())
            else {
                Issue.record("the push is accepted")
                return
            }
            #expect(changed == 1)
            #expect(response.results.map(\.status) == [.applied, .rejected])
        }
    }

    static let principal = Principal(id: 1, kind: .device, name: "PC", schoolID: "s1")

    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        try await PostgresStoreTests.waitUntil(what, condition)
    }
}
