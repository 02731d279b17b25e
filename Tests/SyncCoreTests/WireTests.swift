import Foundation
import SyncCore
import Testing

struct WireTests {
    let epoch = try! Epoch(parsing: "0123456789abcdef0123456789abcdef")

    func sampleRecord() throws -> SyncRecord {
        SyncRecord(key: RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/m1"), scope: try .school("qx-zhuoran"), state: try .report())
    }

    @Test func recordsAreFlatObjectsInCanonicalForm() throws {
        let json = String(decoding: try CanonicalJSON.encode(try sampleRecord()), as: UTF8.self)
        let a = Replicas.a
        #expect(
            json
                == #"{"collection":"reports","context":{"\#(a)":1},"deleted":[],"fields":{"enrolment":[{"counter":1,"replica":"\#(a)","value":{"int":412}}],"narrative":[{"counter":1,"replica":"\#(a)","value":{"string":"初稿"}}],"status":[{"counter":1,"replica":"\#(a)","value":{"string":"in_progress"}}]},"id":"qx-zhuoran/2025-S1/m1","scope":"school:qx-zhuoran"}"#
        )
        #expect(try CanonicalJSON.decode(SyncRecord.self, from: Data(json.utf8)) == (try sampleRecord()))
    }

    @Test func equalStatesBuiltInDifferentOrdersEncodeToTheSameBytes() throws {
        let base = try RecordState.report(by: Replicas.c)
        let one = try base.writing(["x": .int(1)], by: Replicas.a).joined(with: try base.writing(["y": .int(2)], by: Replicas.b))
        let two = try base.writing(["y": .int(2)], by: Replicas.b).joined(with: try base.writing(["x": .int(1)], by: Replicas.a))
        #expect(try CanonicalJSON.encode(one) == CanonicalJSON.encode(two))
    }

    @Test func pushRequestRoundTripsAndRefusesUnknownKeys() throws {
        let request = PushRequest(
            batch: try BatchID(parsing: "batch-1"),
            replica: Replicas.a,
            receipt: PushReceipt(epoch: epoch, sequence: 4),
            client: "schoolsync/0.1.0",
            records: [try sampleRecord()]
        )
        let data = try CanonicalJSON.encode(request)
        #expect(try CanonicalJSON.decode(PushRequest.self, from: data) == request)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""receipt":"\#(epoch).4""#))
        let tampered = text.replacingOccurrences(of: #""batch":"#, with: #""surprise":1,"batch":"#)
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(PushRequest.self, from: Data(tampered.utf8)) }
    }

    @Test func firstPushHasNoReceipt() throws {
        let json = #"{"batch":"b1","replica":"\#(Replicas.a)","records":[]}"#
        let request = try CanonicalJSON.decode(PushRequest.self, from: Data(json.utf8))
        #expect(request.receipt == nil)
        #expect(request.client == nil)
    }

    @Test func pushResponseCarriesOneResultPerRecord() throws {
        let key = RecordKey(collection: "reports", id: "r1")
        let response = PushResponse(
            batch: try BatchID(parsing: "b1"),
            receipt: PushReceipt(epoch: epoch, sequence: 1),
            results: [
                PushResult(key: key, status: .applied),
                PushResult(key: key, status: .conflict, conflictFields: ["enrolment"], deleteConflict: false),
                PushResult(key: key, status: .rejected, reason: RejectReason(code: .reportLocked, message: "报告已审核通过")),
            ]
        )
        let text = String(decoding: try CanonicalJSON.encode(response), as: UTF8.self)
        #expect(text.contains(#"{"collection":"reports","id":"r1","status":"applied"}"#))
        #expect(try CanonicalJSON.decode(PushResponse.self, from: Data(text.utf8)) == response)
    }

    @Test func responsesTolerateKeysAddedByANewerServer() throws {
        let json = #"{"epoch":"\#(epoch)","records":[],"next":"\#(epoch).9","more":false,"serverTime":"2026-11-25"}"#
        let page = try CanonicalJSON.decode(PullResponse.self, from: Data(json.utf8))
        #expect(page.next == Cursor(epoch: epoch, seq: 9))
        #expect(!page.more)
    }

    @Test func errorBodiesHaveCodeMessageAndDetails() throws {
        let body = ErrorBody(error: .replicaStale, message: "This database was restored from a backup.", details: ["replica": "\(Replicas.a)"])
        let text = String(decoding: try CanonicalJSON.encode(body), as: UTF8.self)
        #expect(text == #"{"details":{"replica":"\#(Replicas.a)"},"error":"replica_stale","message":"This database was restored from a backup."}"#)
    }

    @Test(arguments: [
        #"{"collection":"Reports","id":"r1","scope":"catalog","context":{},"fields":{},"deleted":[]}"#,
        #"{"collection":"reports","id":"","scope":"catalog","context":{},"fields":{},"deleted":[]}"#,
        #"{"collection":"reports","id":"r1","scope":"bureau","context":{},"fields":{},"deleted":[]}"#,
        #"{"collection":"reports","id":"r1","scope":"catalog","context":{},"fields":{}}"#,
        #"{"collection":"reports","id":"r1","scope":"catalog","context":{},"fields":{"x":"plain"},"deleted":[]}"#,
        #"{"collection":"reports","id":1,"scope":"catalog","context":{},"fields":{},"deleted":[]}"#,
    ])
    func malformedRecordsAreRefused(json: String) {
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(SyncRecord.self, from: Data(json.utf8)) }
    }
}
