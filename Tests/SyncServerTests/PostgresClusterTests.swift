import Foundation
import SchoolSyncTestSupport
import Testing

/// The harness the PostgreSQL store's tests stand on: a PostgreSQL 15 cluster of the test's own, in a
/// temporary directory on a free loopback port, run as `postgres` when the tests run as root.
struct PostgresClusterTests {
    @Test func aClusterOfItsOwnStartsAnswersAndStops() async throws {
        let cluster = try await PostgresCluster.start()
        do {
            let answer = try await cluster.run("psql", ["-h", "127.0.0.1", "-p", "\(cluster.port)", "-U", "postgres", "-tAc", "SHOW server_version"])
            #expect(answer.hasPrefix("15."), "PostgreSQL 15 (\(answer))")
            let listening = try await cluster.run("psql", ["-h", "127.0.0.1", "-p", "\(cluster.port)", "-U", "postgres", "-tAc", "SHOW listen_addresses"])
            #expect(listening.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.1", "loopback only")
        } catch {
            // A failed question must not leave a cluster running after the test process.
            cluster.stop()
            throw error
        }
        cluster.stop()
        await #expect(throws: PostgresClusterError.self, "stopped") {
            try await cluster.run("psql", ["-h", "127.0.0.1", "-p", "\(cluster.port)", "-U", "postgres", "-tAc", "SELECT 1"])
        }
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.path))
    }

    /// A free port can be taken between finding it and the server binding it; the server then exits at
    /// once ("could not bind"), and the harness must try another port rather than fail the test.
    @Test func aPortTakenBeforeTheServerBindsItIsGivenUpForAnother() async throws {
        let taken = try ReservedPort()
        let cluster = try await PostgresCluster.start(firstPort: taken.port)
        defer { cluster.stop() }
        #expect(cluster.port != taken.port)
        let answer = try await cluster.run("psql", ["-h", "127.0.0.1", "-p", "\(cluster.port)", "-U", "postgres", "-tAc", "SELECT 1"])
        #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}
