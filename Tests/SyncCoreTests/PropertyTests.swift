import SchoolSyncTestSupport
import Foundation
import Testing

@testable import SyncCore

/// Randomised multi-replica histories (fixed seeds) checked against the event-graph oracle in
/// `History`: convergence, nothing lost unseen, contexts that match what each replica saw.
struct PropertyTests {
    static let historyCount = 1_000

    @Test func randomHistoriesConvergeAndLoseNothing() throws {
        var totals = History.Stats()
        for seed in 1...UInt64(Self.historyCount) {
            var history = History(seed: seed, replicaCount: 3 + Int(seed % 4))
            try history.run(steps: 40 + Int(seed % 81))
            for replica in history.replicas.indices {
                #expect(history.states[replica].context == history.expectedContext(of: replica), "seed \(seed): context ≠ events seen")
            }
            try history.exchangeEverything()
            let expected = try history.expectedFinalState()
            let expectedBytes = try CanonicalJSON.encode(expected)
            for state in history.states {
                let bytes = try CanonicalJSON.encode(state)
                #expect(bytes == expectedBytes, "seed \(seed): a replica differs from the event-graph oracle")
                if bytes != expectedBytes { return }
            }
            totals.writes += history.stats.writes
            totals.deletes += history.stats.deletes
            totals.resolutions += history.stats.resolutions
            totals.refusals += history.stats.refusals
            totals.drops += history.stats.drops
            totals.duplicates += history.stats.duplicates
        }
        print("histories: \(totals)")
        // The histories must actually exercise the hazards, or the laws above prove little.
        #expect(totals.writes > 20_000)
        #expect(totals.deletes > 2_000)
        #expect(totals.resolutions > 500)
        #expect(totals.drops > 1_000)
        #expect(totals.duplicates > 1_000)
    }

    @Test func everyWriteIsPresentOrSeenByTheEventThatReplacedIt() throws {
        for seed in 5_001...5_200 as ClosedRange<UInt64> {
            var history = History(seed: seed, replicaCount: 4)
            try history.run(steps: 60)
            try history.exchangeEverything()
            let final = history.states[0]
            for event in history.events.values {
                guard case .write(let values) = event.kind else { continue }
                for name in values.keys where final.fields[name]?.dots.contains(event.dot) != true {
                    let replacedBy = history.events.values.filter { $0.past.contains(event.dot) && History.replaces($0, field: name) }
                    #expect(!replacedBy.isEmpty, "seed \(seed): write \(event.dot) of \(name) vanished unseen")
                }
            }
        }
    }

    /// The oracle has teeth: a last-writer-wins merge (keep the state whose context is larger)
    /// loses concurrent writes, and the same histories catch it.
    @Test func theOracleCatchesAMergeThatLosesWrites() throws {
        let lastWriterWins: History.Join = { left, right in
            let leftTotal = left.context.counters.values.reduce(0, +)
            let rightTotal = right.context.counters.values.reduce(0, +)
            var winner = leftTotal >= rightTotal ? left : right
            winner.context = left.context.merged(with: right.context)
            return winner
        }
        var caught = 0
        for seed in 1...50 as ClosedRange<UInt64> {
            var history = History(seed: seed, replicaCount: 4, join: lastWriterWins)
            try history.run(steps: 60)
            try history.exchangeEverything()
            if try history.states.contains(where: { try $0 != history.expectedFinalState() }) { caught += 1 }
        }
        #expect(caught >= 40)
    }
}

/// Join's algebra, checked on states taken from real histories (arbitrary random states satisfy
/// the laws too and could not catch the hazards).
struct JoinLawTests {
    static func sampledStates(seed: UInt64) throws -> [RecordState] {
        var history = History(seed: seed, replicaCount: 5)
        try history.run(steps: 80)
        return history.snapshots + history.states
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func joinIsCommutativeAssociativeAndIdempotent(seed: UInt64) throws {
        let states = try Self.sampledStates(seed: seed)
        var generator = SeededGenerator(seed: seed &* 7919)
        #expect(states.count > 10)
        for _ in 0..<50 {
            let x = try #require(states.randomElement(using: &generator))
            let y = try #require(states.randomElement(using: &generator))
            let z = try #require(states.randomElement(using: &generator))
            #expect(try x.joined(with: y) == y.joined(with: x))
            #expect(try x.joined(with: y).joined(with: z) == x.joined(with: y.joined(with: z)))
            #expect(try x.joined(with: x) == x)
            #expect(try x.joined(with: y).joined(with: y) == x.joined(with: y))
        }
    }

    /// The cheap test the rules use says what building every settled value would.
    @Test(arguments: 61...70 as ClosedRange<UInt64>)
    func hasCurrentValuesIsWhetherThereAreCurrentValues(seed: UInt64) throws {
        // Besides a history's states, one of each kind for sure: empty, written, conflicted, deleted,
        // and deleted by one side while the other edited.
        var a = RecordState()
        _ = try a.write(["x": .int(1)], by: ReplicaID(high: 1, low: 1))
        var b = RecordState()
        _ = try b.write(["x": .int(2)], by: ReplicaID(high: 1, low: 2))
        var deleted = a
        _ = try deleted.delete(by: ReplicaID(high: 1, low: 1))
        let conflicted = try a.joined(with: b)
        let deleteConflict = try deleted.joined(with: b)
        let states = try Self.sampledStates(seed: seed) + [RecordState(), a, conflicted, deleted, deleteConflict]
        #expect(conflicted.isConflicted && !conflicted.hasCurrentValues && !deleted.hasCurrentValues && a.hasCurrentValues)
        for state in states {
            #expect(state.hasCurrentValues == (state.currentValues != nil))
        }
    }

    @Test(arguments: 41...60 as ClosedRange<UInt64>)
    func joinOnlyGrowsTheContextAndNeverResurrects(seed: UInt64) throws {
        let states = try Self.sampledStates(seed: seed)
        for x in states.prefix(20) {
            for y in states.suffix(20) {
                let joined = try x.joined(with: y)
                #expect(joined.context.covers(x.context) && joined.context.covers(y.context))
                // Every dot in the join came from one side, and a side that saw it without holding it dropped it for good.
                for dot in joined.dots {
                    #expect(x.dots.contains(dot) || y.dots.contains(dot))
                    #expect(!(x.context.contains(dot) && !x.dots.contains(dot) && !y.dots.contains(dot)))
                }
            }
        }
    }
}
