import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Every client mistake gets a 4xx with the protocol's error body (PROTOCOL.md §8), never a 500.
struct BadInputTests {
    let replica = ReplicaID(high: 7, low: 7)

    static let malformedPushes: [(String, String)] = [
        ("not json", "invalid_json"),
        ("{", "invalid_json"),
        (#"{"batch":"b","replica":"not-hex","records":[]}"#, "invalid_json"),
        (#"{"batch":"b","replica":"00000000000000070000000000000007","records":"none"}"#, "invalid_json"),
        (#"{"batch":"b","replica":"00000000000000070000000000000007"}"#, "invalid_json"),
        (#"{"batch":"b","replica":"00000000000000070000000000000007","records":[],"extra":1}"#, "invalid_json"),
        (
            #"{"batch":"b","replica":"00000000000000070000000000000007","records":[{"collection":"reports","id":"r","scope":"school:qx-zhuoran","context":{},"fields":{},"deleted":[],"changedOnly":true}]}"#,
            "invalid_json"
        ),
        (
            #"{"batch":"b","replica":"00000000000000070000000000000007","records":[{"collection":"reports","id":"r","scope":"school:qx-zhuoran","context":{},"fields":{"x":[{"replica":"00000000000000070000000000000007","counter":1,"value":{"int":"1"}}]},"deleted":[]}]}"#,
            "invalid_json"
        ),
        (
            #"{"batch":"b","replica":"00000000000000070000000000000007","records":[{"collection":"reports","id":"r","scope":"school:qx-zhuoran","context":{},"fields":{"x":[{"replica":"00000000000000070000000000000007","counter":1,"value":{"int":1}}]},"deleted":[]}]}"#,
            "invalid_json"
        ),
        (#"{"batch":"has space","replica":"00000000000000070000000000000007","records":[]}"#, "invalid_json"),
        (#"[]"#, "invalid_json"),
    ]

    @Test(arguments: malformedPushes)
    func malformedPushesAre400(body: String, code: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let response = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest)
                #expect(try response.error().error.rawValue == code)
                #expect(try !response.error().message.isEmpty)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func wrongTypesNameThePath(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let body =
                    #"{"batch":"b","replica":"00000000000000070000000000000007","records":[{"collection":"reports","id":5,"scope":"catalog","context":{},"fields":{},"deleted":[]}]}"#
                let response = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest)
                #expect(try response.error().details?["path"] == ".records[0].id")
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func missingInvalidAndRevokedTokensAre401(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                for token in [nil, "", "ss_not-a-real-token", String(repeating: "x", count: 300)] as [String?] {
                    for (method, path) in [(HTTPRequest.Method.get, "/v1/pull"), (.post, "/v1/push"), (.get, "/v1/session")] {
                        let response = try await client.send(method, path, token: token, body: method == .post ? ByteBuffer(string: "{}") : nil)
                        #expect(response.status == .unauthorized, "\(path) with \(token ?? "no token")")
                        #expect(try response.error().error == .unauthorized)
                    }
                }
                let device = try await fixture.store.createPrincipal(kind: .device, name: "旧电脑", schoolID: Fixture.schoolA, at: Date())
                #expect(try await client.send(.get, "/v1/session", token: device.token).status == .ok)
                let revoke = try await client.send(.post, "/v1/admin/principals/\(device.0.id)/revoke", token: fixture.admin)
                #expect(revoke.status == .ok)
                #expect(try await client.send(.get, "/v1/session", token: device.token).status == .unauthorized)
            }
        }
    }

    @Test func tooManyRecordsAndTooLargeBodiesAre413() async throws {
        try await Fixture.with(configure: {
            $0.maxBatchRecords = 3
            $0.maxBodyBytes = 4096
        }) { fixture in
            try await fixture.withRouter { client in
                let records = try (0..<4).map { try Make.report("r\($0)", values: ["x": .int(1)], by: replica) }
                let tooMany = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA,
                    body: try Make.body(try Make.push(records, replica: replica))
                )
                #expect(tooMany.status == .contentTooLarge)
                #expect(try tooMany.error().error == .batchTooLarge)
                #expect(try tooMany.error().details?["limit"] == "3")
                let big = try Make.report("big", values: ["narrative": .string(String(repeating: "长", count: 3000))], by: replica)
                let tooLarge = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA,
                    body: try Make.body(try Make.push([big], replica: replica))
                )
                #expect(tooLarge.status == .contentTooLarge)
                #expect(try tooLarge.error().error == .bodyTooLarge)
                // A gzip bomb: small on the wire, too large once decoded.
                var bomb = ByteBuffer(string: String(repeating: " ", count: 100_000))
                let compressed = try bomb.compress(with: .gzip())
                let bombed = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: compressed, headers: [.contentEncoding: "gzip"])
                #expect(bombed.status == .contentTooLarge)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func badEncodingsAndMediaTypesAre4xx(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let body = try Make.body(try Make.push([], replica: replica))
                let notGzip = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body, headers: [.contentEncoding: "gzip"])
                #expect(notGzip.status == .badRequest)
                #expect(try notGzip.error().error == .invalidBody)
                let brotli = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: body, headers: [.contentEncoding: "br"])
                #expect(brotli.status == .unsupportedMediaType)
                #expect(try brotli.error().error == .unsupportedEncoding)
                let form = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA,
                    body: body,
                    headers: [.contentType: "application/x-www-form-urlencoded"]
                )
                #expect(form.status == .unsupportedMediaType)
                #expect(try form.error().error == .unsupportedMediaType)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func duplicateRecordsInOnePushAre400(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let record = try Make.report("r", values: ["x": .int(1)], by: replica)
                let response = try await client.send(
                    .post,
                    "/v1/push",
                    token: fixture.deviceA,
                    body: try Make.body(try Make.push([record, record], replica: replica))
                )
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test(arguments: [
        ("since=garbage", "invalid_cursor"),
        ("since=0123456789abcdef0123456789abcdef", "invalid_cursor"),
        ("limit=0", "invalid_parameter"),
        ("limit=1001", "invalid_parameter"),
        ("limit=ten", "invalid_parameter"),
        ("wait=61", "invalid_parameter"),
        ("wait=-1", "invalid_parameter"),
        ("replica=xyz", "invalid_parameter"),
        ("receipt=abc", "invalid_parameter"),
        ("replica=00000000000000070000000000000007&receipt=abc", "invalid_cursor"),
    ])
    func badPullParametersAre400(query: String, code: String) async throws {
        try await Fixture.with { fixture in
            try await fixture.withRouter { client in
                let response = try await client.send(.get, "/v1/pull?\(query)", token: fixture.deviceA)
                #expect(response.status == .badRequest)
                #expect(try response.error().error.rawValue == code)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aCursorBeyondTheLogIsRefused(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let response = try await client.send(.get, "/v1/pull?since=\(fixture.store.epoch).99", token: fixture.deviceA)
                #expect(response.status == .badRequest)
                #expect(try response.error().error == .invalidCursor)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func unknownRoutesAre404WithTheErrorBody(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let response = try await client.send(.get, "/v2/pull", token: fixture.deviceA)
                #expect(response.status == .notFound)
                #expect(try response.error().error == .notFound)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func requestIDsAreEchoedOrMade(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let mine = try await client.send(.get, "/v1/session", token: fixture.deviceA, headers: [HTTPField.Name("X-Request-ID")!: "school-42"])
                #expect(mine.headers[HTTPField.Name("X-Request-ID")!] == "school-42")
                let failed = try await client.send(.get, "/v1/session", token: nil, headers: [HTTPField.Name("X-Request-ID")!: "school-43"])
                #expect(failed.headers[HTTPField.Name("X-Request-ID")!] == "school-43")
                let made = try await client.send(
                    .get,
                    "/v1/session",
                    token: fixture.deviceA,
                    headers: [HTTPField.Name("X-Request-ID")!: "bad id with spaces"]
                )
                #expect(made.headers[HTTPField.Name("X-Request-ID")!].map { !$0.contains(" ") } == true)
            }
        }
    }
}
