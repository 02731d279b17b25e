import Foundation
import GRDB
import Testing

@testable import SyncServer
@testable import SyncServerSQLite

/// Pushes that arrive together share a transaction; each keeps its own outcome.
struct GroupCommitTests {
    struct Refused: Error, Equatable { let job: Int }

    @Test func aFailingJobRollsBackOnlyItselfAndEveryOtherCommits() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-group-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try DatabasePool(path: directory.appendingPathComponent("group.sqlite").path)
        try await pool.write { db in try db.execute(sql: "CREATE TABLE t (job INTEGER PRIMARY KEY)") }
        let group = GroupCommit<Int>.writes(pool)
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { tasks in
            for job in 0..<200 {
                tasks.addTask {
                    let result = await Result {
                        try await group.run { db in
                            try db.execute(sql: "INSERT INTO t (job) VALUES (?)", arguments: [job])
                            if job % 10 == 3 { throw Refused(job: job) }
                            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t WHERE job = ?", arguments: [job]) ?? 0
                        }
                    }
                    return (job, result)
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (job, result) in tasks { all[job] = result }
            return all
        }
        for job in 0..<200 {
            switch outcomes[job] {
            case .success(let count)?: #expect(job % 10 != 3 && count == 1)
            case .failure(let error)?: #expect(error as? Refused == Refused(job: job))
            case nil: Issue.record("job \(job) got no answer")
            }
        }
        let stored = try await pool.read { db in try Int.fetchAll(db, sql: "SELECT job FROM t ORDER BY job") }
        #expect(stored == (0..<200).filter { $0 % 10 != 3 })
    }
}

extension GroupCommitTests {
    @Test func groupedReadsEachGetTheirOwnAnswerAndAFailingOneFailsAlone() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schoolsync-group-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try DatabasePool(path: directory.appendingPathComponent("group.sqlite").path)
        try await pool.write { db in
            try db.execute(sql: "CREATE TABLE t (job INTEGER PRIMARY KEY, doubled INTEGER NOT NULL)")
            for job in 0..<100 { try db.execute(sql: "INSERT INTO t VALUES (?, ?)", arguments: [job, job * 2]) }
        }
        let reads = GroupCommit<Int>.reads(pool)
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { tasks in
            for job in 0..<100 {
                tasks.addTask {
                    let result = await Result {
                        try await reads.run { db in
                            if job % 7 == 0 { try db.execute(sql: "SELECT * FROM missing_table") }
                            return try Int.fetchOne(db, sql: "SELECT doubled FROM t WHERE job = ?", arguments: [job]) ?? -1
                        }
                    }
                    return (job, result)
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (job, result) in tasks { all[job] = result }
            return all
        }
        for job in 0..<100 {
            switch outcomes[job] {
            case .success(let doubled)?: #expect(job % 7 != 0 && doubled == job * 2)
            case .failure(let error)?: #expect(job % 7 == 0 && error is DatabaseError)
            case nil: Issue.record("job \(job) got no answer")
            }
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
