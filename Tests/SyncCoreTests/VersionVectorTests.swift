import Foundation
import SyncCore
import Testing

struct VersionVectorTests {
    let a = Replicas.a
    let b = Replicas.b

    @Test func emptyVectorHasSeenNothing() {
        let empty = VersionVector()
        #expect(empty.isEmpty)
        #expect(empty[a] == 0)
        #expect(!empty.contains(Dot(replica: a, counter: 1)))
    }

    @Test func advanceMintsConsecutiveDots() throws {
        var vector = VersionVector()
        #expect(try vector.advance(a) == Dot(replica: a, counter: 1))
        #expect(try vector.advance(a) == Dot(replica: a, counter: 2))
        #expect(vector.contains(Dot(replica: a, counter: 1)))
        #expect(!vector.contains(Dot(replica: a, counter: 3)))
    }

    @Test func advanceRefusesToPassTheLargestCounter() {
        var vector = VersionVector([a: VersionVector.maxCounter])
        #expect(throws: SyncCoreError.self) { try vector.advance(a) }
        #expect(vector[a] == VersionVector.maxCounter)
    }

    @Test(arguments: [
        ([1, 0], [1, 0], CausalOrder.equal),
        ([1, 0], [2, 0], .before),
        ([2, 1], [1, 1], .after),
        ([2, 0], [1, 1], .concurrent),
        ([0, 0], [0, 1], .before),
    ])
    func compareOrdersContexts(left: [UInt64], right: [UInt64], order: CausalOrder) {
        let lhs = VersionVector([a: left[0], b: left[1]])
        let rhs = VersionVector([a: right[0], b: right[1]])
        #expect(lhs.compare(rhs) == order)
    }

    @Test func mergeTakesTheLargerCounterPerReplica() {
        let merged = VersionVector([a: 3, b: 1]).merged(with: VersionVector([a: 1, b: 4]))
        #expect(merged == VersionVector([a: 3, b: 4]))
    }

    @Test func zeroCountersAreNotStored() {
        #expect(VersionVector([a: 0]) == VersionVector())
    }

    @Test func encodesAsAnObjectOfHexIdsAndRefusesZero() throws {
        let data = try CanonicalJSON.encode(VersionVector([b: 2, a: 1]))
        #expect(String(decoding: data, as: UTF8.self) == #"{"\#(a)":1,"\#(b)":2}"#)
        #expect(try CanonicalJSON.decode(VersionVector.self, from: data) == VersionVector([a: 1, b: 2]))
        #expect(throws: DecodingError.self) {
            try CanonicalJSON.decode(VersionVector.self, from: Data(#"{"\#(a)":0}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try CanonicalJSON.decode(VersionVector.self, from: Data(#"{"not-a-replica":1}"#.utf8))
        }
    }
}
