import SchoolSyncTestSupport
import Foundation
import SyncCore
import Testing

struct ValueAndNameTests {
    @Test(arguments: [
        (Value.string("九年义务教育巩固率"), #"{"string":"九年义务教育巩固率"}"#),
        (.int(-42), #"{"int":-42}"#),
        (.double(112.6), #"{"double":112.6}"#),
        (.bool(true), #"{"bool":true}"#),
        (.null, #"{"null":true}"#),
    ])
    func valuesEncodeAsTaggedObjects(value: Value, json: String) throws {
        #expect(String(decoding: try CanonicalJSON.encode(value), as: UTF8.self) == json)
        #expect(try CanonicalJSON.decode(Value.self, from: Data(json.utf8)) == value)
    }

    @Test func integerAndDoubleStayDistinct() throws {
        let three = try CanonicalJSON.decode(Value.self, from: Data(#"{"int":3}"#.utf8))
        let threePointZero = try CanonicalJSON.decode(Value.self, from: Data(#"{"double":3.0}"#.utf8))
        #expect(three == .int(3))
        #expect(threePointZero == .double(3))
        #expect(three != threePointZero)
    }

    @Test(arguments: [
        #"{}"#, #"{"int":1,"string":"x"}"#, #"{"null":false}"#, #"{"int":1.5}"#, #"{"text":"x"}"#, #""plain""#,
    ])
    func malformedValuesAreRefused(json: String) {
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(Value.self, from: Data(json.utf8)) }
    }

    @Test func numbersMustBeFiniteAndNegativeZeroFolds() throws {
        #expect(throws: SyncCoreError.self) { try Value.number(.nan) }
        #expect(throws: SyncCoreError.self) { try Value.number(.infinity) }
        #expect(try Value.number(-0.0) == .double(0))
        #expect(String(decoding: try CanonicalJSON.encode(try Value.number(-0.0)), as: UTF8.self) == #"{"double":0}"#)
    }

    @Test func oversizedStringsAreRefused() {
        let big = Value.string(String(repeating: "x", count: SyncLimits.maxStringBytes + 1))
        #expect(throws: SyncCoreError.self) { try big.validate() }
        #expect(throws: SyncCoreError.self) { try RecordState().writing(["narrative": big], by: Replicas.a) }
    }

    @Test func replicaIDsPrintAndParseAs32LowercaseHexDigits() throws {
        var generator = SeededGenerator(seed: 7)
        let id = ReplicaID.random(using: &generator)
        #expect(id.description.count == 32)
        #expect(try ReplicaID(parsing: id.description) == id)
        #expect(ReplicaID(high: 1, low: 2).description == "00000000000000010000000000000002")
        for bad in ["", "ABCDEFABCDEFABCDEFABCDEFABCDEFAB", String(repeating: "a", count: 31), String(repeating: "g", count: 32)] {
            #expect(throws: SyncCoreError.self) { try ReplicaID(parsing: bad) }
        }
        #expect(ReplicaID.random() != ReplicaID.random())
    }

    @Test(arguments: ["reports", "measures", "school_contacts", "a1"])
    func validCollectionNames(name: String) throws {
        try RecordKey(collection: name, id: "r1").validate()
    }

    @Test(arguments: ["", "Reports", "1reports", "_x", "re-ports", "报告", String(repeating: "a", count: 65)])
    func invalidCollectionNames(name: String) {
        #expect(throws: SyncCoreError.self) { try RecordKey(collection: name, id: "r1").validate() }
    }

    @Test func recordIDsAreBoundedAndFreeOfControlCharacters() throws {
        try RecordKey(collection: "reports", id: "qx-zhuoran/2025-S1/m3.2").validate()
        try RecordKey(collection: "reports", id: "七星区-卓然学校").validate()
        for bad in ["", "a\nb", String(repeating: "x", count: SyncLimits.maxIDBytes + 1)] {
            #expect(throws: SyncCoreError.self) { try RecordKey(collection: "reports", id: bad).validate() }
        }
    }

    @Test func fieldNamesAreColumnNames() throws {
        for good in ["narrative", "Enrolment2025", "_private"] { try RecordKey.validateFieldName(good) }
        for bad in ["", "2x", "with space", "a-b", "名称"] {
            #expect(throws: SyncCoreError.self) { try RecordKey.validateFieldName(bad) }
        }
    }

    @Test func scopesAreCatalogOrOneSchool() throws {
        #expect(try Scope(parsing: "catalog") == .catalog)
        let school = try Scope.school("qx-zhuoran")
        #expect(school.rawValue == "school:qx-zhuoran")
        #expect(school.schoolID == "qx-zhuoran")
        #expect(Scope.catalog.schoolID == nil)
        for bad in ["", "school:", "school:a b", "bureau", "Catalog", "school:" + String(repeating: "x", count: 129)] {
            #expect(throws: SyncCoreError.self) { try Scope(parsing: bad) }
        }
    }

    @Test func cursorsAndReceiptsRoundTrip() throws {
        var generator = SeededGenerator(seed: 11)
        let epoch = Epoch.random(using: &generator)
        let cursor = Cursor(epoch: epoch, seq: 42)
        #expect(try Cursor(parsing: cursor.description) == cursor)
        let receipt = PushReceipt(epoch: epoch, sequence: 3)
        #expect(try PushReceipt(parsing: receipt.description) == receipt)
        for bad in ["", "0", "\(epoch)", "\(epoch).", "\(epoch).-1", "\(epoch).1.2", "xyz.3", "\(epoch).١"] {
            #expect(throws: SyncCoreError.self) { try Cursor(parsing: bad) }
        }
    }

    @Test func batchIDsAreShortAndPlain() throws {
        #expect(try BatchID(parsing: "3f2a-batch_01").rawValue == "3f2a-batch_01")
        for bad in ["", "has space", String(repeating: "x", count: 65), "ü"] {
            #expect(throws: SyncCoreError.self) { try BatchID(parsing: bad) }
        }
        #expect(BatchID.random() != BatchID.random())
    }

    /// PROTOCOL.md §2.2: texts compare by their exact UTF-8 bytes, never by canonical equivalence,
    /// wherever equality decides something (capture, "same value" in conflicts, unchanged pushes, keys).
    @Test(arguments: [
        ("caf\u{E9} r\u{E9}sum\u{E9}", "cafe\u{301} re\u{301}sume\u{301}"),  // NFC and NFD
        ("\u{212A}", "K"),  // KELVIN SIGN is canonically equivalent to ASCII K
        ("\u{AC00}", "\u{1100}\u{1161}"),  // a Hangul syllable and its jamo
    ])
    func equivalentButDifferentTextsAreDifferent(_ a: String, _ b: String) throws {
        #expect(a == b, "Swift's String == calls these equal")
        #expect(Value.string(a) != Value.string(b))
        #expect(Set([Value.string(a), Value.string(b)]).count == 2)
        #expect(Value.string(a) == Value.string(String(decoding: Array(a.utf8), as: UTF8.self)))
        let keyA = RecordKey(collection: "reports", id: a)
        let keyB = RecordKey(collection: "reports", id: b)
        #expect(keyA != keyB)
        #expect(Set([keyA, keyB]).count == 2)
        #expect((keyA < keyB) == Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)), "keys sort as SQLite's BINARY collation")
        // Two concurrent writes of equivalent texts are two distinct values: a conflict, so
        // no replica keeps different bytes behind an "equal" value.
        let x = ReplicaID(high: 0xAAAA_AAAA_AAAA_AAAA, low: 0xAAAA_AAAA_AAAA_AAAA)
        let y = ReplicaID(high: 0xBBBB_BBBB_BBBB_BBBB, low: 0xBBBB_BBBB_BBBB_BBBB)
        var left = RecordState()
        try left.write(["narrative": .string(a)], by: x)
        var right = RecordState()
        try right.write(["narrative": .string(b)], by: y)
        let joined = try left.joined(with: right)
        #expect(joined.conflictingFields == ["narrative"])
        var same = RecordState()
        try same.write(["narrative": .string(a)], by: y)
        #expect(try left.joined(with: same).isConflicted == false, "the same bytes twice are no conflict")
    }
}

/// The range test for control characters in ids agrees with Unicode's general category (Cc)
/// over every scalar.
@Test func idControlCharactersAreExactlyUnicodesCc() {
    var disagreements: [UInt32] = []
    for value in UInt32(0)...0x10FFFF {
        guard let scalar = Unicode.Scalar(value) else { continue }
        let refused = (try? RecordKey(collection: "reports", id: "a" + String(Character(scalar))).validate()) == nil
        if refused != (scalar.properties.generalCategory == .control) { disagreements.append(value) }
    }
    #expect(disagreements.isEmpty, "\(disagreements.prefix(10).map { String($0, radix: 16) })")

}
