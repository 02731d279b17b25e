import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import SchoolSyncTestSupport
import SyncCore
import Synchronization
import Testing

@testable import SyncClient

/// The upload loop of ``EvidenceTransfer`` against a tus server that answers what each test scripts
/// (PROTOCOL.md §13.2): the answers the real server gives rarely or never on purpose.
struct EvidenceUploadTests {
    /// What the scripted server does with one request; `nil` is the ordinary tus answer.
    enum Answer: Sendable {
        case status(Int, code: String)
    }

    /// A tus server in memory: every request is logged, and `script` may replace an answer.
    final class ScriptedServer: Sendable {
        struct State {
            var log: [String] = []
            var uploads: [String: (length: Int, bytes: [UInt8])] = [:]
            var created = 0
        }
        let state = Mutex(State())
        let script: @Sendable (_ server: ScriptedServer, _ request: String, _ count: Int) -> Answer?

        init(script: @escaping @Sendable (_ server: ScriptedServer, _ request: String, _ count: Int) -> Answer? = { _, _, _ in nil }) {
            self.script = script
        }

        var log: [String] { state.withLock { $0.log } }

        /// Logs `request` and returns the scripted answer for its n-th occurrence (1-based).
        func note(_ request: String) -> Answer? {
            let count = state.withLock { state in
                state.log.append(request)
                return state.log.filter { $0 == request }.count
            }
            return script(self, request, count)
        }

        func error(_ status: Int, _ code: String) -> Response {
            let body = #"{"error":"\#(code)","message":"scripted \#(code)"}"#
            return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }

        func offsetHeaders(_ offset: Int) -> HTTPFields {
            var headers = HTTPFields()
            headers[HTTPField.Name("Upload-Offset")!] = "\(offset)"
            return headers
        }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("v1/evidence/uploads") { request, _ -> Response in
                if case .status(let status, let code)? = self.note("POST") { return self.error(status, code) }
                let length = Int(request.headers[HTTPField.Name("Upload-Length")!] ?? "") ?? 0
                let id = self.state.withLock { state in
                    state.created += 1
                    state.uploads["u\(state.created)"] = (length, [])
                    return "u\(state.created)"
                }
                var headers = self.offsetHeaders(0)
                headers[.location] = "/v1/evidence/uploads/\(id)"
                return Response(status: .created, headers: headers)
            }
            router.head("v1/evidence/uploads/:id") { _, context -> Response in
                if case .status(let status, let code)? = self.note("HEAD") { return self.error(status, code) }
                let id = try context.parameters.require("id")
                guard let upload = self.state.withLock({ $0.uploads[id] }) else { return self.error(404, "not_found") }
                return Response(status: .ok, headers: self.offsetHeaders(upload.bytes.count))
            }
            router.patch("v1/evidence/uploads/:id") { request, context -> Response in
                let id = try context.parameters.require("id")
                let offset = Int(request.headers[HTTPField.Name("Upload-Offset")!] ?? "") ?? -1
                let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
                if case .status(let status, let code)? = self.note("PATCH \(offset)") { return self.error(status, code) }
                let stored: Int? = self.state.withLock { state in
                    guard var upload = state.uploads[id], upload.bytes.count == offset else { return nil }
                    upload.bytes += Array(body.readableBytesView)
                    state.uploads[id] = upload
                    return upload.bytes.count
                }
                guard let stored else { return self.error(409, "upload_offset_mismatch") }
                return Response(status: .noContent, headers: self.offsetHeaders(stored))
            }
            return router
        }

        /// Runs `body` with a transfer of `replica` pointed at this server.
        func run(_ replica: LocalReplica, _ body: @escaping @Sendable (EvidenceTransfer) async throws -> Void) async throws {
            let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await app.test(.live) { client in
                let port = try #require(client.port)
                try await HTTPClient.withHTTPClient(configuration: .schoolSync) { http in
                    let transfer = EvidenceTransfer(
                        replica: replica,
                        transport: EvidenceTransport(http: http, baseURL: "http://127.0.0.1:\(port)", token: "ss_test", timeout: .seconds(10)),
                        retry: RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero),
                        sleep: { _ in }
                    )
                    try await body(transfer)
                }
            }
        }
    }

    /// A replica with one 600 KiB PDF named by a report.
    func replicaWithEvidence(_ fixture: Fixture) async throws -> (LocalReplica, CapturedEvidence) {
        let replica = try fixture.replica("a.sqlite")
        var bytes = Data("%PDF-1.4\n".utf8)
        var generator = SeededGenerator(seed: 3)
        bytes.append(contentsOf: (0..<(600 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let file = try CapturedEvidence(bytes: bytes, name: "plan.pdf")
        try await replica.write([(report(), ["school_id": .string(Fixture.schoolA), "evidence": EvidenceItem.field([file.item])])], addingEvidence: [file])
        return (replica, file)
    }

    @Test func anUploadGoesUpInOnePatchAndIsNotSentAgain() async throws {
        try await Fixture.with { fixture in
            let (replica, file) = try await replicaWithEvidence(fixture)
            let server = ScriptedServer()
            try await server.run(replica) { transfer in
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.uploaded == 1 && summary.waiting == 0 && summary.bytesSent == file.bytes.count)
                #expect(try await transfer.uploadWaiting(timeLimit: .seconds(60)).uploaded == 0)
            }
            #expect(server.log == ["POST", "PATCH 0"])
            #expect(server.state.withLock { $0.uploads["u1"]?.bytes } == Array(file.bytes))
            #expect(try await replica.evidenceFile(sha256: file.item.sha256)?.isUploaded == true)
        }
    }

    @Test func anUnsupportedFileIsHeldBackWithTheServersReasonAndNeverRetried() async throws {
        try await Fixture.with { fixture in
            let (replica, file) = try await replicaWithEvidence(fixture)
            let server = ScriptedServer { _, request, _ in request == "PATCH 0" ? .status(415, code: "unsupported_file_type") : nil }
            try await server.run(replica) { transfer in
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.uploaded == 0 && summary.heldBack.count == 1)
                #expect(summary.heldBack.first?.heldBack?.contains("scripted unsupported_file_type") == true)
                _ = try await transfer.uploadWaiting(timeLimit: .seconds(60))
            }
            #expect(server.log == ["POST", "PATCH 0"])
            let status = try await replica.status()
            #expect(status.evidenceWaiting.isEmpty && status.evidenceHeldBack.map(\.sha256) == [file.item.sha256])
        }
    }

    @Test func aHashMismatchStartsAgainFromByteZeroOnceThenHoldsTheFileBack() async throws {
        try await Fixture.with { fixture in
            let (replica, _) = try await replicaWithEvidence(fixture)
            let server = ScriptedServer { _, request, _ in request == "PATCH 0" ? .status(422, code: "evidence_hash_mismatch") : nil }
            let shown = Mutex(0)
            try await server.run(replica) { transfer in
                var transfer = transfer
                transfer.progress = { if case .hashMismatch = $0 { shown.withLock { $0 += 1 } } }
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.heldBack.first?.heldBack?.contains("twice") == true)
            }
            #expect(server.log == ["POST", "PATCH 0", "POST", "PATCH 0"])
            #expect(shown.withLock { $0 } == 2)
        }
    }

    @Test func aCutUploadResumesFromTheServersOffsetAndAnExpiredOneIsCreatedAgain() async throws {
        try await Fixture.with { fixture in
            let (replica, file) = try await replicaWithEvidence(fixture)
            // The first PATCH fails with a 503 after the server kept nothing; the first HEAD finds the upload expired.
            let server = ScriptedServer { _, request, count in
                switch (request, count) {
                case ("PATCH 0", 1): .status(503, code: "unavailable")
                case ("HEAD", 1): .status(410, code: "upload_expired")
                default: nil
                }
            }
            try await server.run(replica) { transfer in
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.uploaded == 1)
            }
            #expect(server.log == ["POST", "PATCH 0", "HEAD", "POST", "PATCH 0"])
            #expect(server.state.withLock { $0.uploads["u2"]?.bytes } == Array(file.bytes))
        }
    }

    @Test func anOffsetMismatchAsksWhereTheUploadStandsAndGoesOn() async throws {
        try await Fixture.with { fixture in
            let (replica, file) = try await replicaWithEvidence(fixture)
            // Another device sent the first 100 bytes meanwhile: this PATCH at 0 is 409.
            let server = ScriptedServer { server, request, count in
                guard request == "PATCH 0", count == 1 else { return nil }
                server.state.withLock { $0.uploads["u1"]?.bytes = Array(file.bytes.prefix(100)) }
                return .status(409, code: "upload_offset_mismatch")
            }
            try await server.run(replica) { transfer in
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.uploaded == 1)
            }
            #expect(server.log == ["POST", "PATCH 0", "HEAD", "PATCH 100"])
            #expect(server.state.withLock { $0.uploads["u1"]?.bytes } == Array(file.bytes))
        }
    }

    @Test func aSchoolWithTooManyOpenUploadsLeavesTheFileWaitingWithoutRetrying() async throws {
        try await Fixture.with { fixture in
            let (replica, _) = try await replicaWithEvidence(fixture)
            let server = ScriptedServer { _, request, _ in request == "POST" ? .status(409, code: "upload_limit_reached") : nil }
            try await server.run(replica) { transfer in
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.waiting == 1 && summary.heldBack.isEmpty)
                #expect(summary.stoppedBecause?.contains("unfinished uploads") == true)
            }
            #expect(server.log == ["POST"])
            #expect(try await replica.status().evidenceWaiting.count == 1)
        }
    }

    @Test func theUploadAddressIsKeptSoALaterRunResumesTheSameUpload() async throws {
        try await Fixture.with { fixture in
            let (replica, _) = try await replicaWithEvidence(fixture)
            // Every PATCH fails: the run gives up after its attempts, keeping the upload's address.
            let failing = ScriptedServer { _, request, _ in request.hasPrefix("PATCH") ? .status(503, code: "unavailable") : nil }
            try await failing.run(replica) { transfer in
                let summary = try await transfer.uploadWaiting(timeLimit: .seconds(60))
                #expect(summary.waiting == 1 && summary.stoppedBecause != nil)
            }
            #expect(failing.log.filter { $0 == "POST" }.count == 1)
            let sha = try #require(try await replica.evidenceFiles().first).sha256
            #expect(try await replica.evidenceUploadURL(sha256: sha).url == "/v1/evidence/uploads/u1")
            #expect(try await replica.status().evidenceWaiting.count == 1)
        }
    }
}
