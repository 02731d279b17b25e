import AsyncHTTPClient
import FaultProxy
import Foundation
import Reporting
import SyncClient
import SyncCore
import SchoolSyncTestSupport
import SyncServer

/// The evidence row (issue 15): a school's photo uploaded over a rural link — 64 kbit/s, every
/// connection cut after about 100 KiB from the school — after its report, as `schoolsync sync` does
/// (the records first, then the file by resumable tus upload, PROTOCOL.md §13.2). The baseline in
/// the same run is the link itself: the file's bytes at 64 kbit/s with no cut and no protocol.
///
/// Bytes are counted at the fault proxy in both directions, so every resent byte, HTTP header and
/// HEAD after a cut counts; the row gives bytes sent by the school over the file's size.
enum EvidenceScenario {
    static let linkBytesPerSecond = FieldScenario.linkBytesPerSecond

    static func run(fileBytes: Int, directory: URL, http: HTTPClient, report: (Measurement) -> Void) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let school = "qx-zhuoran"
        var token = ""
        try await ServerUnderTest.with(.sqlite, directory: directory, postgres: nil) { store in
            _ = try await store.createSchool(id: school, name: "卓然学校", at: Date())
            token = try await store.createPrincipal(kind: .device, name: "教务处 PC", schoolID: school, at: Date()).token
            try await BenchCatalog.publish(store, measures: ["m0"], schools: [school])
        } _: { server in
            guard let upstreamPort = URL(string: server.url)?.port else { throw BenchError("no port in \(server.url)") }
            let proxy = try await FaultProxy.start(upstreamPort: upstreamPort)
            do {
                try await measure(fileBytes: fileBytes, school: school, token: token, proxy: proxy, directory: directory, http: http, report: report)
            } catch {
                try? await proxy.shutdown()
                throw error
            }
            try await proxy.shutdown()
        }
    }

    private static func measure(
        fileBytes: Int,
        school: String,
        token: String,
        proxy: FaultProxy,
        directory: URL,
        http: HTTPClient,
        report: (Measurement) -> Void
    ) async throws {
        proxy.setPlan { _ in .none }
        let url = "http://127.0.0.1:\(proxy.port)"
        let replica = try LocalReplica(path: directory.appendingPathComponent("school.sqlite").path, schemas: DomainSchema.all)
        let transport = HTTPSyncTransport(http: http, baseURL: url, token: token, timeout: .seconds(120))
        try await replica.enrol(serverURL: url, token: token, session: try await transport.session())
        _ = try await SyncEngine(replica: replica, transport: transport).sync()

        // A photo: a JPEG's first bytes, then bytes that do not compress (a camera's are close to it).
        var generator = SeededGenerator(seed: 15)
        let photo = Data([0xFF, 0xD8, 0xFF, 0xE0] + (4..<fileBytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let path = directory.appendingPathComponent("照片.jpg")
        try photo.write(to: path)
        let item = try await replica.addEvidence(contentsOf: path)
        try await replica.write(
            RecordKey(collection: "reports", id: "\(school)/2025-S1/m0"),
            Workload.reportValues(0).merging([
                "school_id": .string(school), "period": .string("2025-S1"), "measure_id": .string("m0"),
                "evidence": EvidenceItem.field([item]),
            ]) { $1 }
        )
        _ = try await SyncEngine(replica: replica, transport: transport).sync()

        // Every connection from the school is cut after 80–120 KiB; the answers come back whole.
        var cuts = SeededGenerator(seed: 16)
        let plan = (0..<10_000).map { _ in Int.random(in: 80 * 1024...120 * 1024, using: &cuts) }
        let rate = linkBytesPerSecond
        proxy.setPlan { connection in ConnectionFault(cutUpstreamAfter: plan[connection % plan.count], bytesPerSecond: rate) }
        let before = proxy.statistics
        let retries = RetryCounter()
        var rounds = 0
        let (_, time) = try await HTTPClient.withHTTPClient(configuration: .schoolSync) { link in
            try await Workload.timed {
                var waiting = 1
                while waiting > 0 {
                    rounds += 1
                    guard rounds <= 50 else { throw BenchError("the photo was not up after 50 syncs") }
                    let transfer = EvidenceTransfer(
                        replica: replica,
                        transport: EvidenceTransport(http: link, baseURL: url, token: token, timeout: .seconds(120)),
                        retry: RetryPolicy(maxAttempts: 200, baseDelay: .milliseconds(200), maxDelay: .seconds(2)),
                        progress: { if case .retrying = $0 { retries.add() } }
                    )
                    waiting = try await transfer.uploadWaiting(timeLimit: .seconds(3600)).waiting
                }
            }
        }
        proxy.setPlan { _ in .none }
        let after = proxy.statistics
        let sent = after.bytesClientToServer - before.bytesClientToServer
        let received = after.bytesServerToClient - before.bytesServerToClient
        let cut = after.connectionsCut - before.connectionsCut
        guard try await replica.evidenceFile(sha256: item.sha256)?.isUploaded == true else { throw BenchError("the photo is not marked uploaded") }
        let ideal = Double(fileBytes) / Double(rate)
        let size = fileBytes >= 1 << 20 ? "\(fileBytes >> 20) MiB" : "\(fileBytes >> 10) KiB"
        report(
            Measurement(
                name: "evidence: a \(size) photo over 64 kbit/s, cut every ~100 KiB: time to upload",
                value: time.seconds,
                unit: "s",
                target: nil,
                met: nil,
                note:
                    "baseline in this run: the file's bytes alone at 64 kbit/s take \(String(format: "%.1f", ideal)) s (\(String(format: "%.2f", time.seconds / ideal))×); \(cut) connections cut, \(retries.count) retries, \(rounds) upload run(s)"
            )
        )
        report(
            Measurement(
                name: "evidence: a \(size) photo over 64 kbit/s, cut every ~100 KiB: bytes sent / file size",
                value: Double(sent) / Double(fileBytes),
                unit: "×",
                target: "≤ 1.1",
                met: Double(sent) / Double(fileBytes) <= 1.1,
                note: "\(sent) bytes from the school for \(fileBytes) (headers, HEADs after cuts and bytes in flight at a cut included), \(received) back"
            )
        )
    }
}
