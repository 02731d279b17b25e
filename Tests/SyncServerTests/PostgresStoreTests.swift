import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOHTTP1
import PostgresNIO
import SchoolSyncTestSupport
import SyncClient
import SyncCore
import Testing

@testable import SyncServer
@testable import SyncServerPostgres

/// What only the PostgreSQL store must get right because N servers share it: the cursor guarantee
/// under commits that finish out of order, migrations by servers starting together, long polls woken
/// by another server's push, and its URL.
struct PostgresStoreTests {
    /// PROTOCOL.md §7.2 "Server obligations": transaction A takes the lower sequence number and is
    /// held before it commits; B, pushing after it, must not commit a higher number that a reader
    /// could pass A's change with. The reader's cursor after the pause still gets A's change.
    @Test(.timeLimit(.minutes(1))) func aPullNeverSkipsAChangeThatCommitsAfterAHigherOne() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let (paused, pausedContinuation) = AsyncStream.makeStream(of: ClosedRange<Int64>.self)
            let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
            var configuration = try PostgresStore.Configuration(url: try await fixture.kind.databaseURL(in: fixture.directory), poolSize: 2)
            configuration.afterSequencesTaken = { taken in
                pausedContinuation.yield(taken)
                for await _ in release { break }
            }
            let holding = try await PostgresStore(configuration: configuration)
            defer { Task { await holding.close() } }
            let principal = try await fixture.principal(fixture.deviceA)
            let writerA = ReplicaID(high: 0xa, low: 1)
            let writerB = ReplicaID(high: 0xb, low: 1)
            let pushA = Task {
                try await holding.push(try Make.push([try Make.report("a", values: ["n": .int(1)], by: writerA)], replica: writerA), by: principal, rules: .protocolOnly, at: Date())
            }
            var pauses = paused.makeAsyncIterator()
            let takenByA = try #require(await pauses.next())
            #expect(takenByA == 1...1, "A took the lowest number and holds it uncommitted")

            // B is another school's push: it shares no lock with A but log_head's.
            let store = fixture.store
            let otherSchool = try await fixture.principal(fixture.deviceB)
            let pushB = Task {
                try await store.push(
                    try Make.push([try Make.report("b", school: Fixture.schoolB, values: ["n": .int(2)], by: writerB)], replica: writerB),
                    by: otherSchool,
                    rules: .protocolOnly,
                    at: Date()
                )
            }
            // B has joined its record and now waits for log_head's row, which A holds.
            try await Self.waitUntil("B waits for log_head, which A holds") {
                try await Self.count(
                    """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE log_head%'
                    """,
                    in: fixture.store
                ) >= 1
            }
            // The reader in between sees neither change, so its cursor stays below A's number.
            guard case .page(let between) = try await fixture.store.pull(after: 0, limit: 100, scopes: nil, replica: nil) else {
                Issue.record("a pull without a replica is never refused")
                return
            }
            #expect(between.records.isEmpty)
            #expect(between.next == 0)

            releaseContinuation.yield()
            releaseContinuation.finish()
            guard case .accepted = try await pushA.value, case .accepted = try await pushB.value else {
                Issue.record("both pushes are accepted")
                return
            }
            guard case .page(let after) = try await fixture.store.pull(after: between.next, limit: 100, scopes: nil, replica: nil) else {
                Issue.record("a pull without a replica is never refused")
                return
            }
            #expect(after.records.map(\.key.id) == ["a", "b"], "A's change, numbered first and committed last, is not skipped")
            #expect(after.next == 2)
        }
    }

    /// A push of 500 records takes two advisory locks (its replica and its school's scope), not 500:
    /// PostgreSQL's lock table is shared by every connection and small. Records of another school in
    /// the batch take no lock of that school: they are refused unread.
    @Test(.timeLimit(.minutes(1))) func aLargePushTakesALockPerScopeAndNoneOfAnotherSchool() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let (paused, pausedContinuation) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
            var configuration = try PostgresStore.Configuration(url: try await fixture.kind.databaseURL(in: fixture.directory), poolSize: 2)
            configuration.afterSequencesTaken = { _ in
                pausedContinuation.yield()
                for await _ in release { break }
            }
            let holding = try await PostgresStore(configuration: configuration)
            let principal = try await fixture.principal(fixture.deviceA)
            let writer = ReplicaID(high: 0x500, low: 1)
            var records = try (0..<490).map { try Make.report("own-\($0)", values: ["n": .int(Int64($0))], by: writer) }
            records += try (0..<10).map { try Make.report("theirs-\($0)", school: Fixture.schoolB, values: ["n": .int(1)], by: writer) }
            let push = Task { try await holding.push(try Make.push(records, replica: writer), by: principal, rules: .protocolOnly, at: Date()) }
            var pauses = paused.makeAsyncIterator()
            _ = await pauses.next()
            let advisory = try await Self.count(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", in: fixture.store)
            #expect(advisory == 2, "the replica's and the school's")
            releaseContinuation.yield()
            releaseContinuation.finish()
            guard case .accepted(let response, let changed) = try await push.value else {
                Issue.record("the push is accepted")
                return
            }
            #expect(changed == 490)
            #expect(response.results.filter { $0.status == .rejected }.count == 10)
            await holding.close()
        }
    }

    /// A server keeps the epoch it read at start; if the database gets another under it (restored,
    /// replaced), it answers 503 and stores nothing until restarted, instead of serving two lives of
    /// the log under one epoch.
    @Test func aServerWhoseDatabaseChangedEpochUnderItStopsServing() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let principal = try await fixture.principal(fixture.deviceA)
            let writer = ReplicaID(high: 0xe0, low: 1)
            try await (try #require(fixture.store as? PostgresStore)).client.query(
                "UPDATE store_meta SET value = \(Epoch.random().description) WHERE key = 'epoch'"
            )
            await #expect(throws: StoreError.self) { try await fixture.store.pull(after: 0, limit: 10, scopes: nil, replica: nil) }
            await #expect(throws: StoreError.self) {
                try await fixture.store.push(
                    try Make.push([try Make.report("r", values: ["n": .int(1)], by: writer)], replica: writer),
                    by: principal,
                    rules: .protocolOnly,
                    at: Date()
                )
            }
            // A push that writes no record (its one record is another school's, rejected) stores
            // only a receipt; that receipt is refused too.
            await #expect(throws: StoreError.self) {
                try await fixture.store.push(
                    try Make.push([try Make.report("theirs", school: Fixture.schoolB, values: ["n": .int(1)], by: writer)], replica: writer),
                    by: principal,
                    rules: .protocolOnly,
                    at: Date()
                )
            }
            #expect(try await Self.count("SELECT count(*) FROM records", in: fixture.store) == 0)
            #expect(try await Self.count("SELECT count(*) FROM replicas", in: fixture.store) == 0)
            let restarted = try await fixture.kind.openStore(in: fixture.directory)
            #expect(try await restarted.headSequence() == 0)
        }
    }

    /// Why the store orders commits itself: with a plain `bigserial`, a number taken first can commit
    /// last, and a reader that moved its cursor past the later one never sees it. This is PostgreSQL's
    /// behaviour, shown on a scratch table so the store's scheme above has something to be measured
    /// against.
    @Test func aBigserialAloneLetsAReaderSkipAChange() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let store = try #require(fixture.store as? PostgresStore)
            try await store.client.query("CREATE TABLE naive_log (seq bigserial PRIMARY KEY, what text NOT NULL)")
            try await store.client.withConnection { first in
                try await first.query("BEGIN", logger: store.logger)
                try await first.query("INSERT INTO naive_log (what) VALUES ('first')", logger: store.logger)  // takes 1
                try await store.client.query("INSERT INTO naive_log (what) VALUES ('second')")  // takes 2, commits
                let cursor = try await Self.count("SELECT max(seq) FROM naive_log", in: store)
                #expect(cursor == 2, "the reader moves past 2, though 1 is still in flight")
                try await first.query("COMMIT", logger: store.logger)
                let after = try await Self.count("SELECT count(*) FROM naive_log WHERE seq > 2", in: store)
                #expect(after == 0, "…and never reads 1: the change is skipped for ever")
            }
        }
    }

    /// N servers starting on a fresh database together: each migration step runs once, and all read
    /// the same epoch.
    @Test func serversStartingTogetherMigrateOnceAndShareTheEpoch() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            let url = try await fixture.kind.databaseURL(named: "fresh", in: fixture.directory)
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 { group.addTask { try await PostgresStore(configuration: .init(url: url, poolSize: 2)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(stores.map(\.epoch)).count == 1)
            let steps = try await Self.count("SELECT count(*) FROM schema_migrations", in: stores[0])
            #expect(steps == Int64(PostgresStore.migrations.count))
            for store in stores { await store.close() }
        }
    }

    /// PROTOCOL.md §7.3 across servers: a long poll held by one server answers a push another
    /// server took, woken by PostgreSQL's NOTIFY. The servers look at the store again only every
    /// minute here, so nothing but the notification can wake the poll before its 30 seconds end.
    @Test(.timeLimit(.minutes(1))) func aPushOnOneServerWakesALongPollOnAnother() async throws {
        try await Fixture.with(
            store: .postgres,
            configure: {
                $0.longPollRecheck = .seconds(60)
                $0.announcedLongPollRecheck = .seconds(60)
            }
        ) { fixture in
            try await fixture.withLiveServer { first in
                try await fixture.withLiveServer { second in
                    try await HTTPClient.withHTTPClient { http in
                        let writer = HTTPSyncTransport(http: http, baseURL: first, token: fixture.deviceA)
                        let started = ContinuousClock.now
                        // The push goes in once the poll is held.
                        let poll = try await Self.holdLongPoll(of: fixture.deviceA2, on: second, http: http)
                        let replica = ReplicaID(high: 0x10, low: 1)
                        _ = try await writer.push(try Make.push([try Make.report("woken", values: ["n": .int(1)], by: replica)], replica: replica))
                        let page = try await poll.value
                        #expect(page.records.map(\.key.id) == ["woken"])
                        #expect(ContinuousClock.now - started < .seconds(30), "answered before the wait ran out")
                    }
                }
            }
        }
    }

    /// A revocation on one server ends a long poll held on another at once (PROTOCOL.md §5: within
    /// a second), though the poll no longer looks again every second: the revocation is announced.
    @Test(.timeLimit(.minutes(1))) func aRevocationOnOneServerEndsALongPollOnAnother() async throws {
        try await Fixture.with(
            store: .postgres,
            configure: {
                $0.longPollRecheck = .seconds(60)
                $0.announcedLongPollRecheck = .seconds(60)
            }
        ) { fixture in
            try await fixture.withLiveServer { first in
                try await fixture.withLiveServer { second in
                    try await HTTPClient.withHTTPClient { http in
                        let started = ContinuousClock.now
                        let poll = try await Self.holdLongPoll(of: fixture.deviceA2, on: second, http: http)
                        let principal = try await fixture.principal(fixture.deviceA2)
                        var revoke = HTTPClientRequest(url: "\(first)/v1/admin/principals/\(principal.id)/revoke")
                        revoke.method = .POST
                        revoke.headers.add(name: "Authorization", value: "Bearer \(fixture.admin)")
                        let answer = try await http.execute(revoke, timeout: .seconds(10))
                        #expect(answer.status == .ok)
                        await #expect(throws: (any Error).self, "the revoked device's poll ends unanswered") { try await poll.value }
                        #expect(ContinuousClock.now - started < .seconds(30), "ended before the wait ran out")
                    }
                }
            }
        }
    }

    /// Rows another program wrote into the PostgreSQL tables (the types there keep out text where
    /// numbers belong, but not a negative number, JSON that is not a state, a scope that is none):
    /// each answer is a logged 500, never a trap, never a 400 blaming the request. One damage per fixture.
    @Test(arguments: [
        ("UPDATE records SET state = 'not json'", "/v1/pull"),
        (#"UPDATE records SET state = '{"context":{},"fields":{},"deleted":[],"extra":1}'"#, "/v1/pull"),
        ("UPDATE records SET scope = 'nowhere'", "/v1/pull"),
        ("UPDATE records SET id = chr(10)", "/v1/pull"),
        ("UPDATE replicas SET sequence = -1", "/v1/pull?replica=00000000000000710000000000000001"),
        ("DELETE FROM log_head", "/v1/pull"),
        ("UPDATE audit SET after = '[1]'", "/v1/history/reports/r1"),
        ("UPDATE store_meta SET value = 'not an epoch'", "reopen"),
    ])
    func damagedRowsAre500NeverATrap(damage: String, path: String) async throws {
        try await Fixture.with(store: .postgres) { fixture in
            try await fixture.withRouter { client in
                for writer in [ReplicaID(high: 0x71, low: 1), ReplicaID(high: 0x71, low: 2)] {
                    let record = try Make.report("r1", values: ["status": .string("w\(writer.low)")], by: writer)
                    _ = try await client.push(try Make.push([record], replica: writer), token: fixture.deviceA)
                }
            }
            try await (try #require(fixture.store as? PostgresStore)).client.query(PostgresQuery(unsafeSQL: damage))
            if path == "reopen" {
                await #expect(throws: (any Error).self, "a store whose epoch does not parse does not open") {
                    try await fixture.kind.openStore(in: fixture.directory)
                }
                return
            }
            try await fixture.withRouter { client in
                let answer = try await client.send(.get, path, token: fixture.admin)
                #expect(answer.status == .internalServerError, "\(damage): \(answer.status) \(String(buffer: answer.body))")
                #expect(try answer.error().error == .`internal`)
                // The health check reads the log's head: without it, the store is not healthy, and says so.
                let health = try await client.send(.get, "/healthz", token: nil).status
                #expect(damage.contains("log_head") ? health == .serviceUnavailable : health == .ok)
            }
        }
    }

    @Test(arguments: [
        ("mysql://u@h/d", "must look like"),
        ("postgres://u@/d", "names no host"),
        ("postgres://h/d", "names no user"),
        ("postgres://u@h", "names no database"),
        ("postgres://u@h/d?sslmode=maybe", "sslmode"),
        ("postgres://u@h:0/d", "port"),
    ])
    func aBadDatabaseURLSaysWhatIsWrong(url: String, says: String) {
        #expect {
            try PostgresStore.Configuration(url: url)
        } throws: { error in
            "\(error)".contains(says)
        }
    }

    /// A push's rows go to PostgreSQL in JSON values far below its 1 GB limit, every row once, in order.
    /// A push whose rows pass the bytes one statement carries (16 MiB; 64 KiB here, to cross it
    /// cheaply) is stored in further statements after the one that takes its numbers: every record
    /// and every audit entry, each under its own number.
    @Test(.timeLimit(.minutes(1))) func aPushLargerThanOneStatementIsStoredWhole() async throws {
        try await Fixture.with(store: .postgres) { fixture in
            var configuration = try PostgresStore.Configuration(url: try await fixture.kind.databaseURL(in: fixture.directory), poolSize: 2)
            configuration.maxStatementJSONBytes = 64 << 10
            let store = try await PostgresStore(configuration: configuration)
            defer { Task { await store.close() } }
            let principal = try await fixture.principal(fixture.deviceA)
            let writer = ReplicaID(high: 0xb16, low: 1)
            // 20 records of 15 KB: 300 KB of states, 5 or more statements' worth of records and of audit views.
            let text = String(repeating: "大", count: 5_000)
            let records = try (0..<20).map { index in
                try Make.report("big-\(index)", values: ["narrative": .string(text + "\(index)")], by: writer)
            }
            guard case .accepted(_, let changed) = try await store.push(try Make.push(records, replica: writer), by: principal, rules: .protocolOnly, at: Date())
            else {
                Issue.record("the push is accepted")
                return
            }
            #expect(changed == 20)
            guard case .page(let page) = try await store.pull(after: 0, limit: 100, scopes: nil, replica: nil) else {
                Issue.record("a pull without a replica is never refused")
                return
            }
            #expect(page.records.map(\.key.id) == (0..<20).map { "big-\($0)" }, "every record, in their numbers' order")
            #expect(page.records.allSatisfy { $0.state.currentValues?["narrative"] == .string(text + $0.key.id.dropFirst(4)) })
            #expect(try await Self.count("SELECT count(*) FROM audit", in: store) == 20)
            try await StoreTests.expectNoHoles(in: store, kind: .postgres)
        }
    }

    @Test func rowsAreSentInChunksBoundedInBytes() throws {
        struct Row: Codable, Equatable {
            var offset: Int64
            var state: String
        }
        let rows = (0..<100).map { Row(offset: Int64($0), state: String(repeating: "状", count: 300 + $0)) }
        let chunks = try WrittenRecords.jsonChunks(rows, maxBytes: 10_000)
        #expect(chunks.count > 5)
        #expect(chunks.allSatisfy { $0.utf8.count <= 10_000 })
        let decoded = try chunks.flatMap { try JSONDecoder().decode([Row].self, from: Data($0.utf8)) }
        #expect(decoded == rows)
        #expect(try WrittenRecords.jsonChunks([Row](), maxBytes: 10).isEmpty)
        // A row larger than the bound goes alone.
        let big = [Row(offset: 0, state: String(repeating: "x", count: 50)), Row(offset: 1, state: "y")]
        #expect(try WrittenRecords.jsonChunks(big, maxBytes: 20).count == 2)
    }

    @Test func theURLKeepsItsPasswordOutOfMessages() throws {
        let configuration = try PostgresStore.Configuration(url: "postgres://schoolsync:s3cret@db.example:6543/county?sslmode=require", poolSize: 7)
        #expect(!configuration.redactedURL.contains("s3cret"))
        #expect(configuration.poolSize == 7)
        #expect(configuration.clientConfiguration.port == 6543)
        #expect(configuration.clientConfiguration.host == "db.example")
        #expect(configuration.clientConfiguration.database == "county")
    }

    /// A long poll (30 s) of the device with `token` from the head, held by the server at `url`
    /// when this returns: the server counts it among its waiting polls.
    static func holdLongPoll(of token: String, on url: String, http: HTTPClient) async throws -> Task<PullResponse, any Error> {
        let reader = HTTPSyncTransport(http: http, baseURL: url, token: token)
        let head = try await reader.pull(PullRequest(since: nil, limit: 10, replica: nil, receipt: nil))
        let poll = Task { try await reader.pull(PullRequest(since: head.next, limit: 10, wait: 30, replica: nil, receipt: nil)) }
        try await waitUntil("the long poll is held") {
            let metrics = try await http.get(url: "\(url)/metrics").get()
            return metrics.body.map { String(buffer: $0) }?.contains("schoolsync_long_polls_waiting 1") == true
        }
        return poll
    }

    /// Waits until `condition` holds, looking again every 20 ms, for at most 20 seconds.
    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw FixtureError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The one number a query answers, read through the store's own client.
    static func count(_ sql: String, in store: any SyncStore) async throws -> Int64 {
        let store = try #require(store as? PostgresStore)
        for try await value in try await store.client.query(PostgresQuery(unsafeSQL: sql)).decode(Int64?.self) { return value ?? 0 }
        return 0
    }
}
