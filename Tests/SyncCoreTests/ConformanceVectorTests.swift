import Foundation
import SyncCore
import Testing

/// Replays every case in Protocol/vectors/*.json, the published conformance vectors.
struct ConformanceVectorTests {
    @Test(arguments: try VectorCase.loadAll())
    func vectorReplays(_ vector: VectorCase) throws {
        switch Result(catching: { try vector.run() }) {
        case .success(let state):
            guard case .state(let expected, let conflict, let values) = vector.expect else {
                Issue.record("expected error \(vector.expect), got a state")
                return
            }
            #expect(try CanonicalJSON.encode(state) == CanonicalJSON.encode(expected), "canonical bytes differ")
            #expect(state == expected)
            #expect(state.conflict == conflict)
            #expect(state.currentValues == values)
        case .failure(let error as SyncCoreError):
            #expect(vector.expect == .error(error.code.name), "\(error)")
        case .failure(let error):
            throw error
        }
    }

    @Test func thereAreAtLeastFortyVectorsCoveringEveryOperation() throws {
        let cases = try VectorCase.loadAll()
        #expect(cases.count >= 40)
        #expect(Set(cases.map(\.op)) == ["join", "write", "delete", "resolve"])
        let files = Set(cases.map(\.file))
        for required in ["merge", "delivery", "three-way", "edit-vs-delete", "resolution", "integrity", "local-write"] {
            #expect(files.contains(required))
        }
    }
}

/// One conformance case, decoded from the published JSON.
struct VectorCase: Decodable, Sendable, CustomTestStringConvertible {
    enum Expectation: Equatable, Sendable {
        case state(RecordState, RecordConflict?, [String: Value]?)
        case error(String)
    }

    var file = ""
    let name: String
    let op: String
    let inputs: [RecordState]
    let replica: ReplicaID?
    let values: [String: Value]?
    let resolution: Resolution?
    let seen: VersionVector?
    let expect: Expectation

    var testDescription: String { "\(file): \(name)" }

    enum CodingKeys: String, CodingKey {
        case name, op, inputs, replica, values, resolution, seen, expect
    }

    enum ExpectKeys: String, CodingKey {
        case state, conflict, values, error
    }

    enum ResolutionKeys: String, CodingKey {
        case write, delete
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        op = try container.decode(String.self, forKey: .op)
        inputs = try container.decode([RecordState].self, forKey: .inputs)
        replica = try container.decodeIfPresent(ReplicaID.self, forKey: .replica)
        values = try container.decodeIfPresent([String: Value].self, forKey: .values)
        seen = try container.decodeIfPresent(VersionVector.self, forKey: .seen)
        if container.contains(.resolution) {
            let nested = try container.nestedContainer(keyedBy: ResolutionKeys.self, forKey: .resolution)
            resolution = nested.contains(.delete) ? .delete : .write(try nested.decode([String: Value].self, forKey: .write))
        } else {
            resolution = nil
        }
        let expected = try container.nestedContainer(keyedBy: ExpectKeys.self, forKey: .expect)
        if let error = try expected.decodeIfPresent(String.self, forKey: .error) {
            expect = .error(error)
        } else {
            expect = .state(
                try expected.decode(RecordState.self, forKey: .state),
                try expected.decodeIfPresent(RecordConflict.self, forKey: .conflict),
                try expected.decodeIfPresent([String: Value].self, forKey: .values)
            )
        }
    }

    func run() throws -> RecordState {
        guard var state = inputs.first else { throw VectorError("case has no inputs") }
        switch op {
        case "join":
            for other in inputs.dropFirst() { try state.join(other) }
        case "write":
            try state.write(try require(values), by: try require(replica))
        case "delete":
            try state.delete(by: try require(replica))
        case "resolve":
            try state.resolve(try require(resolution), by: try require(replica), seen: seen)
        default:
            throw VectorError("unknown op \(op)")
        }
        return state
    }

    private func require<T>(_ value: T?) throws -> T {
        guard let value else { throw VectorError("\(name): missing a parameter for \(op)") }
        return value
    }

    static func loadAll() throws -> [VectorCase] {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocol/vectors")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        guard !files.isEmpty else { throw VectorError("no vectors in \(directory.path)") }
        return try files.flatMap { file in
            struct VectorFile: Decodable { let cases: [VectorCase] }
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            return try JSONDecoder().decode(VectorFile.self, from: data).cases.map { vector in
                var named = vector
                named.file = String(file.dropLast(".json".count))
                return named
            }
        }
    }
}

struct VectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
