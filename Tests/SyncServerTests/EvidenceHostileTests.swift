import Crypto
import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncServer

/// PROTOCOL.md §13 against a HOSTILE school device and a database another program wrote into.
///
/// The rules under test: a handler never traps and never answers 500 for a client's mistake; a
/// school never reaches another school's uploads or files; damaged rows give a logged 500 or a
/// clean error. Scenarios that may trap the process run as exit tests (a child process), so a trap
/// fails one test instead of killing the run (and leaving the tests' PostgreSQL cluster behind).
struct EvidenceHostileTests {
    typealias E = EvidenceRouteTests

    static func proof(_ nonce: String, _ bytes: [UInt8]) -> String {
        let key = Hex.decode(nonce) ?? []
        let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: key))
        return Hex.encode(Array(mac))
    }

    static func create(_ client: any TestClientProtocol, _ token: String, length: String, metadata: String) async throws -> TestResponse {
        try await client.send(.post, "/v1/evidence/uploads", token: token, headers: E.tus(["Upload-Length": length, "Upload-Metadata": metadata]))
    }

    /// A PATCH with exactly the headers given: no Content-Length unless `contentLength` says one,
    /// as a chunked request arrives.
    static func rawPatch(
        _ client: any TestClientProtocol,
        _ token: String,
        _ location: String,
        offset: String,
        _ bytes: [UInt8],
        contentLength: String? = nil
    ) async throws -> TestResponse {
        var headers = E.tus(["Upload-Offset": offset, "Content-Type": "application/offset+octet-stream"])
        if let contentLength { headers[.contentLength] = contentLength }
        return try await client.send(.patch, location, token: token, body: ByteBuffer(bytes: bytes), headers: headers)
    }

    static func isClientError(_ response: TestResponse) -> Bool { (400..<500).contains(response.status.code) || response.status.code == 460 }

    // MARK: - Numbers in headers

    @Test(arguments: StoreKind.allCases) func uploadLengthAndOffsetExtremesAreCleanErrors(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(1_000, seed: 51)
                let metadata = TusProtocol.formatMetadata(["sha256": E.sha256(file)])
                let bad = [
                    "9223372036854775808", "18446744073709551615", "9223372036854775807", "-1", "-0", "+1", "+1000", "01000", "0001000",
                    "1000 ", " 1000", "10 00", "1_000", "1,000", "0x3e8", "1000.0", "１０００", String(repeating: "9", count: 10_000),
                    String(repeating: "0", count: 10_000) + "1", "1000\u{0}",
                ]
                for length in bad {
                    let answer = try await Self.create(client, fixture.deviceA, length: length, metadata: metadata)
                    // Past 25 MiB may be 413; anything not a canonical number is 400; never a 2xx or a 5xx.
                    let ok: Bool
                    if ["1000 ", " 1000", "1000\u{0}"].contains(length) {
                        ok = answer.status == .created || answer.status == .badRequest  // the field's own whitespace may be trimmed
                    } else {
                        ok = answer.status == .badRequest || answer.status == .contentTooLarge
                    }
                    #expect(ok, "Upload-Length \(length.prefix(40)) answered \(answer.status)")
                    if answer.status != .created { #expect(try answer.error().error == .invalidParameter || answer.status == .contentTooLarge) }
                }
                let created = try await E.create(client, fixture.deviceA, file)
                let location = try #require(created.headers[.location])
                for offset in bad + ["", "999999999999999999", "1001", "0 "] {
                    let answer = try await Self.rawPatch(client, fixture.deviceA, location, offset: offset, Array(file[0..<10]), contentLength: "10")
                    let ok: Bool
                    if ["999999999999999999", "1001", "1000 ", " 1000", "1000\u{0}"].contains(offset) {
                        ok = answer.status == .conflict || answer.status == .badRequest
                    } else if offset == "0 " {
                        ok = answer.status == .noContent || answer.status == .badRequest
                    } else {
                        ok = answer.status == .badRequest
                    }
                    #expect(ok, "Upload-Offset \(offset.prefix(40)) answered \(answer.status)")
                }
                // A lying Content-Length never moves past Upload-Length, whatever number it is.
                for declared in ["18446744073709551615", "9223372036854775807", "-1", "+5", "abc"] {
                    let answer = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", [], contentLength: declared)
                    #expect(answer.status.code < 500, "Content-Length \(declared) answered \(answer.status)")
                }
                let head = try await client.send(.head, location, token: fixture.deviceA, headers: E.tus())
                #expect(head.status == .ok)
                let offset = Int(head.headers[named: "Upload-Offset"] ?? "") ?? -1
                #expect((0...1_000).contains(offset))
            }
        }
    }

    // MARK: - Upload-Metadata

    @Test(arguments: StoreKind.allCases) func metadataBombsAreRefusedOrBoundedNever500(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(2_000, seed: 52)
                let sha = E.sha256(file)
                let shaPair = "sha256 " + Base64.encode(Array(sha.utf8))
                // 10,000 pairs: parsed in linear time; the upload is made (or refused), never a 500.
                let many = (0..<10_000).map { "k\($0) " + Base64.encode(Array("v\($0)".utf8)) }.joined(separator: ",") + "," + shaPair
                let start = ContinuousClock.now
                let manyAnswer = try await Self.create(client, fixture.deviceA, length: "2000", metadata: many)
                #expect(manyAnswer.status == .created || manyAnswer.status == .badRequest, "\(manyAnswer.status)")
                #expect(ContinuousClock.now - start < .seconds(5))
                // A repeated key, the same key differing only in case, a value that is not UTF-8, bad base64.
                for metadata in [
                    shaPair + "," + shaPair,
                    shaPair + ",filename " + Base64.encode([0xFF, 0xFE, 0x00]),
                    shaPair + ",filename ====",
                    shaPair + ",filename A",
                    shaPair + ",文件 " + Base64.encode(Array("x".utf8)),
                    shaPair + ",,",
                    "sha256 " + Base64.encode(Array(sha.uppercased().utf8)),
                    "sha256 " + Base64.encode(Array((sha + "\n").utf8)),
                    "sha256 " + Base64.encode(Array(sha.utf8)) + " extra",
                ] {
                    let answer = try await Self.create(client, fixture.deviceA2, length: "2000", metadata: metadata)
                    #expect(answer.status == .badRequest, "metadata \(metadata.prefix(120)) answered \(answer.status)")
                }
            }
        }
    }

    /// A file name is a client's text: newlines, NUL, a megabyte, one grapheme of 50,000 scalars.
    /// Each is 201 (or 400), never a 500, and the name kept is bounded (`prefix(255)` counts
    /// Characters, and one Character may be any number of bytes).
    @Test(arguments: StoreKind.allCases) func hostileFilenamesAreKeptBoundedOrRefusedNever500(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let names = [
                    "evil\r\nSet-Cookie: x=1\n../../etc/passwd.jpg",
                    "nul\u{0}byte.jpg",
                    String(repeating: "长", count: 1_000_000),
                    "a" + String(repeating: "\u{0301}", count: 50_000),
                ]
                for (index, name) in names.enumerated() {
                    let file = E.photo(1_000, seed: 60 + UInt64(index))
                    let metadata = TusProtocol.formatMetadata(["sha256": E.sha256(file), "filename": name])
                    let answer = try await Self.create(client, fixture.deviceA, length: "1000", metadata: metadata)
                    print("EvidenceHostileTests \(store): filename #\(index) answered \(answer.status)")
                    #expect(answer.status == .created || answer.status == .badRequest, "filename #\(index) answered \(answer.status): \(String(buffer: answer.body))")
                    if answer.status == .created {
                        let id = String(try #require(answer.headers[.location]).split(separator: "/").last ?? "")
                        let stored = try #require(try await fixture.store.evidenceUpload(id: id))
                        #expect((stored.filename?.utf8.count ?? 0) <= 1_020, "filename #\(index) kept as \(stored.filename?.utf8.count ?? 0) bytes")
                    }
                }
            }
        }
    }

    // MARK: - Upload ids

    @Test(arguments: StoreKind.allCases) func uploadIdsWithPathTricksOrAnotherSchoolsAreNotFound(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(5_000, seed: 53)
                let location = try #require(try await E.create(client, fixture.deviceA, file).headers[.location])
                let id = String(location.dropFirst("/v1/evidence/uploads/".count))
                #expect(id.utf8.count == 32)
                let tricks = [
                    id.uppercased(), String(id.dropLast()), id + "0", id + "%00", id + "%0A", "..%2F..%2Ffiles%2F" + E.sha256(file),
                    "../files/" + E.sha256(file), "%2E%2E", String(repeating: "0", count: 32),
                    id.replacingOccurrences(of: String(id.first!), with: "g"),
                ]
                for trick in tricks {
                    let path = "/v1/evidence/uploads/" + trick
                    let head = try await client.send(.head, path, token: fixture.deviceA, headers: E.tus())
                    let patch = try await Self.rawPatch(client, fixture.deviceA, path, offset: "0", Array(file[0..<100]), contentLength: "100")
                    let proof = try await client.send(.post, path + "/possession", token: fixture.deviceA, body: ByteBuffer(string: #"{"proof":"00"}"#), headers: E.tus())
                    for answer in [head, patch, proof] {
                        #expect(answer.status == .notFound || answer.status == .methodNotAllowed, "\(trick): \(answer.status)")
                    }
                }
                // Another school's real id: not told apart from an unknown one, on every method.
                #expect(try await client.send(.head, location, token: fixture.deviceB, headers: E.tus()).status == .notFound)
                #expect(try await Self.rawPatch(client, fixture.deviceB, location, offset: "0", Array(file), contentLength: "5000").status == .notFound)
                let foreignProof = try await client.send(
                    .post,
                    location + "/possession",
                    token: fixture.deviceB,
                    body: ByteBuffer(string: #"{"proof":"\#(String(repeating: "0", count: 64))"}"#),
                    headers: E.tus()
                )
                #expect(foreignProof.status == .notFound)
                // The upload is untouched by all of that.
                let head = try await client.send(.head, location, token: fixture.deviceA, headers: E.tus())
                #expect(head.headers[named: "Upload-Offset"] == "0")
            }
        }
    }

    // MARK: - PATCH bodies

    @Test(arguments: StoreKind.allCases) func patchBodiesThatLieOrRunPastTheEndKeepTheFileRight(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(300_000, seed: 54)
                let location = try #require(try await E.create(client, fixture.deviceA, file).headers[.location])
                // Zero-length PATCH: nothing moves.
                let empty = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", [], contentLength: "0")
                #expect(empty.status == .noContent)
                #expect(empty.headers[named: "Upload-Offset"] == "0")
                let emptyChunked = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", [])
                #expect(emptyChunked.status == .noContent)
                // Content-Length says less than the body, which runs past Upload-Length: 413, nothing past the end kept.
                let lying = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", file + [1, 2, 3], contentLength: "10")
                #expect(lying.status == .contentTooLarge, "\(lying.status)")
                // No Content-Length given past Upload-Length (the router's test client adds one; the
                // chunked case is aChunkedBodyPastTheEndIs413AndKeepsNothingPastIt): 413.
                let chunked = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", file + Array(repeating: 0, count: 300_000))
                #expect(chunked.status == .contentTooLarge, "\(chunked.status)")
                // Content-Length says more than the body (still within Upload-Length): only the bytes sent count.
                var head = try await client.send(.head, location, token: fixture.deviceA, headers: E.tus())
                var offset = Int(try #require(head.headers[named: "Upload-Offset"].flatMap(Int.init)))
                #expect((0...262_144).contains(offset), "offset \(offset) after refused bodies")
                let more = try await Self.rawPatch(client, fixture.deviceA, location, offset: String(offset), Array(file[offset..<(offset + 1_000)]), contentLength: "5000")
                #expect(more.status == .noContent)
                head = try await client.send(.head, location, token: fixture.deviceA, headers: E.tus())
                offset = Int(try #require(head.headers[named: "Upload-Offset"].flatMap(Int.init)))
                let rest = try await Self.rawPatch(client, fixture.deviceA, location, offset: String(offset), Array(file[offset...]))
                #expect(rest.status == .noContent, "\(rest.status): \(String(buffer: rest.body))")
                let read = try await client.send(.get, "/v1/evidence/files/\(E.sha256(file))", token: fixture.deviceA)
                #expect(read.status == .ok)
                #expect(Array(read.body.readableBytesView) == file)
                // A PATCH on the finished upload: 409, with any offset; the file does not change.
                for at in ["0", "300000", "299999"] {
                    let late = try await Self.rawPatch(client, fixture.deviceA, location, offset: at, [0xFF], contentLength: "1")
                    #expect(late.status == .conflict, "PATCH at \(at) on a finished upload: \(late.status)")
                }
                #expect(Array(try await client.send(.get, "/v1/evidence/files/\(E.sha256(file))", token: fixture.deviceA).body.readableBytesView) == file)
            }
        }
    }

    /// The router's test client adds Content-Length; a chunked body past Upload-Length on a sound
    /// upload goes straight to `patch`: 413, and the file can still be finished right.
    @Test(arguments: StoreKind.allCases) func aChunkedBodyPastTheEndIs413AndKeepsNothingPastIt(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            let file = E.photo(300_000, seed: 91)
            let uploads = EvidenceUploads(store: fixture.store, clock: { Date() })
            let created = try await uploads.create(school: Fixture.schoolA, sha256: E.sha256(file), length: Int64(file.count), filename: nil)
            let slices = stride(from: 0, to: 400_000, by: 50_000).map { start in
                ByteBuffer(bytes: (file + Array(repeating: 7, count: 100_000))[start..<(start + 50_000)])
            }
            await #expect(throws: APIError.self) {
                _ = try await uploads.patch(created.upload, at: 0, body: SlicedBody(slices: slices), checksum: nil)
            }
            let after = try #require(try await fixture.store.evidenceUpload(id: created.upload.id))
            #expect(after.offset <= Int64(file.count) && !after.isFinished)
            let rest = [ByteBuffer(bytes: file[Int(after.offset)...])]
            let finished = try await uploads.patch(after, at: after.offset, body: SlicedBody(slices: rest), checksum: nil)
            #expect(finished.isFinished)
            // Zero buffers and empty buffers on a fresh upload: nothing moves, nothing traps.
            let other = E.photo(1_000, seed: 92)
            let fresh = try await uploads.create(school: Fixture.schoolA, sha256: E.sha256(other), length: 1_000, filename: nil).upload
            #expect(try await uploads.patch(fresh, at: 0, body: SlicedBody(slices: []), checksum: nil).offset == 0)
            #expect(try await uploads.patch(fresh, at: 0, body: SlicedBody(slices: [ByteBuffer(), ByteBuffer()]), checksum: nil).offset == 0)
        }
    }

    /// §13.1: "the first PATCH is 415 when its first 8 bytes start no allowed kind". A first PATCH of
    /// fewer than 8 bytes is never sniffed, nor is any later PATCH (`sniffed = offset > 0`), so
    /// bytes of no allowed kind are kept up to Upload-Length − 1 for 24 hours.
    @Test(arguments: StoreKind.allCases) func shortFirstPatchesDoNotSkipTheSniff(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let text = Array("hello, this is a shell script, not a photo; #!/bin/sh rm -rf / ...".utf8) + Array(repeating: 0x41, count: 10_000)
                let location = try #require(try await E.create(client, fixture.deviceA, text).headers[.location])
                let first = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", Array(text[0..<5]), contentLength: "5")
                let second = try await Self.rawPatch(client, fixture.deviceA, location, offset: "5", Array(text[5..<5_000]), contentLength: "4995")
                #expect(
                    first.status == .unsupportedMediaType || second.status == .unsupportedMediaType,
                    "the first 8 bytes 'hello, t' start no allowed kind; answered \(first.status) then \(second.status)"
                )
            }
        }
    }

    /// §13.1: the stored type is the sniffed one of the whole file. `finish` sniffs *every* chunk while
    /// it has not seen a ZIP (`if whole.isEmpty && !isZip`), so a JPEG whose second chunk (the client
    /// chooses where chunks start: each PATCH starts one) begins with an Office ZIP is stored as a Word
    /// document, and a JPEG whose second chunk starts with `PK\3\4` of any other ZIP is refused.
    @Test(arguments: StoreKind.allCases) func theTypeIsDecidedByTheFilesFirstBytesNotByAChunkBoundary(_ store: StoreKind) async throws {
        @Sendable func zipEntry(_ name: String) -> [UInt8] {
            var header: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            header += [UInt8(name.utf8.count), 0, 0, 0]
            return header + Array(name.utf8)
        }
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let jpegHead: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46]
                let polyglot = jpegHead + zipEntry("[Content_Types].xml") + zipEntry("word/document.xml") + Array(repeating: 0x20, count: 500)
                let zipped = jpegHead + zipEntry("hello.txt") + Array(repeating: 0x20, count: 500)
                for (file, label) in [(polyglot, "JPEG then an Office ZIP"), (zipped, "JPEG then a plain ZIP")] {
                    let location = try #require(try await E.create(client, fixture.deviceA, file).headers[.location])
                    let first = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", jpegHead, contentLength: "8")
                    #expect(first.status == .noContent)
                    let rest = try await Self.rawPatch(client, fixture.deviceA, location, offset: "8", Array(file[8...]), contentLength: String(file.count - 8))
                    #expect(rest.status == .noContent, "\(label): \(rest.status) \(String(buffer: rest.body))")
                    let stored = try await fixture.store.evidenceFile(sha256: E.sha256(file))
                    #expect(stored?.type == "image/jpeg", "\(label): stored as \(stored?.type ?? "nothing")")
                }
            }
        }
    }

    // MARK: - Proof of possession

    @Test(arguments: StoreKind.allCases) func malformedAndMisplacedProofsAreCleanErrors(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(40_000, seed: 55)
                let ownLocation = try await E.upload(client, fixture.deviceA, file)
                let created = try await E.create(client, fixture.deviceB, file)
                let nonce = try #require(created.headers[named: "SchoolSync-Possession-Nonce"])
                let location = try #require(created.headers[.location])
                let right = Self.proof(nonce, file)
                func prove(_ body: String, at path: String, token: String) async throws -> TestResponse {
                    try await client.send(.post, path + "/possession", token: token, body: ByteBuffer(string: body), headers: E.tus())
                }
                for body in [
                    #"{"proof":"\#(right.dropLast())"}"#, #"{"proof":"\#(right)0"}"#, #"{"proof":"\#(right)00"}"#,
                    #"{"proof":"\#(String(repeating: "z", count: 64))"}"#, #"{"proof":""}"#, #"{"proof":"\#(right.dropLast(2))é"}"#,
                    #"{"proof":"\#(String(repeating: "ab", count: 200_000))"}"#,
                ] {
                    let answer = try await prove(body, at: location, token: fixture.deviceB)
                    #expect(answer.status == .unprocessableContent || answer.status == .contentTooLarge, "\(body.prefix(80)): \(answer.status)")
                }
                for body in [#"{"proof":1}"#, #"{}"#, "", "null", #"{"proof":null}"#, String(repeating: "[", count: 100_000)] {
                    let answer = try await prove(body, at: location, token: fixture.deviceB)
                    #expect(Self.isClientError(answer), "\(body.prefix(40)): \(answer.status)")
                }
                #expect(try await client.send(.get, "/v1/evidence/files/\(E.sha256(file))", token: fixture.deviceB).status == .forbidden)
                // A proof for the school's own finished upload, or for an upload that has no nonce: 409.
                #expect(try await prove(#"{"proof":"\#(right)"}"#, at: ownLocation, token: fixture.deviceA).status == .conflict)
                let fresh = E.photo(10_000, seed: 56)
                let plain = try #require(try await E.create(client, fixture.deviceB, fresh).headers[.location])
                #expect(try await prove(#"{"proof":"\#(String(repeating: "0", count: 64))"}"#, at: plain, token: fixture.deviceB).status == .conflict)
                // Uppercase hex of the right proof: the server lowercases it (lenient; recorded, not a rule).
                let upper = try await prove(#"{"proof":"\#(right.uppercased())"}"#, at: location, token: fixture.deviceB)
                #expect(upper.status == .noContent || upper.status == .unprocessableContent)
                // After success, a second proof is 409 (finished), and a PATCH is 409.
                _ = try await prove(#"{"proof":"\#(right)"}"#, at: location, token: fixture.deviceB)
                #expect(try await prove(#"{"proof":"\#(right)"}"#, at: location, token: fixture.deviceB).status == .conflict)
                #expect(try await Self.rawPatch(client, fixture.deviceB, location, offset: "0", [0xFF], contentLength: "1").status == .conflict)
                #expect(try await client.send(.get, "/v1/evidence/files/\(E.sha256(file))", token: fixture.deviceB).status == .ok)
            }
        }
    }

    // MARK: - Another school's file

    @Test(arguments: StoreKind.allCases) func anotherSchoolsFileIsUnreadableByEveryRoute(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(50_000, seed: 57)
                let sha = E.sha256(file)
                try await E.upload(client, fixture.deviceA, file)
                let path = "/v1/evidence/files/\(sha)"
                for range in [nil, "bytes=0-0", "bytes=-1", "bytes=0-", "bytes=999999-"] {
                    var headers = HTTPFields()
                    if let range { headers[.range] = range }
                    for method in [HTTPRequest.Method.get, .head] {
                        let answer = try await client.send(method, path, token: fixture.deviceB, headers: headers)
                        #expect(answer.status == .forbidden, "\(method) \(range ?? "") by school B: \(answer.status)")
                        #expect(answer.body.readableBytes < 1_000)
                    }
                }
                for variant in [sha.uppercased(), sha + "/", sha + "%00", String(sha.dropLast()), "../files/" + sha] {
                    let answer = try await client.send(.get, "/v1/evidence/files/\(variant)", token: fixture.deviceB)
                    #expect(answer.status == .forbidden || answer.status == .notFound, "\(variant): \(answer.status)")
                }
                // Creating the same hash with a different length: 422 (one digest, one length).
                let wrongLength = try await Self.create(client, fixture.deviceB, length: "49999", metadata: TusProtocol.formatMetadata(["sha256": sha]))
                #expect(wrongLength.status == .unprocessableContent)
                #expect(try wrongLength.error().error == .evidenceHashMismatch)
                let sameSchoolWrongLength = try await Self.create(client, fixture.deviceA2, length: "1", metadata: TusProtocol.formatMetadata(["sha256": sha]))
                #expect(sameSchoolWrongLength.status == .unprocessableContent)
                // The review pages: a device's bearer token is no session, and a device cannot sign in.
                let bearer = try await client.send(.get, "/review/evidence/\(sha)", token: fixture.deviceB)
                #expect(bearer.status != .ok && bearer.body.readableBytes < 10_000, "\(bearer.status)")
                let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                let login = try await client.send(.post, "/login", token: nil, body: ByteBuffer(string: "token=\(fixture.deviceB)&next=/review/evidence/\(sha)"), headers: form)
                #expect(login.status == .forbidden)
                #expect(login.headers[.setCookie] == nil)
                // Even a session row for a device (written by another program): the pages are staff only.
                let principal = try await fixture.principal(fixture.deviceB)
                let session = try await fixture.store.createSession(for: principal, csrf: "x", expiresAt: Date().addingTimeInterval(3_600), at: Date())
                let viaSession = try await client.send(.get, "/review/evidence/\(sha)", token: nil, headers: [.cookie: "\(PageRoutes.cookieName)=\(session)"])
                #expect(viaSession.status != .ok && viaSession.body.readableBytes < 10_000, "device session on the review page: \(viaSession.status)")
                // And school B still cannot read it by the API.
                #expect(try await client.send(.get, path, token: fixture.deviceB).status == .forbidden)
            }
        }
    }

    // MARK: - Ranges

    @Test(arguments: StoreKind.allCases) func rangeHeadersAtTheEdges(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(100_000, seed: 58)
                try await E.upload(client, fixture.deviceA, file)
                let path = "/v1/evidence/files/\(E.sha256(file))"
                func get(_ range: String, _ method: HTTPRequest.Method = .get) async throws -> TestResponse {
                    try await client.send(method, path, token: fixture.deviceA, headers: [.range: range])
                }
                let first = try await get("bytes=0-0")
                #expect(first.status == .partialContent)
                #expect(first.headers[.contentRange] == "bytes 0-0/100000")
                #expect(Array(first.body.readableBytesView) == [0xFF])
                let last = try await get("bytes=99999-99999")
                #expect(Array(last.body.readableBytesView) == [file[99_999]])
                for unsatisfiable in ["bytes=-0", "bytes=100000-", "bytes=999999999999999999-", "bytes=100000-100000"] {
                    let answer = try await get(unsatisfiable)
                    #expect(answer.status == .rangeNotSatisfiable, "\(unsatisfiable): \(answer.status)")
                    #expect(answer.headers[.contentRange] == "bytes */100000")
                }
                // Overflowing numbers, several ranges, junk: a whole-file 200 (RFC 9110 lets a server
                // ignore Range) or a 416, never a 5xx and never bytes outside the file.
                for odd in [
                    "bytes=18446744073709551615-", "bytes=9223372036854775807-", "bytes=0-18446744073709551615", "bytes=-18446744073709551615",
                    "bytes=-9223372036854775808", "bytes=0-0,1-1", "bytes=0-0, -1", "bytes=5-1", "bytes=--1", "bytes=-", "bytes=1-2-3", "bytes =0-1",
                    "BYTES=0-1", "bytes=+1-2", "bytes=0x10-", String(repeating: "bytes=0-0,", count: 5_000),
                ] {
                    let answer = try await get(odd)
                    #expect(answer.status == .ok || answer.status == .rangeNotSatisfiable || answer.status == .partialContent, "\(odd.prefix(40)): \(answer.status)")
                    if answer.status == .ok { #expect(Array(answer.body.readableBytesView) == file, "\(odd.prefix(40))") }
                }
                let head = try await get("bytes=-1", .head)
                #expect(head.status == .partialContent)
                #expect(head.headers[.contentLength] == "1")
                #expect(head.body.readableBytes == 0)
            }
        }
    }

    // MARK: - Races

    /// Two PATCHes at offset 0 with different bodies of the same length, racing through the router:
    /// the upload holds one body's bytes (a consistent prefix of one of them), and the file, when
    /// finished, is the declared one, never interleaved.
    @Test(arguments: StoreKind.allCases) func twoRacingPatchesNeverInterleave(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                for round in 0..<3 {
                    let good = E.photo(800_000, seed: 70 + UInt64(round))
                    let other = E.photo(800_000, seed: 170 + UInt64(round))
                    let location = try #require(try await E.create(client, fixture.deviceA, good).headers[.location])
                    let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                        for body in [good, other] {
                            group.addTask { try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", body).status }
                        }
                        return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                    }
                    #expect(statuses.allSatisfy { [.noContent, .conflict, .unprocessableContent, .notFound].contains($0) }, "\(statuses)")
                    let id = String(location.split(separator: "/").last ?? "")
                    if let upload = try await fixture.store.evidenceUpload(id: id), !upload.isFinished {
                        let uploads = EvidenceUploads(store: fixture.store, clock: { Date() })
                        var held: [UInt8] = []
                        try await uploads.forEachChunk(of: .upload(id), from: 0, to: upload.offset) { held += $0 }
                        let n = held.count
                        #expect(held == Array(good[0..<n]) || held == Array(other[0..<n]), "round \(round): interleaved bytes")
                    }
                    if let file = try await fixture.store.evidenceFile(sha256: E.sha256(good)) {
                        let read = try await client.send(.get, "/v1/evidence/files/\(file.sha256)", token: fixture.deviceA)
                        #expect(Array(read.body.readableBytesView) == good)
                    }
                }
            }
        }
    }

    /// Between `finish` hashing the bytes and `completeEvidenceUpload`, the upload can be discarded:
    /// by a racing PATCH at offset 0 whose bytes fail the sniff (both passed the route's offset check
    /// before either wrote), by the expiry of `upload(id:)`/`create`, or by the collector. The store
    /// then makes a file row whose bytes are gone and grants the school access: every later read
    /// of it is a 500 or a cut body, and the school's re-creation says "finished" forever.
    /// `completeEvidenceUpload` must complete only an upload still unfinished at its length.
    @Test(arguments: StoreKind.allCases) func anUploadDiscardedWhileFinishingNeverBecomesAFileWithoutBytes(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            let file = E.photo(20_000, seed: 59)
            let racing = DiscardingBeforeComplete(inner: fixture.store)
            let uploads = EvidenceUploads(store: racing, clock: { Date() })
            let created = try await uploads.create(school: Fixture.schoolA, sha256: E.sha256(file), length: Int64(file.count), filename: nil)
            _ = try? await uploads.patch(created.upload, at: 0, body: SlicedBody(slices: [ByteBuffer(bytes: file)]), checksum: nil)
            if let stored = try await fixture.store.evidenceFile(sha256: E.sha256(file)) {
                let chunk = try await fixture.store.evidenceChunk(of: .file(stored.sha256), containing: 0)
                #expect(chunk != nil, "a file row was made for an upload that was discarded: it has no bytes")
            }
        }
    }

    // MARK: - Volume

    /// A school cannot reserve the database with open uploads (PROTOCOL.md §13.1): at most 1 GiB
    /// declared (40 of 25 MiB) and 64 uploads at once; another school is not affected.
    @Test(arguments: StoreKind.allCases) func aSchoolCreatingThousandsOfUploadsMeetsTheLimit(_ store: StoreKind) async throws {
        try await Fixture.with(store: store) { fixture in
            try await fixture.withRouter { client in
                var created = 0
                var last: TestResponse?
                for index in 0..<200 {
                    let sha = E.sha256(Array("upload \(index)".utf8))
                    let answer = try await Self.create(client, fixture.deviceA, length: "26214400", metadata: TusProtocol.formatMetadata(["sha256": sha]))
                    if answer.status == .created { created += 1 } else { last = answer }
                }
                #expect(created == 40, "1 GiB of 25 MiB uploads")
                #expect(try last?.error().error == .uploadLimitReached)
                #expect(last?.status == .conflict)
                for index in 0..<30 {
                    let sha = E.sha256(Array("small \(index)".utf8))
                    let answer = try await Self.create(client, fixture.deviceA, length: "1000", metadata: TusProtocol.formatMetadata(["sha256": sha]))
                    if answer.status == .created { created += 1 }
                }
                #expect(created == EvidenceLimits.maxOpenUploadsPerSchool, "64 open uploads at once")
                let other = try await Self.create(client, fixture.deviceB, length: "26214400", metadata: TusProtocol.formatMetadata(["sha256": E.sha256([1])]))
                #expect(other.status == .created)
            }
        }
    }

    // MARK: - Damaged rows (SQLite, each in a child process: a trap fails the test, not the run)

    @Test func damagedNegativeFileSizeDoesNotTrapTheDownload() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.negativeFileSize) ? 0 : 3) } catch {
                print(".negativeFileSize: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedNegativeFileSizeDoesNotTrapTheReviewPage() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.negativeFileSizeReviewPage) ? 0 : 3) } catch {
                print(".negativeFileSizeReviewPage: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedNegativeUploadLengthWithContentLengthIsACleanError() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.negativeUploadLength) ? 0 : 3) } catch {
                print(".negativeUploadLength: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedMinimumUploadLengthDoesNotTrapAPatch() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.minimumUploadLength) ? 0 : 3) } catch {
                print(".minimumUploadLength: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedOffsetPastLengthWithContentLengthIsACleanError() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.offsetPastLength) ? 0 : 3) } catch {
                print(".offsetPastLength: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedHugeSizeAndChunkOffsetDoNotTrapARangedDownload() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.hugeChunkOffset) ? 0 : 3) } catch {
                print(".hugeChunkOffset: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    /// The 200 and its headers go out before the first chunk is read, so a damaged file is a cut
    /// body, and the error thrown inside the body writer is past the ErrorMiddleware: not logged.
    @Test func damagedMissingFirstChunkIsA500() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.missingFirstChunk) ? 0 : 3) } catch {
                print(".missingFirstChunk: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedMissingMiddleChunkDoesNotTrap() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.missingMiddleChunk) ? 0 : 3) } catch {
                print(".missingMiddleChunk: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedChunkUnderAProofIsA500() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.missingChunkUnderProof) ? 0 : 3) } catch {
                print(".missingChunkUnderProof: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedNegativeAndMinimumChunkOffsetsDoNotTrap() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.negativeChunkOffsets) ? 0 : 3) } catch {
                print(".negativeChunkOffsets: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedTextInNumberColumnsIs500() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.textInNumberColumns) ? 0 : 3) } catch {
                print(".textInNumberColumns: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    @Test func damagedFileTypeIsNotServedAsItsText() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.foreignFileType) ? 0 : 3) } catch {
                print(".foreignFileType: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    /// A chunked PATCH (no Content-Length) skips the route's check and reaches `patch` itself.
    @Test func damagedNegativeUploadLengthDoesNotTrapAChunkedBody() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.negativeUploadLengthChunked) ? 0 : 3) } catch {
                print(".negativeUploadLengthChunked: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    /// A chunked PATCH (no Content-Length) skips the route's check and reaches `patch` itself.
    @Test func damagedOffsetPastLengthDoesNotTrapAChunkedBody() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            do { exit(try await EvidenceHostileTests.damaged(.offsetPastLengthChunked) ? 0 : 3) } catch {
                print(".offsetPastLengthChunked: threw \(error)")
                exit(4)
            }
        }
        Self.show(result)
    }

    /// What a child process printed (its answers), and how it ended: the evidence for the report.
    static func show(_ result: ExitTest.Result?) {
        guard let result else { return }
        let output = String(decoding: result.standardOutputContent, as: UTF8.self)
        let errors = String(decoding: result.standardErrorContent, as: UTF8.self).split(separator: "\n").suffix(4)
        print("child exited \(result.exitStatus):\n" + output.split(separator: "\n").filter { !$0.contains("Test ") && !$0.contains("Suite ") }.joined(separator: "\n"))
        for line in errors { print("child stderr: \(line)") }
    }

    enum Damage: Sendable {
        case negativeFileSize, negativeFileSizeReviewPage, negativeUploadLength, minimumUploadLength, offsetPastLength, hugeChunkOffset
        case missingFirstChunk, missingMiddleChunk, missingChunkUnderProof, negativeChunkOffsets, textInNumberColumns, foreignFileType
        case negativeUploadLengthChunked, offsetPastLengthChunked
    }

    /// An unfinished upload holding 10 bytes, damaged, then a chunked body straight into
    /// `EvidenceUploads.patch` (what the route does when no Content-Length came).
    static func damagedChunked(_ damage: Damage) async throws -> Bool {
        try await Fixture.with(store: .sqlite) { fixture in
            let uploads = EvidenceUploads(store: fixture.store, clock: { Date() })
            let pending = E.photo(5_000, seed: 82)
            let created = try await uploads.create(school: Fixture.schoolA, sha256: E.sha256(pending), length: 5_000, filename: nil)
            _ = try await uploads.patch(created.upload, at: 0, body: SlicedBody(slices: [ByteBuffer(bytes: pending[0..<10])]), checksum: nil)
            let id = created.upload.id
            let database = try DatabaseQueue(path: fixture.databasePath)
            let (sql, offset): (String, Int64) =
                damage == .negativeUploadLengthChunked
                ? ("UPDATE evidence_uploads SET length = -5, upload_offset = 0 WHERE id = '\(id)'", 0)
                : ("UPDATE evidence_uploads SET length = 10, upload_offset = 20 WHERE id = '\(id)'", 20)
            try await database.write { db in try db.execute(sql: sql) }
            try database.close()
            // The row is read as damaged (a logged 500 at the route); a store that let it through must still not trap.
            let upload: EvidenceUpload
            do {
                upload = try await uploads.upload(id: id, school: Fixture.schoolA)
            } catch let error as StoreError {
                print("\(damage): refused as \(error)")
                return error.code == .damaged
            }
            do {
                let stored = try await uploads.patch(upload, at: offset, body: SlicedBody(slices: [ByteBuffer(bytes: [0xFF, 0xD8, 0xFF, 0xE0, 0])]), checksum: nil)
                print("\(damage): stored, offset \(stored.offset)")
            } catch {
                print("\(damage): threw \(error)")
            }
            return true
        }
    }

    /// Sets up a finished 300,000-byte file of school A (chunks at 0, 100,000, 200,000) and an
    /// unfinished upload holding 10 bytes, damages the tables as `damage` says, makes the request
    /// and tells whether the answer is acceptable (a 500 `internal`, or a clean 4xx); prints it.
    static func damaged(_ damage: Damage) async throws -> Bool {
        if damage == .negativeUploadLengthChunked || damage == .offsetPastLengthChunked { return try await damagedChunked(damage) }
        return try await Fixture.with(store: .sqlite) { fixture in
            try await fixture.withRouter { client in
                let file = E.photo(300_000, seed: 81)
                let sha = E.sha256(file)
                try await E.upload(client, fixture.deviceA, file)
                let pending = E.photo(5_000, seed: 82)
                let location = try #require(try await E.create(client, fixture.deviceA, pending).headers[.location])
                _ = try await E.patch(client, fixture.deviceA, location, offset: 0, pending[0..<10])
                let id = String(location.split(separator: "/").last ?? "")
                func tamper(_ sql: String...) async throws {
                    let database = try DatabaseQueue(path: fixture.databasePath)
                    try await database.write { db in for statement in sql { try db.execute(sql: statement) } }
                    try database.close()
                }
                func describe(_ answer: TestResponse) -> String {
                    "\(damage): \(answer.status.code) content-length \(answer.headers[.contentLength] ?? "-") body \(answer.body.readableBytes) \(String(buffer: answer.body).prefix(200))"
                }
                func isClean(_ answer: TestResponse) -> Bool {
                    (answer.status == .internalServerError && (try? answer.error().error) == .`internal`) || (400..<500).contains(answer.status.code)
                }
                let fileRange = "f:" + sha
                switch damage {
                case .negativeFileSize, .negativeFileSizeReviewPage:
                    try await tamper("UPDATE evidence_files SET size = -5")
                    let answer: TestResponse
                    if damage == .negativeFileSize {
                        answer = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA)
                    } else {
                        let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                        let signedIn = try await client.send(.post, "/login", token: nil, body: ByteBuffer(string: "token=\(fixture.bureau)&next=/bureau"), headers: form)
                        let cookie = try #require(signedIn.headers[.setCookie]?.split(separator: ";").first.map(String.init))
                        answer = try await client.send(.get, "/review/evidence/\(sha)", token: nil, headers: [.cookie: cookie])
                    }
                    print(describe(answer))
                    return answer.status == .internalServerError
                case .negativeUploadLength:
                    try await tamper("UPDATE evidence_uploads SET length = -5, upload_offset = 0 WHERE id = '\(id)'")
                    let answer = try await Self.rawPatch(client, fixture.deviceA, location, offset: "0", [0xFF, 0xD8, 0xFF, 0xE0, 0])
                    print(describe(answer))
                    return isClean(answer)
                case .minimumUploadLength:
                    try await tamper("UPDATE evidence_uploads SET length = -9223372036854775808, upload_offset = 1 WHERE id = '\(id)'")
                    let answer = try await Self.rawPatch(client, fixture.deviceA, location, offset: "1", [0], contentLength: "1")
                    print(describe(answer))
                    return isClean(answer)
                case .offsetPastLength:
                    try await tamper("UPDATE evidence_uploads SET length = 10, upload_offset = 20 WHERE id = '\(id)'")
                    let head = try await client.send(.head, location, token: fixture.deviceA, headers: E.tus())
                    print(describe(head))
                    let answer = try await Self.rawPatch(client, fixture.deviceA, location, offset: "20", [0])
                    print(describe(answer))
                    return isClean(answer)
                case .hugeChunkOffset:
                    try await tamper(
                        "UPDATE evidence_files SET size = 9223372036854775807",
                        "UPDATE evidence_chunks SET chunk_offset = 9223372036854775806 WHERE owner = '\(fileRange)' AND chunk_offset = 200000"
                    )
                    let answer = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA, headers: [.range: "bytes=-1"])
                    print(describe(answer))
                    return true  // any answer but a trap
                case .missingFirstChunk:
                    try await tamper("DELETE FROM evidence_chunks WHERE owner = '\(fileRange)' AND chunk_offset = 0")
                    let answer = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA)
                    print(describe(answer))
                    return answer.status == .internalServerError
                case .missingMiddleChunk:
                    try await tamper("DELETE FROM evidence_chunks WHERE owner = '\(fileRange)' AND chunk_offset = 100000")
                    do {
                        let answer = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA)
                        print(describe(answer))
                        // The status is sent before the body: a cut body is the only honest answer left.
                        return answer.status == .internalServerError || answer.body.readableBytes < file.count
                    } catch {
                        print("\(damage): the client saw \(error)")
                        return true
                    }
                case .missingChunkUnderProof:
                    try await tamper("DELETE FROM evidence_chunks WHERE owner = '\(fileRange)' AND chunk_offset = 100000")
                    let created = try await E.create(client, fixture.deviceB, file)
                    let nonce = try #require(created.headers[named: "SchoolSync-Possession-Nonce"])
                    let answer = try await client.send(
                        .post,
                        try #require(created.headers[.location]) + "/possession",
                        token: fixture.deviceB,
                        body: ByteBuffer(string: #"{"proof":"\#(Self.proof(nonce, file))"}"#),
                        headers: E.tus()
                    )
                    print(describe(answer))
                    return answer.status == .internalServerError
                case .negativeChunkOffsets:
                    try await tamper(
                        "UPDATE evidence_chunks SET chunk_offset = -9223372036854775808 WHERE owner = '\(fileRange)' AND chunk_offset = 0",
                        "UPDATE evidence_chunks SET chunk_offset = -10 WHERE owner = '\(fileRange)' AND chunk_offset = 100000"
                    )
                    for range in [nil, "bytes=0-", "bytes=-1"] as [String?] {
                        var headers = HTTPFields()
                        if let range { headers[.range] = range }
                        do {
                            let answer = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA, headers: headers)
                            print(describe(answer))
                        } catch {
                            print("\(damage): the client saw \(error)")
                        }
                    }
                    return true
                case .textInNumberColumns:
                    var clean = true
                    try await tamper("UPDATE evidence_uploads SET length = 'abc', upload_offset = x'00' WHERE id = '\(id)'")
                    for answer in [
                        try await client.send(.head, location, token: fixture.deviceA, headers: E.tus()),
                        try await E.create(client, fixture.deviceA, pending),
                    ] {
                        print(describe(answer))
                        clean = clean && answer.status == .internalServerError
                    }
                    try await tamper("UPDATE evidence_files SET size = 'big'", "UPDATE evidence_uploads SET expires_at = 'never' WHERE id = '\(id)'")
                    let download = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.deviceA)
                    print(describe(download))
                    return clean && download.status == .internalServerError
                case .negativeUploadLengthChunked, .offsetPastLengthChunked:
                    return false
                case .foreignFileType:
                    try await tamper("UPDATE evidence_files SET type = 'text/html'")
                    let answer = try await client.send(.get, "/v1/evidence/files/\(sha)", token: fixture.bureau)
                    print(describe(answer))
                    // A type outside §13.1 is not one the server sniffed: a 500, or at least not served as HTML.
                    return answer.status == .internalServerError || answer.headers[.contentType] != "text/html"
                }
            }
        }
    }
}

/// A store that discards the upload just before completing it: what a racing request (a PATCH
/// whose first bytes fail the sniff, an expiry, the collector) does between `finish`'s hash and
/// its `completeEvidenceUpload`.
struct DiscardingBeforeComplete: EvidenceStore {
    let inner: any EvidenceStore

    func evidenceUpload(school: String, sha256: String) async throws -> EvidenceUpload? { try await inner.evidenceUpload(school: school, sha256: sha256) }
    func evidenceUpload(id: String) async throws -> EvidenceUpload? { try await inner.evidenceUpload(id: id) }
    func insertEvidenceUpload(_ upload: EvidenceUpload) async throws -> EvidenceUpload { try await inner.insertEvidenceUpload(upload) }
    func openEvidenceUploads(school: String) async throws -> (count: Int, bytes: Int64) { try await inner.openEvidenceUploads(school: school) }
    func appendEvidence(uploadID: String, at offset: Int64, _ bytes: [UInt8]) async throws -> Bool {
        try await inner.appendEvidence(uploadID: uploadID, at: offset, bytes)
    }
    func evidenceChunk(of owner: EvidenceChunkOwner, containing offset: Int64) async throws -> (offset: Int64, bytes: [UInt8])? {
        try await inner.evidenceChunk(of: owner, containing: offset)
    }
    func completeEvidenceUpload(_ upload: EvidenceUpload, file: StoredEvidenceFile, at time: Date) async throws -> Bool {
        try await inner.discardEvidenceUpload(id: upload.id)
        return try await inner.completeEvidenceUpload(upload, file: file, at: time)
    }
    func discardEvidenceUpload(id: String) async throws { try await inner.discardEvidenceUpload(id: id) }
    func evidenceFile(sha256: String) async throws -> StoredEvidenceFile? { try await inner.evidenceFile(sha256: sha256) }
    func evidenceAccess(sha256: String, school: String) async throws -> Bool { try await inner.evidenceAccess(sha256: sha256, school: school) }
    func presentEvidence(_ hashes: [String]) async throws -> Set<String> { try await inner.presentEvidence(hashes) }
    func evidenceFileMarks() async throws -> [EvidenceFileMark] { try await inner.evidenceFileMarks() }
    func markEvidence(_ marks: [EvidenceFileMark]) async throws { try await inner.markEvidence(marks) }
    func deleteEvidenceFiles(_ hashes: [String]) async throws { try await inner.deleteEvidenceFiles(hashes) }
    func deleteExpiredEvidenceUploads(before time: Date) async throws -> Int { try await inner.deleteExpiredEvidenceUploads(before: time) }
}
