// A libFuzzer target for the wire decoder and the join (issue 11). Not part of the package:
// Scripts/fuzz.sh compiles it together with Sources/SyncCore (which has no dependencies) using
// `swiftc -sanitize=fuzzer,address` and runs it a bounded, seeded number of times.
//
// Any input must either be refused with an error or decode to states for which the properties
// below hold; a trap (overflow, precondition, out-of-bounds) or a broken property is a crash
// libFuzzer reports with the input that caused it.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    // Every body type the server decodes with the hand-written reader, and the bare parser.
    _ = try? CanonicalJSON.strictObjectKeys(in: bytes)
    _ = try? CanonicalJSON.decode(PullResponse.self, from: bytes)
    _ = try? CanonicalJSON.decode(PushResponse.self, from: bytes)
    _ = try? CanonicalJSON.decode(RecordState.self, from: bytes)
    guard let push = try? CanonicalJSON.decode(PushRequest.self, from: bytes) else { return 0 }
    let states = push.records.prefix(8).map(\.state)
    for state in states {
        check(state)
        // Join is idempotent.
        if let twice = try? state.joined(with: state) { require(twice == state, "a ⊔ a ≠ a") }
    }
    for (index, left) in states.enumerated() {
        for right in states.dropFirst(index + 1) {
            // Join is commutative whenever it succeeds (an integrity error must be symmetric too).
            let leftFirst = try? left.joined(with: right)
            let rightFirst = try? right.joined(with: left)
            require((leftFirst == nil) == (rightFirst == nil), "a ⊔ b succeeds only one way")
            if let leftFirst, let rightFirst {
                require(leftFirst == rightFirst, "a ⊔ b ≠ b ⊔ a")
                check(leftFirst)
            }
        }
    }
    // The canonical encoding reads back to the same request.
    if let encoded = try? CanonicalJSON.encode(push) {
        require((try? CanonicalJSON.decode(PushRequest.self, from: encoded)) == push, "encode then decode changed the push")
    }
    return 0
}

/// Properties of one valid state: its encoding round-trips, and the cheap size bound never says
/// "fits" for a state that does not.
private func check(_ state: RecordState) {
    guard let encoded = try? CanonicalJSON.encode(state) else { return }
    require((try? CanonicalJSON.decode(RecordState.self, from: encoded)) == state, "state does not round-trip")
    require(state.encodedSize == encoded.count, "encodedSize disagrees with the encoding")
    for limit in [64, 1_024, encoded.count - 1] where limit >= 0 && encoded.count > limit {
        require(state.mayExceed(encodedBytes: limit), "mayExceed(\(limit)) is false for \(encoded.count) bytes")
    }
    _ = state.currentValues
    _ = state.conflictingFields
}

private func require(_ condition: Bool, _ message: String) {
    if !condition {
        FileHandle.standardError.write(Data("property broken: \(message)\n".utf8))
        abort()
    }
}
