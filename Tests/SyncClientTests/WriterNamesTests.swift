import AsyncHTTPClient
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Reporting
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncClient

/// Who wrote each value: the server names the devices behind the school's replicas
/// (`GET /v1/school/replicas`, PROTOCOL.md §12) and the replica keeps the names in `sync_writers`,
/// which old databases gain and other programs may scribble on.
struct WriterNamesTests: DeviceScenarios {
    /// Two devices of school A that pushed, one of school B: A's device hears exactly A's replicas
    /// with their names, keeps them, and reads them back; a bureau token is refused.
    @Test func aDeviceNamesItsSchoolsWritersAndKeepsThem() async throws {
        try await scenario { fixture, url, http in
            let a = try await Device.enrol(try fixture.replica("a.sqlite"), url: url, token: fixture.deviceA, http: http)
            let a2 = try await Device.enrol(try fixture.replica("a2.sqlite"), url: url, token: fixture.deviceA2, http: http)
            let b = try await Device.enrol(try fixture.replica("b.sqlite"), url: url, token: fixture.deviceB, http: http)
            try await a.replica.write(report(), ["narrative": .string("教务处"), "school_id": .string(Fixture.schoolA)])
            try await a2.replica.write(report("qx-zhuoran/2025-S1/two"), ["narrative": .string("校长室"), "school_id": .string(Fixture.schoolA)])
            try await b.replica.write(report("qx-huoju/2025-S1/one"), ["narrative": .string("火炬"), "school_id": .string(Fixture.schoolB)])
            for device in [a, a2, b] { #expect(try await device.sync().pushed.applied == 1) }
            let replicaA = try #require(try await a.replica.settings()?.replica.description)
            let replicaA2 = try #require(try await a2.replica.settings()?.replica.description)
            let replicaB = try #require(try await b.replica.settings()?.replica.description)

            let transport = HTTPSyncTransport(http: http, baseURL: url, token: fixture.deviceA)
            let writers = try await transport.schoolReplicas()
            let expected = [replicaA: "卓然 教务处 PC", replicaA2: "卓然 校长室 PC"]
            #expect(writers.map(\.replica) == expected.keys.sorted())
            #expect(Dictionary(uniqueKeysWithValues: writers.map { ($0.replica, $0.name) }) == expected)
            #expect(!writers.map(\.replica).contains(replicaB))

            #expect(try await a.replica.writerNames().isEmpty)
            try await a.replica.rememberWriters(writers)
            #expect(try await a.replica.writerNames() == expected)

            do {
                _ = try await HTTPSyncTransport(http: http, baseURL: url, token: fixture.bureau).schoolReplicas()
                Issue.record("a bureau token must be refused")
            } catch let error as SyncClientError {
                #expect(error.code == .forbidden)
                #expect(error.status == 403)
            }
            do {
                _ = try await HTTPSyncTransport(http: http, baseURL: url, token: "ss_" + String(repeating: "0", count: 64)).schoolReplicas()
                Issue.record("an unknown token must be refused")
            } catch let error as SyncClientError {
                #expect(error.code == .unauthorized)
            }
        }
    }

    /// A server from before the endpoint answers 404: no names, no error. Any other refusal still throws.
    @Test func aServerWithoutTheEndpointGivesNoNames() async throws {
        let router = Router()
        router.get("v1/session") { _, _ -> Response in Response(status: .ok) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let names = try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                try await HTTPSyncTransport(http: http, baseURL: "http://127.0.0.1:\(port)", token: "ss_old").schoolReplicas()
            }
            #expect(names.isEmpty)
        }
        let failing = Router()
        failing.get("v1/school/replicas") { _, _ -> Response in Response(status: .internalServerError) }
        let broken = Application(router: failing, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await broken.test(.live) { client in
            let port = try #require(client.port)
            try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                let transport = HTTPSyncTransport(http: http, baseURL: "http://127.0.0.1:\(port)", token: "ss_old")
                await #expect(throws: SyncClientError.self) { try await transport.schoolReplicas() }
            }
        }
    }

    /// A database made before `sync_writers` (migrated up to v4, with a record in it) opens, keeps
    /// its record, and gains the table.
    @Test func aDatabaseFromBeforeTheTableOpensAndGainsIt() async throws {
        try await Fixture.with { fixture in
            let path = fixture.path("old.sqlite")
            do {
                let old = try fixture.replica("old.sqlite")
                try await old.write(report(), ["narrative": .string("旧库"), "school_id": .string(Fixture.schoolA)])
            }
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "DROP TABLE sync_writers")
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v5: who writes under each replica'")
            }
            #expect(try await queue.read { db in try LocalReplica.migrator.appliedIdentifiers(db).contains("v5: who writes under each replica") } == false)
            try queue.close()

            let opened = try fixture.replica("old.sqlite")
            #expect(try await opened.record(report())?.state.value(of: "narrative") == .string("旧库"))
            #expect(try await opened.writerNames().isEmpty)
            let writer = SchoolReplicas.Writer(replica: ReplicaID(high: 1, low: 2).description, name: "卓然 教务处 PC")
            try await opened.rememberWriters([writer])
            #expect(try await opened.writerNames() == [writer.replica: writer.name])
        }
    }

    /// Names are replaced by newer answers and kept when an answer leaves them out (an empty answer
    /// from an older server forgets nothing); an entry that names no replica id is not kept.
    @Test func rememberingReplacesNamesAndForgetsNothing() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let one = ReplicaID(high: 0xa, low: 1).description
            let two = ReplicaID(high: 0xb, low: 2).description
            try await replica.rememberWriters([.init(replica: one, name: "教务处 PC"), .init(replica: two, name: "校长室 PC")])
            try await replica.rememberWriters([.init(replica: one, name: "教务处 新 PC"), .init(replica: "not a replica", name: "x")])
            try await replica.rememberWriters([])
            #expect(try await replica.writerNames() == [one: "教务处 新 PC", two: "校长室 PC"])
            // Upper-case digits are no replica id's spelling (PROTOCOL.md §2.3): not kept.
            try await replica.rememberWriters([.init(replica: two.uppercased(), name: "大写")])
            #expect(try await replica.writerNames() == [one: "教务处 新 PC", two: "校长室 PC"])
        }
    }

    /// Whatever another program leaves in `sync_writers` — bytes, numbers, invalid UTF-8, NULLs in a
    /// table it made again without constraints, no table at all — reading never traps, and
    /// remembering works again.
    @Test func rowsAnotherProgramWroteNeverTrap() async throws {
        try await Fixture.with { fixture in
            let path = fixture.path("a.sqlite")
            let replica = try fixture.replica("a.sqlite")
            let known = ReplicaID(high: 0xc, low: 3).description
            try await replica.rememberWriters([.init(replica: known, name: "教务处 PC")])
            let other = try DatabaseQueue(path: path)
            try await other.write { db in
                try db.execute(sql: "INSERT INTO sync_writers (replica, name) VALUES (?, ?)", arguments: [Data("blob-replica".utf8), 42])
                try db.execute(sql: "INSERT INTO sync_writers (replica, name) VALUES (?, ?)", arguments: [7, Data([0xff, 0xfe, 0x41])])
                try db.execute(sql: "INSERT INTO sync_writers (replica, name) VALUES ('x', 1.5)")
            }
            let names = try await replica.writerNames()
            #expect(names[known] == "教务处 PC")
            #expect(names["blob-replica"] == "42")
            #expect(names["7"]?.hasSuffix("A") == true)
            #expect(names["x"] == "1.5")

            // Made again without constraints, with NULLs and a duplicate.
            try await other.write { db in
                try db.execute(sql: "DROP TABLE sync_writers")
                try db.execute(sql: "CREATE TABLE sync_writers (replica, name)")
                try db.execute(sql: "INSERT INTO sync_writers VALUES (NULL, 'nobody'), (?, NULL), (?, 'one'), (?, 'two')", arguments: [known, known, known])
            }
            #expect(try await replica.writerNames()[known] != nil)
            try await replica.rememberWriters([.init(replica: known, name: "校长室 PC")])
            #expect(try await replica.writerNames() == [known: "校长室 PC"])

            // Dropped: no names, and the next answer makes the table again.
            try await other.write { db in try db.execute(sql: "DROP TABLE sync_writers") }
            #expect(try await replica.writerNames().isEmpty)
            try await replica.rememberWriters([.init(replica: known, name: "教务处 PC")])
            #expect(try await replica.writerNames() == [known: "教务处 PC"])
            try other.close()
        }
    }
}
