import Foundation
import GRDB
import SchoolSyncTestSupport
import SyncCore
import Testing

@testable import SyncClient

/// Evidence files kept in the replica (PROTOCOL.md §13): reading, checking, keeping, naming them in a report.
struct EvidenceCaptureTests {
    /// A JPEG header and 10 KiB of a fixed pattern: 10,244 bytes whose SHA-256 was computed apart (Python's hashlib).
    static let photo = Data([0xFF, 0xD8, 0xFF, 0xE0] + (0..<40).flatMap { _ in (0...255).map { UInt8($0) } })
    static let photoSHA256 = "2078274b743c84b46234593c4c5200ff38a392bd9cea81595eb10ea20745caa4"

    func write(_ data: Data, named name: String, in fixture: Fixture) throws -> URL {
        let url = URL(fileURLWithPath: fixture.path(name))
        try data.write(to: url)
        return url
    }

    @Test func aPhotoIsHashedSizedTypedAndKeptInTheReplica() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let url = try write(Self.photo, named: "照片.jpg", in: fixture)
            let item = try await replica.addEvidence(contentsOf: url)
            #expect(item == EvidenceItem(name: "照片.jpg", sha256: Self.photoSHA256, size: 10_244, type: "image/jpeg"))
            let file = try #require(try await replica.evidenceFile(sha256: Self.photoSHA256))
            #expect(file.isComplete && !file.isUploaded && file.heldBack == nil)
            #expect(try await replica.evidenceBytes(sha256: Self.photoSHA256) == Self.photo)
        }
    }

    @Test func theCopySurvivesTheOriginalBeingDeleted() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let url = try write(Self.photo, named: "photo.jpg", in: fixture)
            try await replica.addEvidence(contentsOf: url)
            try FileManager.default.removeItem(at: url)
            let reopened = try fixture.replica("a.sqlite")
            #expect(try await reopened.evidenceBytes(sha256: Self.photoSHA256) == Self.photo)
        }
    }

    @Test func aTextFileRenamedJPEGIsRefusedAndNothingIsKept() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let url = try write(Data("这不是照片\n".utf8), named: "照片.jpg", in: fixture)
            let error = await #expect(throws: SyncClientError.self) { try await replica.addEvidence(contentsOf: url) }
            #expect(error?.code == .refused)
            #expect(error?.message.contains("renaming a file does not change what it is") == true)
            #expect(try await replica.evidenceFiles().isEmpty)
        }
    }

    @Test func aFileOver25MiBIsRefusedBeforeItIsRead() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let url = URL(fileURLWithPath: fixture.path("big.pdf"))
            try Data("%PDF-1.7\n".utf8).write(to: url)
            // A sparse file: its length is set without writing 25 MiB.
            let handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: UInt64(EvidenceLimits.maxFileBytes + 1))
            try handle.close()
            let error = await #expect(throws: SyncClientError.self) { try await replica.addEvidence(contentsOf: url) }
            #expect(error?.code == .refused)
            #expect(error?.message.contains("at most 25 MiB") == true)
            #expect(try await replica.evidenceFiles().isEmpty)
            // Exactly 25 MiB is allowed.
            let exact = try FileHandle(forWritingTo: url)
            try exact.truncate(atOffset: UInt64(EvidenceLimits.maxFileBytes))
            try exact.close()
            let item = try await replica.addEvidence(contentsOf: url)
            #expect(item.size == EvidenceLimits.maxFileBytes && item.type == "application/pdf")
        }
    }

    @Test func anEmptyFileAndAMissingFileAreRefused() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let empty = try write(Data(), named: "empty.pdf", in: fixture)
            await #expect(throws: SyncClientError.self) { try await replica.addEvidence(contentsOf: empty) }
            let missing = URL(fileURLWithPath: fixture.path("missing.pdf"))
            let error = await #expect(throws: SyncClientError.self) { try await replica.addEvidence(contentsOf: missing) }
            #expect(error?.code == .usage)
        }
    }

    @Test func aLargeFileIsKeptInRowsOfAtMost256KiBAndReadBackFromAnyOffset() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            var bytes = Data("%PDF-1.4\n".utf8)
            var generator = SeededGenerator(seed: 7)
            bytes.append(contentsOf: (0..<(600 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let file = try CapturedEvidence(bytes: bytes, name: "plan.pdf")
            try await replica.addEvidence(file)
            let sizes = try await replica.read { db in
                try Int.fetchAll(db, sql: "SELECT length(data) FROM evidence_chunks WHERE sha256 = ? ORDER BY offset", arguments: [file.item.sha256])
            }
            #expect(sizes == [262_144, 262_144, bytes.count - 524_288])
            for offset in [0, 1, 262_143, 262_144, 300_000, bytes.count - 1] {
                let piece = try await replica.evidenceBytes(sha256: file.item.sha256, from: offset)
                #expect(piece.first == bytes[offset])
                #expect(piece == bytes[offset..<min(bytes.count, (offset / 262_144 + 1) * 262_144)])
            }
            #expect(try await replica.evidenceBytes(sha256: file.item.sha256, from: bytes.count).isEmpty)
            #expect(try await replica.evidenceIsIntact(sha256: file.item.sha256))
        }
    }

    @Test func aFileNamedByAReportWaitsForUploadUntilTheReportNoLongerNamesIt() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let photo = try CapturedEvidence(bytes: Self.photo, name: "照片.jpg")
            // Kept, but named by no report: nothing to upload.
            try await replica.addEvidence(photo)
            #expect(try await replica.status().evidenceWaiting.isEmpty)
            try await replica.write(
                [(report(), ["school_id": .string(Fixture.schoolA), "evidence": EvidenceItem.field([photo.item])])],
                addingEvidence: [photo]
            )
            #expect(try await replica.status().evidenceWaiting.map(\.sha256) == [Self.photoSHA256])
            #expect(try await replica.evidenceReferences() == [EvidenceReference(report: report().id, item: photo.item)])
            let stored = try #require(try await replica.record(report())?.state.value(of: "evidence"))
            #expect(EvidenceItem.items(in: stored) == [photo.item])
            // Removing the item is an edit like any other; the file stays here but is not uploaded.
            try await replica.write(report(), ["evidence": EvidenceItem.field([])])
            #expect(try await replica.status().evidenceWaiting.isEmpty)
            #expect(try await replica.evidenceFile(sha256: Self.photoSHA256) != nil)
        }
    }

    @Test func aCopyChangedByAnotherProgramIsFoundAndHeldBack() async throws {
        try await Fixture.with { fixture in
            let replica = try fixture.replica("a.sqlite")
            let photo = try CapturedEvidence(bytes: Self.photo, name: "照片.jpg")
            try await replica.write([(report(), ["school_id": .string(Fixture.schoolA), "evidence": EvidenceItem.field([photo.item])])], addingEvidence: [photo])
            let sql = try DatabaseQueue(path: fixture.path("a.sqlite"))
            try await sql.write { db in try db.execute(sql: "UPDATE evidence_chunks SET data = zeroblob(length(data))") }
            try sql.close()
            let error = await #expect(throws: SyncClientError.self) { try await replica.evidenceBytes(sha256: Self.photoSHA256) }
            #expect(error?.code == .integrity)
            let status = try await replica.status()
            #expect(status.evidenceWaiting.isEmpty)
            #expect(status.evidenceHeldBack.first?.heldBack?.contains("add the original file again") == true)
            // Adding the original again repairs it.
            try await replica.addEvidence(photo)
            #expect(try await replica.evidenceBytes(sha256: Self.photoSHA256) == Self.photo)
            #expect(try await replica.status().evidenceWaiting.count == 1)
        }
    }

    @Test func evidenceListsRoundTripAndOldItemsWithoutSizeStillRead() {
        let old = Value.string(#"[{"name":"a.pdf","sha256":"\#(Self.photoSHA256)"}]"#)
        #expect(EvidenceItem.items(in: old) == [EvidenceItem(name: "a.pdf", sha256: Self.photoSHA256)])
        let item = EvidenceItem(name: "照片/1.jpg", sha256: Self.photoSHA256, size: 10_244, type: "image/jpeg")
        #expect(EvidenceItem.field([item]) == .string(#"[{"name":"照片/1.jpg","sha256":"\#(Self.photoSHA256)","size":10244,"type":"image/jpeg"}]"#))
        #expect(EvidenceItem.items(in: EvidenceItem.field([item])) == [item])
        #expect(EvidenceItem.items(in: .string("not json")).isEmpty)
        #expect(EvidenceItem.items(in: nil).isEmpty)
    }

    @Test func aNameIsNeverAPathWhenSaved() {
        func saved(_ name: String) -> String { EvidenceItem(name: name, sha256: Self.photoSHA256).safeFileName }
        #expect(saved("照片.jpg") == "照片.jpg")
        #expect(saved("../../etc/照片.jpg") == "照片.jpg")
        #expect(saved("C:\\Users\\校长\\通知.pdf") == "通知.pdf")
        #expect(saved("/abs/path/") == "path")
        #expect(saved(".hidden.pdf") == "hidden.pdf")
        #expect(saved("..") == "2078274b743c84b4")
        #expect(saved("a\u{0}b\nc.pdf") == "abc.pdf")
    }

    @Test func contentRangesAreRead() {
        #expect(EvidenceTransfer.contentRange("bytes 100-199/1000")! == (100, 1000))
        #expect(EvidenceTransfer.contentRange("bytes */1000") == nil)
        #expect(EvidenceTransport.path(of: "/v1/evidence/uploads/abc") == "/v1/evidence/uploads/abc")
        #expect(EvidenceTransport.path(of: "http://elsewhere.example/v1/evidence/uploads/abc") == "/v1/evidence/uploads/abc")
    }
}
