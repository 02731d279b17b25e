import AsyncHTTPClient
import Foundation
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import Testing

@testable import SyncServer
@testable import SyncServerPostgres

/// `schoolsync-server backup` and `restore` on PostgreSQL (pg_dump's custom format, then a new epoch),
/// as they are on SQLite: a restore starts a new epoch, signs sessions out, drops receipts, and keeps
/// who owns which replica id, so a replica first used after the backup is not free to claim.
struct PostgresBackupTests {
    @Test(.timeLimit(.minutes(2))) func aRestoredDatabaseStartsANewEpochAndKeepsReplicaOwners() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let arguments = try await StoreKind.postgres.serverArguments(in: fixture.directory)
            let bureau = try await fixture.principal(fixture.bureau)
            let after = ReplicaID(high: 0xbac, low: 2)
            let dump = try await Self.backUpBetweenTwoPushes(fixture, bureau: bureau, before: ReplicaID(high: 0xbac, low: 1), after: after)
            let oldEpoch = fixture.store.epoch
            let device = try await fixture.principal(fixture.deviceA)
            await TestPostgres.shared.closeStores(of: fixture.directory)

            let restore = await try RunningCommand("schoolsync-server", ["restore"] + arguments + ["--from", dump]).wait()
            #expect(restore.status == 0, "\(restore.stderr)")
            let restored = try await StoreKind.postgres.openStore(in: fixture.directory)
            #expect(restored.epoch != oldEpoch)
            #expect(try await restored.records(in: ["plans"]).map(\.key.id) == ["p1"], "the state of the backup")
            let owners = try await (try #require(restored as? PostgresStore)).replicaOwners()
            #expect(owners.contains { $0.replica == after.description && $0.principalID == bureau.id }, "the replica first used after the backup keeps its owner")
            // The bureau's replica pushes again from the start of the new epoch: no receipt is expected.
            guard
                case .accepted = try await restored.push(try Make.push([try Make.plan("p2", values: ["n": .int(2)], by: after)], replica: after), by: bureau, rules: .schoolSync, at: Date())
            else {
                Issue.record("push in the new epoch")
                return
            }
            // Another principal cannot take it over.
            guard case .replicaForeign = try await restored.push(try Make.push([], replica: after), by: device, rules: .schoolSync, at: Date()) else {
                Issue.record("the replica is still the bureau's")
                return
            }
        }
    }

    /// The enrolment commands speak to either store; on PostgreSQL through `--database-url`.
    /// A restore cut off after `pg_restore` put the backup back and before its new epoch: the
    /// database holds the backup under the old epoch, where devices whose cursors passed the backup
    /// would never be sent what it lost. Neither a server nor an admin command opens it then; the
    /// restore run again finishes it, with the replica owners of before the first attempt.
    @Test(.timeLimit(.minutes(2))) func aRestoreCutOffBeforeItsNewEpochIsNeverServed() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let arguments = try await StoreKind.postgres.serverArguments(in: fixture.directory)
            let url = try await StoreKind.postgres.databaseURL(in: fixture.directory)
            let bureau = try await fixture.principal(fixture.bureau)
            let after = ReplicaID(high: 0xcab, low: 2)
            let dump = try await Self.backUpBetweenTwoPushes(fixture, bureau: bureau, before: ReplicaID(high: 0xcab, low: 1), after: after)
            let oldEpoch = fixture.store.epoch
            await TestPostgres.shared.closeStores(of: fixture.directory)

            // The restore's first steps, then nothing: as if it were killed before its new epoch.
            var resuming = try PostgresStore.Configuration(url: url)
            resuming.resumingRestore = true
            let interrupted = try await PostgresStore(configuration: resuming)
            try await interrupted.beginRestore()
            await interrupted.close()
            var components = try #require(URLComponents(string: url))
            components.query = nil
            _ = try await PostgresCluster.runTool(
                "pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname=\(components.string ?? url)", dump])

            await #expect(throws: PostgresStoreError.self, "a server does not open it") {
                try await PostgresStore(configuration: try PostgresStore.Configuration(url: url))
            }
            let refused = await try RunningCommand("schoolsync-server", ["school", "list"] + arguments).wait()
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("restore of this database was begun and did not finish"), "\(refused.stderr)")

            let restore = await try RunningCommand("schoolsync-server", ["restore"] + arguments + ["--from", dump]).wait()
            #expect(restore.status == 0, "\(restore.stderr)")
            let restored = try await StoreKind.postgres.openStore(in: fixture.directory)
            #expect(restored.epoch != oldEpoch)
            #expect(try await restored.records(in: ["plans"]).map(\.key.id) == ["p1"], "the state of the backup")
            let owners = try await (try #require(restored as? PostgresStore)).replicaOwners()
            #expect(owners.contains { $0.replica == after.description && $0.principalID == bureau.id }, "the owner from before the first attempt is kept")
        }
    }

    /// The bureau pushes plan p1 under `before`, `schoolsync-server backup` writes a dump, and the
    /// bureau pushes p2 under `after`, which the backup does not hold; returns the dump's path.
    static func backUpBetweenTwoPushes(_ fixture: Fixture, bureau: Principal, before: ReplicaID, after: ReplicaID) async throws -> String {
        let arguments = try await StoreKind.postgres.serverArguments(in: fixture.directory)
        guard
            case .accepted = try await fixture.store.push(
                try Make.push([try Make.plan("p1", values: ["n": .int(1)], by: before)], replica: before), by: bureau, rules: .schoolSync, at: Date())
        else { throw FixtureError("the push before the backup was not accepted") }
        let dump = fixture.path("county.dump")
        let backup = await try RunningCommand("schoolsync-server", ["backup"] + arguments + ["--to", dump]).wait()
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(FileManager.default.fileExists(atPath: dump))
        guard
            case .accepted = try await fixture.store.push(
                try Make.push([try Make.plan("p2", values: ["n": .int(2)], by: after)], replica: after), by: bureau, rules: .schoolSync, at: Date())
        else { throw FixtureError("the push after the backup was not accepted") }
        return dump
    }

    @Test(.timeLimit(.minutes(1)), arguments: StoreKind.allCases) func theAdminCommandsWorkOnEitherStore(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            let store = try await kind.serverArguments(in: fixture.directory)
            func run(_ arguments: [String]) async throws -> String {
                let result = await try RunningCommand("schoolsync-server", arguments).wait()
                #expect(result.status == 0, "\(arguments): \(result.stderr)")
                return result.stdout
            }
            #expect(try await run(["school", "add"] + store + ["--id", "qx-new", "--name", "新学校"]).contains("created school qx-new"))
            let enrolled = try await run(["device", "add"] + store + ["--school", "qx-new", "--name", "教务处 PC"])
            let token = try #require(enrolled.split(separator: "\n").first { $0.hasPrefix("token") }?.split(separator: " ").last.map(String.init))
            #expect(try await fixture.store.principal(forTokenHash: Token.hash(token))?.schoolID == "qx-new")
            #expect(try await run(["user", "add"] + store + ["--name", "督导", "--role", "bureau"]).contains("created bureau user"))
            #expect(try await run(["school", "list"] + store).contains("qx-new\t新学校"))
            #expect(try await run(["device", "list"] + store).contains("教务处 PC"))
        }
    }
}
