import SchoolSyncTestSupport
@testable import SyncCore

/// A randomised multi-replica history of one record, run against a reference model of causality.
///
/// Each replica keeps its RecordState and, beside it, the explicit set of events it has seen.
/// Messages (whole states with their event sets) are sent into a network that drops, duplicates
/// and reorders them. After a final full exchange the oracle derives, from the event graph alone,
/// which writes must survive: a write of field f survives unless a later event that saw it wrote f
/// or deleted the record; a delete survives unless any later event saw it.
struct History {
    typealias Join = (RecordState, RecordState) throws -> RecordState

    enum Kind: Equatable {
        case write([String: Value])
        case delete
    }

    struct Event {
        let dot: Dot
        let kind: Kind
        /// Every event the author had seen when it wrote: its causal past.
        let past: Set<Dot>
    }

    struct Message {
        let state: RecordState
        let seen: Set<Dot>
    }

    static let fieldNames = ["status", "enrolment", "narrative", "evidence"]
    static let valuePool: [Value] = [.string("done"), .string("at_risk"), .int(412), .int(415), .double(112.6), .bool(true), .null]

    let replicas: [ReplicaID]
    var states: [RecordState]
    var seen: [Set<Dot>]
    var events: [Dot: Event] = [:]
    var network: [Message] = []
    var snapshots: [RecordState] = []
    var generator: SeededGenerator
    let join: Join
    var stats = Stats()

    struct Stats {
        var writes = 0, deletes = 0, resolutions = 0, refusals = 0, deliveries = 0, drops = 0, duplicates = 0, conflictsSeen = 0
    }

    init(seed: UInt64, replicaCount: Int, join: @escaping Join = { try $0.joined(with: $1) }) {
        generator = SeededGenerator(seed: seed)
        var ids: [ReplicaID] = []
        for _ in 0..<replicaCount { ids.append(.random(using: &generator)) }
        replicas = ids
        states = Array(repeating: RecordState(), count: replicaCount)
        seen = Array(repeating: [], count: replicaCount)
        self.join = join
    }

    // MARK: Steps

    mutating func run(steps: Int) throws {
        for _ in 0..<steps {
            let replica = Int.random(in: 0..<replicas.count, using: &generator)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<35: try localWrite(at: replica)
            case 35..<42: try localDelete(at: replica)
            case 42..<62: send(from: replica)
            default: try deliver()
            }
            if Int.random(in: 0..<4, using: &generator) == 0 { snapshots.append(states[replica]) }
        }
    }

    private mutating func localWrite(at replica: Int) throws {
        var values: [String: Value] = [:]
        for name in Self.fieldNames.shuffled(using: &generator).prefix(Int.random(in: 0...2, using: &generator)) {
            values[name] = Self.valuePool.randomElement(using: &generator)
        }
        var state = states[replica]
        do {
            let dot = try state.write(values, by: replicas[replica])
            record(Event(dot: dot, kind: .write(values), past: seen[replica]), at: replica, state: state)
            stats.writes += 1
        } catch {
            guard error.code == .conflicted else { throw error }
            stats.refusals += 1
            try resolve(at: replica)
        }
    }

    private mutating func localDelete(at replica: Int) throws {
        var state = states[replica]
        do {
            let dot = try state.delete(by: replicas[replica])
            record(Event(dot: dot, kind: .delete, past: seen[replica]), at: replica, state: state)
            stats.deletes += 1
        } catch {
            guard error.code == .conflicted else { throw error }
            stats.refusals += 1
            try resolve(at: replica)
        }
    }

    /// Resolves the replica's conflict: sometimes by delete, otherwise by picking a value (or a new one) per field.
    private mutating func resolve(at replica: Int) throws {
        var state = states[replica]
        stats.conflictsSeen += 1
        let resolution: Resolution
        if state.isDeleteConflict && Bool.random(using: &generator) {
            resolution = .delete
        } else {
            var values: [String: Value] = [:]
            for name in state.conflictingFields {
                let candidates = state.fields[name]?.distinctValues ?? []
                values[name] =
                    Bool.random(using: &generator) ? candidates.randomElement(using: &generator) : Self.valuePool.randomElement(using: &generator)
            }
            if state.isDeleteConflict {
                for (name, register) in state.fields where values[name] == nil { values[name] = register.entries.first?.value }
            }
            resolution = .write(values)
        }
        let dot = try state.resolve(resolution, by: replicas[replica], seen: state.context)
        let kind: Kind
        switch resolution {
        case .write(let values): kind = .write(values)
        case .delete: kind = .delete
        }
        record(Event(dot: dot, kind: kind, past: seen[replica]), at: replica, state: state)
        stats.resolutions += 1
    }

    private mutating func record(_ event: Event, at replica: Int, state: RecordState) {
        precondition(events[event.dot] == nil, "dot minted twice: \(event.dot)")
        events[event.dot] = event
        states[replica] = state
        seen[replica].insert(event.dot)
    }

    private mutating func send(from replica: Int) {
        network.append(Message(state: states[replica], seen: seen[replica]))
    }

    /// Delivers a random message to a random replica; it may be lost or stay in the network to be delivered again.
    private mutating func deliver() throws {
        guard !network.isEmpty else { return }
        let index = Int.random(in: 0..<network.count, using: &generator)
        let message = network[index]
        switch Int.random(in: 0..<10, using: &generator) {
        case 0..<2:
            network.remove(at: index)
            stats.drops += 1
            return
        case 2..<4:
            stats.duplicates += 1
        default:
            network.remove(at: index)
        }
        let target = Int.random(in: 0..<replicas.count, using: &generator)
        try receive(message, at: target)
        stats.deliveries += 1
    }

    mutating func receive(_ message: Message, at replica: Int) throws {
        states[replica] = try join(states[replica], message.state)
        seen[replica].formUnion(message.seen)
    }

    /// Every replica sends its state to every other: after this, all must be identical.
    mutating func exchangeEverything() throws {
        let messages = replicas.indices.map { Message(state: states[$0], seen: seen[$0]) }
        for target in replicas.indices {
            for message in messages { try receive(message, at: target) }
        }
    }

    // MARK: Oracle

    /// The context a replica's state must carry: exactly the events it has seen, with no gaps.
    func expectedContext(of replica: Int) -> VersionVector? {
        var counters: [ReplicaID: UInt64] = [:]
        for dot in seen[replica] { counters[dot.replica] = max(counters[dot.replica] ?? 0, dot.counter) }
        for (id, top) in counters where (1...top).contains(where: { !seen[replica].contains(Dot(replica: id, counter: $0)) }) {
            return nil
        }
        return VersionVector(counters)
    }

    /// The state the event graph says every replica must hold once all events are known everywhere.
    func expectedFinalState() throws -> RecordState {
        let all = Array(events.values)
        var registers: [String: [FieldRegister.Entry]] = [:]
        var deletes: [Dot] = []
        var context: [ReplicaID: UInt64] = [:]
        for event in all {
            context[event.dot.replica] = max(context[event.dot.replica] ?? 0, event.dot.counter)
            let later = all.filter { $0.past.contains(event.dot) }
            switch event.kind {
            case .delete:
                if later.isEmpty { deletes.append(event.dot) }
            case .write(let values):
                for (name, value) in values where !later.contains(where: { Self.replaces($0, field: name) }) {
                    registers[name, default: []].append(FieldRegister.Entry(dot: event.dot, value: value))
                }
            }
        }
        var fields: [String: FieldRegister] = [:]
        for (name, entries) in registers { fields[name] = try FieldRegister(entries: entries) }
        return try RecordState(context: VersionVector(context), fields: fields, deleted: deletes)
    }

    /// Whether an event that saw a write of `field` replaces it: it writes the field or deletes the record.
    static func replaces(_ event: Event, field: String) -> Bool {
        switch event.kind {
        case .write(let values): values[field] != nil
        case .delete: true
        }
    }
}
