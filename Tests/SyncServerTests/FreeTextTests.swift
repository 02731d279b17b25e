import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Text people type that the store keeps (names, a client's label, a resolution's reason) is held to
/// what every store can keep: PostgreSQL's text refuses U+0000, so before this rule a NUL was a 500 on
/// one store and stored on the other. Both stores now answer 400 alike, and store nothing.
struct FreeTextTests {
    static let names = ["卓然\u{0}学校", "two\nlines", "bell\u{7}", "next\u{85}line"]

    @Test(arguments: StoreKind.allCases, names)
    func namesWithControlCharactersAre400(_ kind: StoreKind, name: String) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let bodies = [
                    ("/v1/admin/schools", #"{"id":"qx-new","name":\#(Self.json(name))}"#),
                    ("/v1/admin/devices", #"{"school":"\#(Fixture.schoolA)","name":\#(Self.json(name))}"#),
                    ("/v1/admin/users", #"{"role":"bureau","name":\#(Self.json(name))}"#),
                ]
                for (path, body) in bodies {
                    let response = try await client.send(.post, path, token: fixture.admin, body: ByteBuffer(string: body))
                    #expect(response.status == .badRequest, "\(path): \(String(buffer: response.body))")
                    #expect(try response.error().error == .invalidParameter, "\(path)")
                }
            }
            #expect(try await fixture.store.schools().count == 2, "nothing was stored")
            #expect(try await fixture.store.devices().count == 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aClientLabelWithAControlCharacterIs400AndThePushIsNotStored(_ kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let body = #"{"batch":"b1","replica":"00000000000000070000000000000007","client":"schoolsync\u0000/1","records":[]}"#
                let response = try await client.send(.post, "/v1/push", token: fixture.deviceA, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest)
                #expect(try response.error().error == .invalidJSON)
                #expect(try response.error().details?["path"] == ".client")
                let devices = try await fixture.store.devices()
                #expect(devices.allSatisfy { $0.lastPushAt == nil && $0.client == nil })
            }
        }
    }

    @Test(arguments: StoreKind.allCases, ["a reason\u{0}with a NUL", "\u{0}", String(repeating: "理", count: 2001), "  \n "])
    func aResolutionReasonOutsideTheRuleIs400(_ kind: StoreKind, reason: String) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let body = #"{"seen":{},"values":{},"reason":\#(Self.json(reason))}"#
                let response = try await client.send(.post, "/v1/conflicts/reports/qx-zhuoran/r1", token: fixture.admin, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest)
                #expect(try response.error().error == .invalidParameter)
            }
        }
    }

    /// A record's values are the school's data, not labels: any character is kept, U+0000 included,
    /// on both stores (PostgreSQL keeps a state as JSON text, where a NUL is an escape).
    @Test(arguments: StoreKind.allCases) func aValueMayHoldAnyCharacterOnEitherStore(_ kind: StoreKind) async throws {
        try await Fixture.with(store: kind) { fixture in
            try await fixture.withRouter { client in
                let writer = ReplicaID(high: 0x00, low: 0x0a)
                let text = "前\u{0}后\u{7}\u{1F}\u{FFFF}😀"
                let record = try Make.report("nul", values: ["narrative": .string(text)], by: writer)
                _ = try await client.push(try Make.push([record], replica: writer), token: fixture.deviceA)
                let pulled = try await client.send(.get, "/v1/pull", token: fixture.deviceA2).decode(PullResponse.self)
                #expect(pulled.records.first?.state.currentValues?["narrative"] == .string(text))
                let history = try await fixture.store.history(RecordKey(collection: "reports", id: "nul"), after: 0, limit: 10)
                #expect(history.entries.first?.after.fields["narrative"] == [.string(text)])
            }
        }
    }

    @Test func aReasonWithLineBreaksIsKeptWhole() {
        #expect(FreeText.reason("  第一行\n第二行 ") == "第一行\n第二行")
        #expect(FreeText.reason(String(repeating: "理", count: 2000)) != nil)
    }

    /// `text` as a JSON string literal (NUL and line breaks escaped).
    static func json(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }
}
