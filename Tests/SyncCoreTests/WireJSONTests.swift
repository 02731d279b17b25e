import SchoolSyncTestSupport
import Foundation
import SyncCore
import Testing

/// `CanonicalJSON` reads and writes the wire types with a hand-written codec. These tests hold it
/// to Foundation's `JSONEncoder`/`JSONDecoder` over the types' `Codable` conformances: the same
/// bytes out, the same values in, and the same refusals with the same paths.
struct WireJSONTests {
    static func foundationEncode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func foundationDecode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }

    /// Every state of 200 seeded histories (writes, deletes, resolutions, conflicts, 2–6 replicas).
    static func historyStates() throws -> [RecordState] {
        var states: [RecordState] = []
        for seed in 0..<200 as Range<UInt64> {
            var history = History(seed: 0x5EED_0000 + seed, replicaCount: 2 + Int(seed % 5))
            for _ in 0..<12 {
                try history.run(steps: 1)
                states.append(contentsOf: history.states)
            }
        }
        return states
    }

    static let awkwardStrings = [
        "", "plain", "quote \" backslash \\ slash / done", "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f} controls", "\u{7f} delete",
        "第1周：按计划完成。", "emoji 😀 and 𝄞", "\u{2028}\u{2029} separators", "é vs e\u{301}", "{\"json\":[1,2]}",
    ]

    static let awkwardValues: [Value] =
        awkwardStrings.map(Value.string)
        + [.int(0), .int(-1), .int(Int64.max), .int(Int64.min), .bool(true), .bool(false), .null]
        + [0.5, 0.1, 1e-7, 1e-5, 1e15, 1e16, 1e21, 1e300, 5e-324, 123456789.125, 12_345_678_901_234_567, -2.5, 100].map(Value.double)

    @Test func writesTheBytesFoundationWritesForEveryHistoryState() throws {
        let states = try Self.historyStates()
        #expect(states.count > 5_000)
        var conflicted = 0
        for state in states {
            let expected = try Self.foundationEncode(state)
            #expect(try CanonicalJSON.encode(state) == expected)
            #expect(try CanonicalJSON.decode(RecordState.self, from: expected) == state)
            if state.isConflicted { conflicted += 1 }
        }
        #expect(conflicted > 20, "the histories must include conflicted states")
    }

    @Test func writesAwkwardValuesAsFoundationDoes() throws {
        let replica = ReplicaID(high: 1, low: 2)
        var state = RecordState()
        for (index, value) in Self.awkwardValues.enumerated() {
            try state.write(["f\(index)": value], by: replica)
        }
        try state.write(["Zed": .string("upper case first"), "a_b": .int(1), "ab": .int(2), "a10": .int(3), "a9": .int(4)], by: replica)
        let expected = try Self.foundationEncode(state)
        #expect(String(decoding: try CanonicalJSON.encode(state), as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        #expect(try CanonicalJSON.decode(RecordState.self, from: expected) == state)
    }

    @Test func messagesRoundTripWithFoundationsBytes() throws {
        let states = try Self.historyStates().filter { !$0.isEmpty }.prefix(400)
        let records = try states.enumerated().map { index, state in
            SyncRecord(
                key: RecordKey(collection: "reports", id: "qx-\(index)/2025-S1/第\(index)项"),
                scope: try .school("qx-\(index % 7)"),
                state: state
            )
        }
        let epoch = try Epoch(parsing: "0123456789abcdef0123456789abcdef")
        let push = PushRequest(
            batch: .random(),
            replica: .random(),
            receipt: PushReceipt(epoch: epoch, sequence: 41),
            client: "schoolsync/0.1",
            records: records
        )
        let firstPush = PushRequest(batch: .random(), replica: .random(), receipt: nil, records: Array(records.prefix(3)))
        let pull = PullResponse(epoch: epoch, records: records, next: Cursor(epoch: epoch, seq: 9_007), more: true)
        let answer = PushResponse(
            batch: push.batch,
            receipt: PushReceipt(epoch: epoch, sequence: 42),
            results: [
                PushResult(key: records[0].key, status: .applied),
                PushResult(key: records[1].key, status: .conflict, conflictFields: ["narrative", "status"], deleteConflict: false),
                PushResult(key: records[2].key, status: .rejected, reason: RejectReason(code: .reportLocked, message: "已审核的报告不能修改")),
            ]
        )
        try Self.expectSameBytes(push)
        try Self.expectSameBytes(firstPush)
        try Self.expectSameBytes(pull)
        try Self.expectSameBytes(answer)
        for record in records.prefix(50) { try Self.expectSameBytes(record) }
    }

    /// `GET /v1/school/replicas` (PROTOCOL.md §12): the form the protocol shows, Foundation's bytes,
    /// and a key a later server adds is ignored, so a newer answer still names the writers.
    @Test func schoolReplicasHaveTheProtocolsForm() throws {
        let body = SchoolReplicas(replicas: [.init(replica: ReplicaID(high: 0, low: 0xa).description, name: "卓然学校 教务处 PC")])
        try Self.expectSameBytes(body)
        #expect(String(decoding: try CanonicalJSON.encode(body), as: UTF8.self) == #"{"replicas":[{"name":"卓然学校 教务处 PC","replica":"0000000000000000000000000000000a"}]}"#)
        let later = #"{"replicas":[{"replica":"0000000000000000000000000000000a","name":"卓然学校 教务处 PC","since":"2026"}],"more":false}"#
        #expect(try CanonicalJSON.decode(SchoolReplicas.self, from: Data(later.utf8)) == body)
    }

    static func expectSameBytes<T: Codable & Equatable>(_ value: T) throws {
        let expected = try foundationEncode(value)
        #expect(try CanonicalJSON.encode(value) == expected, "\(T.self)")
        #expect(try CanonicalJSON.decode(T.self, from: expected) == value, "\(T.self)")
    }

    /// Documents both decoders refuse, with the path each reports: the same but for a fraction where
    /// an integer belongs (Foundation names no path) and syntax errors (we give the byte offset instead).
    @Test(arguments: [
        (#"{"context":{},"fields":{},"deleted":[],"extra":1}"#, "extra", "extra"),
        (#"{"context":{},"fields":{}}"#, "deleted", "deleted"),
        (#"{"context":[],"fields":{},"deleted":[]}"#, "context", "context"),
        (#"{"context":{"x":1},"fields":{},"deleted":[]}"#, "context", "context"),
        (#"{"context":{"0000000000000000000000000000000a":0},"fields":{},"deleted":[]}"#, "context", "context"),
        (
            #"{"context":{"0000000000000000000000000000000a":"1"},"fields":{},"deleted":[]}"#, "context.0000000000000000000000000000000a",
            "context.0000000000000000000000000000000a"
        ),
        (#"{"context":{},"fields":{"f":{"string":"x"}},"deleted":[]}"#, "fields.f", "fields.f"),
        (
            #"{"context":{},"fields":{"f":[{"replica":"0000000000000000000000000000000a","counter":1,"value":{"int":1.5}}]},"deleted":[]}"#,
            "fields.f.Index 0.value.int", ""
        ),
        (
            #"{"context":{},"fields":{"f":[{"replica":"0000000000000000000000000000000a","counter":0,"value":{"int":1}}]},"deleted":[]}"#,
            "fields.f.Index 0.counter", "fields.f.Index 0.counter"
        ),
        (#"{"context":{},"fields":{"f":[{"replica":"0000000000000000000000000000000a","counter":1,"value":{"int":1}}]},"deleted":[]}"#, "", ""),
        (
            #"{"context":{"0000000000000000000000000000000a":1},"fields":{"f":[{"replica":"0000000000000000000000000000000a","counter":1,"value":{"null":false}}]},"deleted":[]}"#,
            "fields.f.Index 0.value.null", "fields.f.Index 0.value.null"
        ),
        (
            #"{"context":{"0000000000000000000000000000000a":1},"fields":{"f":[{"replica":"0000000000000000000000000000000a","counter":1,"value":{}}]},"deleted":[]}"#,
            "fields.f.Index 0.value", "fields.f.Index 0.value"
        ),
        (
            #"{"context":{"0000000000000000000000000000000a":1},"fields":{},"deleted":[{"replica":"0000000000000000000000000000000a","counter":1,"x":2}]}"#,
            "deleted.Index 0.x", "deleted.Index 0.x"
        ),
        (#"{"context":{},"fields":{},"deleted":[]"#, "", ""),
        (#"{"context":{},"fields":{},"deleted":[]} x"#, "", ""),
        (#"{"context":{},"fields":{},"deleted":["\ud800"]}"#, "", "deleted.Index 0"),
        (#"{"context":{},"fields":{},"deleted":[01]}"#, "", "deleted.Index 0"),
        ("", "", ""),
    ])
    func refusesWhatFoundationRefuses(json: String, path: String, foundationPath: String) throws {
        let data = Data(json.utf8)
        do {
            _ = try Self.foundationDecode(RecordState.self, data)
            Issue.record("Foundation accepted \(json)")
        } catch let error as DecodingError {
            #expect(Self.path(of: error) == foundationPath)
        }
        do {
            _ = try CanonicalJSON.decode(RecordState.self, from: data)
            Issue.record("accepted \(json)")
        } catch let error as DecodingError {
            #expect(Self.path(of: error) == path)
            #expect(!Self.message(of: error).isEmpty)
        }
    }

    /// Where Foundation is lax, the wire codec refuses: a key twice, a trailing comma, a value
    /// object with a stray key, invalid UTF-8, nesting deep enough to exhaust a stack.
    @Test(arguments: [
        #"{"context":{},"context":{},"fields":{},"deleted":[]}"#,
        #"{"context":{},"fields":{},"deleted":[],}"#,
        #"{"context":{},"fields":{},"deleted":[1,]}"#,
        #"{"context":{"0000000000000000000000000000000a":1},"fields":{"f":[{"replica":"0000000000000000000000000000000a","counter":1,"value":{"int":1,"x":2}}]},"deleted":[]}"#,
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
    ])
    func isStricterWhereFoundationIsLax(json: String) {
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(RecordState.self, from: Data(json.utf8)) }
    }

    @Test func refusesToWriteANumberJSONCannotCarry() {
        for number in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try CanonicalJSON.encode(Value.double(number)) }
            #expect(throws: EncodingError.self) { try Self.foundationEncode(Value.double(number)) }
        }
    }

    @Test func refusesInvalidUTF8() {
        var bytes = Array(#"{"context":{},"fields":{},"deleted":[],"x"#.utf8)
        bytes.append(contentsOf: [0xFF, 0x22, 0x3A, 0x31, 0x7D])
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(RecordState.self, from: Data(bytes)) }
    }

    /// Mutated documents never crash the reader, and whatever it accepts Foundation accepts with the
    /// same value.
    @Test func acceptsNothingFoundationWouldReadDifferently() throws {
        var generator = SeededGenerator(seed: 0xF022)
        let samples = try Self.historyStates().filter { !$0.isEmpty }.prefix(50).map(Self.foundationEncode)
        let alphabet = Array(#"{}[],:"\ 0123456789-+.eEtrufalsn"#.utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xFF]
        var accepted = 0
        for round in 0..<4_000 {
            var bytes = Array(samples[round % samples.count])
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
                }
            }
            let data = Data(bytes)
            guard let mine = try? CanonicalJSON.decode(RecordState.self, from: data) else { continue }
            accepted += 1
            #expect(try Self.foundationDecode(RecordState.self, data) == mine, "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(accepted > 50, "some mutations (inside strings, digits) stay valid")
    }

    static func path(of error: DecodingError) -> String {
        let context: DecodingError.Context
        var keys: [String] = []
        switch error {
        case .keyNotFound(let key, let found):
            context = found
            keys = [key.stringValue]
        case .typeMismatch(_, let found), .valueNotFound(_, let found), .dataCorrupted(let found):
            context = found
        @unknown default:
            return "?"
        }
        return (context.codingPath.map(\.stringValue) + keys).joined(separator: ".")
    }

    static func message(of error: DecodingError) -> String {
        switch error {
        case .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.debugDescription
        @unknown default:
            ""
        }
    }
}
