import Foundation
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

    /// A queue of pushes is cut into groups in arrival order: a push never shares a group with one of
    /// the same replica or scope, and never overtakes an earlier push it shares one with.
    @Test(.timeLimit(.minutes(1))) func groupsTakePushesInOrderWithoutSharedClaims() async throws {
        let groups = PushGroups(maxPushes: 8, maxGroups: 1)
        let seen = Mutex<[[String]]>([])
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        let run: PushGroups.RunGroup = { jobs in
            let index = seen.withLock { seen in
                seen.append(jobs.map { $0.request.client ?? "" })
                return seen.count
            }
            // The first group is held until every other push is queued behind it.
            if index == 1 { for await _ in release { break } }
            return jobs.map { _ in .failure(Stored(group: index)) }
        }
        // (name, replica, school)
        let pushes: [(String, UInt64, String)] = [
            ("first", 1, "s1"), ("same-school", 2, "s1"), ("other", 3, "s2"), ("same-replica-later", 2, "s3"), ("fifth", 5, "s5"),
        ]
        var tasks: [Task<Int, Never>] = []
        for (index, (name, replica, school)) in pushes.enumerated() {
            let request = PushRequest(batch: BatchID.random(), replica: ReplicaID(high: 7, low: replica), receipt: nil, client: name, records: [])
            let claims: Set<PushGroups.Claim> = [.replica(request.replica), .scope(try Scope.school(school))]
            tasks.append(
                Task {
                    do {
                        _ = try await groups.push(request, by: Self.principal, rules: .protocolOnly, at: Date(), claims: claims, runGroup: run)
                        return 0
                    } catch let stored as Stored {
                        return stored.group
                    } catch {
                        return -1
                    }
                }
            )
            // One at a time, so they queue in this order; the first one's group runs meanwhile.
            if index == 0 {
                try await Self.waitUntil("the first group runs") { seen.withLock { $0.count } == 1 }
            } else {
                try await Self.waitUntil("push \(index) waits") { groups.waiting == index }
            }
        }
        releaseContinuation.yield()
        releaseContinuation.finish()
        var groupOf: [Int] = []
        for task in tasks { groupOf.append(await task.value) }
        #expect(groupOf == [1, 2, 2, 3, 2], "the second push of replica 2 waits for the first, and nothing overtakes it")
        #expect(seen.withLock { $0 } == [["first"], ["same-school", "other", "fifth"], ["same-replica-later"]])
    }

    /// With two groups at once, the second never takes a push that shares a claim with the group
    /// still running: it would only wait in PostgreSQL for that group's lock.
    @Test(.timeLimit(.minutes(1))) func aSecondGroupLeavesPushesThatClashWithTheRunningOne() async throws {
        let groups = PushGroups(maxPushes: 8, maxGroups: 2)
        let seen = Mutex<[[String]]>([])
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        let run: PushGroups.RunGroup = { jobs in
            let index = seen.withLock { seen in
                seen.append(jobs.map { $0.request.client ?? "" })
                return seen.count
            }
            if index == 1 { for await _ in release { break } }
            return jobs.map { _ in .failure(Stored(group: index)) }
        }
        func push(_ name: String, replica: UInt64, school: String) throws -> Task<Int, Never> {
            let request = PushRequest(batch: BatchID.random(), replica: ReplicaID(high: 8, low: replica), receipt: nil, client: name, records: [])
            let claims: Set<PushGroups.Claim> = [.replica(request.replica), .scope(try Scope.school(school))]
            return Task {
                do {
                    _ = try await groups.push(request, by: Self.principal, rules: .protocolOnly, at: Date(), claims: claims, runGroup: run)
                    return 0
                } catch let stored as Stored {
                    return stored.group
                } catch {
                    return -1
                }
            }
        }
        let first = try push("first", replica: 1, school: "s1")
        try await Self.waitUntil("the first group runs") { seen.withLock { $0.count } == 1 }
        let clashing = try push("clashing", replica: 2, school: "s1")
        try await Self.waitUntil("the clashing push waits") { groups.waiting == 1 }
        let free = try push("free", replica: 3, school: "s2")
        // The free push goes into a second group while the first still runs; the clashing one waits.
        #expect(await free.value == 2)
        #expect(groups.waiting == 1)
        releaseContinuation.yield()
        releaseContinuation.finish()
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

    static let principal = Principal(id: 1, kind: .device, name: "PC", schoolID: "s1")

    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        try await PostgresStoreTests.waitUntil(what, condition)
    }
}
