import AsyncHTTPClient
import Foundation
import GRDB
import Reporting
import SyncClient
import SyncCore
import SyncServer
import SyncServerSQLite

/// One measured number with its unit, its target (if the issue sets one) and what bounds it.
struct Measurement: Codable {
    var name: String
    var value: Double
    var unit: String
    var target: String?
    var met: Bool?
    var note: String
    /// The server configuration it was measured on (``ServerSetup``); nil for what involves no server.
    var server: String? = nil
    /// Whether the comparison table shows it.
    var compared: Bool? = nil
}

/// A weekly report as a school writes it: status, a paragraph of narrative, a workflow state.
enum Workload {
    static func reportValues(_ index: Int) -> [String: Value] {
        [
            "status": .string(["not_started", "in_progress", "done", "at_risk"][index % 4]),
            "narrative": .string("本周完成第\(index)项工作：组织教师培训一次，家长会一次，体育活动每天一小时，资料已归档。"),
            "workflow": .string("draft"),
        ]
    }

    /// One report per measure and yearly period, so every id is valid for the domain rules.
    static func reportID(_ school: String, _ index: Int) -> String { "\(school)/\(1000 + index / 40)/m\(index % 40)" }

    static func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let value = try await body()
        return (value, ContinuousClock.now - start)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The raw-SQLite floor: the same record states upserted with one prepared statement in one transaction.
enum Baseline {
    static func upserts(count: Int, directory: URL) throws -> Duration {
        let states = try (0..<count).map { index -> (String, String) in
            var state = RecordState()
            try state.write(Workload.reportValues(index), by: ReplicaID(high: 1, low: 1))
            return (Workload.reportID("qx-zhuoran", index), String(decoding: try CanonicalJSON.encode(state), as: UTF8.self))
        }
        let pool = try DatabasePool(path: directory.appendingPathComponent("baseline.sqlite").path)
        try pool.write { db in
            try db.execute(
                sql:
                    "CREATE TABLE records (collection TEXT NOT NULL, id TEXT NOT NULL, scope TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (collection, id))"
            )
        }
        let start = ContinuousClock.now
        try pool.write { db in
            let statement = try db.makeStatement(
                sql:
                    "INSERT INTO records (collection, id, scope, state) VALUES ('reports', ?, 'school:qx-zhuoran', ?) ON CONFLICT (collection, id) DO UPDATE SET state = excluded.state"
            )
            for (id, state) in states { try statement.execute(arguments: [id, state]) }
        }
        return ContinuousClock.now - start
    }
}

/// Latencies of many requests, for percentiles.
struct Latencies {
    var samples: [Double] = []

    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
    }
}

/// SyncCore's join on records whose context holds `replicas` replicas.
enum MergeCost {
    static func joinsPerSecond(replicas: Int, iterations: Int) throws -> Double {
        let writers = (0..<replicas).map { ReplicaID(high: UInt64($0 + 1), low: 7) }
        var base = RecordState()
        for (index, writer) in writers.enumerated() {
            try base.write(["f\(index % 8)": .int(Int64(index)), "narrative": .string("基础 \(index)")], by: writer)
        }
        // Two replicas' concurrent edits on top of a history every replica shares.
        let left = try base.writingForBench(["status": .string("done"), "f1": .int(1)], by: writers[0])
        let right = try base.writingForBench(["narrative": .string("并发修改"), "f2": .int(2)], by: writers[replicas - 1])
        var sink = 0
        let start = ContinuousClock.now
        for _ in 0..<iterations {
            sink &+= try left.joined(with: right).fields.count
        }
        let elapsed = (ContinuousClock.now - start).seconds
        // Using the result keeps the optimiser from removing the joins.
        if sink == 0 { throw BenchError("joins produced nothing") }
        return Double(iterations) / elapsed
    }
}

extension RecordState {
    func writingForBench(_ values: [String: Value], by replica: ReplicaID) throws -> RecordState {
        var copy = self
        try copy.write(values, by: replica)
        return copy
    }
}

/// Publishes measures and their assignments straight into the store, as the bureau would, so the
/// server's domain rules accept the schools' reports.
enum BenchCatalog {
    static func publish(_ store: any SyncStore, measures: [String], schools: [String]) async throws {
        let bureau = try await store.createPrincipal(kind: .bureau, name: "bench bureau", schoolID: nil, at: Date()).0
        let replica = ReplicaID.random()
        var records: [SyncRecord] = []
        func record(_ collection: String, _ id: String, _ scope: Scope, _ values: [String: Value]) throws -> SyncRecord {
            var state = RecordState()
            try state.write(values, by: replica)
            return SyncRecord(key: RecordKey(collection: collection, id: id), scope: scope, state: state)
        }
        for measure in measures { records.append(try record("measures", measure, .catalog, ["title": .string(measure)])) }
        for school in schools {
            for measure in measures {
                records.append(
                    try record(
                        "assignments",
                        "\(school)/\(measure)",
                        try .school(school),
                        ["school_id": .string(school), "measure_id": .string(measure)]
                    )
                )
            }
        }
        var receipt: PushReceipt?
        for start in stride(from: 0, to: records.count, by: 500) {
            let batch = PushRequest(
                batch: .random(),
                replica: replica,
                receipt: receipt,
                records: Array(records[start..<min(start + 500, records.count)])
            )
            guard case .accepted(let response, _) = try await store.push(batch, by: bureau, rules: .schoolSync, at: Date()) else {
                throw BenchError("publishing the catalog failed")
            }
            receipt = response.receipt
        }
    }
}
