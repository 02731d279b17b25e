import Foundation
import SyncCore
import Testing

/// `CanonicalJSON.encodeWithStates` gives a client the states of a push as text without writing
/// them twice; it must give exactly what encoding the request, and each state alone, gives.
struct PushEncodingTests {
    @Test func theStatesCutFromARequestAreTheStatesEncodedAlone() throws {
        let states = try WireJSONTests.historyStates()
        // Batches of up to 50 records, with and without a receipt and a client name.
        for (index, chunk) in stride(from: 0, to: states.count, by: 50).map({ Array(states[$0..<min($0 + 50, states.count)]) }).enumerated() {
            let records = try chunk.enumerated().map { offset, state in
                SyncRecord(
                    key: RecordKey(collection: "reports", id: "qx-zhuoran/\(index)/m\(offset) \(WireJSONTests.awkwardStrings[offset % WireJSONTests.awkwardStrings.count])"),
                    scope: try Scope(parsing: "school:qx-zhuoran"),
                    state: state
                )
            }
            let request = PushRequest(
                batch: .random(),
                replica: .random(),
                receipt: index.isMultiple(of: 2) ? nil : PushReceipt(epoch: .random(), sequence: UInt64(index + 1)),
                client: index.isMultiple(of: 3) ? nil : "schoolsync/0.1.0",
                records: records
            )
            let encoded = try CanonicalJSON.encodeWithStates(request)
            #expect(encoded.request == (try CanonicalJSON.encode(request)))
            #expect(encoded.states.count == records.count)
            for (state, record) in zip(encoded.states, records) {
                #expect(state == (try CanonicalJSON.encode(record.state)))
            }
        }
    }

    @Test func aRequestWithNoRecordsHasNoStates() throws {
        let request = PushRequest(batch: .random(), replica: .random(), receipt: nil, records: [])
        let encoded = try CanonicalJSON.encodeWithStates(request)
        #expect(encoded.request == (try CanonicalJSON.encode(request)))
        #expect(encoded.states.isEmpty)
    }

    /// The parser keeps an object's members in a list and finds a repeated key by scanning, or
    /// through a set past 16 members: a repeat is refused wherever it is, and keys keep their order.
    @Test(arguments: [1, 2, 15, 16, 17, 40, 1000])
    func aRepeatedKeyIsRefusedAtAnySize(_ count: Int) throws {
        let keys = (0..<count).map { "k\($0)" }
        func document(_ keys: [String]) -> Data {
            Data(("{" + keys.map { "\"\($0)\":1" }.joined(separator: ",") + "}").utf8)
        }
        #expect(try CanonicalJSON.strictObjectKeys(in: document(keys)) == keys)
        for repeated in Set([0, count / 2, count - 1]) {
            #expect(throws: DecodingError.self) { try CanonicalJSON.strictObjectKeys(in: document(keys + [keys[repeated]])) }
        }
        // Canonically equivalent spellings are one key, as they were for the dictionary before.
        #expect(throws: DecodingError.self) { try CanonicalJSON.strictObjectKeys(in: document(keys + ["caf\u{E9}", "cafe\u{301}"])) }
    }
}
