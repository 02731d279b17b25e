import Foundation
import SyncCore
import Testing

@testable import SyncServer

/// `Protocol/vectors/receipts/receipts.json` (PROTOCOL.md §6.3's table as cases) against the
/// server's receipt rule.
struct ReceiptVectorTests {
    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        struct Stored: Decodable, Sendable {
            var sequence: UInt64
            var lastBatch: String
        }

        var name: String
        var request: String
        var receipt: String?
        var batch: String?
        var stored: Stored?
        var owner: String
        var expect: Expectation

        var testDescription: String { name }
    }

    enum Expectation: Decodable, Equatable, Sendable {
        case proceed(UInt64)
        case answer(String)

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self = .answer(text)
            } else {
                struct Proceed: Decodable { var proceed: UInt64 }
                self = .proceed(try Proceed(from: decoder).proceed)
            }
        }
    }

    struct File: Decodable {
        var epoch: String
        var cases: [Case]
    }

    static let file: File = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent("Protocol/vectors/receipts/receipts.json")
        do {
            return try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        } catch {
            Issue.record("cannot read \(url.path): \(error)")
            return File(epoch: "", cases: [])
        }
    }()

    @Test func theFileHasCases() {
        #expect(Self.file.cases.count >= 10)
    }

    @Test(arguments: Self.file.cases)
    func vector(_ vector: Case) throws {
        let epoch = try Epoch(parsing: Self.file.epoch)
        let principal = Principal(id: 1, kind: .device, name: "PC", schoolID: "qx-zhuoran")
        let decision = PushRules.checkReceipt(
            try vector.receipt.map { try PushReceipt(parsing: $0) },
            batch: try vector.request == "push" ? vector.batch.map { try BatchID(parsing: $0) } : nil,
            stored: vector.stored.map { PushRules.ReplicaProgress(sequence: $0.sequence, lastBatch: $0.lastBatch) },
            owner: vector.owner == "other" ? 2 : 1,
            principal: principal,
            epoch: epoch
        )
        let answer: Expectation =
            switch decision {
            case .proceed(let next): .proceed(next)
            case .replay: .answer("replay")
            case .stale: .answer("replica_stale")
            case .epochChanged: .answer("epoch_changed")
            case .foreign: .answer("replica_foreign")
            case .batchReused: .answer("batch_reused")
            }
        #expect(answer == vector.expect, "\(vector.name)")
    }
}
