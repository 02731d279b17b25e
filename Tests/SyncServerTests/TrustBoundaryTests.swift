import CompressNIO
import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Reporting
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncServer
@testable import SyncServerSQLite

/// The server's trust boundary (issue 11): every number from outside is checked or computed
/// without trapping, and no principal can touch another's records, replica ids or receipts.
struct TrustBoundaryTests {
    let replica = ReplicaID(high: 0x11, low: 1)
    let domain = DomainRouteTests()

    // MARK: Numbers from outside never trap

    @Test(arguments: StoreKind.allCases) func cursorsPastEveryRangeAreRefusedWithoutTrapping(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let epoch = fixture.store.epoch
                for seq in ["9223372036854775808", "18446744073709551615"] {
                    let answer = try await client.send(.get, "/v1/pull?since=\(epoch).\(seq)", token: fixture.deviceA)
                    #expect(answer.status == .badRequest)
                    #expect(try answer.error().error == .invalidParameter)
                    #expect(try answer.error().details?["parameter"] == "since")
                }
                for malformed in ["18446744073709551616", "+5", "-1", " 5", "5 ", "", "0x10", "１", "01", "00000000000000000001"] {
                    let query = "since=\(epoch).\(malformed)".addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? ""
                    let answer = try await client.send(.get, "/v1/pull?\(query)", token: fixture.deviceA)
                    #expect(answer.status == .badRequest, "since=…\(malformed)")
                    #expect(try answer.error().error == .invalidCursor, "since=…\(malformed)")
                }
                // The largest sequence a log can hold is a well-formed cursor, just beyond this log.
                let beyond = try await client.send(.get, "/v1/pull?since=\(epoch).9223372036854775807", token: fixture.deviceA)
                #expect(try beyond.error().error == .invalidCursor)
                // The server is still there.
                #expect(try await client.send(.get, "/v1/pull", token: fixture.deviceA).status == .ok)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aReceiptOfTwoToTheSixtyFourMinusOneIsStaleNotATrap(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let body = #"{"batch":"b1","replica":"0123456789abcdef0123456789abcdef","records":[]}"#
                let first = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: body))
                #expect(first.status == .ok)
                let huge = "\(fixture.store.epoch).18446744073709551615"
                let withReceipt = #"{"batch":"b1","receipt":"\#(huge)","replica":"0123456789abcdef0123456789abcdef","records":[]}"#
                let again = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: withReceipt))
                #expect(again.status == .conflict)
                #expect(try again.error().error == .replicaStale)
                let other = withReceipt.replacingOccurrences(of: #""b1""#, with: #""b2""#)
                #expect(try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: other)).status == .conflict)
                let pull = try await client.send(.get, "/v1/pull?replica=0123456789abcdef0123456789abcdef&receipt=\(huge)", token: fixture.deviceA)
                #expect(pull.status == .conflict)
                #expect(try pull.error().error == .replicaStale)
            }
        }
    }

    @Test func sequencesAnotherProgramWroteIntoTheTablesDoNotTrap() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let pushed = try await client.push(try Make.push([], replica: replica), token: fixture.deviceA)
                _ = try await client.send(.get, "/v1/devices", token: fixture.admin)  // writes the device activity now, not mid-test
                let database = try DatabaseQueue(path: fixture.databasePath)
                // At the ceiling: no next receipt can be issued, so the push is refused as stale.
                try await database.write { db in try db.execute(sql: "UPDATE replicas SET sequence = 9223372036854775807") }
                let ceiling = PushReceipt(epoch: fixture.store.epoch, sequence: 9_223_372_036_854_775_807)
                let atCeiling = try await client.sendPush(try Make.push([], replica: replica, receipt: ceiling), token: fixture.deviceA)
                #expect(atCeiling.status == .conflict)
                // Negative: a damaged file, a logged 500, never a trap.
                try await database.write { db in try db.execute(sql: "UPDATE replicas SET sequence = -1") }
                let damaged = try await client.sendPush(try Make.push([], replica: replica, receipt: pushed.receipt), token: fixture.deviceA)
                #expect(damaged.status == .internalServerError)
                #expect(try damaged.error().error == .`internal`)
                try database.close()
                #expect(try await client.send(.get, "/v1/pull", token: fixture.deviceA).status == .ok)
            }
        }
    }

    /// Rows another program wrote: text where numbers belong, invalid UTF-8, JSON that is not a
    /// state. Each answer is a logged 500 (the file is damaged, not the request), never a trap, and
    /// never a 400 that would tell the client its own push was wrong. One damage per fixture.
    @Test(arguments: [
        ("UPDATE records SET state = 'not json'", "/v1/pull"),
        (#"UPDATE records SET state = '{"context":{},"fields":{},"deleted":[],"extra":1}'"#, "/v1/pull"),
        ("UPDATE records SET scope = 'nowhere'", "/v1/pull"),
        ("UPDATE records SET id = char(10)", "/v1/pull"),
        ("UPDATE replicas SET sequence = 'x'", "/v1/pull?replica=00000000000000710000000000000001"),
        ("UPDATE conflicts SET since_seq = 'abc'", "/v1/conflicts"),
        ("UPDATE conflicts SET fields = X'FF'", "/v1/conflicts"),
        ("UPDATE audit SET at = 'yesterday'", "/v1/history/reports/r1"),
        ("UPDATE audit SET after = '[1]'", "/v1/history/reports/r1"),
        ("UPDATE schools SET name = X'FF'", "/v1/admin/schools"),
        ("UPDATE device_sync SET last_seen_at = 'soon'", "/v1/devices"),
        ("UPDATE principals SET name = X'FF' WHERE kind = 'device'", "/v1/devices"),
    ])
    func damagedRowsAre500NeverATrap(damage: String, path: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                for writer in [ReplicaID(high: 0x71, low: 1), ReplicaID(high: 0x71, low: 2)] {
                    let record = try Make.report("r1", values: ["status": .string("w\(writer.low)")], by: writer)
                    _ = try await client.push(try Make.push([record], replica: writer), token: fixture.deviceA)
                }
                _ = try await client.pull(token: fixture.deviceA)
                _ = try await client.send(.get, "/v1/devices", token: fixture.admin)  // writes the device activity
                let database = try DatabaseQueue(path: fixture.databasePath)
                try await database.write { db in try db.execute(sql: damage) }
                try database.close()
                let answer = try await client.send(.get, path, token: fixture.admin)
                #expect(answer.status == .internalServerError)
                #expect(try answer.error().error == .`internal`)
                #expect(try await client.send(.get, "/healthz", token: nil).status == .ok)
            }
        }
    }

    @Test func aPrincipalRowThatCannotBeReadIs500() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let database = try DatabaseQueue(path: fixture.databasePath)
                try await database.write { db in try db.execute(sql: "UPDATE principals SET name = X'FF' WHERE kind = 'device'") }
                try database.close()
                let answer = try await client.send(.get, "/v1/session", token: fixture.deviceB)
                #expect(answer.status == .internalServerError)
                #expect(try await client.send(.get, "/v1/session", token: fixture.admin).status == .ok)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func implausibleIndicatorValuesAreRefusedAtPushTime(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                let cases: [(json: String, indicator: String?, accepted: Bool)] = [
                    (#"{"numerator":1e307,"denominator":1}"#, nil, false),
                    (#"{"numerator":1,"denominator":1e307}"#, nil, false),
                    (#"{"numerator":1,"denominator":1e-300}"#, nil, false),
                    (#"{"numerator":10000001,"denominator":10000000}"#, nil, false),
                    (#"{"numerator":1126,"denominator":1000}"#, nil, true),
                    (#"{"value":1e8}"#, domain.count, false),
                    (#"{"value":1.7976931348623157e308}"#, domain.count, false),
                    (#"{"value":3}"#, domain.count, true),
                ]
                for (index, item) in cases.enumerated() {
                    let writer = ReplicaID(high: 0x5d, low: UInt64(index + 1))
                    let indicator = item.indicator ?? domain.rate
                    let record = try domain.record(
                        "indicator_values",
                        "\(Fixture.schoolA)/2025-S1/\(indicator)",
                        try .school(Fixture.schoolA),
                        ["indicator_id": .string(indicator), "value": .string(item.json), "school_id": .string(Fixture.schoolA)],
                        by: writer
                    )
                    let answer = try await client.push(try Make.push([record], replica: writer), token: fixture.deviceA)
                    let result = try #require(answer.results.first)
                    #expect((result.status != .rejected) == item.accepted, "\(item.json): \(result)")
                    if !item.accepted {
                        #expect(result.reason?.code == .validation)
                        #expect(result.reason?.message.contains("not plausible") == true, "\(result.reason?.message ?? "")")
                    }
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func storedValuesOutOfRangeShowAsOutOfRangeAndNeverTrapTheSummaryOrThePage(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                // Written before values had bounds (the store without the domain's rules stands in
                // for that history): a rate of 10^309 % and a count no school has.
                let admin = try await fixture.principal(fixture.admin)
                let legacy = try Make.push(
                    [
                        try domain.value(#"{"numerator":1e307,"denominator":1e-300}"#),
                        try domain.value(#"{"value":1e307}"#, indicator: domain.count),
                    ],
                    replica: domain.schoolReplica
                )
                _ = try await fixture.store.push(legacy, by: admin, rules: .protocolOnly, at: Date())
                // A bureau target that Double() reads as not a number.
                let target = try domain.record(
                    "indicators",
                    domain.count,
                    .catalog,
                    ["target": .string("nan"), "value_kind": .string("count"), "measure_id": .string(domain.measure), "name": .string("新建")],
                    by: ReplicaID(high: 0xb1, low: 1)
                )
                _ = try await client.push(try Make.push([target], replica: ReplicaID(high: 0xb1, low: 1)), token: fixture.bureau)

                let summary = try await client.send(.get, "/v1/bureau/summary?period=2025-S1", token: fixture.bureau)
                #expect(summary.status == .ok)
                let decoded = try summary.decode(BureauSummary.self)
                for id in [domain.rate, domain.count] {
                    let indicator = try #require(decoded.indicators.first { $0.id == id })
                    #expect(indicator.county.outOfRange)
                    #expect(indicator.county.value == nil)
                    #expect(indicator.standing == .outOfRange)
                }
                let session = try await AdminPageTests().signIn(client, token: fixture.bureau)
                let page = try await client.send(.get, "/bureau?period=2025-S1", token: nil, headers: [.cookie: session])
                #expect(page.status == .ok)
                #expect(String(buffer: page.body).contains("超出范围"))
                let csv = try await client.send(.get, "/bureau?period=2025-S1&format=csv", token: nil, headers: [.cookie: session])
                #expect(csv.status == .ok)
                #expect(String(buffer: csv.body).contains("out of range"))
            }
        }
    }

    @Test(arguments: [
        (Double.nan, 1.0), (.infinity, 1), (-.infinity, 1), (1, .nan), (1, 0), (1e308, 1e-308), (-5, 1), (5, -1), (0, 0),
        (Double.greatestFiniteMagnitude, .leastNonzeroMagnitude), (Double(Int.max), 1), (3, 4),
    ])
    func barWidthsAreTotal(part: Double, whole: Double) {
        #expect((0...100).contains(BureauPage.percent(part, of: whole)))
    }

    // MARK: One school cannot touch another's

    @Test(arguments: StoreKind.allCases) func aTombstoneUnderAnotherSchoolsIdIsRejectedAndThatSchoolKeepsItsRecord(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                let victim = "\(Fixture.schoolA)/2025-S1/\(domain.measure)"
                var squat = RecordState()
                try squat.delete(by: ReplicaID(high: 0xbad, low: 1))
                let planted = SyncRecord(key: RecordKey(collection: "reports", id: victim), scope: try .school(Fixture.schoolB), state: squat)
                let answer = try await client.push(try Make.push([planted], replica: ReplicaID(high: 0xbad, low: 1)), token: fixture.deviceB)
                var nextWriter: UInt64 = 10
                func fresh() -> ReplicaID {
                    nextWriter += 1
                    return ReplicaID(high: 0xbad, low: nextWriter)
                }
                #expect(answer.results.first?.status == .rejected)
                #expect(answer.results.first?.reason?.code == .scopeMismatch)
                // The bureau cannot put it there either.
                let byBureau = try await client.push(try Make.push([planted], replica: ReplicaID(high: 0xb2, low: 1)), token: fixture.bureau)
                #expect(byBureau.results.first?.reason?.code == .scopeMismatch)
                // Every school-owned collection, and ids without a school at all.
                for (collection, id) in [("indicator_values", "\(Fixture.schoolA)/2025-S1/\(domain.rate)"), ("assignments", "\(Fixture.schoolA)/x")] {
                    let record = SyncRecord(key: RecordKey(collection: collection, id: id), scope: try .school(Fixture.schoolB), state: squat)
                    let result = try await client.push(try Make.push([record], replica: fresh()), token: fixture.deviceB)
                    #expect(result.results.first?.reason?.code == .scopeMismatch, "\(collection)")
                }
                let noSchool = SyncRecord(key: RecordKey(collection: "reports", id: "garbage"), scope: try .school(Fixture.schoolB), state: squat)
                let garbage = try await client.push(try Make.push([noSchool], replica: fresh()), token: fixture.deviceB)
                #expect(garbage.results.first?.reason?.code == .validation)
                // School A's own report goes in.
                let own = try await client.push(
                    try Make.push([try domain.report(["status": .string("done")])], replica: domain.schoolReplica),
                    token: fixture.deviceA
                )
                #expect(own.results.first?.status == .applied)
            }
        }
    }

    @Test func tombstonesPlantedBeforeTheRuleAreRemovedByTheMigration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-squat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("server.sqlite").path
        do {
            let store = try SQLiteStore(path: path)
            let bureau = try await store.createPrincipal(kind: .bureau, name: "局", schoolID: nil, at: Date()).0
            var squat = RecordState()
            try squat.delete(by: replica)
            var live = RecordState()
            try live.write(["status": .string("done")], by: replica)
            let records = [
                SyncRecord(key: RecordKey(collection: "reports", id: "sch-b/2026-S1/m1"), scope: try .school("sch-a"), state: squat),
                SyncRecord(key: RecordKey(collection: "reports", id: "sch-a/2026-S1/m1"), scope: try .school("sch-a"), state: squat),
                SyncRecord(key: RecordKey(collection: "reports", id: "sch-a/2026-S1/m2"), scope: try .school("sch-a"), state: live),
            ]
            // The protocol-only rules stand in for the server before ids decided scopes.
            _ = try await store.push(try Make.push(records, replica: replica), by: bureau, rules: .protocolOnly, at: Date())
        }
        let database = try DatabaseQueue(path: path)
        try await database.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v5:%'")
            try db.execute(sql: "DROP TABLE replica_owners")
        }
        try database.close()
        let reopened = try SQLiteStore(path: path)
        let ids = try await reopened.records(in: ["reports"]).map(\.key.id)
        #expect(ids == ["sch-a/2026-S1/m1", "sch-a/2026-S1/m2"])
    }

    /// The approval lock holds against every way a school could change an approved report:
    /// writing the review fields, a state that drops values without a delete, a delete of the
    /// report or of one of its indicator values.
    @Test(arguments: StoreKind.allCases) func anApprovedReportCannotBeRewrittenEmptiedOrDeletedByTheSchool(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                let school = domain.schoolReplica
                let submitted = try domain.report(["status": .string("done"), "workflow": .string("submitted")])
                let value = try domain.value(#"{"numerator":3,"denominator":4}"#)
                var receipt = try await client.push(try Make.push([submitted, value], replica: school), token: fixture.deviceA).receipt
                var approved = submitted
                try approved.state.write(
                    ["workflow": .string("approved"), "approval": .string(RecordRules.approvalJSON(for: submitted.state.context))],
                    by: domain.bureauReplica
                )
                _ = try await client.push(
                    try Make.push([approved], replica: domain.bureauReplica, receipt: PushReceipt(epoch: fixture.store.epoch, sequence: 1)),
                    token: fixture.bureau
                )
                func push(_ record: SyncRecord) async throws -> PushResult? {
                    let answer = try await client.push(try Make.push([record], replica: school, receipt: receipt), token: fixture.deviceA)
                    receipt = answer.receipt
                    return answer.results.first
                }
                // Rewriting the approval to cover an edit.
                var rewritten = approved
                try rewritten.state.write(["approval": .string(#"{"context":{"\#(school)":9007199254740991}}"#)], by: school)
                #expect(try await push(rewritten)?.status == .rejected)
                // A state that covers everything and holds nothing: every value would vanish.
                let emptied = SyncRecord(
                    key: approved.key,
                    scope: approved.scope,
                    state: try RecordState(context: approved.state.context.merged(with: VersionVector([school: 5])), fields: [:], deleted: [])
                )
                #expect(try await push(emptied)?.reason?.code == .reportLocked)
                // Deleting the report, or one of its values.
                var deleted = approved
                try deleted.state.delete(by: school)
                #expect(try await push(deleted)?.reason?.code == .reportLocked)
                var deletedValue = value
                try deletedValue.state.delete(by: school)
                #expect(try await push(deletedValue)?.reason?.code == .reportLocked)
                // What the bureau approved is intact.
                let summary = try await client.send(.get, "/v1/bureau/summary?period=2025-S1", token: fixture.bureau).decode(BureauSummary.self)
                #expect(summary.measures.first?.approved == 1)
                #expect(summary.indicators.first { $0.id == domain.rate }?.county.numerator == 3)
            }
        }
    }

    /// Review fields are the bureau's; a repeated key inside an indicator value is refused; a
    /// school cannot learn whether another school has a record; a delete needs the whole id.
    @Test(arguments: StoreKind.allCases) func schoolsWriteOnlyWhatIsTheirsAndLearnNothingOfOthers(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                var writer: UInt64 = 0
                func push(_ record: SyncRecord, _ token: String) async throws -> PushResult? {
                    writer += 1
                    let replica = ReplicaID(high: 0xa1, low: writer)
                    return try await client.push(try Make.push([record], replica: replica), token: token).results.first
                }
                let reviewed = try domain.report(["status": .string("done"), "reviewer": .string("我自己")])
                #expect(try await push(reviewed, fixture.deviceA)?.reason?.code == .validation)
                let twice = try domain.value(#"{"numerator":5,"denominator":10,"numerator":9}"#)
                #expect(try await push(twice, fixture.deviceA)?.reason?.code == .validation)
                // School B asks about school A's report with and without it existing: the same answer.
                let own = try domain.report(["status": .string("done")])
                #expect(try await push(own, fixture.deviceA)?.status == .applied)
                var answers: [String] = []
                for id in ["\(Fixture.schoolA)/2025-S1/\(domain.measure)", "\(Fixture.schoolA)/2025-S2/\(domain.measure)"] {
                    var state = RecordState()
                    try state.delete(by: ReplicaID(high: 0xa2, low: 1))
                    let record = SyncRecord(key: RecordKey(collection: "reports", id: id), scope: try .school(Fixture.schoolB), state: state)
                    let result = try await push(record, fixture.deviceB)
                    answers.append("\(result?.reason?.code.rawValue ?? "") \(result?.reason?.message.replacingOccurrences(of: id, with: "ID") ?? "")")
                }
                #expect(answers[0] == answers[1], "\(answers)")
                // A tombstone under an id without a period is refused, whatever its context holds.
                var junk = RecordState()
                try junk.delete(by: ReplicaID(high: 0xa3, low: 1))
                let tombstone = SyncRecord(key: RecordKey(collection: "reports", id: "\(Fixture.schoolA)/junk-1"), scope: try .school(Fixture.schoolA), state: junk)
                #expect(try await push(tombstone, fixture.deviceA)?.reason?.code == .validation)
            }
        }
    }

    @Test func aContextNamingThousandsOfReplicasIsTooLarge() throws {
        var counters: [ReplicaID: UInt64] = [:]
        for index in 0..<2_000 { counters[ReplicaID(high: 0x100000, low: UInt64(index))] = 9_007_199_254_740_991 }
        let bloated = try RecordState(context: VersionVector(counters), fields: [:], deleted: [])
        #expect(PushRules.sizeRejection(bloated, stored: nil)?.code == .tooLarge)
        #expect(PushRules.sizeRejection(bloated, stored: bloated) == nil, "a write that adds no replica to an already large context")
    }

    @Test(arguments: StoreKind.allCases) func anOversizedFormIs413Not500(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let answer = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=" + String(repeating: "x", count: 20_000)),
                    headers: [.contentType: "application/x-www-form-urlencoded"]
                )
                #expect(answer.status == .contentTooLarge)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func anIdleConnectionIsClosed(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.idleTimeoutSeconds = 1 }) { fixture in
            try await fixture.application().test(.live) { client in
                let port = try #require(client.port)
                // A bare socket that sends nothing: the server closes it (recv returns 0). The
                // receive timeout only bounds the test if the server never does.
                // On a thread of its own: a blocking recv on one of the two cooperative threads (2
                // cores) can starve the server's own connection handling, which runs as tasks.
                let closed = await withCheckedContinuation { continuation in
                    Thread.detachNewThread { continuation.resume(returning: Self.waitsForServerClose(port: port, atMost: 20)) }
                }
                #expect(closed)
            }
        }
    }

    /// Opens a TCP connection to 127.0.0.1:`port`, sends nothing, and says whether the server
    /// closed it within `seconds`.
    static func waitsForServerClose(port: Int, atMost seconds: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    @Test func aReplicaIdBelongsToThePrincipalThatFirstUsedIt() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let bureauReplica = ReplicaID(high: 0xb0, low: 0xb0)
                let first = try await client.push(try Make.push([], replica: bureauReplica), token: fixture.bureau)
                // Device B takes the id it saw in a record's context: 403, and not a word of receipts.
                for receipt in [nil, first.receipt] {
                    let hijack = try await client.sendPush(try Make.push([], replica: bureauReplica, receipt: receipt), token: fixture.deviceB)
                    #expect(hijack.status == .forbidden)
                    #expect(try hijack.error().error == .replicaForeign)
                    #expect(try hijack.error().details == nil)
                    #expect(!String(buffer: hijack.body).contains(first.receipt.description))
                }
                let peek = try await client.send(.get, "/v1/pull?replica=\(bureauReplica)", token: fixture.deviceB)
                #expect(peek.status == .forbidden)
                #expect(try peek.error().error == .replicaForeign)
                // The bureau carries on undisturbed.
                let next = try await client.push(try Make.push([], replica: bureauReplica, receipt: first.receipt), token: fixture.bureau)
                #expect(next.receipt.sequence == 2)
                // The server-side replica of an administrator is owned as well.
                let admin = try await fixture.principal(fixture.admin)
                let adminReplica = try await #require(fixture.store as? SQLiteStore).pool.write { db in
                    try SQLiteStore.serverReplica(for: admin, epoch: fixture.store.epoch, db)
                }
                let asAdmin = try await client.sendPush(try Make.push([], replica: adminReplica), token: fixture.deviceA)
                #expect(asAdmin.status == .forbidden)
            }
        }
    }

    @Test func aRestoreKeepsWhoOwnsWhichReplica() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-owners-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("server.sqlite").path
        let backup = directory.appendingPathComponent("backup.sqlite").path
        let afterBackup = ReplicaID(high: 0xb2b2, low: 0xb2b2)
        let (bureau, device): (Principal, Principal)
        do {
            let store = try SQLiteStore(path: path)
            _ = try await store.createSchool(id: "sch-a", name: "甲", at: Date())
            bureau = try await store.createPrincipal(kind: .bureau, name: "局", schoolID: nil, at: Date()).0
            device = try await store.createPrincipal(kind: .device, name: "甲 PC", schoolID: "sch-a", at: Date()).0
            try store.backup(to: backup)
            _ = try await store.push(try Make.push([], replica: afterBackup), by: bureau, rules: .protocolOnly, at: Date())
        }
        _ = try SQLiteStore.restore(from: backup, to: path)
        let restored = try SQLiteStore(path: path)
        guard case .replicaForeign = try await restored.push(try Make.push([], replica: afterBackup), by: device, rules: .protocolOnly, at: Date()) else {
            Issue.record("a replica first used after the backup became free to claim")
            return
        }
        guard case .accepted = try await restored.push(try Make.push([], replica: afterBackup), by: bureau, rules: .protocolOnly, at: Date()) else {
            Issue.record("its owner could not use it in the new epoch")
            return
        }
    }

    /// A device plants an administrator's server-side replica in a record's context at the largest
    /// counter; the administrator still resolves (under a fresh replica id).
    @Test func anExhaustedServerReplicaIsReplacedNotAWayToBlockResolution() async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let admin = try await fixture.principal(fixture.admin)
                let adminReplica = try await #require(fixture.store as? SQLiteStore).pool.write { db in
                    try SQLiteStore.serverReplica(for: admin, epoch: fixture.store.epoch, db)
                }
                var first = try Make.report("planted", values: ["status": .string("a")], by: ReplicaID(high: 0xc1, low: 1))
                let second = try Make.report("planted", values: ["status": .string("b")], by: ReplicaID(high: 0xc1, low: 2))
                first.state = try RecordState(
                    context: first.state.context.merged(with: VersionVector([adminReplica: VersionVector.maxCounter])),
                    fields: first.state.fields,
                    deleted: first.state.deleted
                )
                _ = try await client.push(try Make.push([first], replica: ReplicaID(high: 0xc1, low: 1)), token: fixture.deviceA)
                _ = try await client.push(try Make.push([second], replica: ReplicaID(high: 0xc1, low: 2)), token: fixture.deviceA)
                let detail = try await client.send(.get, "/v1/conflicts/reports/planted", token: fixture.admin).decode(ConflictDetail.self)
                let resolution = ResolutionRequest(seen: detail.context, values: ["status": .string("a")], delete: nil, reason: "选定")
                let answer = try await client.send(.post, "/v1/conflicts/reports/planted", token: fixture.admin, body: try Make.body(resolution))
                #expect(answer.status == .ok)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func revocationEndsAHeldLongPollAndNothingWrittenAfterItGetsThrough(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let head = try await client.pull(token: fixture.deviceA).next
                let device = try await fixture.principal(fixture.deviceA)
                async let held = client.send(.get, "/v1/pull?since=\(head)&wait=20", token: fixture.deviceA)
                // Wait until the poll is held (the server's own gauge says so), then revoke.
                let deadline = ContinuousClock.now + .seconds(15)
                while !fixture.metrics.render().contains("schoolsync_long_polls_waiting 1"), ContinuousClock.now < deadline {
                    await Task.yield()
                }
                #expect(fixture.metrics.render().contains("schoolsync_long_polls_waiting 1"))
                let revoked = try await client.send(.post, "/v1/admin/principals/\(device.id)/revoke", token: fixture.admin)
                #expect(revoked.status == .ok)
                _ = try await client.push(
                    try Make.push([try Make.report("after-revocation", values: ["x": .int(1)], by: replica)], replica: replica),
                    token: fixture.bureau
                )
                let answer = try await held
                #expect(answer.status == .unauthorized)
                #expect(!String(buffer: answer.body).contains("after-revocation"))
            }
        }
    }

    // MARK: Sizes

    @Test(arguments: StoreKind.allCases) func concurrentPushesCannotGrowARecordPastTheStateLimit(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let text = String(repeating: "字", count: 20_000)  // 60,000 bytes
                func wide(_ writer: ReplicaID) throws -> SyncRecord {
                    let values = Dictionary(uniqueKeysWithValues: (0..<16).map { ("f\($0)", Value.string(text)) })
                    return try Make.report("wide", values: values, by: writer)
                }
                let writers = (1...3).map { ReplicaID(high: 0x51, low: UInt64($0)) }
                let first = try await client.push(try Make.push([try wide(writers[0])], replica: writers[0]), token: fixture.deviceA)
                #expect(first.results.first?.status == .applied)
                // A second, concurrent 16 × 60 KB would make the stored record about 2 MB.
                let second = try await client.push(try Make.push([try wide(writers[1])], replica: writers[1]), token: fixture.deviceA2)
                #expect(second.results.first?.status == .rejected)
                #expect(second.results.first?.reason?.code == .tooLarge)
                // The record stays editable: an edit on top of what is stored does not grow it.
                let stored = try #require(try await client.pullAll(token: fixture.bureau).records.first { $0.key.id == "wide" })
                var edit = stored
                try edit.state.write(["f0": .string("短")], by: writers[0])
                let edited = try await client.push(try Make.push([edit], replica: writers[0], receipt: first.receipt), token: fixture.deviceA)
                #expect(edited.results.first?.status == .applied)
            }
        }
    }

    @Test func aRecordAlreadyPastTheLimitCanBeSettled() throws {
        let writers = (1...3).map { ReplicaID(high: 0x52, low: UInt64($0)) }
        let text = String(repeating: "x", count: 60_000)
        var states: [RecordState] = []
        for writer in writers {
            var state = RecordState()
            let mine = text + "\(writer.low)"  // distinct values, so the fields are in conflict
            try state.write(Dictionary(uniqueKeysWithValues: (0..<8).map { ("f\($0)", Value.string(mine)) }), by: writer)
            states.append(state)
        }
        let oversized = try states.dropFirst().reduce(states[0]) { try $0.joined(with: $1) }
        #expect(oversized.encodedSize > 1_048_576)
        // Anything that grows it further is refused…
        var grown = oversized
        try grown.join(try RecordState().writing(["extra": .string(text)], by: ReplicaID(high: 0x52, low: 9)))
        #expect(PushRules.sizeRejection(grown, stored: oversized)?.code == .tooLarge)
        // …a resolution that keeps one value per field is not.
        var settled = oversized
        try settled.resolve(
            .write(Dictionary(uniqueKeysWithValues: (0..<8).map { ("f\($0)", Value.string("定")) })),
            by: ReplicaID(high: 0xee, low: 1),
            seen: oversized.context
        )
        #expect(PushRules.sizeRejection(settled, stored: oversized) == nil)
        #expect(settled.encodedSize < 10_000)
        // The cheap bound never says "fits" for a state that does not.
        #expect(oversized.mayExceed(encodedBytes: 1_048_576))
    }

    @Test(arguments: StoreKind.allCases) func aPullPageStopsAtItsByteBudget(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let text = String(repeating: "y", count: 60_000)
                let values = Dictionary(uniqueKeysWithValues: (0..<16).map { ("f\($0)", Value.string(text)) })  // ~960 KB a record
                for index in 0..<11 {
                    let writer = ReplicaID(high: 0x53, low: UInt64(index + 1))
                    _ = try await client.push(try Make.push([try Make.report("big\(index)", values: values, by: writer)], replica: writer), token: fixture.deviceA)
                }
                let page = try await client.pull("limit=1000", token: fixture.bureau)
                let (more, count) = (page.more, page.records.count)
                // 8 records are 7.7 MB, under the 8 MiB budget; the 9th takes the page past it and ends it.
                #expect(more)
                #expect(count == 9)
                let rest = try await client.pull("limit=1000&since=\(page.next)", token: fixture.bureau)
                #expect(count + rest.records.count == 11)
            }
        }
    }

    /// Issue 12's Chinese ids, and every other valid id: paths are percent-decoded exactly once.
    @Test(arguments: ["七星区/措施①", "a b+c", "100%", "%41", "x/y/z", "a#b?c", "a//b", "末尾/"])
    func everyValidIdRoundTripsThroughThePaths(id: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                for writer in [ReplicaID(high: 0x81, low: 1), ReplicaID(high: 0x81, low: 2)] {
                    let record = try Make.report(id, values: ["status": .string("w\(writer.low)")], by: writer)
                    _ = try await client.push(try Make.push([record], replica: writer), token: fixture.deviceA)
                }
                let path = AdminPages.path(of: RecordKey(collection: "reports", id: id))
                let detail = try await client.send(.get, "/v1/conflicts/\(path)", token: fixture.admin)
                #expect(detail.status == .ok, "\(id)")
                #expect(try detail.decode(ConflictDetail.self).id == id)
                let history = try await client.send(.get, "/v1/history/\(path)", token: fixture.admin)
                #expect(history.status == .ok, "\(id)")
                let session = try await AdminPageTests().signIn(client, token: fixture.admin)
                let list = try await client.send(.get, "/admin/conflicts", token: nil, headers: [.cookie: session])
                #expect(String(buffer: list.body).contains("href=\"/admin/conflicts/\(path)\""))
                let page = try await client.send(.get, "/admin/conflicts/\(path)", token: nil, headers: [.cookie: session])
                #expect(page.status == .ok, "\(id): the page is shown, not a redirect to the list")
            }
        }
        #expect(AdminPages.path(of: RecordKey(collection: "reports", id: "七星区/措施①")) == "reports/%E4%B8%83%E6%98%9F%E5%8C%BA%2F%E6%8E%AA%E6%96%BD%E2%91%A0")
    }

    @Test(arguments: ["2025-07-01T00:00:00Z", "2025-07-01T00:00:00.500Z", "2025-07-01t00:00:00z", "2025-07-01T08:00:00+08:00"])
    func conflictTimesAreReadAsRFC3339(before: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let query = before.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let answer = try await client.send(.get, "/v1/conflicts?before=\(query)", token: fixture.admin)
                #expect(answer.status == .ok, "\(before)")
            }
        }
    }

    // MARK: Pages

    @Test(arguments: [
        ("/\t/127.0.0.2:8080/x", "/bureau"),
        ("/%09/127.0.0.2:8080/x", "/bureau"),
        ("//evil.example", "/bureau"),
        ("/\\evil.example", "/bureau"),
        ("/%5Cevil.example", "/bureau"),
        ("/%2F/evil.example", "/bureau"),
        ("/%2f%2fevil.example", "/bureau"),
        ("/x\r\nSet-Cookie: a=b", "/bureau"),
        ("/\u{200B}/evil.example", "/bureau"),
        ("/ /evil.example", "/bureau"),
        ("https://evil.example", "/bureau"),
        ("javascript:alert(1)", "/bureau"),
        ("", "/bureau"),
        ("/bureau?period=2025-S1", "/bureau?period=2025-S1"),
        ("/admin/conflicts/reports/七星区/措施①", "/admin/conflicts/reports/七星区/措施①"),
        ("/admin/conflicts/reports/a%20b", "/admin/conflicts/reports/a%20b"),
    ])
    func signInRedirectsOnlyToSameOriginPaths(next: String, expected: String) {
        #expect(PageRoutes.safeNext(next) == expected)
    }

    @Test(arguments: StoreKind.allCases) func theOpenRedirectOfTheIssueGoesHome(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let answer = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=\(fixture.bureau)&next=/%09/127.0.0.2:8080/x"),
                    headers: [.contentType: "application/x-www-form-urlencoded"]
                )
                #expect(answer.status == .seeOther)
                #expect(answer.headers[.location] == "/bureau")
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func noTemplateRendersAnAbsentValueAsNil(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                // A conflict, so the conflict page has something to show (with no error on it).
                let reportID = "\(Fixture.schoolA)/2025-S1/\(domain.measure)"
                for writer in [ReplicaID(high: 0x61, low: 1), ReplicaID(high: 0x61, low: 2)] {
                    let record = try domain.record("reports", reportID, try .school(Fixture.schoolA), ["status": .string(writer.low == 1 ? "done" : "at_risk")], by: writer)
                    _ = try await client.push(try Make.push([record], replica: writer), token: fixture.deviceA)
                }
                let session = try await AdminPageTests().signIn(client, token: fixture.admin)
                for path in ["/admin/conflicts", "/admin/conflicts/reports/\(reportID)", "/bureau?period=2025-S1", "/bureau?period=2026", "/login"] {
                    let page = try await client.send(.get, path, token: nil, headers: [.cookie: session])
                    let html = String(buffer: page.body)
                    #expect(page.status == .ok, "\(path)")
                    #expect(!html.contains(">nil<") && !html.contains("nil</") && !html.contains("Optional("), "\(path) renders an absent value")
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func failedAuthenticationsAreLimitedPerAddress(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.failedAuthPerMinute = 3 }) { fixture in
            try await fixture.withRouter { client in
                for _ in 0..<3 {
                    #expect(try await client.send(.get, "/v1/session", token: "ss_wrong").status == .unauthorized)
                }
                let limited = try await client.send(.get, "/v1/session", token: "ss_wrong")
                #expect(limited.status == .tooManyRequests)
                #expect(try limited.error().error == .tooManyRequests)
                let seconds = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...60).contains(seconds))
                let login = try await client.send(
                    .post,
                    "/login",
                    token: nil,
                    body: ByteBuffer(string: "token=wrong"),
                    headers: [.contentType: "application/x-www-form-urlencoded"]
                )
                #expect(login.status == .tooManyRequests)
                #expect(login.headers[.retryAfter] != nil)
                // Requests without a token are not attempts.
                #expect(try await client.send(.get, "/healthz", token: nil).status == .ok)
            }
        }
        // The limit is a setting: 0 turns it off.
        try await Fixture.with(configure: { $0.failedAuthPerMinute = 0 }) { fixture in
            try await fixture.withRouter { client in
                for _ in 0..<10 {
                    let answer = try await client.send(.get, "/v1/session", token: "ss_wrong")
                    #expect(answer.status == .unauthorized)
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aTokenAcceptedRecentlyPassesALimitedAddress(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.failedAuthPerMinute = 2 }) { fixture in
            try await fixture.withRouter { client in
                #expect(try await client.send(.get, "/v1/session", token: fixture.deviceA).status == .ok)
                for _ in 0..<2 {
                    _ = try await client.send(.get, "/v1/session", token: "ss_wrong")
                }
                #expect(try await client.send(.get, "/v1/session", token: "ss_wrong").status == .tooManyRequests)
                // Not from the one-second cache: the limiter remembers accepted tokens for ten minutes.
                let limiter = FailedAuthLimiter(limit: 1)
                let hash = Token.hash(fixture.deviceA)
                limiter.recordFailure("a")
                #expect(limiter.retryAfter("a") != nil)
                #expect(!limiter.isKnownValid(hash))
                limiter.rememberValid(hash)
                #expect(limiter.isKnownValid(hash))
                #expect(!limiter.isKnownValid(hash, now: .now + .seconds(601)))
                #expect(try await client.send(.get, "/v1/session", token: fixture.deviceA).status == .ok)
                // A token never accepted gets 429 without being looked up.
                #expect(try await client.send(.get, "/v1/session", token: fixture.deviceB).status == .tooManyRequests)
            }
        }
    }

    @Test func theLimiterForgetsAnAddressAfterItsWindow() {
        let limiter = FailedAuthLimiter(limit: 2, window: .seconds(60))
        let start = ContinuousClock.now
        limiter.recordFailure("10.0.0.1", now: start)
        limiter.recordFailure("10.0.0.1", now: start)
        #expect(limiter.retryAfter("10.0.0.1", now: start + .seconds(1)) == .seconds(59))
        #expect(limiter.retryAfter("10.0.0.2", now: start + .seconds(1)) == nil)
        #expect(limiter.retryAfter("10.0.0.1", now: start + .seconds(61)) == nil)
    }

    // MARK: Smaller deviations from the spec

    @Test(arguments: StoreKind.allCases) func gzipBodiesAreHeldToTheirLimitAndTheirTrailer(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.maxBodyBytes = 65_536 }) { fixture in
            try await fixture.withRouter { client in
                func send(_ body: ByteBuffer) async throws -> TestResponse {
                    try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body, headers: [.contentEncoding: "gzip"])
                }
                var exact = ByteBuffer(string: String(repeating: " ", count: 65_536))
                let atLimit = try await send(try exact.compress(with: .gzip()))
                #expect(try atLimit.error().error == .invalidJSON, "exactly the limit is read (and is not a push)")
                var over = ByteBuffer(string: String(repeating: " ", count: 65_537))
                #expect(try await send(try over.compress(with: .gzip())).status == .contentTooLarge)

                var valid = try Make.body(try Make.push([], replica: replica))
                let compressed = try valid.compress(with: .gzip())
                #expect(try await send(compressed).status == .ok)
                let bytes = Array(compressed.readableBytesView)
                for (name, damaged) in [
                    ("no trailer", Array(bytes.dropLast(8))),
                    ("cut short", Array(bytes.prefix(bytes.count / 2))),
                    ("bad checksum", Array(bytes.dropLast(8)) + [0, 0, 0, 0] + Array(bytes.suffix(4))),
                    ("bytes after the member", bytes + [0x41]),
                ] {
                    let answer = try await send(ByteBuffer(bytes: damaged))
                    #expect(answer.status == .badRequest, "\(name)")
                    #expect(try answer.error().error == .invalidBody, "\(name)")
                }
            }
        }
    }

    /// 8 MiB of `{"a":0},` is a million objects, 440 MB once parsed: refused before parsing.
    @Test(arguments: StoreKind.allCases) func aBodyOfTooManyValuesIsRefusedBeforeItIsParsed(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let many = Array(repeating: #"{"a":0}"#, count: 300_000).joined(separator: ",")
                let body = #"{"batch":"b","replica":"\#(replica)","records":[\#(many)]}"#
                let answer = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: body))
                #expect(answer.status == .contentTooLarge)
                #expect(try answer.error().error == .bodyTooLarge)
                // Strings full of commas and brackets are one value each.
                let text = String(repeating: #",[:","#, count: 100_000)
                let record = try Make.report("commas", values: ["narrative": .string(String(text.prefix(60_000)))], by: replica)
                #expect(try await client.push(try Make.push([record], replica: replica), token: fixture.deviceA).results.first?.status == .applied)
            }
        }
        #expect(RequestBodyReader.valueCountBound(Data(#"{"a":[1,2,{"b":"x,y:[z"}]}"#.utf8)) == 6)
    }

    @Test(arguments: StoreKind.allCases) func onlyApplicationJSONIsAJSONBody(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let body = try Make.body(try Make.push([], replica: replica))
                for type in ["application/jsonx", "application/json-patch+json", "text/json", "application/jsonl; charset=utf-8"] {
                    let answer = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body, headers: [.contentType: type])
                    #expect(answer.status == .unsupportedMediaType, "\(type)")
                }
                for type in ["application/json", "Application/JSON; charset=utf-8", "application/json;charset=UTF-8"] {
                    let answer = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body, headers: [.contentType: type])
                    #expect(answer.status == .ok, "\(type)")
                }
            }
        }
    }

    /// An integer is stored exactly as written or refused: never clamped, never rounded.
    @Test(
        arguments: [
            (#"{"int":-9223372036854775809}"#, nil), (#"{"int":9223372036854775808}"#, nil), (#"{"int":1.5}"#, nil),
            (#"{"int":1e19}"#, nil), (#"{"int":1e999999999}"#, nil), (#"{"int":4503599627370496.5}"#, nil),
            (#"{"int":9007199254740993.0}"#, 9_007_199_254_740_993), (#"{"int":-9223372036854775808}"#, Int64.min),
            (#"{"int":1.20e1}"#, 12), (#"{"int":-0.0}"#, 0), (#"{"int":12300e-2}"#, 123),
        ] as [(String, Int64?)])
    func integersAreStoredExactlyOrRefused(value: String, stored: Int64?) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let body =
                    #"{"batch":"b","replica":"00000000000000110000000000000001","records":[{"collection":"reports","id":"r","scope":"school:qx-zhuoran","context":{"00000000000000110000000000000001":1},"fields":{"x":[{"replica":"00000000000000110000000000000001","counter":1,"value":\#(value)}]},"deleted":[]}]}"#
                let answer = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: body))
                guard let stored else {
                    #expect(answer.status == .badRequest, "\(value)")
                    #expect(try answer.error().error == .invalidJSON)
                    return
                }
                #expect(answer.status == .ok, "\(value)")
                let record = try await client.pull(token: fixture.bureau).records.first
                #expect(record?.state.value(of: "x") == .int(stored), "\(value)")
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func administrationBodiesAreAsStrictAsPush(kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                for body in [
                    #"{"id":"x1","name":"甲","name":"乙"}"#,
                    #"{"id":"x2","name":"甲","extra":1}"#,
                    #"{"id":"x3","name":"甲",}"#,
                    #"["id"]"#,
                ] {
                    let answer = try await client.send(.post, "/v1/admin/schools", token: fixture.admin, body: ByteBuffer(string: body))
                    #expect(answer.status == .badRequest, "\(body)")
                    #expect(try answer.error().error == .invalidJSON, "\(body)")
                }
                let user = try await client.send(
                    .post,
                    "/v1/admin/users",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"name":"x","role":"bureau","admin":true}"#)
                )
                #expect(try user.error().error == .invalidJSON)
                let resolution = try await client.send(
                    .post,
                    "/v1/conflicts/reports/r",
                    token: fixture.admin,
                    body: ByteBuffer(string: #"{"seen":{},"reason":"a","reason":"b"}"#)
                )
                #expect(try resolution.error().error == .invalidJSON)
                let fine = try await client.send(.post, "/v1/admin/schools", token: fixture.admin, body: ByteBuffer(string: #"{"id":"x4","name":"甲"}"#))
                #expect(fine.status == .created)
            }
        }
    }

    @Test(arguments: [
        (HTTPRequest.Method.get, "/v1/push"), (.post, "/v1/pull"), (.delete, "/v1/session"), (.put, "/v1/admin/schools"),
        (.get, "/v1/admin/principals/1/revoke"), (.delete, "/v1/conflicts/reports/r"), (.post, "/bureau"),
        (.trace, "/v1/session"), (.options, "/v1/pull"), (.head, "/v1/push"), (HTTPRequest.Method("QUERY")!, "/v1/session"),
    ])
    func aWrongMethodOnAKnownPathIs405(method: HTTPRequest.Method, path: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let answer = try await client.send(method, path, token: fixture.admin)
                #expect(answer.status == .methodNotAllowed)
                #expect(try answer.error().error == .methodNotAllowed)
                #expect(answer.headers[.allow]?.isEmpty == false)
            }
        }
    }
}
