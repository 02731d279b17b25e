import Crypto
import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncServer

/// PROTOCOL.md §13 on both stores: tus uploads, resuming, the last byte's checks, access across
/// schools, proof of possession, downloads with ranges, and removal.
struct EvidenceRouteTests {
    /// A JPEG-looking file of `size` bytes from a fixed seed.
    static func photo(_ size: Int, seed: UInt64 = 7) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return [0xFF, 0xD8, 0xFF, 0xE0] + (4..<max(size, 4)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func tus(_ pairs: [String: String] = [:]) -> HTTPFields {
        var fields = HTTPFields(named: ["Tus-Resumable": "1.0.0"])
        for (name, value) in pairs { fields[named: name] = value }
        return fields
    }

    /// Creates an upload and returns the answer.
    static func create(_ client: any TestClientProtocol, _ token: String, _ file: [UInt8], sha: String? = nil, type: String = "image/jpeg")
        async throws -> TestResponse
    {
        let metadata = TusProtocol.formatMetadata(["sha256": sha ?? sha256(file), "filename": "照片.jpg", "filetype": type])
        return try await client.send(
            .post,
            "/v1/evidence/uploads",
            token: token,
            headers: tus(["Upload-Length": String(file.count), "Upload-Metadata": metadata])
        )
    }

    static func patch(_ client: any TestClientProtocol, _ token: String, _ location: String, offset: Int, _ bytes: ArraySlice<UInt8>, extra: [String: String] = [:])
        async throws -> TestResponse
    {
        var headers = tus(["Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream"].merging(extra) { $1 })
        headers[.contentLength] = String(bytes.count)
        return try await client.send(.patch, location, token: token, body: ByteBuffer(bytes: Array(bytes)), headers: headers)
    }

    /// Uploads `file` whole in pieces of `piece` bytes; returns the upload's location.
    @discardableResult
    static func upload(_ client: any TestClientProtocol, _ token: String, _ file: [UInt8], piece: Int = 100_000) async throws -> String {
        let created = try await create(client, token, file)
        #expect(created.status == .created, "\(String(buffer: created.body))")
        let location = try #require(created.headers[.location])
        var offset = Int(try #require(created.headers[named: "Upload-Offset"].flatMap(Int.init)))
        while offset < file.count {
            let end = min(offset + piece, file.count)
            let answer = try await patch(client, token, location, offset: offset, file[offset..<end])
            #expect(answer.status == .noContent, "\(String(buffer: answer.body))")
            #expect(answer.headers[named: "Upload-Offset"] == String(end))
            offset = end
        }
        return location
    }

    @Test(arguments: StoreKind.allCases) func aFileGoesUpInPiecesAndComesBackWholeOrByRange(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = Self.photo(700_000)
                let sha = Self.sha256(file)
                let options = try await client.send(.options, "/v1/evidence/uploads", token: nil)
                #expect(options.status == .noContent)
                #expect(options.headers[named: "Tus-Extension"] == "creation,checksum,expiration")
                #expect(options.headers[named: "Tus-Max-Size"] == "26214400")
                let created = try await Self.create(client, fixture.deviceA, file)
                #expect(created.status == .created)
                #expect(created.headers[named: "Tus-Resumable"] == "1.0.0")
                #expect(created.headers[named: "Upload-Offset"] == "0")
                #expect(created.headers[named: "Upload-Expires"] != nil)
                let location = try #require(created.headers[.location])
                #expect(try await Self.patch(client, fixture.deviceA, location, offset: 0, file[0..<300_000]).status == .noContent)
                let head = try await client.send(.head, location, token: fixture.deviceA, headers: Self.tus())
                #expect(head.status == .ok)
                #expect(head.headers[named: "Upload-Offset"] == "300000")
                #expect(head.headers[named: "Upload-Length"] == "700000")
                #expect(head.headers[.cacheControl] == "no-store")
                // A second creation of the same file by the school answers the same upload where it stands.
                let again = try await Self.create(client, fixture.deviceA2, file)
                #expect(again.headers[.location] == location)
                #expect(again.headers[named: "Upload-Offset"] == "300000")
                let last = try await Self.patch(client, fixture.deviceA2, location, offset: 300_000, file[300_000...])
                #expect(last.status == .noContent)
                #expect(last.headers[named: "Upload-Offset"] == "700000")
                #expect(last.headers[named: "Upload-Expires"] == nil)

                let whole = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA)
                #expect(whole.status == .ok)
                #expect(Array(whole.body.readableBytesView) == file)
                #expect(whole.headers[.contentType] == "image/jpeg")
                #expect(whole.headers[.eTag] == "\"\(sha)\"")
                #expect(whole.headers[named: "X-Content-Type-Options"] == "nosniff")
                var range = HTTPFields()
                range[.range] = "bytes=650000-"
                let tail = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA2, headers: range)
                #expect(tail.status == .partialContent)
                #expect(tail.headers[.contentRange] == "bytes 650000-699999/700000")
                #expect(Array(tail.body.readableBytesView) == Array(file[650_000...]))
                range[.range] = "bytes=10-19"
                let middle = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.bureau, headers: range)
                #expect(Array(middle.body.readableBytesView) == Array(file[10..<20]))
                range[.range] = "bytes=700000-"
                let outside = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.bureau, headers: range)
                #expect(outside.status == .rangeNotSatisfiable)
                #expect(outside.headers[.contentRange] == "bytes */700000")
                // Finished: a new creation is finished at once, nothing is sent again.
                let done = try await Self.create(client, fixture.deviceA, file)
                #expect(done.headers[named: "Upload-Offset"] == "700000")
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aPatchCutOffKeepsEveryByteThatArrived(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            let file = Self.photo(600_000, seed: 3)
            let uploads = EvidenceUploads(store: fixture.store, clock: { Date() })
            let created = try await uploads.create(school: Fixture.schoolA, sha256: Self.sha256(file), length: Int64(file.count), filename: nil)
            let arrived = 333_333
            let slices = stride(from: 0, to: arrived, by: 65_536).map { ByteBuffer(bytes: file[$0..<min($0 + 65_536, arrived)]) }
            await #expect(throws: SlicedBody.Cut.self) {
                _ = try await uploads.patch(created.upload, at: 0, body: SlicedBody(slices: slices, cut: true), checksum: nil)
            }
            let after = try #require(try await fixture.store.evidenceUpload(id: created.upload.id))
            #expect(after.offset == Int64(arrived))
            // The rest resumes from there; the file is whole and right.
            let rest = [ByteBuffer(bytes: file[arrived...])]
            let finished = try await uploads.patch(after, at: Int64(arrived), body: SlicedBody(slices: rest), checksum: nil)
            #expect(finished.isFinished)
            var copy: [UInt8] = []
            try await uploads.forEachChunk(of: .file(finished.sha256), from: 0, to: Int64(file.count)) { copy += $0 }
            #expect(copy == file)
            // A writer holding a stale offset cannot write over it.
            #expect(try await fixture.store.appendEvidence(uploadID: created.upload.id, at: 0, [1, 2, 3]) == false)
        }
    }

    @Test(arguments: StoreKind.allCases) func wrongBytesAreRefusedAndTheUploadStartsOver(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = Self.photo(50_000)
                // Declared with another file's hash: the last byte shows the mismatch.
                let created = try await Self.create(client, fixture.deviceA, file, sha: Self.sha256(Self.photo(50_000, seed: 99)))
                let location = try #require(created.headers[.location])
                let last = try await Self.patch(client, fixture.deviceA, location, offset: 0, file[...])
                #expect(last.status == .unprocessableContent)
                #expect(try last.error().error == .evidenceHashMismatch)
                #expect(last.headers[named: "Tus-Resumable"] == "1.0.0")
                #expect(try await client.send(.head, location, token: fixture.deviceA, headers: Self.tus()).status == .notFound)
                // Text renamed .jpg: refused on its first bytes, before they are kept.
                let text = Array("hello, this is not a photo at all".utf8)
                let textUpload = try await Self.create(client, fixture.deviceA, text)
                let refused = try await Self.patch(client, fixture.deviceA, try #require(textUpload.headers[.location]), offset: 0, text[...])
                #expect(refused.status == .unsupportedMediaType)
                #expect(try refused.error().error == .unsupportedFileType)
                // A declared type outside the list, a file over 25 MiB: refused at creation.
                let declared = try await Self.create(client, fixture.deviceA, file, type: "text/html")
                #expect(try declared.error().error == .unsupportedFileType)
                let huge = try await client.send(
                    .post,
                    "/v1/evidence/uploads",
                    token: fixture.deviceA,
                    headers: Self.tus([
                        "Upload-Length": String(EvidenceLimits.maxFileBytes + 1),
                        "Upload-Metadata": TusProtocol.formatMetadata(["sha256": Self.sha256(file)]),
                    ])
                )
                #expect(huge.status == .contentTooLarge)
                #expect(try huge.error().error == .fileTooLarge)
                for length in ["0", "-1", "007", "1e3", "99999999999999999999", ""] {
                    let bad = try await client.send(
                        .post,
                        "/v1/evidence/uploads",
                        token: fixture.deviceA,
                        headers: Self.tus(["Upload-Length": length, "Upload-Metadata": TusProtocol.formatMetadata(["sha256": Self.sha256(file)])])
                    )
                    #expect(bad.status == .badRequest, "Upload-Length \(length)")
                }
                for metadata in ["sha256 notbase64!", "sha256 " + Base64.encode(Array("ABC".utf8)), "", "a b c"] {
                    let bad = try await client.send(
                        .post,
                        "/v1/evidence/uploads",
                        token: fixture.deviceA,
                        headers: Self.tus(["Upload-Length": "10", "Upload-Metadata": metadata])
                    )
                    #expect(bad.status == .badRequest, "metadata \(metadata)")
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func tusRulesOffsetsChecksumsAndWhoMayUpload(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = Self.photo(20_000)
                let noVersion = try await client.send(.post, "/v1/evidence/uploads", token: fixture.deviceA)
                #expect(noVersion.status == .preconditionFailed)
                #expect(noVersion.headers[named: "Tus-Version"] == "1.0.0")
                #expect(try await Self.create(client, fixture.bureau, file).status == .forbidden)
                #expect(try await Self.create(client, "ss_nope", file).status == .unauthorized)
                let location = try #require(try await Self.create(client, fixture.deviceA, file).headers[.location])
                let wrongOffset = try await Self.patch(client, fixture.deviceA, location, offset: 5, file[5...])
                #expect(wrongOffset.status == .conflict)
                #expect(try wrongOffset.error().details?["offset"] == "0")
                let tooLong = try await Self.patch(client, fixture.deviceA, location, offset: 0, (file + [0])[...])
                #expect(try tooLong.error().error == .fileTooLarge)
                let wrongType = try await client.send(
                    .patch,
                    location,
                    token: fixture.deviceA,
                    body: ByteBuffer(bytes: file),
                    headers: Self.tus(["Upload-Offset": "0", "Content-Type": "application/json"])
                )
                #expect(wrongType.status == .unsupportedMediaType)
                // Another school cannot see or write this upload.
                #expect(try await client.send(.head, location, token: fixture.deviceB, headers: Self.tus()).status == .notFound)
                #expect(try await Self.patch(client, fixture.deviceB, location, offset: 0, file[...]).status == .notFound)
                // A checksummed PATCH is kept whole or not at all.
                let wrongSum = "sha256 " + Base64.encode(Array(SHA256.hash(data: Array(file[0..<1000]) + [1])))
                let mismatch = try await Self.patch(client, fixture.deviceA, location, offset: 0, file[0..<1000], extra: ["Upload-Checksum": wrongSum])
                #expect(mismatch.status.code == 460)
                #expect(try mismatch.error().error == .checksumMismatch)
                let rightSum = "sha1 " + Base64.encode(Array(Insecure.SHA1.hash(data: Array(file[0..<1000]))))
                let matched = try await Self.patch(client, fixture.deviceA, location, offset: 0, file[0..<1000], extra: ["Upload-Checksum": rightSum])
                #expect(matched.status == .noContent)
                #expect(matched.headers[named: "Upload-Offset"] == "1000")
                let badAlgorithm = try await Self.patch(client, fixture.deviceA, location, offset: 1000, file[1000...], extra: ["Upload-Checksum": "md5 AAAA"])
                #expect(badAlgorithm.status == .badRequest)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aSchoolReadsOnlyItsOwnFilesAndProvesPossessionInsteadOfSendingAgain(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let circular = Self.photo(300_000, seed: 11)
                let sha = Self.sha256(circular)
                try await Self.upload(client, fixture.deviceA, circular)
                // Knowing the hash is not having the file.
                let foreign = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceB)
                #expect(foreign.status == .forbidden)
                let unknown = try await client.send(.get, "/v1/evidence/files/\(String(repeating: "a", count: 64))", token: fixture.deviceB)
                #expect(unknown.status == .forbidden, "a device learns nothing of what the server holds")
                #expect(try await client.send(.get, "/v1/evidence/files/\(String(repeating: "a", count: 64))", token: fixture.bureau).status == .notFound)
                #expect(try await client.send(.get, "/v1/evidence/files/nothex", token: fixture.bureau).status == .notFound)
                // School B uploads the same circular: a nonce instead of the bytes.
                let created = try await Self.create(client, fixture.deviceB, circular)
                #expect(created.headers[named: "Upload-Offset"] == "0")
                let nonce = try #require(created.headers[named: "SchoolSync-Possession-Nonce"])
                let location = try #require(created.headers[.location])
                func proof(_ key: String, _ bytes: [UInt8]) -> String {
                    let keyBytes = stride(from: 0, to: key.count, by: 2).map {
                        UInt8(key[key.index(key.startIndex, offsetBy: $0)..<key.index(key.startIndex, offsetBy: $0 + 2)], radix: 16) ?? 0
                    }
                    let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: keyBytes))
                    return Data(mac).map { String(format: "%02x", $0) }.joined()
                }
                let guessed = try await client.send(
                    .post,
                    location + "/possession",
                    token: fixture.deviceB,
                    body: ByteBuffer(string: #"{"proof":"\#(proof(nonce, Array(circular.dropLast())))"}"#),
                    headers: Self.tus()
                )
                #expect(guessed.status == .unprocessableContent)
                #expect(try guessed.error().error == .possessionProofMismatch)
                #expect(try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceB).status == .forbidden)
                let proved = try await client.send(
                    .post,
                    location + "/possession",
                    token: fixture.deviceB,
                    body: ByteBuffer(string: #"{"proof":"\#(proof(nonce, circular))"}"#),
                    headers: Self.tus()
                )
                #expect(proved.status == .noContent, "\(String(buffer: proved.body))")
                #expect(proved.headers[named: "Upload-Offset"] == "300000")
                let read = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceB)
                #expect(read.status == .ok)
                #expect(Array(read.body.readableBytesView) == circular)
                // A tus client that knows nothing of proofs just sends the bytes: one copy is kept.
                let third = Self.photo(30_000, seed: 12)
                try await Self.upload(client, fixture.deviceA, third)
                let plain = try await Self.create(client, fixture.deviceB, third)
                #expect(plain.headers[named: "SchoolSync-Possession-Nonce"] != nil)
                let sent = try await Self.patch(client, fixture.deviceB, try #require(plain.headers[.location]), offset: 0, third[...])
                #expect(sent.status == .noContent)
                #expect(try await client.send(.get, "/v1/evidence/files/\(Self.sha256(third))", token: fixture.deviceB).status == .ok)
                #expect(try await fixture.store.presentEvidence([sha, Self.sha256(third), String(repeating: "b", count: 64)]) == [sha, Self.sha256(third)])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func filesNoReportNamesAreRemovedAfterTheGracePeriod(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            let named = Self.photo(10_000, seed: 21)
            let orphan = Self.photo(10_000, seed: 22)
            let start = Date()
            let uploads = EvidenceUploads(store: fixture.store, clock: { start })
            for file in [named, orphan] {
                let created = try await uploads.create(school: Fixture.schoolA, sha256: Self.sha256(file), length: Int64(file.count), filename: nil)
                let body = [ByteBuffer(bytes: file)]
                _ = try await uploads.patch(created.upload, at: 0, body: SlicedBody(slices: body), checksum: nil)
            }
            // An upload left unfinished.
            let left = Self.photo(10_000, seed: 23)
            _ = try await uploads.create(school: Fixture.schoolA, sha256: Self.sha256(left), length: Int64(left.count), filename: nil)
            // A report names one file (in a conflicting value, which counts too).
            let evidence = #"[{"name":"照片.jpg","sha256":"\#(Self.sha256(named))"}]"#
            try await fixture.withRouter { client in
                let replica = ReplicaID.random()
                let report = try Make.report("\(Fixture.schoolA)/2025-S1/m1", values: ["evidence": .string(evidence)], by: replica)
                _ = try await client.push(try Make.push([report], replica: replica), token: fixture.deviceA)
            }
            func collector(at date: Date) -> EvidenceCollector {
                EvidenceCollector(store: fixture.store, grace: 7 * 86_400, clock: { date }, logger: .init(label: "test"))
            }
            let early = try await collector(at: start.addingTimeInterval(3_600)).collect()
            #expect(early.removedFiles.isEmpty)
            #expect(early.waiting == 1)
            let late = try await collector(at: start.addingTimeInterval(8 * 86_400)).collect()
            #expect(late.removedFiles == [Self.sha256(orphan)])
            // The named file's finished upload and the unfinished one; the orphan's went with its file.
            #expect(late.removedUploads == 2)
            #expect(try await fixture.store.presentEvidence([Self.sha256(named), Self.sha256(orphan)]) == [Self.sha256(named)])
            #expect(try await fixture.store.evidenceChunk(of: .file(Self.sha256(orphan)), containing: 0) == nil)
            #expect(try await fixture.store.evidenceAccess(sha256: Self.sha256(orphan), school: Fixture.schoolA) == false)
            #expect(try await fixture.store.evidenceChunk(of: .file(Self.sha256(named)), containing: 0) != nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func theReviewPagesServeFilesToSignedInStaffOnly(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let photo = Self.photo(40_000, seed: 31)
                try await Self.upload(client, fixture.deviceA, photo)
                let path = "/review/evidence/\(Self.sha256(photo))"
                #expect(try await client.send(.get, path, token: nil).status == .seeOther, "no session: to the sign-in form")
                let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                let signedIn = try await client.send(.post, "/login", token: nil, body: ByteBuffer(string: "token=\(fixture.bureau)&next=/bureau"), headers: form)
                let cookie = try #require(signedIn.headers[.setCookie]?.split(separator: ";").first.map(String.init))
                let shown = try await client.send(.get, path, token: nil, headers: [.cookie: cookie])
                #expect(shown.status == .ok)
                #expect(shown.headers[.contentDisposition] == "inline")
                #expect(Array(shown.body.readableBytesView) == photo)
                let missing = try await client.send(.get, "/review/evidence/\(String(repeating: "c", count: 64))", token: nil, headers: [.cookie: cookie])
                #expect(missing.status == .notFound)
            }
        }
    }

    @Test func rowsAnotherProgramDamagedAreRefusedNotTrappedOn() async throws {
        try await Fixture.with(store: .sqlite) { fixture in
            try await fixture.withRouter { client in
                let photo = Self.photo(30_000, seed: 61)
                let location = try await Self.upload(client, fixture.deviceA, photo)
                let unfinished = Self.photo(30_000, seed: 62)
                let open = try #require(try await Self.create(client, fixture.deviceA, unfinished).headers[.location])
                let database = try DatabaseQueue(path: fixture.databasePath)
                try await database.write { db in
                    try db.execute(sql: "UPDATE evidence_files SET size = -5")
                    try db.execute(sql: "UPDATE evidence_uploads SET length = -1 WHERE finished = 0")
                }
                try database.close()
                let read = try await client.send(.get, "/v1/evidence/files/\(Self.sha256(photo))", token: fixture.bureau)
                #expect(read.status == .internalServerError)
                #expect(try read.error().error == .internal)
                #expect(try await client.send(.head, open, token: fixture.deviceA, headers: Self.tus()).status == .internalServerError)
                #expect(try await Self.patch(client, fixture.deviceA, open, offset: 0, unfinished[...]).status == .internalServerError)
                _ = location
                // A chunk row at an offset past any file, or negative, is damage too, not a trap.
                let chunks = try DatabaseQueue(path: fixture.databasePath)
                try await chunks.write { db in
                    try db.execute(sql: "UPDATE evidence_files SET size = 30000")
                    try db.execute(sql: "UPDATE evidence_chunks SET chunk_offset = -9223372036854775807 WHERE owner LIKE 'f:%'")
                }
                try chunks.close()
                // The stream stops where the bytes are missing: the connection is cut (an error here).
                let damaged = try? await client.send(.get, "/v1/evidence/files/\(Self.sha256(photo))", token: fixture.bureau)
                #expect(damaged.map { $0.status != .ok || $0.body.readableBytes < 30_000 } ?? true, "a damaged file is never served whole")
            }
        }
    }

    @Test func rangesAreReadAsRFC9110Says() {
        #expect(EvidenceDownload.range(nil, size: 100) == .whole)
        #expect(EvidenceDownload.range("bytes=0-", size: 100) == .part(0..<100))
        #expect(EvidenceDownload.range("bytes=10-19", size: 100) == .part(10..<20))
        #expect(EvidenceDownload.range("bytes=90-200", size: 100) == .part(90..<100))
        #expect(EvidenceDownload.range("bytes=-10", size: 100) == .part(90..<100))
        #expect(EvidenceDownload.range("bytes=-1000", size: 100) == .part(0..<100))
        #expect(EvidenceDownload.range("bytes=100-", size: 100) == .unsatisfiable)
        #expect(EvidenceDownload.range("bytes=-0", size: 100) == .unsatisfiable)
        for ignored in ["bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=99999999999999999999-", "bytes=-"] {
            #expect(EvidenceDownload.range(ignored, size: 100) == .whole, "\(ignored)")
        }
    }
}

/// A request body that delivers `slices` and then ends, or fails as a cut link does.
struct SlicedBody: AsyncSequence {
    typealias Element = ByteBuffer
    let slices: [ByteBuffer]
    var cut = false
    struct Cut: Error {}

    struct AsyncIterator: AsyncIteratorProtocol {
        var slices: [ByteBuffer]
        let cut: Bool
        mutating func next() async throws -> ByteBuffer? {
            guard !slices.isEmpty else {
                if cut { throw Cut() }
                return nil
            }
            return slices.removeFirst()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(slices: slices, cut: cut) }
}
