import Foundation
import Reporting
import SyncCore
import Testing

/// Replays Protocol/vectors/domain/*.json, the domain conformance cases of DOMAIN-PROTOCOL.md §12,
/// against ``RecordRules/violation(key:scope:state:stored:bySchool:lookup:)``: the function the
/// server's push calls for every record of a domain collection, after its scope checks.
///
/// Cases marked `"checkedBy": "server"` are decided before the domain rules, by the server's scope
/// checks (`PushRules.decide` and `CollectionRules` in SyncServer); they are left out here and
/// belong to a server-side test.
struct DomainVectorTests {
    @Test(arguments: try DomainVector.loadAll().filter { $0.checkedBy == .rules })
    func vectorHolds(_ vector: DomainVector) throws {
        try vector.requireReachesTheDomainRules()
        let (outcome, message) = try vector.outcome()
        let detail = message.map { " (" + $0 + ")" } ?? ""
        #expect(outcome == vector.expect, "\(vector.file): \(vector.name) — expected \(vector.expect), got \(outcome)\(detail)")
    }

    @Test func theVectorsCoverTheDomainCollectionsAndCodes() throws {
        let vectors = try DomainVector.loadAll()
        #expect(vectors.count >= 40)
        #expect(Set(vectors.map { "\($0.file)/\($0.name)" }).count == vectors.count, "case names are unique")
        let collections = Set(vectors.map(\.collection))
        for collection in ["reports", "indicator_values", "assignments"] {
            #expect(collections.contains(collection), "no case for \(collection)")
        }
        let codes = Set(vectors.compactMap(\.expect.rejectionCode))
        for code in ["validation", "scope_mismatch", "unknown_measure", "unknown_indicator", "not_assigned", "report_locked", "scope_denied"] {
            #expect(codes.contains(code), "no case expects \(code)")
        }
        // The server decides these before it looks at a record's content; the domain rules decide the rest.
        let serverCodes: Set = ["scope_denied", "unknown_collection", "wrong_scope_kind", "integrity", "too_large"]
        for vector in vectors {
            guard let code = vector.expect.rejectionCode else { continue }
            #expect(
                serverCodes.contains(code) == (vector.checkedBy == .server),
                "\(vector.file): \(vector.name): \(code) is checked by \(serverCodes.contains(code) ? "the server" : "the domain rules")"
            )
        }
    }
}

/// One domain conformance case, decoded from the published JSON.
struct DomainVector: Decodable, Sendable, CustomTestStringConvertible {
    enum Checker: String, Decodable, Sendable {
        /// Decided by ``RecordRules`` (Reporting).
        case rules
        /// Decided by the server's scope checks before the domain rules run.
        case server
    }

    /// `"accepted"` or `{"rejected": "<code>"}`.
    enum Outcome: Decodable, Sendable, Equatable, CustomStringConvertible {
        case accepted
        case rejected(String)

        enum Keys: String, CodingKey {
            case rejected
        }

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                guard text == "accepted" else {
                    throw DecodingError.dataCorrupted(
                        .init(codingPath: decoder.codingPath, debugDescription: "expect is \"accepted\" or {\"rejected\": code}, not \(text)")
                    )
                }
                self = .accepted
            } else {
                let container = try decoder.container(keyedBy: Keys.self)
                self = .rejected(try container.decode(String.self, forKey: .rejected))
            }
        }

        var rejectionCode: String? {
            switch self {
            case .accepted: return nil
            case .rejected(let code): return code
            }
        }

        var description: String {
            switch self {
            case .accepted: return "accepted"
            case .rejected(let code): return "rejected \(code)"
            }
        }
    }

    /// Who pushes: `school` (a device of `school`), `bureau` or `admin`.
    struct Pusher: Decodable, Sendable {
        let role: String
        let school: String?
    }

    /// A record the server holds before the push.
    struct TrackedRecord: Decodable, Sendable {
        let collection: String
        let id: String
        let scope: Scope
        let values: [String: Value]?
        let deleted: Bool?
    }

    /// A stored record's scope and state.
    struct Stored: Sendable {
        let scope: Scope
        let state: RecordState
    }

    var file = ""
    /// Role name (`school`, `bureau`, `admin`, `store`) → the replica that writes for it.
    var replicas: [String: ReplicaID] = [:]
    /// The file's store, shared by its cases.
    var store: [TrackedRecord] = []

    let name: String
    let note: String
    let checkedBy: Checker
    let principal: Pusher
    let collection: String
    let id: String
    let scope: Scope
    let values: [String: Value]?
    let delete: Bool?
    let given: [TrackedRecord]?
    let expect: Outcome

    enum CodingKeys: String, CodingKey {
        case name, note, checkedBy, principal, collection, id, scope, values, delete, given, expect
    }

    var testDescription: String { "\(file): \(name)" }

    var key: RecordKey { RecordKey(collection: collection, id: id) }

    func replica(_ role: String) throws -> ReplicaID {
        guard let replica = replicas[role] else { throw DomainVectorError("\(file): no replica for \(role)") }
        return replica
    }

    /// What the server holds before the push: the file's store, then the case's `given` records
    /// (which replace stored records of the same key), each written by the `store` replica.
    func storedRecords() throws -> [RecordKey: Stored] {
        let writer = try replica("store")
        var stored: [RecordKey: Stored] = [:]
        for record in store + (given ?? []) {
            var state = RecordState()
            try state.write(record.values ?? [:], by: writer)
            if record.deleted == true { try state.delete(by: writer) }
            stored[RecordKey(collection: record.collection, id: record.id)] = Stored(scope: record.scope, state: state)
        }
        return stored
    }

    /// The server's checks that come before the domain rules (PushRules.decide): the scope is
    /// writable by the principal, the collection lives in that kind of scope, and a stored record
    /// lives in the same scope. A case checked by the rules must pass them all, or its outcome
    /// would not be the server's.
    func requireReachesTheDomainRules() throws {
        if principal.role == "school" {
            let school = try #require(principal.school, "\(name): a school principal names its school")
            let own = try Scope.school(school)
            try #require(scope == own, "\(name): a device writes only its own school's scope (else scope_denied)")
        }
        let known = DomainSchema.all.first(where: { $0.name == collection })
        let schema = try #require(known, "\(name): unknown collection \(collection)")
        try #require((scope == .catalog) == (schema.scopeKind == .catalog), "\(name): \(collection) does not live in \(scope)")
        if let stored = try storedRecords()[key] {
            try #require(stored.scope == scope, "\(name): the record is stored in \(stored.scope)")
        }
    }

    /// The pushed record's state joined with what the server holds, as the server checks it: the
    /// stored state (if any) with the principal's write or delete on top, then the domain rules.
    func outcome() throws -> (Outcome, String?) {
        let stored = try storedRecords()
        let before = stored[key]?.state
        var state = before ?? RecordState()
        let writer = try replica(principal.role)
        if delete == true {
            try state.delete(by: writer)
        } else {
            try state.write(values ?? [:], by: writer)
        }
        let states = stored.mapValues(\.state)
        let lookup: (RecordKey) -> RecordState? = { states[$0] }
        let violation = RecordRules.violation(
            key: key,
            scope: scope,
            state: state,
            stored: before,
            bySchool: principal.role == "school",
            lookup: lookup
        )
        guard let violation else { return (.accepted, nil) }
        return (.rejected(violation.code.rawValue), violation.message)
    }

    static func loadAll() throws -> [DomainVector] {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocol/vectors/domain")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        guard !files.isEmpty else { throw DomainVectorError("no domain vectors in \(directory.path)") }
        return try files.flatMap { (file: String) throws -> [DomainVector] in
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            let document = try JSONDecoder().decode(DomainVectorFile.self, from: data)
            return document.cases.map { vector in
                var named = vector
                named.file = String(file.dropLast(".json".count))
                named.replicas = document.replicas
                named.store = document.store
                return named
            }
        }
    }
}

/// A file of domain vectors: the server's store before each case, and the cases.
struct DomainVectorFile: Decodable {
    let description: String
    let replicas: [String: ReplicaID]
    let store: [DomainVector.TrackedRecord]
    let cases: [DomainVector]
}

struct DomainVectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
